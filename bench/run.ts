// Benchmarks: `npm run bench` (human-readable) or `npm run bench -- --json`. Every scenario that talks
// to Azure runs in a fresh Node process of its own, against the simulator in another process, so the
// app's CPU time and peak RSS are its own. Issue 16's scenarios run today's build (bench/baseline.ts)
// and this one side by side, in the same run.
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createAzureGateway } from "../src/azure/index.js";
import { simulatorCredential } from "../src/cli/simulate.js";
import { createEngine } from "../src/engine/engine.js";
import { loadConfig } from "../src/model/config.js";
import { createFileStateStore } from "../src/rollout/file-state-store.js";
import { prepareBaseline } from "./baseline.js";
import { bundleBenchChecks, formatBundleReport, runBundleBenchmark } from "./bundle.js";
import { burstScenario, formatBurst, type BurstFigures } from "./burst.js";
import { buildEstate, type EstateRecipe } from "./estates.js";
import { generateApimEstate, type ApimEstateSummary } from "./generate-apim-estate.js";
import { formatRolloutReport, rolloutBenchChecks, runRolloutBenchmark } from "./rollout.js";
import { startSimProcess, type SimProcessStats } from "./sim-process.js";
import { deployedInstanceMemoryMB } from "./instance-memory.js";
import { formatTenant, tenantScenario, type TenantFigures } from "./tenant.js";

/** Subscriptions the burst's 1,000 events are spread over: 100 cluster writes each, within ARM's bucket of 200. */
const BURST_SUBSCRIPTIONS = 10;

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const THIS_BUILD = fileURLToPath(new URL("../", import.meta.url));

interface AppFigures {
  readonly appCpuMs: number;
  readonly appPeakRssMiB: number;
  readonly sim: SimProcessStats;
}

interface SweepFigures extends AppFigures {
  readonly name: string;
  readonly clusters: number;
  readonly armLatencyMs: number;
  readonly wallTimeMs: number;
  readonly armRequests: number;
  readonly armRequestsPerCluster: number;
  readonly outcomes: number;
}

function appUsage(): Pick<AppFigures, "appCpuMs" | "appPeakRssMiB"> {
  const cpu = process.cpuUsage();
  return {
    appCpuMs: Math.round((cpu.user + cpu.system) / 1000),
    appPeakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

async function sweepScenario(
  mode: "audit" | "enforce",
  clusters: number,
  armLatencyMs: number,
): Promise<SweepFigures> {
  const recipe: EstateRecipe = { kind: "clusters", clusters, subscriptions: 4 };
  const estate = buildEstate(recipe);
  const sim = await startSimProcess({ recipe, latencyMs: armLatencyMs });
  try {
    const azure = createAzureGateway({
      credential: simulatorCredential,
      endpoint: sim.endpoint,
      tlsCa: sim.ca,
      // The simulator finishes an operation after one poll; ARM's own pace is modelled by its latency.
      pollIntervalMs: armLatencyMs,
    });
    const workspace = estate.resources.find((r) => r.type === "Microsoft.OperationalInsights/workspaces");
    const config = loadConfig({
      AUTOPROTECT_MODE: mode,
      AUTOPROTECT_AUTHORIZED_IP_RANGES: "203.0.113.0/24",
      AUTOPROTECT_WORKSPACE_ID: workspace?.id ?? "",
    });
    const engine = createEngine({ azure, config });
    const targets = estate.subscriptions.map((s) => ({
      kind: "subscription" as const,
      subscriptionId: s.subscriptionId,
    }));
    const started = performance.now();
    const result = await engine.reconcile(targets, {
      runId: "bench",
      trigger: "cli",
      mode,
      correlationId: "bench",
    });
    const wallTimeMs = performance.now() - started;
    const requests = await sim.requests();
    // A Resource Graph query (Defender's assessments) is a POST that only reads.
    const wrote = requests.some(
      (r) => r.method !== "GET" && !r.path.endsWith("/Microsoft.ResourceGraph/resources"),
    );
    if (mode === "audit" && wrote) throw new Error("a dry run wrote to Azure");
    const failed = result.outcomes.filter((o) => o.Status === "failed").length;
    if (failed > 0) throw new Error(`${String(failed)} outcomes failed`);
    return {
      name: `${mode === "audit" ? "dry-run" : "enforce"} sweep, ${String(clusters)} clusters`,
      clusters,
      armLatencyMs,
      wallTimeMs: Math.round(wallTimeMs),
      armRequests: requests.length,
      armRequestsPerCluster: Number((requests.length / clusters).toFixed(3)),
      outcomes: result.outcomes.length,
      ...appUsage(),
      sim: await sim.stats(),
    };
  } finally {
    await sim.close();
  }
}

interface ApimSweepFigures extends AppFigures {
  readonly name: string;
  readonly estate: ApimEstateSummary;
  readonly armLatencyMs: number;
  readonly wallTimeMs: number;
  readonly armRequests: number;
  readonly armRequestsPerApi: number;
  readonly outcomes: number;
  /** `apim.api-onboarding` outcomes by status. */
  readonly apiOutcomes: Record<string, number>;
}

/** A dry-run sweep over a generated API Management estate: every current API gets one outcome, nothing is written. */
async function apimSweepScenario(
  services: number,
  apis: number,
  armLatencyMs: number,
): Promise<ApimSweepFigures> {
  const { estate, summary } = generateApimEstate(services, apis);
  const sim = await startSimProcess({ recipe: { kind: "apim", services, apis }, latencyMs: armLatencyMs });
  const stateDir = await mkdtemp(join(tmpdir(), "autoprotect-bench-"));
  try {
    const azure = createAzureGateway({
      credential: simulatorCredential,
      endpoint: sim.endpoint,
      tlsCa: sim.ca,
      pollIntervalMs: armLatencyMs,
      metricsEndpoint: () => sim.endpoint,
    });
    const config = loadConfig({ AUTOPROTECT_MODE: "audit" });
    // Audit mode reads the rollout store (and capacity) as enforce does, and never writes it.
    const engine = createEngine({ azure, config, rolloutStore: createFileStateStore(stateDir) });
    const targets = estate.subscriptions.map((s) => ({
      kind: "subscription" as const,
      subscriptionId: s.subscriptionId,
    }));
    const started = performance.now();
    const result = await engine.reconcile(targets, {
      runId: "bench",
      trigger: "cli",
      mode: "audit",
      correlationId: "bench",
    });
    const wallTimeMs = performance.now() - started;
    const requests = await sim.requests();
    // The metrics batch API and Resource Graph's query API are POSTs that only read.
    if (
      requests.some(
        (r) =>
          r.method !== "GET" &&
          !r.path.endsWith("metrics:getBatch") &&
          !r.path.endsWith("/Microsoft.ResourceGraph/resources"),
      )
    )
      throw new Error("a dry run wrote to Azure");
    const failed = result.outcomes.filter((o) => o.Status === "failed").length;
    if (failed > 0 || result.errors.length > 0)
      throw new Error(`${String(failed)} outcomes failed, ${String(result.errors.length)} run errors`);
    const apiOutcomes: Record<string, number> = {};
    for (const o of result.outcomes.filter((o) => o.Check === "apim.api-onboarding"))
      apiOutcomes[o.Status] = (apiOutcomes[o.Status] ?? 0) + 1;
    const apiOutcomeCount = Object.values(apiOutcomes).reduce((a, b) => a + b, 0);
    if (apiOutcomeCount !== summary.apis)
      throw new Error(`${String(apiOutcomeCount)} API outcomes for ${String(summary.apis)} current APIs`);
    return {
      name: `dry-run sweep, ${String(summary.services)} APIM services, ${String(summary.apis)} APIs`,
      estate: summary,
      armLatencyMs,
      wallTimeMs: Math.round(wallTimeMs),
      armRequests: requests.length,
      armRequestsPerApi: Number((requests.length / summary.apis).toFixed(3)),
      outcomes: result.outcomes.length,
      apiOutcomes,
      ...appUsage(),
      sim: await sim.stats(),
    };
  } finally {
    await sim.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

const { values } = parseArgs({
  options: {
    json: { type: "boolean" },
    clusters: { type: "string" },
    latency: { type: "string" },
    scenario: { type: "string" },
    services: { type: "string" },
    apis: { type: "string" },
    build: { type: "string" },
    "in-flight": { type: "string" },
    events: { type: "string" },
    subscriptions: { type: "string" },
    throttling: { type: "boolean" },
    waves: { type: "string" },
    "app-root": { type: "string" },
    workers: { type: "string" },
    // Leave out today's build (no side-by-side figures, no dist/baseline/ build).
    "no-baseline": { type: "boolean" },
  },
});
const num = (value: string | undefined, fallback: number): number => Number(value ?? fallback);
const emit = (figures: unknown): void => {
  process.stdout.write(`${JSON.stringify(figures)}\n`);
};

/** Runs one scenario in a fresh Node process, so its CPU time and peak RSS are its own. */
function runScenario(args: Record<string, string | boolean>): unknown {
  const argv = Object.entries(args).flatMap(([k, v]) =>
    v === true ? [`--${k}`] : v === false ? [] : [`--${k}`, v],
  );
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...argv], {
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    // The Functions library's test-mode warnings go to stderr; everything else is the scenario's own.
    stdio: ["ignore", "pipe", "ignore"],
  });
  if (child.status !== 0)
    throw new Error(`benchmark scenario ${argv.join(" ")} exited with ${String(child.status)}`);
  return JSON.parse(child.stdout.trim().split("\n").at(-1) ?? "null");
}

const appRoot = values["app-root"] ?? THIS_BUILD;
const build = values.build === "today" ? "today" : "now";

switch (values.scenario) {
  case "dry-run":
  case "enforce":
    emit(
      await sweepScenario(
        values.scenario === "dry-run" ? "audit" : "enforce",
        num(values.clusters, 1000),
        num(values.latency, 20),
      ),
    );
    break;
  case "apim-dry-run":
    emit(
      await apimSweepScenario(num(values.services, 100), num(values.apis, 10_000), num(values.latency, 20)),
    );
    break;
  case "burst":
    emit(
      await burstScenario({
        appRoot,
        build,
        events: num(values.events, 1000),
        inFlight: num(values["in-flight"], 50),
        subscriptions: num(values.subscriptions, BURST_SUBSCRIPTIONS),
        throttling: values.throttling === true,
        waves: num(values.waves, 2),
      }),
    );
    break;
  case "tenant":
    emit(
      await tenantScenario({
        appRoot,
        build,
        workers: num(values.workers, 1),
        subscriptions: num(values.subscriptions, 1000),
        clusters: num(values.clusters, 20_000),
        services: num(values.services, 500),
        apis: num(values.apis, 50_000),
        latencyMs: num(values.latency, 20),
        instanceMemoryMB: deployedInstanceMemoryMB(ROOT),
      }),
    );
    break;
  case undefined:
    await everything();
    break;
  default:
    throw new Error(`unknown scenario ${values.scenario}`);
}

async function everything(): Promise<void> {
  const log = (line: string): void => {
    if (values.json !== true) process.stdout.write(line);
  };
  const baseline =
    values["no-baseline"] === true ? undefined : prepareBaseline(ROOT, (l) => process.stderr.write(`${l}\n`));
  const builds: { build: "today" | "now"; root: string }[] = [
    ...(baseline === undefined ? [] : [{ build: "today" as const, root: baseline }]),
    { build: "now", root: THIS_BUILD },
  ];

  const sweeps = (["dry-run", "enforce"] as const).map(
    (scenario) => runScenario({ scenario }) as SweepFigures,
  );
  for (const f of sweeps) {
    log(
      `${f.name} (ARM latency ${String(f.armLatencyMs)} ms): ${String(f.wallTimeMs)} ms wall, ${String(f.armRequests)} ARM requests ` +
        `(${String(f.armRequestsPerCluster)} per cluster), ${String(f.outcomes)} outcomes; app ${String(f.appCpuMs)} ms CPU, ` +
        `${String(f.appPeakRssMiB)} MiB; simulator ${String(f.sim.cpuMs)} ms CPU, ${String(f.sim.peakRssMiB)} MiB\n`,
    );
  }
  const apim = runScenario({ scenario: "apim-dry-run" }) as ApimSweepFigures;
  log(
    `${apim.name} (ARM latency ${String(apim.armLatencyMs)} ms): ${String(apim.wallTimeMs)} ms wall, ${String(apim.armRequests)} ARM ` +
      `requests (${String(apim.armRequestsPerApi)} per API), ${String(apim.outcomes)} outcomes (APIs: ${Object.entries(
        apim.apiOutcomes,
      )
        .map(([s, n]) => `${String(n)} ${s}`)
        .join(
          ", ",
        )}); app ${String(apim.appCpuMs)} ms CPU, ${String(apim.appPeakRssMiB)} MiB; simulator ${String(apim.sim.cpuMs)} ms CPU, ` +
      `${String(apim.sim.peakRssMiB)} MiB\n`,
  );

  // Simulated minutes against a model of the instance, pure computation: runs here, in a few seconds.
  const rollout = await runRolloutBenchmark();
  log(`\n${formatRolloutReport(rollout)}\n`);

  // Bursts of creation events, ARM's throttling on, each build in turn.
  const bursts: BurstFigures[] = [];
  for (const inFlight of [50, 1000]) {
    for (const b of builds) {
      const f = runScenario({
        scenario: "burst",
        build: b.build,
        "app-root": b.root,
        "in-flight": String(inFlight),
        throttling: true,
      }) as BurstFigures;
      bursts.push(f);
      log(formatBurst(f));
    }
  }
  // More creations in a subscription than ARM's write bucket holds: the rate, not the app, sets the pace.
  for (const b of builds) {
    const f = runScenario({
      scenario: "burst",
      build: b.build,
      "app-root": b.root,
      "in-flight": "50",
      subscriptions: "4",
      waves: "1",
      throttling: true,
    }) as BurstFigures;
    bursts.push(f);
    log(formatBurst(f));
  }

  // The tenant sweep: today's one invocation, this build's fan-out over 1, 2 and 4 workers, and a
  // quarter of the tenant with one worker (is the app's cost linear in the estate?).
  const tenants: TenantFigures[] = [];
  const tenant = (args: Record<string, string>): void => {
    const f = runScenario({ scenario: "tenant", ...args }) as TenantFigures;
    tenants.push(f);
    log(formatTenant(f));
  };
  if (baseline !== undefined) tenant({ build: "today", "app-root": baseline });
  for (const workers of [1, 2, 4]) tenant({ build: "now", workers: String(workers) });
  tenant({
    build: "now",
    workers: "1",
    subscriptions: "250",
    clusters: "5000",
    services: "125",
    apis: "12500",
  });

  // Builds dist/bundle/ and loads it, the unbundled build and today's bundle, in fresh processes.
  const bundle = runBundleBenchmark(10, baseline);
  log(`\n${formatBundleReport(bundle)}`);

  const checks = scaleChecks(bursts, tenants);
  for (const check of checks) log(`${check.holds ? "PASS" : "FAIL"} ${check.description}: ${check.detail}\n`);
  if (values.json === true) {
    emit({
      sweeps,
      apimSweep: apim,
      rollout: { figures: rollout, checks: rolloutBenchChecks(rollout) },
      bursts,
      tenants,
      bundle: { figures: bundle, checks: bundleBenchChecks(bundle) },
      checks,
    });
  }
}

interface ScaleCheck {
  readonly description: string;
  readonly holds: boolean;
  readonly detail: string;
}

/** Issue 16's targets for bursts and the tenant sweep, from this run's figures. */
function scaleChecks(bursts: readonly BurstFigures[], tenants: readonly TenantFigures[]): ScaleCheck[] {
  const checks: ScaleCheck[] = [];
  const burst = (build: string, inFlight: number, subscriptions = BURST_SUBSCRIPTIONS) =>
    bursts.find((b) => b.build === build && b.inFlight === inFlight && b.subscriptions === subscriptions);
  const cold50 = burst("now", 50)?.waves[0];
  const today50 = burst("today", 50)?.waves[0];
  if (cold50 !== undefined)
    checks.push({
      description: "burst, 50 in flight, cold: p99 to the cluster's PUT within 400 ms",
      holds: cold50.toPutMs.p99 <= 400,
      detail:
        `p99 ${String(cold50.toPutMs.p99)} ms` +
        (today50 === undefined ? "" : `; today ${String(today50.toPutMs.p99)} ms`),
    });
  for (const inFlight of [50, 1000]) {
    const warm = burst("now", inFlight)?.waves[1];
    if (warm !== undefined)
      checks.push({
        // The target (the cluster's read and its write) predates aks.containers-plan-override (issue
        // 14), which must read each cluster's own plan: that read is counted apart, and at most one.
        description:
          `burst, ${String(inFlight)} in flight, warm: at most 2 ARM requests per event, ` +
          "plus one read of the cluster's own plan",
        holds:
          (warm.requestsPerEventByKind["GET cluster's own plan"] ?? 0) <= 1 &&
          warm.requestsPerEvent - (warm.requestsPerEventByKind["GET cluster's own plan"] ?? 0) <= 2,
        detail: `${String(warm.requestsPerEvent)} per event (${Object.entries(warm.requestsPerEventByKind)
          .map(([k, n]) => `${String(n)} ${k}`)
          .join(", ")})`,
      });
  }
  const nowBursts = bursts.filter((b) => b.build === "now");
  const throttled = nowBursts.flatMap((b) => b.waves).reduce((sum, w) => sum + w.throttled, 0);
  const todayThrottled = bursts
    .filter((b) => b.build === "today")
    .flatMap((b) => b.waves)
    .reduce((s, w) => s + w.throttled, 0);
  checks.push({
    description: "bursts never above ARM's per-subscription rate: no request throttled",
    holds: throttled === 0 && nowBursts.length > 0,
    detail: `${String(throttled)} throttled in ${String(nowBursts.length)} bursts; today ${String(todayThrottled)}`,
  });
  const full = (workers: number) =>
    tenants.find((t) => t.build === "now" && t.workers === workers && t.estate.subscriptions === 1000);
  const one = full(1);
  const four = full(4);
  const quarter = tenants.find((t) => t.build === "now" && t.estate.subscriptions === 250);
  if (one !== undefined && four !== undefined)
    checks.push({
      description: "tenant sweep: 4 workers at least 3 times faster than 1",
      holds: one.wallTimeMs >= 3 * four.wallTimeMs,
      detail: `${(one.wallTimeMs / four.wallTimeMs).toFixed(2)}× (${String(one.wallTimeMs)} ms against ${String(four.wallTimeMs)} ms)`,
    });
  if (one !== undefined && quarter !== undefined)
    checks.push({
      description:
        "tenant sweep: the app's CPU linear in resources (per 1,000 resources, quarter and full tenant within 25 %)",
      holds: Math.abs(one.appCpuMsPerThousandResources / quarter.appCpuMsPerThousandResources - 1) <= 0.25,
      detail: `${String(quarter.appCpuMsPerThousandResources)} and ${String(one.appCpuMsPerThousandResources)} ms`,
    });
  const workers = tenants.filter((t) => t.build === "now").flatMap((t) => t.perWorker);
  const rss = workers.map((w) => w.peakRssMiB);
  const limits = [...new Set(workers.map((w) => w.memoryLimitMiB))];
  if (rss.length > 0)
    checks.push({
      description: "tenant sweep: every worker's peak RSS within 160 MiB, whatever the tenant's size",
      holds: Math.max(...rss) <= 160,
      detail:
        `${String(Math.min(...rss))}–${String(Math.max(...rss))} MiB, ` +
        (limits.length === 1 && limits[0] !== undefined
          ? `each worker in ${String(limits[0])} MiB as on an instance`
          : "not every worker in an instance's memory (no memory cgroup): V8 sized its heap from the machine's"),
    });
  const bad = tenants.filter((t) => t.overlapping > 0 || t.missing > 0);
  checks.push({
    description: "tenant sweep: no subscription or service looked at twice at once, none left out",
    holds: bad.length === 0,
    detail:
      bad.length === 0
        ? "none"
        : bad.map((t) => `${t.name}: ${String(t.overlapping)} twice, ${String(t.missing)} missed`).join("; "),
  });
  return checks;
}
