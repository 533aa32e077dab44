// Benchmarks: `npm run bench` (human-readable) or `npm run bench -- --json`.
import { parseArgs } from "node:util";
import { startSimulator } from "../sim/index.js";
import { createAzureGateway } from "../src/azure/index.js";
import { simulatorCredential } from "../src/cli/simulate.js";
import { createEngine } from "../src/engine/engine.js";
import { loadConfig } from "../src/model/config.js";
import { generateClusterEstate } from "./generate-estate.js";

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

async function dryRunSweep(clusters: number, armLatencyMs: number): Promise<SweepFigures> {
  const estate = generateClusterEstate(clusters);
  const sim = await startSimulator({ estate, latencyMs: armLatencyMs });
  try {
    const azure = createAzureGateway({
      credential: simulatorCredential,
      endpoint: sim.endpoint,
      tlsCa: sim.ca,
    });
    const config = loadConfig({
      AUTOPROTECT_MODE: "audit",
      AUTOPROTECT_AUTHORIZED_IP_RANGES: "203.0.113.0/24",
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
      mode: "audit",
      correlationId: "bench",
    });
    const wallTimeMs = performance.now() - started;
    if (sim.requests.some((r) => r.method !== "GET")) throw new Error("a dry run wrote to Azure");
    return {
      name: `dry-run sweep, ${clusters} clusters`,
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

const { values } = parseArgs({
  options: { json: { type: "boolean" }, clusters: { type: "string" }, latency: { type: "string" } },
});
const figures = [await dryRunSweep(Number(values.clusters ?? 1000), Number(values.latency ?? 20))];
if (values.json === true) {
  process.stdout.write(`${JSON.stringify(figures)}\n`);
} else {
  for (const f of figures) {
    process.stdout.write(
      `${f.name} (ARM latency ${f.armLatencyMs} ms): ${f.wallTimeMs} ms wall, ${f.armRequests} ARM requests ` +
        `(${f.armRequestsPerCluster} per cluster), ${f.outcomes} outcomes, peak RSS ${f.peakRssMiB} MiB\n`,
    );
  }
}
