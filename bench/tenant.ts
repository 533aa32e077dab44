// A tenant sweep (issue 16): subscriptions holding clusters and API Management services, swept in audit
// mode against the simulator in its own process (ARM's latency and throttling on) and Azurite.
//
// This build: the timer's handler queues one look per subscription; 1, 2 or 4 worker processes take
// them from the one Azurite queue as the Functions host would (batchSize 8 + newBatchThreshold 4 = up
// to 12 in flight each) and run them with the queue trigger's handler; a subscription's look queues one
// per API Management service, which the workers run too. Today's build: its timer handler sweeps every
// subscription in one invocation, in one process. Every worker process runs in an instance's memory
// (bench/instance-memory.ts) and reports its own CPU and peak RSS; the coordinator checks that every
// subscription and service was looked at, and never twice at once.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { getHeapStatistics } from "node:v8";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startAzurite } from "./azurite.js";
import { loadFromApp } from "./app-root.js";
import { buildEstate, type EstateRecipe } from "./estates.js";
import { instanceMemory } from "./instance-memory.js";
import { startSimProcess, type SimProcessStats } from "./sim-process.js";

export interface TenantOptions {
  readonly build: "today" | "now";
  readonly appRoot: string;
  /** Worker processes (this build); today's sweep is one invocation in one process. */
  readonly workers: number;
  readonly subscriptions: number;
  readonly clusters: number;
  readonly services: number;
  readonly apis: number;
  readonly latencyMs: number;
  /** Each worker process runs in this much memory, as on an instance of the Bicep's instanceMemoryMB. */
  readonly instanceMemoryMB: number;
}

export interface WorkerFigures {
  readonly runs: number;
  readonly cpuMs: number;
  readonly peakRssMiB: number;
  /** The memory the worker's process could use as Node saw it (its cgroup's limit), or none. */
  readonly memoryLimitMiB?: number;
  /** The heap V8 sized from that memory. */
  readonly heapLimitMiB: number;
}

export interface TenantFigures {
  readonly name: string;
  readonly build: "today" | "now";
  readonly workers: number;
  readonly estate: { subscriptions: number; clusters: number; services: number; apis: number };
  readonly latencyMs: number;
  readonly wallTimeMs: number;
  /** Time the timer's handler took to queue the looks (this build). */
  readonly timerMs: number;
  readonly armRequests: number;
  /** ARM requests per cluster and API. */
  readonly requestsPerResource: number;
  readonly throttled: number;
  readonly outcomes: Record<string, number>;
  readonly perWorker: WorkerFigures[];
  /** App CPU (all workers) per thousand clusters and APIs. */
  readonly appCpuMsPerThousandResources: number;
  /** Resources looked at twice at once (must be none), and subscriptions or services never looked at. */
  readonly overlapping: number;
  readonly missing: number;
  /** What failed outcomes said (a few distinct reasons), when any did. */
  readonly failures: string[];
  readonly sim: SimProcessStats;
  /** Azurite's CPU time (the host's storage: ledger, waits, rollout state, the queue). */
  readonly storageCpuMs: number;
  /**
   * Every process's CPU (workers, timer, simulator, Azurite) over what the machine's cores could give
   * in the wall time: near 1, the machine, not the app, set the pace.
   */
  readonly machineCpuUse: number;
}

interface WorkerConfig {
  readonly role: "queue" | "timer-inline";
  readonly appRoot: string;
  readonly env: Record<string, string>;
  readonly endpoint: string;
  readonly ca: string;
}

/** A line a worker writes: one per look it finished, then its figures when told to stop. */
type WorkerLine =
  | {
      readonly kind: "look";
      readonly resourceId: string;
      readonly startedAt: number;
      readonly endedAt: number;
      readonly ran: boolean;
      readonly outcomes: Record<string, number>;
      /** A few reasons of failed outcomes, to say what went wrong. */
      readonly failures?: string[];
    }
  | ({ readonly kind: "stats" } & WorkerFigures);

const now = (): number => performance.timeOrigin + performance.now();

/** A live process's CPU time so far (Linux: /proc; 0 where there is none). */
function cpuMsOf(pid: number): number {
  try {
    const fields =
      readFileSync(`/proc/${String(pid)}/stat`, "utf8")
        .split(") ")[1]
        ?.split(" ") ?? [];
    // utime and stime, fields 14 and 15 of stat (11 and 12 after the command), in clock ticks (100 Hz).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}
const QUEUE_BATCH = 8;
const NEW_BATCH_THRESHOLD = 4;

type RuntimeModule = typeof import("../src/functions/runtime.js");
type QueueModule = typeof import("../src/functions/queue.js");
type SweepModule = typeof import("../src/functions/sweep.js");
type SimulateModule = typeof import("../src/cli/simulate.js");
type QueueNameModule = typeof import("../src/azure/queue.js");

function write(line: WorkerLine): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function countOutcomes(outcomes: readonly { Status: string }[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o.Status] = (counts[o.Status] ?? 0) + 1;
  return counts;
}

/** A worker process: the Functions runtime of `appRoot`, its queue trigger fed like the host feeds it. */
async function worker(config: WorkerConfig): Promise<void> {
  const [{ default: functions }, { createRuntime }, { simulatorCredential }] = await Promise.all([
    import("@azure/functions"),
    loadFromApp<RuntimeModule>(config.appRoot, "src/functions/runtime.js"),
    loadFromApp<SimulateModule>(config.appRoot, "src/cli/simulate.js"),
  ]);
  const runtime = createRuntime(config.env, {
    credential: simulatorCredential,
    endpoint: config.endpoint,
    tlsCa: config.ca,
    metricsEndpoint: () => config.endpoint,
  });
  let invocations = 0;
  const context = (name: string) =>
    new functions.InvocationContext({
      invocationId: `${name}-${String(process.pid)}-${String((invocations += 1))}`,
      functionName: name,
      logHandler: () => undefined,
    });
  const report = (runs: number): void => {
    const cpu = process.cpuUsage();
    const mib = (bytes: number): number => Math.round(bytes / 1048576);
    // Node answers 2^64 - 1 (or 0) where no cgroup limits the process.
    const constrained = process.constrainedMemory();
    write({
      kind: "stats",
      runs,
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      ...(constrained > 0 && constrained < 2 ** 50 ? { memoryLimitMiB: mib(constrained) } : {}),
      heapLimitMiB: mib(getHeapStatistics().heap_size_limit),
    });
  };

  if (config.role === "timer-inline") {
    // Today's timer: every subscription in one invocation.
    const { createSweepHandler } = await loadFromApp<SweepModule>(config.appRoot, "src/functions/sweep.js");
    const startedAt = now();
    const result = (await createSweepHandler(() => runtime)(
      {
        isPastDue: false,
        schedule: { adjustForDST: false },
        scheduleStatus: { last: "", next: "", lastUpdated: "" },
      },
      context("sweep"),
    )) as unknown as { outcomes: { Status: string }[] };
    write({
      kind: "look",
      resourceId: "(sweep)",
      startedAt,
      endedAt: now(),
      ran: true,
      outcomes: countOutcomes(result.outcomes),
    });
    report(1);
    return;
  }

  const [{ createReconcileQueueHandler }, { RECONCILE_QUEUE }, { QueueClient }] = await Promise.all([
    loadFromApp<QueueModule>(config.appRoot, "src/functions/queue.js"),
    loadFromApp<QueueNameModule>(config.appRoot, "src/azure/queue.js"),
    import("@azure/storage-queue"),
  ]);
  const queue = new QueueClient(config.env.AzureWebJobsStorage ?? "", RECONCILE_QUEUE);
  const handler = createReconcileQueueHandler(() => runtime);
  // Told to stop when the coordinator has seen every look (it closes our stdin).
  const told = { stop: false };
  process.stdin.on("end", () => {
    told.stop = true;
  });
  process.stdin.resume();
  let inFlight = 0;
  let runs = 0;
  const take = async (item: {
    messageId: string;
    popReceipt: string;
    messageText: string;
  }): Promise<void> => {
    const body = Buffer.from(item.messageText, "base64").toString("utf8");
    const resourceId = (JSON.parse(body) as { resourceId: string }).resourceId;
    const startedAt = now();
    const result = await handler(body, context("reconcileQueue"));
    const endedAt = now();
    await queue.deleteMessage(item.messageId, item.popReceipt);
    runs += 1;
    write({
      kind: "look",
      resourceId,
      startedAt,
      endedAt,
      ran: result !== undefined,
      outcomes: countOutcomes(result?.outcomes ?? []),
      failures: [
        ...new Set(
          (result?.outcomes ?? []).filter((o) => o.Status === "failed").map((o) => `${o.Check}: ${o.Reason}`),
        ),
      ].slice(0, 3),
    });
  };
  let idle = 50;
  while (!told.stop) {
    if (inFlight > NEW_BATCH_THRESHOLD) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      continue;
    }
    const { receivedMessageItems } = await queue.receiveMessages({
      numberOfMessages: QUEUE_BATCH,
      visibilityTimeout: 600,
    });
    if (receivedMessageItems.length === 0) {
      // The host backs off polling an empty queue (up to maxPollingInterval); a short one here.
      await new Promise((resolve) => setTimeout(resolve, idle));
      idle = Math.min(500, idle * 2);
      continue;
    }
    idle = 50;
    for (const item of receivedMessageItems) {
      inFlight += 1;
      void take(item).finally(() => {
        inFlight -= 1;
      });
    }
  }
  while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 20));
  report(runs);
}

let workersSpawned = 0;

/** A worker process, in memory of an instance's size where a cgroup can give it that. */
function spawnWorker(
  config: WorkerConfig,
  memoryMB: number,
  onLine: (line: WorkerLine) => void,
): { child: ChildProcess; done: Promise<void> } {
  const execArgv = (process.env.BENCH_WORKER_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
  const memory = instanceMemory(`${String(process.pid)}-${String((workersSpawned += 1))}`, memoryMB);
  const [command, args] = memory.spawnArgs(process.execPath, [
    ...execArgv,
    fileURLToPath(import.meta.url),
    "--tenant-worker",
  ]);
  const child = spawn(command, args, {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, BENCH_TENANT_WORKER: JSON.stringify(config) },
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  lines.on("line", (text) => {
    if (text.startsWith("{")) onLine(JSON.parse(text) as WorkerLine);
  });
  const done = new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => {
      memory.remove();
      if (code === 0) resolve();
      else reject(new Error(`a tenant worker exited with ${String(code)}`));
    });
  });
  return { child, done };
}

export async function tenantScenario(options: TenantOptions): Promise<TenantFigures> {
  const recipe: EstateRecipe = {
    kind: "tenant",
    subscriptions: options.subscriptions,
    clusters: options.clusters,
    services: options.services,
    apis: options.apis,
  };
  const estate = buildEstate(recipe);
  const subscriptionIds = estate.subscriptions.map((s) => s.subscriptionId.toLowerCase());
  const serviceIds = estate.resources
    .filter((r) => r.type === "Microsoft.ApiManagement/service")
    .map((r) => r.id.toLowerCase());
  const apiCount = estate.resources.filter(
    (r) => /\/apis$/i.test(r.type) && !r.name.includes(";rev="),
  ).length;
  const workspace = estate.resources.find((r) => r.type === "Microsoft.OperationalInsights/workspaces");
  const sim = await startSimProcess({ recipe, latencyMs: options.latencyMs, throttling: true });
  const azurite = await startAzurite();
  try {
    const env: Record<string, string> = {
      AUTOPROTECT_MODE: "audit",
      AUTOPROTECT_AUTHORIZED_IP_RANGES: "203.0.113.0/24",
      AUTOPROTECT_WORKSPACE_ID: workspace?.id ?? "",
      AzureWebJobsStorage: azurite.connectionString,
    };
    const config = (role: WorkerConfig["role"]): WorkerConfig => ({
      role,
      appRoot: options.appRoot,
      env,
      endpoint: sim.endpoint,
      ca: sim.ca,
    });
    const looks: Extract<WorkerLine, { kind: "look" }>[] = [];
    const perWorker: WorkerFigures[] = [];
    const started = now();
    let timerMs = 0;
    if (options.build === "today") {
      const { done } = spawnWorker(config("timer-inline"), options.instanceMemoryMB, (line) => {
        if (line.kind === "look") looks.push(line);
        else perWorker.push(line);
      });
      await done;
    } else {
      // The timer, here; the workers, each a process of its own.
      const [{ createRuntime }, { createSweepHandler }, { simulatorCredential }, { default: functions }] =
        await Promise.all([
          loadFromApp<RuntimeModule>(options.appRoot, "src/functions/runtime.js"),
          loadFromApp<SweepModule>(options.appRoot, "src/functions/sweep.js"),
          loadFromApp<SimulateModule>(options.appRoot, "src/cli/simulate.js"),
          import("@azure/functions"),
        ]);
      const runtime = createRuntime(env, {
        credential: simulatorCredential,
        endpoint: sim.endpoint,
        tlsCa: sim.ca,
      });
      const ran = new Set<string>();
      let resolveAll: () => void = () => undefined;
      const allLooked = new Promise<void>((resolve) => {
        resolveAll = resolve;
      });
      const expected = new Set([...subscriptionIds.map((s) => `/subscriptions/${s}`), ...serviceIds]);
      const workers = Array.from({ length: options.workers }, () =>
        spawnWorker(config("queue"), options.instanceMemoryMB, (line) => {
          if (line.kind === "stats") {
            perWorker.push(line);
            return;
          }
          looks.push(line);
          if (line.ran) ran.add(line.resourceId.toLowerCase());
          if ([...expected].every((id) => ran.has(id))) resolveAll();
        }),
      );
      const timerStarted = now();
      await createSweepHandler(() => runtime)(
        {
          isPastDue: false,
          schedule: { adjustForDST: false },
          scheduleStatus: { last: "", next: "", lastUpdated: "" },
        },
        new functions.InvocationContext({
          invocationId: "bench-timer",
          functionName: "sweep",
          logHandler: () => undefined,
        }),
      );
      timerMs = now() - timerStarted;
      await allLooked;
      for (const w of workers) w.child.stdin?.end();
      await Promise.all(workers.map((w) => w.done));
    }
    const wallTimeMs = now() - started;

    // No resource looked at twice at once; every subscription and service looked at.
    const byResource = new Map<string, { startedAt: number; endedAt: number }[]>();
    for (const look of looks.filter((l) => l.ran)) {
      const key = look.resourceId.toLowerCase();
      byResource.set(key, [...(byResource.get(key) ?? []), look]);
    }
    let overlapping = 0;
    for (const intervals of byResource.values()) {
      intervals.sort((a, b) => a.startedAt - b.startedAt);
      for (let i = 1; i < intervals.length; i += 1) {
        if ((intervals[i]?.startedAt ?? 0) < (intervals[i - 1]?.endedAt ?? 0)) overlapping += 1;
      }
    }
    const missing =
      options.build === "today"
        ? 0
        : [...subscriptionIds.map((s) => `/subscriptions/${s}`), ...serviceIds].filter(
            (id) => !byResource.has(id),
          ).length;
    const outcomes: Record<string, number> = {};
    for (const look of looks)
      for (const [k, n] of Object.entries(look.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + n;
    const simStats = await sim.stats();
    const storageCpuMs = cpuMsOf(azurite.pid);
    const coordinatorCpu = process.cpuUsage();
    const resources = options.clusters + apiCount;
    const appCpu = perWorker.reduce((sum, w) => sum + w.cpuMs, 0);
    return {
      name:
        `tenant sweep (dry run): ${String(options.subscriptions)} subscriptions, ${String(options.clusters)} clusters, ` +
        `${String(options.services)} APIM services, ${String(apiCount)} APIs (${options.build}` +
        (options.build === "now"
          ? `, ${String(options.workers)} worker${options.workers === 1 ? "" : "s"}`
          : ", one invocation") +
        ")",
      build: options.build,
      workers: options.build === "today" ? 1 : options.workers,
      estate: {
        subscriptions: options.subscriptions,
        clusters: options.clusters,
        services: options.services,
        apis: apiCount,
      },
      latencyMs: options.latencyMs,
      wallTimeMs: Math.round(wallTimeMs),
      timerMs: Math.round(timerMs),
      armRequests: simStats.requests,
      requestsPerResource: Number((simStats.requests / resources).toFixed(3)),
      throttled: simStats.throttled,
      outcomes,
      perWorker,
      appCpuMsPerThousandResources: Math.round((appCpu / resources) * 1000),
      overlapping,
      missing,
      failures: [...new Set(looks.flatMap((l) => l.failures ?? []))].slice(0, 5),
      sim: simStats,
      storageCpuMs,
      machineCpuUse: Number(
        (
          (appCpu + simStats.cpuMs + storageCpuMs + (coordinatorCpu.user + coordinatorCpu.system) / 1000) /
          (wallTimeMs * availableParallelism())
        ).toFixed(2),
      ),
    };
  } finally {
    await azurite.stop();
    await sim.close();
  }
}

export function formatTenant(f: TenantFigures): string {
  const workers = f.perWorker
    .map(
      (w) =>
        `${String(w.cpuMs)} ms CPU / ${String(w.peakRssMiB)} MiB (heap limit ${String(w.heapLimitMiB)} MiB, ` +
        `${w.memoryLimitMiB === undefined ? "no memory limit" : `in ${String(w.memoryLimitMiB)} MiB`})`,
    )
    .join(", ");
  const statuses = Object.entries(f.outcomes)
    .map(([s, n]) => `${String(n)} ${s}`)
    .join(", ");
  return (
    `${f.name}, ARM latency ${String(f.latencyMs)} ms: ${String(f.wallTimeMs)} ms wall` +
    (f.build === "now" ? ` (timer ${String(f.timerMs)} ms)` : "") +
    `, ${String(f.armRequests)} ARM requests (${String(f.requestsPerResource)} per cluster or API), ` +
    `${String(f.throttled)} throttled; workers: ${workers}; app CPU ${String(f.appCpuMsPerThousandResources)} ms per 1,000 resources; ` +
    `outcomes ${statuses}; ${String(f.overlapping)} looked at twice at once, ${String(f.missing)} missed; ` +
    `simulator CPU ${String(f.sim.cpuMs)} ms, RSS ${String(f.sim.peakRssMiB)} MiB; Azurite CPU ${String(f.storageCpuMs)} ms; ` +
    `all processes used ${String(Math.round(f.machineCpuUse * 100))} % of the machine's cores\n`
  );
}

if (process.argv.includes("--tenant-worker")) {
  // BENCH_PROFILE=dir: each worker writes a CPU profile there (where does a look's CPU go?).
  const profileDir = process.env.BENCH_PROFILE;
  const { Session } = await import("node:inspector/promises");
  const session = profileDir === undefined ? undefined : new Session();
  if (session !== undefined) {
    session.connect();
    await session.post("Profiler.enable");
    await session.post("Profiler.start");
  }
  await worker(JSON.parse(process.env.BENCH_TENANT_WORKER ?? "{}") as WorkerConfig);
  if (process.env.BENCH_HEAP !== undefined) {
    const heap = new Session();
    heap.connect();
    await heap.post("HeapProfiler.collectGarbage");
    process.stderr.write(
      `live heap after the sweep: ${String(Math.round(process.memoryUsage().heapUsed / 1048576))} MiB\n`,
    );
    const { writeHeapSnapshot } = await import("node:v8");
    writeHeapSnapshot(join(process.env.BENCH_HEAP, `worker-${String(process.pid)}.heapsnapshot`));
  }
  if (session !== undefined && profileDir !== undefined) {
    const { profile } = await session.post("Profiler.stop");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(join(profileDir, `worker-${String(process.pid)}.cpuprofile`), JSON.stringify(profile));
  }
  process.exit(0);
}
