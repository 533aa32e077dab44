/**
 * The onboarding rollout controller: a pure function from what a run read (stored state, the instance's
 * capacity reading, which APIs Azure shows onboarded or running) to one step: what to onboard, what to
 * offboard, what to store, and when to look again. The engine applies the step; this module does no I/O.
 *
 * It learns only from what happened: a step is judged by the collections read back afterwards, never by
 * the batch it claimed, so a step whose writes failed (or whose run died) teaches nothing and counts
 * against an error budget instead.
 */
import type {
  AppliedStep,
  ApiRolloutStatus,
  FailureStreak,
  PendingRollback,
  RolloutDecision,
  RolloutInput,
  RolloutLook,
  RolloutSettings,
  RolloutState,
  StepRecord,
} from "./types.js";
import { ROLLOUT_SCHEMA_VERSION } from "./types.js";

/** A step stays "on trial" this long: a critical reading within it rolls the step back. */
const MIN_OBSERVATION_MINUTES = 60;
/** How long to wait before reading again when Azure Monitor had no data. */
const NO_DATA_RETRY_SECONDS = 300;
/** After a rollback or an unexplained critical reading, no new step for this long. */
const COOL_DOWN_SECONDS = 600;
/** How long to wait for an onboarding that is still running before looking again. */
const IN_PROGRESS_RETRY_SECONDS = 120;
/** How soon a rollback's DELETEs that failed are tried again. */
const ROLLBACK_RETRY_SECONDS = 120;
/** How often a paused rollout is looked at: cheap reads, so a resume takes effect within this long. */
const PAUSED_LOOK_SECONDS = 900;
/** Never look again sooner than this, even with a zero rollout interval (metrics need a minute). */
const MIN_LOOK_SECONDS = 60;
/** Points kept free under the limit: metric noise and the next minute's traffic live there. */
const MARGIN_POINTS = 2;
/** A step is sized as if each API added this much more than learned: estimates come from noisy readings. */
const ESTIMATE_SAFETY = 1.5;
/** A flat reading after a step does not prove an API is free; the estimate never drops below this. */
const MIN_PER_API_ESTIMATE = 0.02;
/** The code a failed step carries when the run that took it recorded nothing (it died, or lost its write). */
export const STEP_INTERRUPTED = "StepInterrupted";
/** ...and when it recorded no error, yet Azure shows none of its APIs onboarded. */
export const STEP_NOT_CONFIRMED = "OnboardingNotConfirmed";

export function initialRolloutState(serviceId: string, settings: RolloutSettings): RolloutState {
  return {
    schemaVersion: ROLLOUT_SCHEMA_VERSION,
    serviceId,
    batchSize: settings.initialBatchSize,
    steps: 0,
    rollbacks: 0,
    rolledBack: [],
    inProgressSince: {},
  };
}

function lower(name: string): string {
  return name.toLowerCase();
}

function lowerSet(names: readonly string[]): Set<string> {
  return new Set(names.map(lower));
}

function compareNames(a: string, b: string): number {
  const la = lower(a);
  const lb = lower(b);
  if (la !== lb) return la < lb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The order APIs are onboarded in: by name, case-insensitively (ARM ids are), with APIs an earlier
 * rollback offboarded last, so a re-run neither skips nor repeats one and a troublesome API does not
 * block the rest.
 */
export function rolloutOrder(pending: readonly string[], rolledBack: readonly string[]): string[] {
  const back = lowerSet(rolledBack);
  const fresh = pending.filter((name) => !back.has(lower(name))).sort(compareNames);
  const retried = pending.filter((name) => back.has(lower(name))).sort(compareNames);
  return [...fresh, ...retried];
}

function minutesBetween(from: string | undefined, to: Date): number | undefined {
  if (from === undefined) return undefined;
  const start = Date.parse(from);
  return Number.isNaN(start) ? undefined : (to.getTime() - start) / 60_000;
}

function addSeconds(at: Date | string, seconds: number): string {
  return new Date(new Date(at).getTime() + seconds * 1000).toISOString();
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

function percentText(value: number): string {
  return `${String(round1(value))}%`;
}

function codesText(codes: readonly string[]): string {
  return codes.length === 0 ? "no error code" : [...new Set(codes)].join(", ");
}

/** Points left under the limit, less the margin. */
function headroomPoints(percent: number, settings: RolloutSettings): number {
  return settings.limitPercent - MARGIN_POINTS - percent;
}

/**
 * Batch size after a measured step of `measured` APIs (the batch size, or fewer if some of the step failed:
 * what was not measured cannot justify a larger batch), from what it cost against the room left: a step
 * that used under a quarter of the remaining headroom doubles it, one that used half or more halves it
 * (so batches shrink as capacity rises toward the limit), anything between keeps it.
 */
export function nextBatchSize(
  measured: number,
  rise: number,
  percent: number,
  settings: RolloutSettings,
): number {
  const current = Math.max(1, Math.min(measured, settings.maxBatchSize));
  const headroom = headroomPoints(percent, settings);
  if (headroom <= 0 || rise >= headroom / 2) return Math.max(1, Math.floor(current / 2));
  if (rise <= headroom / 4) return Math.min(settings.maxBatchSize, current * 2);
  return current;
}

/**
 * The load one API adds, from a rise of the reading over the APIs that were actually onboarded. It
 * follows a higher measurement at once and a lower one slowly (noise must not talk it down).
 */
export function learnPerApiEstimate(
  previous: number | undefined,
  rise: number,
  onboardedApis: number,
): number {
  const measured = Math.max(MIN_PER_API_ESTIMATE, rise / Math.max(1, onboardedApis));
  if (previous === undefined || measured >= previous) return measured;
  return 0.75 * previous + 0.25 * measured;
}

/**
 * How many APIs fit under the limit less the margin, each counted at the learned load times a safety
 * factor. Without an estimate the batch size alone decides (batches start small for that reason).
 */
export function headroomCap(
  percent: number,
  perApiEstimate: number | undefined,
  settings: RolloutSettings,
): number {
  if (perApiEstimate === undefined) return Number.POSITIVE_INFINITY;
  const perApi = Math.max(MIN_PER_API_ESTIMATE, perApiEstimate);
  const headroom = headroomPoints(percent, settings);
  const fits = Math.floor(headroom / (perApi * ESTIMATE_SAFETY));
  if (fits >= 1) return fits;
  // One API may still go when it fits at the estimate itself: without a step nothing is measured
  // again, and an estimate that noise pushed too high would otherwise stop the rollout for good.
  return headroom >= perApi ? 1 : 0;
}

/** Whether the metric has a data point at least `minutes` after `at`: what happened then shows in it. */
function metricCovers(latestAt: string | undefined, at: string, minutes: number): boolean {
  return latestAt !== undefined && Date.parse(latestAt) >= Date.parse(at) + minutes * 60_000;
}

/** Whether the whole reading is from after `at` (plus `minutes`): its peak no longer includes what came before. */
function readingIsAfter(reading: RolloutInput["reading"], at: string, minutes: number): boolean {
  return (
    metricCovers(reading.latestAt, at, minutes) &&
    Date.parse(reading.windowStart) >= Date.parse(at) + minutes * 60_000
  );
}

function observationMinutes(settings: RolloutSettings): number {
  return Math.max(MIN_OBSERVATION_MINUTES, 2 * settings.intervalMinutes);
}

function intervalSeconds(settings: RolloutSettings): number {
  return Math.max(MIN_LOOK_SECONDS, Math.round(settings.intervalMinutes * 60));
}

// ---------------------------------------------------------------------------------------------
// Bookkeeping on what this run read, before any rule

/** What the rules decide from: the state brought up to date with what Azure shows now. */
interface Context {
  readonly input: RolloutInput;
  readonly settings: RolloutSettings;
  readonly now: Date;
  readonly nowIso: string;
  readonly percent: number | undefined;
  readonly state: RolloutState;
  /** Pending APIs in rollout order. */
  readonly order: readonly string[];
  /** Onboardings running, within the bound, and those past it (stuck). */
  readonly running: readonly string[];
  readonly stuck: readonly string[];
  /** Lower-cased names with a collection (Succeeded or running): what a rollback can still offboard. */
  readonly live: ReadonlySet<string>;
  readonly baseDetails: Record<string, unknown>;
}

/**
 * Remembers when each running onboarding was first seen; those running past the bound are stuck. One
 * that has finished since the last run adds its load now, which the metric shows only minutes later.
 */
function trackInProgress(input: RolloutInput, state: RolloutState) {
  const { now, settings } = input;
  const since: Record<string, string> = {};
  for (const name of input.inProgress) {
    since[lower(name)] = state.inProgressSince[lower(name)] ?? now.toISOString();
  }
  const finished = Object.keys(state.inProgressSince).some((name) => since[name] === undefined);
  const { lateFinishAt: _shown, ...rest } = state;
  const lateFinishAt = finished ? now.toISOString() : state.lateFinishAt;
  const shown =
    lateFinishAt === undefined || metricCovers(input.reading.latestAt, lateFinishAt, settings.settleMinutes);
  const isStuck = (name: string): boolean =>
    (minutesBetween(since[lower(name)], now) ?? 0) >= settings.stuckAfterMinutes;
  return {
    state: { ...rest, inProgressSince: since, ...(shown ? {} : { lateFinishAt }) },
    running: input.inProgress.filter((name) => !isStuck(name)),
    stuck: input.inProgress.filter(isStuck),
  };
}

/** A rollback is done once every collection is gone, and cleared once the metric has had time to show it. */
function trackRollback(state: RolloutState, live: ReadonlySet<string>, input: RolloutInput): RolloutState {
  const { rollback } = state;
  if (rollback === undefined) return state;
  const apis = rollback.apis.filter((name) => live.has(lower(name)));
  if (apis.length > 0) {
    const { doneAt: _doneAt, ...owed } = rollback;
    return { ...state, rollback: { ...owed, apis } };
  }
  const doneAt = rollback.doneAt ?? input.now.toISOString();
  // The reading is the peak of a window: it shows the rollback once the window no longer holds the load before it.
  if (readingIsAfter(input.reading, doneAt, input.settings.settleMinutes)) {
    const { rollback: _done, ...rest } = state;
    return rest;
  }
  return { ...state, rollback: { ...rollback, apis: [], doneAt } };
}

function failStep(state: RolloutState, step: StepRecord): RolloutState {
  const codes = step.applied === undefined ? [STEP_INTERRUPTED] : step.applied.codes;
  const previous = state.failures;
  const failures: FailureStreak = {
    steps: (previous?.steps ?? 0) + 1,
    since: previous?.since ?? step.at,
    lastAt: step.applied?.at ?? step.at,
    codes: codes.length === 0 ? [STEP_NOT_CONFIRMED] : [...new Set(codes)],
  };
  return { ...state, failures, lastStep: { ...step, judged: "failed" } };
}

/**
 * How many APIs' load a rise since the step's baseline stands for: every API onboarded since then, ours
 * and others that finished meanwhile (a stuck onboarding that ended, one onboarded by hand), so their
 * load is not put down to the step. Steps stored without the count fall back to the step's own.
 */
function addedSince(step: StepRecord, input: RolloutInput, ours: number): number {
  return step.onboardedBefore === undefined ? ours : input.onboarded.length - step.onboardedBefore;
}

/** `{ key: value }` when the value is defined, else nothing: optional fields stay absent. */
function defined<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/**
 * Judges the last step once it has settled, from the collections Azure shows: none onboarded is a failed
 * step (the error budget; nothing learned); otherwise, once the metric covers it, its load per API is
 * learned from the APIs that were onboarded, and the batch size follows.
 */
function judgeLastStep(state: RolloutState, running: readonly string[], input: RolloutInput): RolloutState {
  const step = state.lastStep;
  if (step === undefined || step.judged !== undefined) return state;
  const { settings, now, reading } = input;
  const busy = lowerSet(running);
  if (step.batch.some((name) => busy.has(lower(name)))) {
    const { settledAt: _settledAt, ...unsettled } = step;
    return { ...state, lastStep: unsettled };
  }
  // Its run may still be applying it: only after a while is a missing record read as a run that died.
  if (step.applied === undefined && (minutesBetween(step.at, now) ?? 0) < settings.unrecordedStepMinutes) {
    return state;
  }
  const settled: StepRecord = { ...step, settledAt: step.settledAt ?? now.toISOString() };
  const onboarded = lowerSet(input.onboarded);
  const succeeded = step.batch.filter((name) => onboarded.has(lower(name))).length;
  if (succeeded === 0) return failStep(state, settled);
  const { failures: _streakEnds, ...rest } = state;
  const percent = reading.percent;
  const settledAt = settled.settledAt ?? now.toISOString();
  // Measured once the metric shows the step, and any other onboarding that finished meanwhile.
  const shown = metricCovers(reading.latestAt, settledAt, settings.settleMinutes);
  if (percent === undefined || !shown || state.lateFinishAt !== undefined) {
    return { ...rest, lastStep: settled };
  }
  const rise = percent - step.readingBefore;
  const added = addedSince(step, input, succeeded);
  return {
    ...rest,
    // Nothing more onboarded than at the baseline (others went meanwhile): the rise teaches nothing.
    ...defined(
      "perApiEstimate",
      added > 0 ? learnPerApiEstimate(state.perApiEstimate, rise, added) : state.perApiEstimate,
    ),
    // A step that onboarded only part of its batch measured only that part.
    batchSize: nextBatchSize(
      succeeded < step.batch.length ? succeeded : state.batchSize,
      rise,
      percent,
      settings,
    ),
    lastStep: { ...settled, judged: "measured" },
  };
}

function observe(input: RolloutInput): Context {
  const { settings, now, reading } = input;
  const tracked = trackInProgress(input, input.state ?? initialRolloutState(input.serviceId, settings));
  const live = lowerSet([...input.onboarded, ...input.inProgress]);
  const state = judgeLastStep(trackRollback(tracked.state, live, input), tracked.running, input);
  const percent = reading.percent;
  return {
    input,
    settings,
    now,
    nowIso: now.toISOString(),
    percent,
    state,
    order: rolloutOrder(input.pending, state.rolledBack),
    running: tracked.running,
    stuck: tracked.stuck,
    live,
    baseDetails: {
      metric: reading.metric,
      capacityPercent: percent === undefined ? null : round1(percent),
      perRegion: reading.perRegion,
      window: { start: reading.windowStart, end: reading.windowEnd },
      limitPercent: settings.limitPercent,
      criticalPercent: settings.criticalPercent,
      batchSize: state.batchSize,
      steps: state.steps,
      rollbacks: state.rollbacks,
      onboarded: input.onboarded.length,
      inProgress: input.inProgress.length,
      stuck: tracked.stuck.length,
      pending: input.pending.length,
      ...(state.failures === undefined
        ? {}
        : { failedSteps: state.failures.steps, failureCodes: state.failures.codes }),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Building a decision

interface Verdict {
  readonly decision: string;
  readonly state: RolloutState;
  /** What every pending API hears (the batch of a step says otherwise for its own). */
  readonly pending: ApiRolloutStatus;
  readonly onboard?: readonly string[];
  readonly offboard?: readonly string[];
  readonly rollbackStatus?: ApiRolloutStatus;
  readonly nextLookSeconds: number | undefined;
  readonly details?: Record<string, unknown>;
}

/** Every API that is not simply onboarded gets a status: running and stuck ones, pending ones, a rollback's. */
function decide(ctx: Context, verdict: Verdict): RolloutDecision {
  const perApi = new Map<string, ApiRolloutStatus>();
  const since = verdict.state.inProgressSince;
  for (const name of ctx.running) {
    perApi.set(name, {
      kind: "waiting",
      reason: "onboarding to Defender for APIs is in progress",
      retryAfterSeconds: IN_PROGRESS_RETRY_SECONDS,
    });
  }
  for (const name of ctx.stuck) {
    perApi.set(name, {
      kind: "manual",
      reason:
        `onboarding to Defender for APIs has been in progress since ${since[lower(name)] ?? "?"}, longer ` +
        `than ${String(ctx.settings.stuckAfterMinutes)} minutes: look at the API's collection in Defender ` +
        `for Cloud, or delete it so that autoprotect onboards the API again`,
    });
  }
  for (const name of ctx.order) perApi.set(name, verdict.pending);
  const offboard = verdict.offboard ?? [];
  if (verdict.rollbackStatus !== undefined) {
    for (const name of offboard) perApi.set(name, verdict.rollbackStatus);
  }
  const onboard = verdict.onboard ?? [];
  for (const name of onboard) {
    perApi.set(name, {
      kind: "onboard",
      reason:
        `rollout step ${String(verdict.state.steps)}: capacity ${percentText(ctx.percent ?? 0)} is under ` +
        `the ${percentText(ctx.settings.limitPercent)} limit`,
    });
  }
  return {
    onboard,
    offboard,
    nextState: verdict.state,
    perApi,
    nextLookSeconds: verdict.nextLookSeconds,
    details: {
      ...ctx.baseDetails,
      decision: verdict.decision,
      ...(verdict.state.rollback === undefined
        ? {}
        : {
            rollback: {
              since: verdict.state.rollback.since,
              apis: verdict.state.rollback.apis,
              codes: verdict.state.rollback.codes,
            },
          }),
      ...verdict.details,
    },
  };
}

function wait(
  ctx: Context,
  state: RolloutState,
  reason: string,
  retryAfterSeconds: number,
  details: Record<string, unknown> = {},
): RolloutDecision {
  return decide(ctx, {
    decision: "wait",
    state,
    pending: { kind: "waiting", reason, retryAfterSeconds },
    nextLookSeconds: retryAfterSeconds,
    details,
  });
}

// ---------------------------------------------------------------------------------------------
// The rules, in order: a rollback owed or due, then anything that says "not now", then a step

/**
 * Rollback. A rollback owed is retried on every run until each collection of our last batch is gone
 * (absent counts as done), and nothing new goes meanwhile; past the bound its APIs turn `manual`. A
 * critical reading while our last step is on trial rolls back the APIs of that step that Azure shows
 * onboarded; with nothing of ours to blame it pauses and asks a person, never offboarding anything else.
 */
function rollbackRule(ctx: Context): RolloutDecision | undefined {
  const { state, percent, settings, now } = ctx;
  if (state.rollback !== undefined) return owedRollback(ctx, state.rollback);
  if (percent === undefined || percent < settings.criticalPercent) return undefined;
  const step = state.lastStep;
  const onTrial = step !== undefined && (minutesBetween(step.at, now) ?? 0) <= observationMinutes(settings);
  const ours = onTrial ? step.batch.filter((name) => ctx.live.has(lower(name))) : [];
  const over = `capacity reached ${percentText(percent)}, over the critical ${percentText(settings.criticalPercent)}`;
  if (step === undefined || ours.length === 0) {
    // Nothing of ours to take back: a person's pause already holds every step, and speaks for itself.
    if (state.paused !== undefined) return undefined;
    const paused: RolloutState = {
      ...state,
      notBefore: addSeconds(now, COOL_DOWN_SECONDS),
      waitingSince: state.waitingSince ?? ctx.nowIso,
    };
    return decide(ctx, {
      decision: "pause",
      state: paused,
      pending: {
        kind: "manual",
        reason:
          `${over}, and no recent step of autoprotect's explains it (APIs onboarded by hand, or traffic): ` +
          `onboarding is paused until capacity is under the limit; scale out or find the cause`,
      },
      nextLookSeconds: COOL_DOWN_SECONDS,
    });
  }
  const rolledBackNames = lowerSet(state.rolledBack);
  const batchSize = Math.max(1, Math.floor(state.batchSize / 2));
  const { lastStep: _onTrial, ...rest } = state;
  return owedRollback(
    ctx,
    {
      since: ctx.nowIso,
      apis: ours,
      reason: `${over}, after a step of ${String(ours.length)} API(s)`,
      codes: [],
    },
    {
      ...rest,
      batchSize,
      perApiEstimate: learnPerApiEstimate(
        state.perApiEstimate,
        percent - step.readingBefore,
        Math.max(
          1,
          step.onboardedBefore === undefined ? ours.length : addedSince(step, ctx.input, ours.length),
        ),
      ),
      rollbacks: state.rollbacks + 1,
      rolledBack: [...state.rolledBack, ...ours.filter((name) => !rolledBackNames.has(lower(name)))],
      notBefore: addSeconds(now, COOL_DOWN_SECONDS),
      waitingSince: state.waitingSince ?? ctx.nowIso,
    },
  );
}

function owedRollback(
  ctx: Context,
  rollback: PendingRollback,
  base: RolloutState = ctx.state,
): RolloutDecision {
  const state: RolloutState = { ...base, rollback };
  const { settings, now } = ctx;
  if (rollback.apis.length === 0) {
    return wait(
      ctx,
      state,
      "waiting for the metric to show the rollback of the last step before the next one",
      MIN_LOOK_SECONDS,
    );
  }
  const count = String(rollback.apis.length);
  const overdue = (minutesBetween(rollback.since, now) ?? 0) >= settings.rollbackManualAfterMinutes;
  const batches = String(state.batchSize);
  const reason = `rolling back the last step: ${rollback.reason}; continuing later with batches of ${batches}`;
  return decide(ctx, {
    decision: "rollback",
    state,
    offboard: rollback.apis,
    rollbackStatus: overdue
      ? {
          kind: "manual",
          reason:
            `rollback of ${count} API(s) failed (${codesText(rollback.codes)}) since ${rollback.since}: ` +
            `offboard them or scale out; onboarding stays paused until they are gone`,
        }
      : { kind: "rolled-back", reason, retryAfterSeconds: ROLLBACK_RETRY_SECONDS },
    pending: {
      kind: "waiting",
      reason: `waiting for the rollback of ${count} API(s) to finish (${rollback.reason})`,
      retryAfterSeconds: ROLLBACK_RETRY_SECONDS,
    },
    nextLookSeconds: ROLLBACK_RETRY_SECONDS,
    details: { rolledBack: rollback.apis, nextBatchSize: state.batchSize },
  });
}

/**
 * A person paused the rollout: no step, whatever capacity says. Pending APIs wait (deferred, never
 * escalated: the person knows), with the pause in the reason. A rollback owed, or due to a critical
 * reading, still comes first: it takes load off the instance. Waiting for capacity starts afresh after
 * the resume, so a long pause does not read as a long wait for capacity.
 */
function pauseRule(ctx: Context): RolloutDecision | undefined {
  const { paused } = ctx.state;
  if (paused === undefined) return undefined;
  const { waitingSince: _resetOnResume, ...state } = ctx.state;
  const note = paused.note === undefined ? "" : ` (${paused.note})`;
  return decide(ctx, {
    decision: "paused",
    state,
    pending: {
      kind: "waiting",
      reason:
        `rollout paused by ${paused.by} since ${paused.since}${note}: no onboarding step until ` +
        `'autoprotect rollout resume ${ctx.input.serviceId}'`,
      retryAfterSeconds: PAUSED_LOOK_SECONDS,
    },
    nextLookSeconds: PAUSED_LOOK_SECONDS,
    details: {
      paused: {
        since: paused.since,
        by: paused.by,
        ...(paused.note === undefined ? {} : { note: paused.note }),
      },
    },
  });
}

/**
 * Capacity holds onboarding up (no data, at or over the limit, or no room for one more API under it):
 * wait, and hand over to a person once that has lasted longer than the configured time.
 */
function waitForCapacity(
  ctx: Context,
  state: RolloutState,
  why: string,
  manualWhy: string = why,
): RolloutDecision {
  const { settings, now } = ctx;
  const waitingSince = state.waitingSince ?? ctx.nowIso;
  const waited = minutesBetween(waitingSince, now) ?? 0;
  const next: RolloutState = { ...state, waitingSince };
  const retryAfterSeconds = Math.max(intervalSeconds(settings), NO_DATA_RETRY_SECONDS);
  const details = { waitingSince, perApiEstimate: state.perApiEstimate ?? null };
  if (waited >= settings.manualAfterMinutes && ctx.order.length > 0) {
    return decide(ctx, {
      decision: "manual",
      state: next,
      pending: { kind: "manual", reason: `scale out: ${manualWhy} since ${waitingSince}` },
      nextLookSeconds: retryAfterSeconds,
      details,
    });
  }
  return wait(
    ctx,
    next,
    `${why}; onboarding waits (scale out the instance or lower its load for it to go on)`,
    retryAfterSeconds,
    details,
  );
}

/** Capacity: no reading, or at or over the limit. */
function capacityRule(ctx: Context): RolloutDecision | undefined {
  const { percent, settings, state } = ctx;
  if (percent === undefined) {
    return wait(
      ctx,
      state,
      `no ${ctx.input.reading.metric} data from Azure Monitor for the last 15 minutes; onboarding waits for a reading`,
      NO_DATA_RETRY_SECONDS,
    );
  }
  if (percent < settings.limitPercent) return undefined;
  return waitForCapacity(
    ctx,
    state,
    `capacity ${percentText(percent)} is at or over the ${percentText(settings.limitPercent)} limit`,
    `capacity ${percentText(percent)} over the ${percentText(settings.limitPercent)} limit`,
  );
}

/**
 * The last step and the error budget: its onboardings must have finished and been judged, the pace
 * kept, and after too many failed steps in a row the rollout pauses (and after a day, asks a person).
 */
function holdRule(ctx: Context): RolloutDecision | undefined {
  const { settings, now } = ctx;
  // Below the limit from here on: capacity no longer holds anything up.
  const { waitingSince: _calm, ...state } = ctx.state;
  const step = state.lastStep;
  if (ctx.running.length > 0) {
    const count = String(ctx.running.length);
    return wait(ctx, state, `waiting for ${count} onboarding(s) to finish`, IN_PROGRESS_RETRY_SECONDS);
  }
  if (step !== undefined && step.judged === undefined && step.settledAt === undefined) {
    return wait(ctx, state, "the last rollout step is still being applied", MIN_LOOK_SECONDS);
  }
  if (ctx.order.length === 0) {
    // Nothing left; keep looking while the last step is on trial so a late spike can still roll it back.
    const sinceStep = minutesBetween(step?.at, now) ?? Number.POSITIVE_INFINITY;
    const trialLeft = (observationMinutes(settings) - sinceStep) * 60;
    return decide(ctx, {
      decision: "done",
      state,
      // No API is pending, so no API hears this.
      pending: { kind: "waiting", reason: "", retryAfterSeconds: 0 },
      nextLookSeconds: trialLeft > 0 ? Math.max(intervalSeconds(settings), Math.ceil(trialLeft)) : undefined,
    });
  }
  const failing = failureHold(ctx, state);
  if (failing !== undefined) return failing;
  const paced =
    step === undefined ? 0 : (settings.intervalMinutes - (minutesBetween(step.at, now) ?? 0)) * 60;
  const coolDown = state.notBefore === undefined ? 0 : (Date.parse(state.notBefore) - now.getTime()) / 1000;
  if (paced > 0 || coolDown > 0) {
    const remaining = Math.max(MIN_LOOK_SECONDS, Math.ceil(Math.max(paced, coolDown)));
    const nextAt = addSeconds(now, remaining);
    return wait(ctx, state, `queued for the next rollout step, not before ${nextAt}`, remaining, {
      nextStepAt: nextAt,
    });
  }
  // Azure Monitor lags: a reading from before the step settled would say there is room it may have taken.
  if ((step !== undefined && step.judged === undefined) || state.lateFinishAt !== undefined) {
    return wait(
      ctx,
      state,
      `waiting for ${ctx.input.reading.metric} to show the last onboardings ` +
        `(${String(settings.settleMinutes)} minutes after they finished; Azure Monitor lags)`,
      MIN_LOOK_SECONDS,
      { latestDataAt: ctx.input.reading.latestAt ?? null },
    );
  }
  return undefined;
}

/** How failing steps read to a person: the codes, and after a day, what to do. */
function failingReason(ctx: Context, failures: FailureStreak): { manual: boolean; text: string } {
  const failingFor = minutesBetween(failures.since, ctx.now) ?? 0;
  const text = `${String(failures.steps)} rollout step(s) in a row onboarded nothing (${codesText(failures.codes)})`;
  return { manual: failingFor >= ctx.settings.failingManualAfterMinutes, text };
}

/** The error budget: once spent, a pause; a day of failing steps is a person's job. */
function failureHold(ctx: Context, state: RolloutState): RolloutDecision | undefined {
  const failures = state.failures;
  if (failures === undefined || failures.steps < ctx.settings.errorBudgetSteps) return undefined;
  const resumeAt = addSeconds(failures.lastAt, ctx.settings.failurePauseMinutes * 60);
  const left = (Date.parse(resumeAt) - ctx.now.getTime()) / 1000;
  if (left <= 0) return undefined;
  const { manual, text } = failingReason(ctx, failures);
  const pending: ApiRolloutStatus = manual
    ? {
        kind: "manual",
        reason: `onboarding has failed since ${failures.since}: ${text}; fix the cause, autoprotect keeps trying every ${String(ctx.settings.failurePauseMinutes)} minutes`,
      }
    : { kind: "waiting", reason: `${text}; paused until ${resumeAt}`, retryAfterSeconds: Math.ceil(left) };
  return decide(ctx, {
    decision: manual ? "manual" : "pause",
    state,
    pending,
    nextLookSeconds: Math.ceil(left),
    details: { resumeAt },
  });
}

/** A step: the batch size, capped by the headroom the learned load per API leaves (stuck APIs counted in). */
function stepRule(ctx: Context): RolloutDecision {
  const { settings, now } = ctx;
  const percent = ctx.percent ?? settings.limitPercent;
  const { waitingSince: _calm, ...state } = ctx.state;
  const { batchSize, perApiEstimate } = state;
  // A stuck onboarding may finish any time: its load is counted as if it had.
  const reserved = ctx.stuck.length * (perApiEstimate ?? 0);
  const cap = headroomCap(percent + reserved, perApiEstimate, settings);
  const count = Math.min(batchSize, cap, ctx.order.length);
  if (count === 0) {
    const room = `capacity ${percentText(percent)} leaves no room under the ${percentText(settings.limitPercent)} limit`;
    const each = `about ${String(round1(perApiEstimate ?? 0))} points each`;
    return waitForCapacity(
      ctx,
      { ...state, waitingSince: ctx.state.waitingSince },
      `${room} for another API (${each})`,
    );
  }
  const batch = ctx.order.slice(0, count);
  const inBatch = lowerSet(batch);
  const { notBefore: _paced, ...rest } = state;
  const nextState: RolloutState = {
    ...rest,
    lastStep: { at: ctx.nowIso, batch, readingBefore: percent, onboardedBefore: ctx.input.onboarded.length },
    steps: state.steps + 1,
    rolledBack: state.rolledBack.filter((name) => !inBatch.has(lower(name))),
  };
  const lookAgain = intervalSeconds(settings);
  const left = ctx.order.length - count;
  const failures = state.failures === undefined ? undefined : failingReason(ctx, state.failures);
  return decide(ctx, {
    decision: "step",
    state: nextState,
    onboard: batch,
    pending:
      failures?.manual === true
        ? {
            kind: "manual",
            reason: `onboarding has failed since ${state.failures?.since ?? "?"}: ${failures.text}; fix the cause`,
          }
        : {
            kind: "waiting",
            reason: `queued for a later rollout step (${String(left)} API(s) left, next step not before ${addSeconds(now, lookAgain)})`,
            retryAfterSeconds: lookAgain,
          },
    nextLookSeconds: lookAgain,
    details: {
      step: nextState.steps,
      batchSize,
      onboarding: batch.length,
      headroomCap: Number.isFinite(cap) ? cap : null,
      perApiEstimate: perApiEstimate === undefined ? null : round1(perApiEstimate),
      remaining: left,
    },
  });
}

/**
 * Decides this run's step for one APIM service. The state is first brought up to date with what Azure
 * shows (running onboardings, a rollback's progress, the last step's judgement); then the rules, in
 * order: a rollback comes first (safety), then capacity, then what the last step and the error budget
 * allow, and only then a new batch.
 */
export function decideRolloutStep(input: RolloutInput): RolloutDecision {
  const ctx = observe(input);
  const decision = rollbackRule(ctx) ?? pauseRule(ctx) ?? capacityRule(ctx) ?? holdRule(ctx) ?? stepRule(ctx);
  return withLook(ctx, decision);
}

/** The decision's state remembers what this look saw and decided, for people (`rollout status`). */
function withLook(ctx: Context, decision: RolloutDecision): RolloutDecision {
  const { input } = ctx;
  const lastLook: RolloutLook = {
    at: ctx.nowIso,
    decision: typeof decision.details.decision === "string" ? decision.details.decision : "unknown",
    metric: input.reading.metric,
    ...(ctx.percent === undefined ? {} : { percent: round1(Math.min(100, Math.max(0, ctx.percent))) }),
    onboarded: input.onboarded.length,
    pending: input.pending.length,
    inProgress: input.inProgress.length,
    ...(decision.nextLookSeconds === undefined
      ? {}
      : { nextLookAt: addSeconds(ctx.now, decision.nextLookSeconds) }),
  };
  return { ...decision, nextState: { ...decision.nextState, lastLook } };
}

/**
 * What the run that took a decision saw once its writes returned, folded into the state it claimed: the
 * step's error codes and whether it settled, and which of a rollback's APIs are still there. Stored with
 * a second compare-and-swap; if that is lost, the next run reads the same facts back from Azure.
 */
export function recordApplied(
  state: RolloutState,
  decision: RolloutDecision,
  applied: AppliedStep,
): RolloutState {
  const at = applied.at.toISOString();
  let next = state;
  const step = state.lastStep;
  if (decision.onboard.length > 0 && step !== undefined && step.applied === undefined) {
    next = {
      ...next,
      lastStep: {
        ...step,
        applied: { at, codes: [...new Set(applied.onboardCodes)] },
        ...(applied.unfinished.length === 0 ? { settledAt: at } : {}),
      },
    };
  }
  const rollback = state.rollback;
  if (decision.offboard.length > 0 && rollback !== undefined) {
    const left = lowerSet(applied.notOffboarded);
    const apis = rollback.apis.filter((name) => left.has(lower(name)));
    next = {
      ...next,
      rollback: {
        ...rollback,
        apis,
        codes: applied.offboardCodes.length > 0 ? [...new Set(applied.offboardCodes)] : rollback.codes,
        ...(apis.length === 0 ? { doneAt: at } : {}),
      },
    };
  }
  return next;
}

/**
 * Whether a rollout with no API left to onboard still needs a decision: a rollback is owed, or its last
 * step is not judged yet or still on trial (a late critical reading can still roll it back).
 */
export function rolloutNeedsLook(
  state: RolloutState | undefined,
  now: Date,
  settings: RolloutSettings,
): boolean {
  if (state === undefined) return false;
  if (state.rollback !== undefined) return true;
  const step = state.lastStep;
  if (step === undefined) return false;
  return step.judged === undefined || (minutesBetween(step.at, now) ?? 0) <= observationMinutes(settings);
}
