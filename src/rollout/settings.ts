import type { Config } from "../model/config.js";
import type { RolloutSettings } from "./types.js";

/** The rollout's bounds that are not configuration: every wait ends, and these say when. */
export const ROLLOUT_DEFAULTS = {
  /** Waiting for capacity this long turns the outcomes `manual` (scale out). */
  manualAfterMinutes: 24 * 60,
  initialBatchSize: 2,
  maxBatchSize: 50,
  /** Three steps in a row that onboard nothing pause the rollout... */
  errorBudgetSteps: 3,
  /** ...for 30 minutes, then it tries again. */
  failurePauseMinutes: 30,
  /** A day of failing steps turns the outcomes `manual` with the error codes. */
  failingManualAfterMinutes: 24 * 60,
  /** A rollback not done within an hour turns its APIs `manual` (it is still retried). */
  rollbackManualAfterMinutes: 60,
  /** An onboarding running for an hour (from when autoprotect first saw it) turns that API `manual`. */
  stuckAfterMinutes: 60,
  /**
   * An onboarding's load is measured this long after it finished: Azure Monitor publishes a minute a
   * few minutes late, and mirrored traffic needs a moment to show.
   */
  settleMinutes: 5,
  /** A step whose run died before recording what it did is judged from Azure's view after this long. */
  unrecordedStepMinutes: 30,
} as const;

/** Rollout settings from configuration; the critical level is the limit plus 20 points, as the contract says. */
export function rolloutSettings(
  config: Pick<Config, "capacityLimit" | "rolloutIntervalMinutes">,
): RolloutSettings {
  return {
    ...ROLLOUT_DEFAULTS,
    limitPercent: config.capacityLimit,
    criticalPercent: Math.min(100, config.capacityLimit + 20),
    intervalMinutes: config.rolloutIntervalMinutes,
  };
}
