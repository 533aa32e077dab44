import type { CapacityReading } from "../model/apim.js";

/**
 * The version of RolloutState this code writes; older versions are upgraded on read, newer ones refused.
 * Version 3 added `paused` and `lastLook`: an older autoprotect must refuse a paused rollout rather
 * than drop the pause and carry on.
 */
export const ROLLOUT_SCHEMA_VERSION = 3;

/** Durable progress of one APIM service's onboarding rollout. */
export interface RolloutState {
  readonly schemaVersion: typeof ROLLOUT_SCHEMA_VERSION;
  readonly serviceId: string;
  /** APIs the next step may onboard. */
  readonly batchSize: number;
  /** Learned load one onboarded API adds, in percentage points (undefined until a step has been measured). */
  readonly perApiEstimate?: number;
  /** Steps taken so far, and rollbacks, for details and the workbook. */
  readonly steps: number;
  readonly rollbacks: number;
  /** API names a rollback offboarded: onboarded again last, so a troublesome API does not block the rest. */
  readonly rolledBack: readonly string[];
  /** No step before this time (ISO 8601): after a rollback or a critical reading the instance settles. */
  readonly notBefore?: string;
  /** Since when capacity has kept onboarding waiting (ISO 8601); cleared once there is room. */
  readonly waitingSince?: string;
  /** The last step taken, kept while it is judged and while it is on trial (a critical reading rolls it back). */
  readonly lastStep?: StepRecord;
  /** A rollback that is owed: recorded before its DELETEs, retried on every run until it is done. */
  readonly rollback?: PendingRollback;
  /** Consecutive steps that onboarded nothing: the error budget. */
  readonly failures?: FailureStreak;
  /** API name (lower-case) → when a run first saw its onboarding in progress (ISO 8601). */
  readonly inProgressSince: Readonly<Record<string, string>>;
  /** When an onboarding seen running was last seen finished (ISO 8601): no step until the metric shows it. */
  readonly lateFinishAt?: string;
  /** Set by a person (`autoprotect rollout pause`): no step is taken until it is removed (`resume`). */
  readonly paused?: RolloutPause;
  /** What the last enforce run saw and decided, for `autoprotect rollout status` and the workbook. */
  readonly lastLook?: RolloutLook;
}

export interface RolloutPause {
  /** When it was paused (ISO 8601). */
  readonly since: string;
  /** Who or what paused it (the signed-in user, or "autoprotect CLI"), and why, as given. */
  readonly by: string;
  readonly note?: string;
}

export interface RolloutLook {
  readonly at: string;
  /** The controller's decision: step, wait, pause, rollback, manual, done, paused. */
  readonly decision: string;
  readonly metric: string;
  /** The capacity reading the decision was taken on; absent without data. */
  readonly percent?: number;
  readonly onboarded: number;
  readonly pending: number;
  readonly inProgress: number;
  /** When the controller wants to look again (ISO 8601); absent when nothing is left. */
  readonly nextLookAt?: string;
}

export interface StepRecord {
  /** When the step was claimed (ISO 8601). */
  readonly at: string;
  /** The API names it claimed. What it did is read back from Azure, never assumed from this. */
  readonly batch: readonly string[];
  /** The reading the step was sized from: the baseline its load is measured against. */
  readonly readingBefore: number;
  /** APIs onboarded at that baseline: a rise is divided by how many were onboarded since. */
  readonly onboardedBefore?: number;
  /** Written by the run that took the step once its PUTs returned; absent if that run never got so far. */
  readonly applied?: { readonly at: string; readonly codes: readonly string[] };
  /** When no API of the batch was running any more (ISO 8601): its load shows in the metric after this. */
  readonly settledAt?: string;
  /** Judged once: `failed` (nothing of it onboarded) or `measured` (its load learned). */
  readonly judged?: "failed" | "measured";
}

export interface PendingRollback {
  /** When the rollback was decided (ISO 8601): its bound counts from here. */
  readonly since: string;
  /** The APIs of our own last step still to offboard (those whose collection still exists). */
  readonly apis: readonly string[];
  /** Why, for outcomes: the reading that caused it. */
  readonly reason: string;
  /** Error codes of the last DELETEs that failed. */
  readonly codes: readonly string[];
  /** When every collection was seen gone (ISO 8601); cleared once the metric has had time to show it. */
  readonly doneAt?: string;
}

export interface FailureStreak {
  readonly steps: number;
  /** The first failed step of the streak (ISO 8601). */
  readonly since: string;
  /** The last one (ISO 8601): a pause counts from here. */
  readonly lastAt: string;
  readonly codes: readonly string[];
}

export interface RolloutSettings {
  /** AUTOPROTECT_CAPACITY_LIMIT: at or above it nothing is onboarded. */
  readonly limitPercent: number;
  /** After a step, a reading at or above this offboards the last batch (limit + 20). */
  readonly criticalPercent: number;
  /** AUTOPROTECT_ROLLOUT_INTERVAL_MINUTES: pause between steps; 0 lets each run take the next step. */
  readonly intervalMinutes: number;
  /** Waiting for capacity longer than this turns the outcome `manual`. */
  readonly manualAfterMinutes: number;
  readonly initialBatchSize: number;
  readonly maxBatchSize: number;
  /** Consecutive failed steps before the rollout pauses. */
  readonly errorBudgetSteps: number;
  /** How long it pauses once the error budget is spent. */
  readonly failurePauseMinutes: number;
  /** Failing steps for this long turn the outcomes `manual`. */
  readonly failingManualAfterMinutes: number;
  /** A rollback still not done after this long turns its APIs `manual`. */
  readonly rollbackManualAfterMinutes: number;
  /** An onboarding in progress longer than this (from when it was first seen) turns that API `manual`. */
  readonly stuckAfterMinutes: number;
  /** An onboarding's load shows in the metric within this long after it finished (metric lag, traffic). */
  readonly settleMinutes: number;
  /** A step whose run recorded no result is judged from what Azure shows after this long. */
  readonly unrecordedStepMinutes: number;
}

/** Everything the controller decides from: pure input, no I/O. */
export interface RolloutInput {
  readonly serviceId: string;
  readonly now: Date;
  readonly state: RolloutState | undefined;
  readonly reading: CapacityReading;
  /** Eligible API names not onboarded yet, in any order (the controller orders them). */
  readonly pending: readonly string[];
  /** Eligible API names already onboarded (collection Succeeded, as read back). */
  readonly onboarded: readonly string[];
  /** Eligible API names whose onboarding is still running. */
  readonly inProgress: readonly string[];
  readonly settings: RolloutSettings;
}

export type ApiRolloutStatus =
  | { readonly kind: "onboard"; readonly reason: string }
  | { readonly kind: "waiting"; readonly reason: string; readonly retryAfterSeconds: number }
  | { readonly kind: "manual"; readonly reason: string }
  /** Offboard it now: a rollback of our own last step. */
  | { readonly kind: "rolled-back"; readonly reason: string; readonly retryAfterSeconds: number };

export interface RolloutDecision {
  /** API names to onboard in this step (deterministic order). */
  readonly onboard: readonly string[];
  /** API names to offboard: the rollback owed, retried until done (also while escalated to `manual`). */
  readonly offboard: readonly string[];
  /** The state to store before acting (compare-and-swap), so a duplicate run cannot take the same step. */
  readonly nextState: RolloutState;
  /** For every API that is not simply onboarded (pending, running, stuck, being rolled back): what this means for it. */
  readonly perApi: ReadonlyMap<string, ApiRolloutStatus>;
  /** When the controller wants to look again (seconds); undefined when nothing is left. */
  readonly nextLookSeconds: number | undefined;
  /** For outcome details: the reading, the batch size, why. */
  readonly details: Record<string, unknown>;
}

/** What the run that took a decision saw when its writes returned: recorded with a second compare-and-swap. */
export interface AppliedStep {
  readonly at: Date;
  /** Onboardings that had not finished when their PUT returned. */
  readonly unfinished: readonly string[];
  /** Error codes of failed onboardings. */
  readonly onboardCodes: readonly string[];
  /** APIs whose DELETE failed (a 404 is done), and the codes. */
  readonly notOffboarded: readonly string[];
  readonly offboardCodes: readonly string[];
}
