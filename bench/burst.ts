// A burst of creation events (issues 4 and 16): `ResourceWriteSuccess` events for unprotected clusters
// through the Event Grid trigger's handler, N in flight, against the simulator in its own process with
// ARM's throttling on. Two waves in one worker: the first on a cold worker (no connection, no cache),
// the second right after on as many other clusters (warm). Measured per event from the handler's entry
// to the cluster PUT's arrival at the simulator (both epoch clocks of this machine). Run by
// bench/run.ts in a process of its own, for today's build or this one (`appRoot`).
import { join } from "node:path";
import { resourceWriteEvent } from "../sim/builders.js";
import { loadFromApp } from "./app-root.js";
import { buildEstate } from "./estates.js";
import { startSimProcess, type SeenRequest, type SimProcess, type SimProcessStats } from "./sim-process.js";

export interface BurstOptions {
  /** The app's build: this one's dist/, or today's (bench/baseline.ts). */
  readonly appRoot: string;
  readonly build: "today" | "now";
  readonly events: number;
  readonly inFlight: number;
  readonly subscriptions: number;
  readonly throttling: boolean;
  readonly waves: number;
}

export interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface WaveFigures {
  readonly wave: "cold" | "warm";
  /** Handler entry to the cluster PUT's arrival at ARM (the simulator), events whose PUT arrived. */
  readonly toPutMs: Percentiles;
  readonly handlerMs: Percentiles;
  readonly wallTimeMs: number;
  readonly requests: number;
  readonly requestsPerEvent: number;
  readonly requestsPerEventByKind: Record<string, number>;
  /** TLS connections the simulator accepted during the wave. */
  readonly connectionsOpened: number;
  /** Most requests in any one second, per subscription (the busiest), by ARM operation type. */
  readonly peakPerSubscriptionPerSecond: { readonly reads: number; readonly writes: number };
  /** Requests ARM's throttling refused (429). */
  readonly throttled: number;
  /** Clusters whose update the event started (exactly one PUT each). */
  readonly updatesStarted: number;
  readonly outcomes: Record<string, number>;
  readonly appCpuMs: number;
}

export interface BurstFigures {
  readonly name: string;
  readonly build: "today" | "now";
  readonly events: number;
  readonly inFlight: number;
  readonly subscriptions: number;
  readonly throttling: boolean;
  readonly waves: WaveFigures[];
  readonly appPeakRssMiB: number;
  readonly sim: SimProcessStats;
}

const round = (ms: number): number => Number(ms.toFixed(1));
const now = (): number => performance.timeOrigin + performance.now();

function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  return { p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted.at(-1) ?? Number.NaN) };
}

function requestKind(method: string, path: string): string {
  const p = path.toLowerCase();
  if (/\/locations\/[^/]+\/(operations|operationresults)\//.test(p)) return "LRO poll";
  if (/\/managedclusters\/[^/]+$/.test(p)) return `${method} cluster`;
  if (/\/managedclusters\/[^/]+\/providers\/microsoft\.security\/pricings\/[^/]+$/.test(p))
    return `${method} cluster's own plan`;
  if (/\/providers\/microsoft\.security\/pricings\/[^/]+$/.test(p)) return `${method} pricing`;
  if (/\/workspaces\/[^/]+$/.test(p)) return `${method} workspace`;
  if (/^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+$/.test(p)) return `${method} resource group`;
  return `${method} other`;
}

/** The most requests of each operation type that one subscription got in any one second. */
export function peakPerSecond(requests: readonly SeenRequest[]): { reads: number; writes: number } {
  const bySubscription = new Map<string, { reads: number[]; writes: number[] }>();
  for (const r of requests) {
    const sub = /^\/subscriptions\/([^/]+)/i.exec(r.path)?.[1]?.toLowerCase();
    if (sub === undefined) continue;
    const entry = bySubscription.get(sub) ?? { reads: [], writes: [] };
    (r.method === "GET" ? entry.reads : entry.writes).push(r.at);
    bySubscription.set(sub, entry);
  }
  const peak = (times: number[]): number => {
    times.sort((a, b) => a - b);
    let best = 0;
    for (let start = 0, end = 0; end < times.length; end += 1) {
      while ((times[end] ?? 0) - (times[start] ?? 0) >= 1000) start += 1;
      best = Math.max(best, end - start + 1);
    }
    return best;
  };
  let reads = 0;
  let writes = 0;
  for (const entry of bySubscription.values()) {
    reads = Math.max(reads, peak(entry.reads));
    writes = Math.max(writes, peak(entry.writes));
  }
  return { reads, writes };
}

type AppModule = typeof import("../src/app.js");
type EventGridModule = typeof import("../src/functions/eventgrid.js");
type ConfigModule = typeof import("../src/model/config.js");
type SimulateModule = typeof import("../src/cli/simulate.js");

export async function burstScenario(options: BurstOptions): Promise<BurstFigures> {
  const { default: functions } = await import("@azure/functions");
  const [{ createApp }, { createEventGridHandler }, { loadConfig }, { simulatorCredential }] =
    await Promise.all([
      loadFromApp<AppModule>(options.appRoot, "src/app.js"),
      loadFromApp<EventGridModule>(options.appRoot, "src/functions/eventgrid.js"),
      loadFromApp<ConfigModule>(options.appRoot, "src/model/config.js"),
      loadFromApp<SimulateModule>(options.appRoot, "src/cli/simulate.js"),
    ]);
  const recipe = {
    kind: "unprotected" as const,
    clusters: options.events * options.waves,
    subscriptions: options.subscriptions,
  };
  const estate = buildEstate(recipe);
  const clusterIds = estate.resources
    .filter((r) => r.type === "Microsoft.ContainerService/ManagedClusters")
    .map((r) => r.id);
  const workspace = estate.resources.find((r) => r.type === "Microsoft.OperationalInsights/workspaces");
  if (workspace === undefined) throw new Error("the generated estate has no workspace");

  const sim: SimProcess = await startSimProcess({ recipe, throttling: options.throttling });
  const { mkdtemp, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const stateDir = await mkdtemp(join(tmpdir(), "autoprotect-bench-burst-"));
  try {
    const config = loadConfig({
      AUTOPROTECT_MODE: "enforce",
      AUTOPROTECT_AUTHORIZED_IP_RANGES: "203.0.113.0/24",
      AUTOPROTECT_WORKSPACE_ID: workspace.id,
    });
    // The Functions runtime with the CLI's local state instead of the host's storage: clusters never
    // use the rollout store, and the confirmations of started updates are not part of this bench.
    const runtime = createApp({
      config,
      connection: {
        credential: simulatorCredential,
        endpoint: sim.endpoint,
        tlsCa: sim.ca,
        pollIntervalMs: 0,
      },
      storage: { kind: "file", dir: stateDir },
    });
    const handler = createEventGridHandler(() => runtime);
    const waves: WaveFigures[] = [];
    for (let w = 0; w < options.waves; w += 1) {
      const ids = clusterIds.slice(w * options.events, (w + 1) * options.events);
      await sim.clear();
      const before = await sim.stats();
      const entered: number[] = [];
      const handled: number[] = [];
      const outcomes: Record<string, number> = {};
      const cpu = process.cpuUsage();
      const deliver = async (i: number): Promise<void> => {
        const id = ids[i] ?? "";
        const context = new functions.InvocationContext({
          invocationId: `bench-${String(w)}-${String(i)}`,
          functionName: "resourceEvents",
          logHandler: () => undefined,
        });
        entered[i] = now();
        const result = await handler(resourceWriteEvent(id, `bench-event-${String(i)}`), context);
        handled[i] = now() - (entered[i] ?? 0);
        for (const o of result?.outcomes ?? []) {
          if (o.ResourceId !== id) continue;
          outcomes[o.Status] = (outcomes[o.Status] ?? 0) + 1;
        }
      };
      const started = now();
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < ids.length) {
          const i = next;
          next += 1;
          await deliver(i);
        }
      };
      await Promise.all(Array.from({ length: Math.min(options.inFlight, ids.length) }, worker));
      const wallTimeMs = now() - started;
      const used = process.cpuUsage(cpu);
      const seen = await sim.requests();
      const after = await sim.stats();

      const firstPut = new Map<string, number>();
      const puts = new Map<string, number>();
      for (const r of seen) {
        if (r.method !== "PUT" || !/\/managedclusters\//i.test(r.path)) continue;
        const key = r.path.toLowerCase();
        puts.set(key, (puts.get(key) ?? 0) + 1);
        if (!firstPut.has(key)) firstPut.set(key, r.at);
      }
      const toPut = ids.flatMap((id, i) => {
        const at = firstPut.get(id.toLowerCase());
        const t0 = entered[i];
        return at === undefined || t0 === undefined ? [] : [at - t0];
      });
      const byKind: Record<string, number> = {};
      for (const r of seen)
        byKind[requestKind(r.method, r.path)] = (byKind[requestKind(r.method, r.path)] ?? 0) + 1;
      waves.push({
        wave: w === 0 ? "cold" : "warm",
        toPutMs: percentiles(toPut),
        handlerMs: percentiles(handled),
        wallTimeMs: Math.round(wallTimeMs),
        requests: seen.length,
        requestsPerEvent: Number((seen.length / ids.length).toFixed(3)),
        requestsPerEventByKind: Object.fromEntries(
          Object.entries(byKind)
            .sort(([, a], [, b]) => b - a)
            .map(([k, n]) => [k, Number((n / ids.length).toFixed(3))]),
        ),
        connectionsOpened: after.connections,
        peakPerSubscriptionPerSecond: peakPerSecond(seen),
        throttled: after.throttled - before.throttled,
        updatesStarted: ids.filter((id) => puts.get(id.toLowerCase()) === 1).length,
        outcomes,
        appCpuMs: Math.round((used.user + used.system) / 1000),
      });
    }
    return {
      name:
        `${String(options.events)} creation events × ${String(options.waves)} waves, ${String(options.inFlight)} in flight, ` +
        `${String(options.subscriptions)} subscriptions (${options.build})`,
      build: options.build,
      events: options.events,
      inFlight: options.inFlight,
      subscriptions: options.subscriptions,
      throttling: options.throttling,
      waves,
      appPeakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      sim: await sim.stats(),
    };
  } finally {
    await sim.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

export function formatBurst(f: BurstFigures): string {
  const lines = f.waves.map((w) => {
    const kinds = Object.entries(w.requestsPerEventByKind)
      .map(([k, n]) => `${String(n)} ${k}`)
      .join(", ");
    return (
      `  ${w.wave}: to PUT p50 ${String(w.toPutMs.p50)} ms, p99 ${String(w.toPutMs.p99)} ms, max ${String(w.toPutMs.max)} ms; ` +
      `${String(w.wallTimeMs)} ms wall; ${String(w.requestsPerEvent)} requests/event (${kinds}); ` +
      `${String(w.connectionsOpened)} connections opened; peak per subscription ${String(w.peakPerSubscriptionPerSecond.reads)} reads/s, ` +
      `${String(w.peakPerSubscriptionPerSecond.writes)} writes/s; ${String(w.throttled)} throttled (429); ` +
      `${String(w.updatesStarted)}/${String(f.events)} updates started; app CPU ${String(w.appCpuMs)} ms\n`
    );
  });
  return (
    `${f.name}, ARM throttling ${f.throttling ? "on" : "off"}: app peak RSS ${String(f.appPeakRssMiB)} MiB, ` +
    `simulator CPU ${String(f.sim.cpuMs)} ms, RSS ${String(f.sim.peakRssMiB)} MiB\n${lines.join("")}`
  );
}
