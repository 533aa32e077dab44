// Benchmarks: `npm run bench` (human-readable) or `npm run bench -- --json`.
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startSimulator } from "../sim/index.js";
import { createAzureGateway } from "../src/azure/index.js";
import { simulatorCredential } from "../src/cli/simulate.js";
import { createEngine } from "../src/engine/engine.js";
import { loadConfig } from "../src/model/config.js";
import { createFileStateStore } from "../src/rollout/file-state-store.js";
import { bundleBenchChecks, formatBundleReport, runBundleBenchmark } from "./bundle.js";
import { eventsScenario, formatEventsFigures, type EventsFigures } from "./events.js";
import { generateApimEstate, type ApimEstateSummary } from "./generate-apim-estate.js";
import { generateClusterEstate } from "./generate-estate.js";
import { formatRolloutReport, rolloutBenchChecks, runRolloutBenchmark } from "./rollout.js";

interface SweepFigures {
  readonly name: string;
  readonly clusters: number;
  readonly armLatencyMs: number;
  readonly wallTimeMs: number;
  readonly armRequests: number;
  readonly armRequestsPerCluster: number;
  readonly outcomes: number;
  readonly peakRssMiB: number;
}

async function sweepScenario(
  mode: "audit" | "enforce",
  clusters: number,
  armLatencyMs: number,
): Promise<SweepFigures> {
  const estate = generateClusterEstate(clusters);
  const sim = await startSimulator({ estate, latencyMs: armLatencyMs });
  try {
    const azure = createAzureGateway({
      credential: simulatorCredential,
      endpoint: sim.endpoint,
      tlsCa: sim.ca,
      // The simulator finishes an operation after one poll; ARM's own pace is modelled by its latency.
      pollIntervalMs: armLatencyMs,
    });
    const config = loadConfig({
      AUTOPROTECT_MODE: mode,
      AUTOPROTECT_AUTHORIZED_IP_RANGES: "203.0.113.0/24",
      AUTOPROTECT_WORKSPACE_ID: benchWorkspaceId(estate),
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
    // A Resource Graph query (Defender's assessments) is a POST that only reads.
    const wrote = sim.requests.some(
      (r) => r.method !== "GET" && !r.path.endsWith("/Microsoft.ResourceGraph/resources"),
    );
    if (mode === "audit" && wrote) throw new Error("a dry run wrote to Azure");
    const failed = result.outcomes.filter((o) => o.Status === "failed").length;
    if (failed > 0) throw new Error(`${failed} outcomes failed`);
    return {
      name: `${mode === "audit" ? "dry-run" : "enforce"} sweep, ${clusters} clusters`,
      clusters,
      armLatencyMs,
      wallTimeMs: Math.round(wallTimeMs),
      armRequests: sim.requests.length,
      armRequestsPerCluster: Number((sim.requests.length / clusters).toFixed(3)),
      outcomes: result.outcomes.length,
      // Includes the in-process simulator holding the estate.
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    };
  } finally {
    await sim.close();
  }
}

interface ApimSweepFigures {
  readonly name: string;
  readonly estate: ApimEstateSummary;
  readonly armLatencyMs: number;
  readonly wallTimeMs: number;
  readonly armRequests: number;
  readonly armRequestsPerApi: number;
  /** Requests by path, ids replaced by placeholders: where the requests go. */
  readonly armRequestsByPath: Record<string, number>;
  readonly outcomes: number;
  /** `apim.api-onboarding` outcomes by status. */
  readonly apiOutcomes: Record<string, number>;
  readonly peakRssMiB: number;
}

/** A dry-run sweep over a generated API Management estate: every current API gets one outcome, nothing is written. */
async function apimSweepScenario(
  services: number,
  apis: number,
  armLatencyMs: number,
): Promise<ApimSweepFigures> {
  const { estate, summary } = generateApimEstate(services, apis);
  const sim = await startSimulator({ estate, latencyMs: armLatencyMs });
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
    // The metrics batch API and Resource Graph's query API are POSTs that only read.
    const written = sim.requests.filter(
      (r) =>
        r.method !== "GET" &&
        !r.path.endsWith("metrics:getBatch") &&
        !r.path.endsWith("/Microsoft.ResourceGraph/resources"),
    );
    if (written.length > 0) throw new Error("a dry run wrote to Azure");
    const failed = result.outcomes.filter((o) => o.Status === "failed").length;
    if (failed > 0 || result.errors.length > 0)
      throw new Error(`${failed} outcomes failed, ${result.errors.length} run errors`);
    const apiOutcomes: Record<string, number> = {};
    for (const o of result.outcomes.filter((o) => o.Check === "apim.api-onboarding"))
      apiOutcomes[o.Status] = (apiOutcomes[o.Status] ?? 0) + 1;
    const apiOutcomeCount = Object.values(apiOutcomes).reduce((a, b) => a + b, 0);
    if (apiOutcomeCount !== summary.apis)
      throw new Error(`${apiOutcomeCount} API outcomes for ${summary.apis} current APIs`);
    const armRequestsByPath: Record<string, number> = {};
    for (const r of sim.requests) {
      const key = r.path
        .replace(/^\/subscriptions\/[^/]+/i, "/subscriptions/{s}")
        .replace(/\/resourceGroups\/[^/]+/i, "/resourceGroups/{rg}")
        .replace(/\/(service|workspaces|gateways|apis|apiCollections|pricings)\/[^/]+/gi, "/$1/{name}");
      armRequestsByPath[key] = (armRequestsByPath[key] ?? 0) + 1;
    }
    return {
      name: `dry-run sweep, ${summary.services} APIM services, ${summary.apis} APIs`,
      estate: summary,
      armLatencyMs,
      wallTimeMs: Math.round(wallTimeMs),
      armRequests: sim.requests.length,
      armRequestsPerApi: Number((sim.requests.length / summary.apis).toFixed(3)),
      armRequestsByPath: Object.fromEntries(Object.entries(armRequestsByPath).sort(([, a], [, b]) => b - a)),
      outcomes: result.outcomes.length,
      apiOutcomes,
      // Includes the in-process simulator holding the estate.
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    };
  } finally {
    await sim.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

function benchWorkspaceId(estate: ReturnType<typeof generateClusterEstate>): string {
  const workspace = estate.resources.find((r) => r.type === "Microsoft.OperationalInsights/workspaces");
  if (workspace === undefined) throw new Error("the generated estate has no workspace");
  return workspace.id;
}

const SCENARIOS = ["dry-run", "enforce"] as const;
const APIM_SCENARIO = "apim-dry-run";
/** `--scenario events` runs both modes, each in its own process. */
const EVENT_SCENARIOS = { "events-sequential": "sequential", "events-burst": "burst" } as const;
const EVENTS_IN_FLIGHT = 50;

const { values } = parseArgs({
  options: {
    json: { type: "boolean" },
    clusters: { type: "string" },
    latency: { type: "string" },
    scenario: { type: "string" },
    services: { type: "string" },
    apis: { type: "string" },
  },
});
const clusters = Number(values.clusters ?? 1000);
const latency = Number(values.latency ?? 20);
const services = Number(values.services ?? 100);
const apis = Number(values.apis ?? 10_000);

/** Runs one scenario in a fresh Node process, so its peak RSS is its own, and returns its figures. */
function runScenario(scenario: string): unknown {
  const child = spawnSync(
    process.execPath,
    [
      fileURLToPath(import.meta.url),
      "--scenario",
      scenario,
      "--clusters",
      String(clusters),
      "--latency",
      String(latency),
      "--services",
      String(services),
      "--apis",
      String(apis),
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
  );
  if (child.status !== 0)
    throw new Error(`benchmark scenario ${scenario} exited with ${String(child.status)}`);
  return JSON.parse(child.stdout);
}

const runEventScenarios = (): EventsFigures[] =>
  Object.keys(EVENT_SCENARIOS).map((scenario) => runScenario(scenario) as EventsFigures);

if (values.scenario === APIM_SCENARIO) {
  process.stdout.write(`${JSON.stringify(await apimSweepScenario(services, apis, latency))}\n`);
} else if (values.scenario !== undefined && Object.hasOwn(EVENT_SCENARIOS, values.scenario)) {
  // One event count per cluster (`--clusters`), no added latency.
  const mode = EVENT_SCENARIOS[values.scenario as keyof typeof EVENT_SCENARIOS];
  process.stdout.write(`${JSON.stringify(await eventsScenario(mode, clusters, EVENTS_IN_FLIGHT))}\n`);
} else if (values.scenario === "events") {
  const events = runEventScenarios();
  if (values.json === true) process.stdout.write(`${JSON.stringify({ events })}\n`);
  else for (const f of events) process.stdout.write(formatEventsFigures(f));
} else if (values.scenario !== undefined) {
  // One scenario in this process, so its peak RSS is its own.
  const mode = values.scenario === "dry-run" ? "audit" : "enforce";
  process.stdout.write(`${JSON.stringify(await sweepScenario(mode, clusters, latency))}\n`);
} else {
  const figures = SCENARIOS.map((scenario) => runScenario(scenario) as SweepFigures);
  const apim = runScenario(APIM_SCENARIO) as ApimSweepFigures;
  const events = runEventScenarios();
  // Simulated minutes against a model of the instance, pure computation: runs here, in a few seconds.
  const rollout = await runRolloutBenchmark();
  // Builds dist/bundle/ and loads it, and the unbundled build, in fresh processes of its own.
  const bundle = runBundleBenchmark();
  if (values.json === true) {
    const rolloutJson = { figures: rollout, checks: rolloutBenchChecks(rollout) };
    const bundleJson = { figures: bundle, checks: bundleBenchChecks(bundle) };
    process.stdout.write(
      `${JSON.stringify({ sweeps: figures, apimSweep: apim, rollout: rolloutJson, events, bundle: bundleJson })}\n`,
    );
  } else {
    for (const f of figures) {
      process.stdout.write(
        `${f.name} (ARM latency ${f.armLatencyMs} ms): ${f.wallTimeMs} ms wall, ${f.armRequests} ARM requests ` +
          `(${f.armRequestsPerCluster} per cluster), ${f.outcomes} outcomes, peak RSS ${f.peakRssMiB} MiB\n`,
      );
    }
    const statuses = Object.entries(apim.apiOutcomes)
      .map(([status, count]) => `${count} ${status}`)
      .join(", ");
    process.stdout.write(
      `${apim.name} (ARM latency ${apim.armLatencyMs} ms): ${apim.wallTimeMs} ms wall, ${apim.armRequests} ARM ` +
        `requests (${apim.armRequestsPerApi} per API), ${apim.outcomes} outcomes (APIs: ${statuses}), ` +
        `peak RSS ${apim.peakRssMiB} MiB\n`,
    );
    process.stdout.write(`\n${formatRolloutReport(rollout)}`);
    process.stdout.write("\n");
    for (const f of events) process.stdout.write(formatEventsFigures(f));
    process.stdout.write(`\n${formatBundleReport(bundle)}`);
  }
}
