// Benchmarks: `npm run bench` (human-readable) or `npm run bench -- --json`.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startSimulator } from "../sim/index.js";
import { createAzureGateway } from "../src/azure/index.js";
import { simulatorCredential } from "../src/cli/simulate.js";
import { createEngine } from "../src/engine/engine.js";
import { loadConfig } from "../src/model/config.js";
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
    if (mode === "audit" && sim.requests.some((r) => r.method !== "GET"))
      throw new Error("a dry run wrote to Azure");
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

function benchWorkspaceId(estate: ReturnType<typeof generateClusterEstate>): string {
  const workspace = estate.resources.find((r) => r.type === "Microsoft.OperationalInsights/workspaces");
  if (workspace === undefined) throw new Error("the generated estate has no workspace");
  return workspace.id;
}

const SCENARIOS = ["dry-run", "enforce"] as const;

const { values } = parseArgs({
  options: {
    json: { type: "boolean" },
    clusters: { type: "string" },
    latency: { type: "string" },
    scenario: { type: "string" },
  },
});
const clusters = Number(values.clusters ?? 1000);
const latency = Number(values.latency ?? 20);

if (values.scenario !== undefined) {
  // One scenario in this process, so its peak RSS is its own.
  const mode = values.scenario === "dry-run" ? "audit" : "enforce";
  process.stdout.write(`${JSON.stringify(await sweepScenario(mode, clusters, latency))}\n`);
} else {
  const figures: SweepFigures[] = SCENARIOS.map((scenario) => {
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
      ],
      { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
    );
    if (child.status !== 0)
      throw new Error(`benchmark scenario ${scenario} exited with ${String(child.status)}`);
    return JSON.parse(child.stdout) as SweepFigures;
  });
  // Simulated minutes, pure computation: runs here, in well under a second.
  const rollout = runRolloutBenchmark();
  if (values.json === true) {
    const rolloutJson = { figures: rollout, checks: rolloutBenchChecks(rollout) };
    process.stdout.write(`${JSON.stringify({ sweeps: figures, rollout: rolloutJson })}\n`);
  } else {
    for (const f of figures) {
      process.stdout.write(
        `${f.name} (ARM latency ${f.armLatencyMs} ms): ${f.wallTimeMs} ms wall, ${f.armRequests} ARM requests ` +
          `(${f.armRequestsPerCluster} per cluster), ${f.outcomes} outcomes, peak RSS ${f.peakRssMiB} MiB\n`,
      );
    }
    process.stdout.write(`\n${formatRolloutReport(rollout)}`);
  }
}
