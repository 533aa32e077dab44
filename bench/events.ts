// Event Grid benchmark (issue 4): creation events through the Functions handler, against the simulator
// with no added latency, timed from the handler's entry to the cluster PUT arriving at the simulator.
// Run by `bench/run.ts` (`--scenario events`, or a mode: `events-sequential`, `events-burst`).
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { IncomingMessage } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimulator, type Estate, type RecordedRequest } from "../sim/index.js";
import { createApp } from "../src/app.js";
import { simulatorCredential } from "../src/cli/simulate.js";
import type { Runtime } from "../src/functions/runtime.js";
import { loadConfig } from "../src/model/config.js";
import { generateClusterEstate } from "./generate-estate.js";

export type EventsMode = "sequential" | "burst";

export interface EventsFigures {
  readonly name: string;
  readonly mode: EventsMode;
  readonly events: number;
  /** Handler invocations in flight at once (1 when sequential). */
  readonly inFlight: number;
  readonly subscriptions: number;
  /** Handler entry to the cluster PUT's arrival at the simulator, per event. */
  readonly firstRemediationMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** The same for events after the first WARM_AFTER, once connections are open and the code is warm. */
  readonly warmFirstRemediationMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** The same for the very first event (cold clients, JIT, the Containers plan PUT). */
  readonly firstEventMs: number;
  /** Handler entry to its return (the PUT's long-running operation and final GET included). */
  readonly handlerMs: { readonly p50: number; readonly p99: number };
  readonly wallTimeMs: number;
  readonly armRequests: number;
  readonly armRequestsPerEvent: number;
  /** Requests per event by kind. */
  readonly armRequestsPerEventByKind: Record<string, number>;
  /** Requests by kind (totals). */
  readonly armRequestsByKind: Record<string, number>;
  /** TLS connections the simulator accepted (keep-alive connections are reused). */
  readonly connections: number;
  readonly remediatedClusters: number;
  readonly peakRssMiB: number;
}

const SUBSCRIPTIONS = 4;
/** Events counted as the cold start: the burst's first wave, started at once on unopened connections. */
const WARM_AFTER = 50;

/** The generated estate with every cluster public, unexcluded and missing all three cluster protections. */
function unprotectedEstate(count: number): Estate {
  const estate = generateClusterEstate(count, SUBSCRIPTIONS);
  for (const resource of estate.resources) {
    if (resource.type !== "Microsoft.ContainerService/ManagedClusters") continue;
    resource.tags = { team: "bench" };
    resource.properties = {
      ...resource.properties,
      addonProfiles: {},
      securityProfile: {},
      apiServerAccessProfile: {},
    };
  }
  return estate;
}

/** A ResourceWriteSuccess as the subscription's system topic delivers it (as in test/functions/eventgrid.test.ts). */
function clusterCreated(id: string, index: number): unknown {
  const subscriptionId = id.split("/")[2] ?? "";
  const operation = "Microsoft.ContainerService/managedClusters/write";
  return {
    topic: `/subscriptions/${subscriptionId}`,
    subject: id,
    eventType: "Microsoft.Resources.ResourceWriteSuccess",
    eventTime: new Date().toISOString(),
    id: `bench-event-${String(index)}`,
    data: {
      authorization: { scope: id, action: operation },
      claims: {},
      correlationId: "54ef1e39-6a82-44b3-abc1-bdeb6ce4d3c6",
      httpRequest: "",
      resourceProvider: "Microsoft.ContainerService",
      resourceUri: id,
      operationName: operation,
      status: "Succeeded",
      subscriptionId,
      tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47",
    },
    dataVersion: "2",
    metadataVersion: "1",
  };
}

function requestKind(r: RecordedRequest): string {
  const path = r.path.toLowerCase();
  if (/\/locations\/[^/]+\/(operations|operationresults)\//.test(path)) return "LRO poll";
  if (/\/managedclusters\/[^/]+$/.test(path)) return `${r.method} cluster`;
  if (/\/providers\/microsoft\.security\/pricings\/[^/]+$/.test(path)) return `${r.method} pricing`;
  if (/\/workspaces\/[^/]+$/.test(path)) return `${r.method} workspace`;
  if (/^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+$/.test(path)) return `${r.method} resource group`;
  return `${r.method} other`;
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
}

const round = (ms: number): number => Number(ms.toFixed(1));

export async function eventsScenario(mode: EventsMode, count: number, inFlight = 50): Promise<EventsFigures> {
  // Imported here, so that importing this module has no side effect: the handler's module registers
  // its function with @azure/functions, which outside the Functions host warns on stderr that it runs
  // in test mode. The package is CommonJS; its classes are reached through its default export.
  const [{ default: functions }, { createEventGridHandler }] = await Promise.all([
    import("@azure/functions"),
    import("../src/functions/eventgrid.js"),
  ]);
  const estate = unprotectedEstate(count);
  const clusterIds = estate.resources
    .filter((r) => r.type === "Microsoft.ContainerService/ManagedClusters")
    .map((r) => r.id);
  const workspace = estate.resources.find((r) => r.type === "Microsoft.OperationalInsights/workspaces");
  if (workspace === undefined) throw new Error("the generated estate has no workspace");

  // Arrival of each cluster's first PUT at the simulator, on this process's clock: Node publishes every
  // request the (in-process) simulator's server receives, before its handler runs.
  const firstPut = new Map<string, number>();
  const sockets = new WeakSet<object>();
  let connections = 0;
  const onRequest = (message: unknown): void => {
    const at = performance.now();
    const { request } = message as { request: IncomingMessage };
    if (!sockets.has(request.socket)) {
      sockets.add(request.socket);
      connections += 1;
    }
    if (request.method !== "PUT") return;
    const path = decodeURIComponent((request.url ?? "").split("?")[0] ?? "").toLowerCase();
    if (path.includes("/managedclusters/") && !firstPut.has(path)) firstPut.set(path, at);
  };
  subscribe("http.server.request.start", onRequest);

  const sim = await startSimulator({ estate });
  const stateDir = await mkdtemp(join(tmpdir(), "autoprotect-bench-events-"));
  try {
    const config = loadConfig({
      AUTOPROTECT_MODE: "enforce",
      AUTOPROTECT_AUTHORIZED_IP_RANGES: "203.0.113.0/24",
      AUTOPROTECT_WORKSPACE_ID: workspace.id,
    });
    // The Functions runtime with the CLI's local state instead of the host's storage: clusters never
    // touch the rollout store, and without a queue the confirmations of started updates are not
    // scheduled (the bench measures the event's own run). Without ingestion settings the handler logs
    // each outcome as a JSON line, as it would in Azure.
    const runtime: Runtime = createApp({
      config,
      // No added latency: the simulator's operation ends after one poll, polled at once.
      connection: {
        credential: simulatorCredential,
        endpoint: sim.endpoint,
        tlsCa: sim.ca,
        pollIntervalMs: 0,
      },
      storage: { kind: "file", dir: stateDir },
    });
    const handler = createEventGridHandler(() => runtime);
    const errorLines: string[] = [];
    const events = clusterIds.map((id, i) => clusterCreated(id, i));
    const entered: number[] = [];
    const handled: number[] = [];
    let failedOutcomes = 0;
    let remediatedClusters = 0;

    const deliver = async (i: number): Promise<void> => {
      const context = new functions.InvocationContext({
        invocationId: `bench-${String(i)}`,
        functionName: "resourceEvents",
        logHandler: (level, ...args) => {
          if (level === "error") errorLines.push(args.map(String).join(" "));
        },
      });
      const t0 = performance.now();
      entered[i] = t0;
      const result = await handler(events[i], context);
      handled[i] = performance.now() - t0;
      const outcomes = result?.outcomes ?? [];
      failedOutcomes += outcomes.filter((o) => o.Status === "failed").length;
      // The trigger starts the cluster's update and a queued look confirms it (not part of this bench).
      const started = (o: (typeof outcomes)[number]): boolean =>
        o.Status === "remediated" || (o.Status === "deferred" && o.Details.operation !== undefined);
      if (outcomes.some((o) => o.ResourceId === clusterIds[i] && started(o))) remediatedClusters += 1;
    };

    const started = performance.now();
    if (mode === "sequential") {
      for (let i = 0; i < events.length; i += 1) await deliver(i);
    } else {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < events.length) {
          const i = next;
          next += 1;
          await deliver(i);
        }
      };
      await Promise.all(Array.from({ length: Math.min(inFlight, events.length) }, worker));
    }
    const wallTimeMs = performance.now() - started;

    // Every cluster's update started exactly once, by one PUT, and nothing failed.
    const requests = sim.requests;
    const putsPerCluster = new Map<string, number>();
    for (const r of requests) {
      if (requestKind(r) === "PUT cluster") {
        const key = r.path.toLowerCase();
        putsPerCluster.set(key, (putsPerCluster.get(key) ?? 0) + 1);
      }
    }
    const notOnce = clusterIds.filter((id) => putsPerCluster.get(id.toLowerCase()) !== 1);
    if (notOnce.length > 0 || putsPerCluster.size !== clusterIds.length)
      throw new Error(`${String(notOnce.length)} clusters were not PUT exactly once`);
    const refused = requests.filter((r) => r.status < 200 || r.status >= 300).length;
    if (failedOutcomes > 0 || errorLines.length > 0 || refused > 0 || remediatedClusters !== count)
      throw new Error(
        `${String(failedOutcomes)} failed outcomes, ${String(errorLines.length)} error lines, ` +
          `${String(refused)} non-2xx answers, ${String(remediatedClusters)}/${String(count)} clusters updated`,
      );

    const latencies = clusterIds.map((id, i) => {
      const t1 = firstPut.get(id.toLowerCase());
      const t0 = entered[i];
      if (t1 === undefined || t0 === undefined) throw new Error(`no PUT timing for ${id}`);
      return t1 - t0;
    });
    const sorted = [...latencies].sort((a, b) => a - b);
    const warm = latencies.slice(WARM_AFTER).sort((a, b) => a - b);
    const handlerSorted = [...handled].sort((a, b) => a - b);
    const byKind: Record<string, number> = {};
    for (const r of requests) byKind[requestKind(r)] = (byKind[requestKind(r)] ?? 0) + 1;
    const kinds = Object.entries(byKind).sort(([, a], [, b]) => b - a);
    return {
      name:
        mode === "sequential"
          ? `${String(count)} creation events, one at a time`
          : `${String(count)} creation events, burst of ${String(inFlight)} in flight`,
      mode,
      events: count,
      inFlight: mode === "sequential" ? 1 : inFlight,
      subscriptions: estate.subscriptions.length,
      firstRemediationMs: {
        p50: round(percentile(sorted, 0.5)),
        p99: round(percentile(sorted, 0.99)),
        max: round(sorted[sorted.length - 1] ?? Number.NaN),
      },
      warmFirstRemediationMs: {
        p50: round(percentile(warm, 0.5)),
        p99: round(percentile(warm, 0.99)),
        max: round(warm[warm.length - 1] ?? Number.NaN),
      },
      firstEventMs: round(latencies[0] ?? Number.NaN),
      handlerMs: { p50: round(percentile(handlerSorted, 0.5)), p99: round(percentile(handlerSorted, 0.99)) },
      wallTimeMs: Math.round(wallTimeMs),
      armRequests: requests.length,
      armRequestsPerEvent: Number((requests.length / count).toFixed(3)),
      armRequestsPerEventByKind: Object.fromEntries(
        kinds.map(([kind, n]) => [kind, Number((n / count).toFixed(3))]),
      ),
      armRequestsByKind: Object.fromEntries(kinds),
      connections,
      remediatedClusters,
      // Includes the in-process simulator holding the estate.
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    };
  } finally {
    unsubscribe("http.server.request.start", onRequest);
    await sim.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

export function formatEventsFigures(f: EventsFigures): string {
  const kinds = Object.entries(f.armRequestsByKind)
    .map(([kind, n]) => `${String(n)} ${kind}`)
    .join(", ");
  const { p50, p99, max } = f.firstRemediationMs;
  return (
    `${f.name} (no added latency): handler entry to cluster PUT p50 ${String(p50)} ms, p99 ${String(p99)} ms ` +
    `(${p99 < 1000 ? "PASS" : "FAIL"}: target under 1 s), max ${String(max)} ms, first event ${String(f.firstEventMs)} ms; ` +
    `after the first ${String(WARM_AFTER)} p50 ${String(f.warmFirstRemediationMs.p50)} ms, p99 ${String(f.warmFirstRemediationMs.p99)} ms; ` +
    `${String(f.wallTimeMs)} ms wall, ${String(f.armRequests)} ARM requests (${String(f.armRequestsPerEvent)} per event: ` +
    `${kinds}) over ${String(f.connections)} connections, peak RSS ${String(f.peakRssMiB)} MiB\n`
  );
}
