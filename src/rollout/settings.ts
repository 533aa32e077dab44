import type { Config } from "../model/config.js";
import type { RolloutSettings } from "./types.js";

/** Rollout settings from configuration; the critical level is the limit plus 20 points, as the contract says. */
export function rolloutSettings(
  config: Pick<Config, "capacityLimit" | "rolloutIntervalMinutes">,
): RolloutSettings {
  return {
    limitPercent: config.capacityLimit,
    criticalPercent: Math.min(100, config.capacityLimit + 20),
    intervalMinutes: config.rolloutIntervalMinutes,
    manualAfterMinutes: 24 * 60,
    initialBatchSize: 2,
    maxBatchSize: 50,
  };
}
