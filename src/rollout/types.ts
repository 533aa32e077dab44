import type { CapacityReading } from "../model/apim.js";

/** Durable progress of one APIM service's onboarding rollout. */
export interface RolloutState {
  readonly serviceId: string;
  /** APIs the next step may onboard. */
  readonly batchSize: number;
  /** When the last onboarding step was taken (ISO 8601). */
  readonly lastStepAt?: string;
  /** The API names onboarded by the last step: what a rollback offboards. */
  readonly lastBatch: readonly string[];
  /** The reading just before the last step, to learn how much one API adds. */
  readonly readingBeforeLastStep?: number;
  /** Learned load one onboarded API adds, in percentage points (undefined until measured). */
  readonly perApiEstimate?: number;
  /** No step before this time (ISO 8601): set by a rollback, so the instance gets time to settle. */
  readonly notBefore?: string;
  /** Since when capacity has kept onboarding waiting (ISO 8601); cleared when a step is taken. */
  readonly waitingSince?: string;
  /** Steps taken so far, and rollbacks, for details and the workbook. */
  readonly steps: number;
  readonly rollbacks: number;
  /** API names a rollback offboarded, not retried until capacity has room again (kept last in the order). */
  readonly rolledBack: readonly string[];
}

export interface RolloutSettings {
  /** AUTOPROTECT_CAPACITY_LIMIT: at or above it nothing is onboarded. */
  readonly limitPercent: number;
  /** After a step, a reading at or above this offboards the last batch (default limit + 20). */
  readonly criticalPercent: number;
  /** AUTOPROTECT_ROLLOUT_INTERVAL_MINUTES: pause between steps; 0 lets each run take the next step. */
  readonly intervalMinutes: number;
  /** Waiting for capacity longer than this turns the outcome `manual` (default 24 h). */
  readonly manualAfterMinutes: number;
  readonly initialBatchSize: number;
  readonly maxBatchSize: number;
}

/** Everything the controller decides from: pure input, no I/O. */
export interface RolloutInput {
  readonly serviceId: string;
  readonly now: Date;
  readonly state: RolloutState | undefined;
  readonly reading: CapacityReading;
  /** Eligible API names not onboarded yet, in any order (the controller orders them). */
  readonly pending: readonly string[];
  /** Eligible API names already onboarded (collection Succeeded). */
  readonly onboarded: readonly string[];
  /** Eligible API names whose onboarding is still running. */
  readonly inProgress: readonly string[];
  readonly settings: RolloutSettings;
}

export type ApiRolloutStatus =
  | { readonly kind: "onboard"; readonly reason: string }
  | { readonly kind: "waiting"; readonly reason: string; readonly retryAfterSeconds: number }
  | { readonly kind: "manual"; readonly reason: string }
  | { readonly kind: "rolled-back"; readonly reason: string; readonly retryAfterSeconds: number };

export interface RolloutDecision {
  /** API names to onboard in this step (deterministic order). */
  readonly onboard: readonly string[];
  /** API names to offboard (rollback of the last batch). */
  readonly offboard: readonly string[];
  /** The state to store before acting (compare-and-swap), so a duplicate run cannot take the same step. */
  readonly nextState: RolloutState;
  /** For every pending or rolled-back API: what this step means for it. */
  readonly perApi: ReadonlyMap<string, ApiRolloutStatus>;
  /** When the controller wants to look again (seconds); undefined when nothing is left. */
  readonly nextLookSeconds: number | undefined;
  /** For outcome details: the reading, the batch size, why. */
  readonly details: Record<string, unknown>;
}
