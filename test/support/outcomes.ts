import { startSimulator, type IngestionOptions, type Simulator } from "../../sim/index.js";
import { createOutcomeUploader } from "../../src/azure/ingestion.js";
import { simulatorCredential } from "../../src/cli/simulate.js";
import type { OutcomeRecord } from "../../src/model/outcome.js";
import type { OutcomeUploader } from "../../src/outcomes/delivery.js";
import { OUTCOME_COLUMNS, OUTCOME_STREAM } from "../../src/outcomes/schema.js";
import { SUB_A, clusterId, estate } from "./estate.js";

export const RULE = "dcr-0123456789abcdef0123456789abcdef";
export const WORKSPACE = "6b1f0c1e-7d0c-4a57-9f3e-3c0f8a1b2c3d";

/** A simulator whose data collection rule takes the outcome stream. */
export function startIngestion(options: Partial<IngestionOptions> = {}, latencyMs = 0): Promise<Simulator> {
  return startSimulator({
    estate: estate([]),
    latencyMs,
    ingestion: {
      dataCollectionRuleId: RULE,
      streams: { [OUTCOME_STREAM]: OUTCOME_COLUMNS },
      workspaceId: WORKSPACE,
      ...options,
    },
  });
}

export function uploaderFor(s: Simulator): OutcomeUploader {
  return createOutcomeUploader(
    {
      credential: simulatorCredential,
      tlsCa: s.ca,
      retry: { maxRetries: 1, retryDelayInMs: 5, maxRetryDelayInMs: 10 },
    },
    { endpoint: s.endpoint, ruleId: RULE, stream: OUTCOME_STREAM },
  );
}

/** An outcome record; `tag` keeps the OutcomeIds of different sets apart. */
export function outcome(n: number, tag = "outcome"): OutcomeRecord {
  return {
    TimeGenerated: new Date(Date.UTC(2026, 10, 25, 10, 0, 0, n)).toISOString(),
    RunId: `run-${tag}`,
    Trigger: "cli",
    Mode: "enforce",
    SubscriptionId: SUB_A,
    ResourceId: clusterId(`aks-${String(n)}`),
    ResourceType: "Microsoft.ContainerService/managedClusters",
    Check: "aks.azure-policy",
    Status: "compliant",
    Reason: `${tag} ${String(n)}`,
    Action: "",
    CorrelationId: "corr",
    DurationMs: 12.5,
    Details: {},
    OutcomeId: `${tag}-${String(n)}`,
  };
}

/** What landed in the simulated workspace, by Reason. */
export function landed(s: Simulator): unknown[] {
  return s.ingested(OUTCOME_STREAM).map((r) => r.row.Reason);
}
