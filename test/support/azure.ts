import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimulator, type Estate, type Simulator, type SimulatorOptions } from "../../sim/index.js";
import { createAzureGateway, type AzureGateway } from "../../src/azure/index.js";
import { simulatorCredential } from "../../src/cli/simulate.js";
import { createEngine, type Engine, type EngineOptions } from "../../src/engine/engine.js";
import { CHECK_IDS } from "../../src/model/checks.js";
import { loadConfig, type Config } from "../../src/model/config.js";
import { createFileStateStore } from "../../src/rollout/file-state-store.js";
import type { RolloutStateStore } from "../../src/rollout/state-store.js";
import type { OutcomeRecord } from "../../src/model/outcome.js";
import { workspaceId } from "./estate.js";

export interface TestWorld {
  readonly sim: Simulator;
  readonly azure: AzureGateway;
  readonly config: Config;
  /** A fresh folder per world for the file rollout store (engines share it unless overridden). */
  readonly stateDir: string;
  readonly rolloutStore: RolloutStateStore;
  engine(overrides?: Partial<EngineOptions>): Engine;
}

export const BASE_ENV = {
  AUTOPROTECT_WORKSPACE_ID: workspaceId(),
  AUTOPROTECT_AUTHORIZED_IP_RANGES: "203.0.113.0/24",
  // The agreement with Defender for Cloud has its own tests (test/engine/agreement.test.ts and the
  // tests that name it); these estates hold no Defender assessments, so it would only say so.
  AUTOPROTECT_CHECKS: CHECK_IDS.filter((c) => c !== "defender.agreement").join(","),
};

/** The run's temporary folder (test/support/global-setup.ts removes it), else the system's. */
function stateRoot(): string {
  return process.env.AUTOPROTECT_TEST_TMP ?? tmpdir();
}

/** The real SDK clients against the simulator, with retry delays shortened (Retry-After still honoured). */
export async function startWorld(
  estate: Estate,
  env: Record<string, string> = {},
  simOptions: Omit<SimulatorOptions, "estate"> = {},
): Promise<TestWorld> {
  const sim = await startSimulator({ estate, ...simOptions });
  const azure = createAzureGateway({
    credential: simulatorCredential,
    endpoint: sim.endpoint,
    tlsCa: sim.ca,
    pollIntervalMs: 5,
    retry: { retryDelayInMs: 5, maxRetryDelayInMs: 20 },
    metricsEndpoint: () => sim.endpoint,
  });
  const config = loadConfig({ ...BASE_ENV, ...env });
  const stateDir = await mkdtemp(join(stateRoot(), "rollout-"));
  const rolloutStore = createFileStateStore(stateDir);
  return {
    sim,
    azure,
    config,
    stateDir,
    rolloutStore,
    engine: (overrides = {}) => createEngine({ azure, config, rolloutStore, ...overrides }),
  };
}

export function runInfo(mode: Config["mode"] = "enforce") {
  return { runId: "run-1", trigger: "cli" as const, mode, correlationId: "corr-1" };
}

/** Requests that change something: not GETs, and not Resource Graph queries (POSTs that only read). */
export function writes(sim: Simulator) {
  return sim.requests.filter(
    (r) => r.method !== "GET" && r.path.toLowerCase() !== "/providers/microsoft.resourcegraph/resources",
  );
}

export function statusOf(
  outcomes: readonly OutcomeRecord[],
  resourceName: string,
  check: string,
): string | undefined {
  return outcomes.find(
    (o) => o.ResourceId.toLowerCase().endsWith(`/${resourceName.toLowerCase()}`) && o.Check === check,
  )?.Status;
}
