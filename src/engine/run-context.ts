import type { AzureGateway } from "../azure/index.js";
import type { CheckId, Finding } from "../model/checks.js";
import type { Config } from "../model/config.js";
import type { OutcomeFields, RunInfo } from "../outcomes/record.js";
import type { RolloutStateStore } from "../rollout/state-store.js";
import type { RunError } from "./engine.js";

export type PlanName = "Containers" | "Api";

/** What one run shares with the per-service reconcilers: configuration, Azure, caches and the outcome stream. */
export interface RunContext {
  readonly azure: AzureGateway;
  readonly config: Config;
  readonly info: RunInfo;
  readonly rolloutStore: RolloutStateStore | undefined;
  now(): Date;
  enabled(check: CheckId): boolean;
  emit(fields: OutcomeFields): void;
  recordError(error: RunError): void;
  /** Status, reason, action and details for a finding that is reported rather than applied. */
  unapplied<C>(finding: Finding<C>): Pick<OutcomeFields, "status" | "reason" | "action" | "details">;
  /** A resource group's tags, read once per run; undefined when the group does not exist. */
  tagsOf(subscriptionId: string, resourceGroup: string): Promise<Record<string, string> | undefined>;
  /** Whether the subscription's plan is on after this run looked at it (fixing it in enforce mode). */
  planReady(subscriptionId: string, plan: PlanName): Promise<boolean>;
}
