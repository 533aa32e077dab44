/**
 * The onboarding rollout controller: a pure function from what a run sees (stored state, the
 * instance's capacity reading, which APIs are onboarded) to one step: what to onboard, what to roll
 * back, what to store, and when to look again. The engine applies the step; this module does no I/O.
 */
import type {
  ApiRolloutStatus,
  RolloutDecision,
  RolloutInput,
  RolloutSettings,
  RolloutState,
} from "./types.js";

/** A step stays "on trial" this long: a critical reading within it rolls the step back. */
const MIN_OBSERVATION_MINUTES = 60;
/** How long to wait before reading again when Azure Monitor had no data. */
const NO_DATA_RETRY_SECONDS = 300;
/** After a rollback, no new step for this long: the instance needs time to settle and the metric to show it. */
const ROLLBACK_COOL_DOWN_SECONDS = 600;
/** How long to wait for an onboarding that is still running before looking again. */
const IN_PROGRESS_RETRY_SECONDS = 120;
/** Never look again sooner than this, even with a zero rollout interval (metrics need a minute). */
const MIN_LOOK_SECONDS = 60;
/** Points kept free under the limit: metric noise and the next minute's traffic live there. */
const MARGIN_POINTS = 2;
/** A step is sized as if each API added this much more than learned: estimates come from noisy readings. */
const ESTIMATE_SAFETY = 1.5;
/** A flat reading after a step does not prove an API is free; the estimate never drops below this. */
const MIN_PER_API_ESTIMATE = 0.02;

export function initialRolloutState(serviceId: string, settings: RolloutSettings): RolloutState {
  return {
    serviceId,
    batchSize: settings.initialBatchSize,
    lastBatch: [],
    steps: 0,
    rollbacks: 0,
    rolledBack: [],
  };
}

function lower(name: string): string {
  return name.toLowerCase();
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
  const back = new Set(rolledBack.map(lower));
  const fresh = pending.filter((name) => !back.has(lower(name))).sort(compareNames);
  const retried = pending.filter((name) => back.has(lower(name))).sort(compareNames);
  return [...fresh, ...retried];
}

function minutesBetween(from: string | undefined, to: Date): number | undefined {
  if (from === undefined) return undefined;
  const start = Date.parse(from);
  return Number.isNaN(start) ? undefined : (to.getTime() - start) / 60_000;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

function percentText(value: number): string {
  return `${String(round1(value))}%`;
}

/** Points left under the limit, less the margin. */
function headroomPoints(percent: number, settings: RolloutSettings): number {
  return settings.limitPercent - MARGIN_POINTS - percent;
}

/**
 * Batch size for the next step, from what the last step cost against the room that is left: a step
 * that used under a quarter of the remaining headroom doubles the batch, one that used half or more
 * halves it (so batches shrink as capacity rises toward the limit), anything between keeps it.
 */
export function nextBatchSize(state: RolloutState, percent: number, settings: RolloutSettings): number {
  const current = Math.max(1, Math.min(state.batchSize, settings.maxBatchSize));
  if (state.steps === 0 || state.readingBeforeLastStep === undefined) return current;
  const headroom = headroomPoints(percent, settings);
  const rise = percent - state.readingBeforeLastStep;
  if (headroom <= 0 || rise >= headroom / 2) return Math.max(1, Math.floor(current / 2));
  if (rise <= headroom / 4) return Math.min(settings.maxBatchSize, current * 2);
  return current;
}

/**
 * The load one onboarded API adds, learned from the last step: the rise of the reading over the batch
 * size. It follows a higher measurement at once and a lower one slowly (noise must not talk it
 * down). Undefined until a step has been measured; each step is measured once.
 */
export function learnPerApiEstimate(state: RolloutState, percent: number): number | undefined {
  if (state.readingBeforeLastStep === undefined || state.lastBatch.length === 0) return state.perApiEstimate;
  const measured = Math.max(
    MIN_PER_API_ESTIMATE,
    (percent - state.readingBeforeLastStep) / state.lastBatch.length,
  );
  const previous = state.perApiEstimate;
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

/** Whether the reading has a data point from after the last step began. */
function hasSeenLastStep(state: RolloutState, latestAt: string | undefined): boolean {
  if (state.lastStepAt === undefined || latestAt === undefined) return false;
  return Date.parse(latestAt) >= Date.parse(state.lastStepAt);
}

/**
 * Learns from the last step once, on the first reading that covers it: the load per API and the next
 * batch size. The measurement is consumed, so hours of waiting afterwards do not re-learn from it.
 */
export function measureLastStep(
  state: RolloutState,
  percent: number,
  latestAt: string | undefined,
  settings: RolloutSettings,
): RolloutState {
  if (state.readingBeforeLastStep === undefined || !hasSeenLastStep(state, latestAt)) return state;
  return {
    ...state,
    perApiEstimate: learnPerApiEstimate(state, percent),
    batchSize: nextBatchSize(state, percent, settings),
    readingBeforeLastStep: undefined,
  };
}

function observationMinutes(settings: RolloutSettings): number {
  return Math.max(MIN_OBSERVATION_MINUTES, 2 * settings.intervalMinutes);
}

function intervalSeconds(settings: RolloutSettings): number {
  return Math.max(MIN_LOOK_SECONDS, Math.round(settings.intervalMinutes * 60));
}

function statusFor(
  names: readonly string[],
  status: ApiRolloutStatus,
  into: Map<string, ApiRolloutStatus> = new Map(),
): Map<string, ApiRolloutStatus> {
  for (const name of names) into.set(name, status);
  return into;
}

/**
 * Decides this run's step for one APIM service. The order of the rules matters: a rollback comes
 * first (safety), then anything that says "not now" (no data, over the limit, an onboarding still
 * running, pacing), and only then a new batch, sized by the batch size and the headroom left.
 */
export function decideRolloutStep(input: RolloutInput): RolloutDecision {
  const { settings, now, reading } = input;
  const state = input.state ?? initialRolloutState(input.serviceId, settings);
  const order = rolloutOrder(input.pending, state.rolledBack);
  const percent = reading.percent;
  const nowIso = now.toISOString();
  const baseDetails = {
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
    pending: input.pending.length,
  };
  const wait = (
    reason: string,
    retryAfterSeconds: number,
    nextState: RolloutState,
    extra: Record<string, unknown> = {},
  ): RolloutDecision => ({
    onboard: [],
    offboard: [],
    nextState,
    perApi: statusFor(order, { kind: "waiting", reason, retryAfterSeconds }),
    nextLookSeconds: retryAfterSeconds,
    details: { ...baseDetails, decision: "wait", ...extra },
  });

  // 1. Rollback: the last step is still on trial and the instance crossed the critical level.
  const sinceStep = minutesBetween(state.lastStepAt, now);
  const trialMinutesLeft =
    state.lastBatch.length > 0 && sinceStep !== undefined ? observationMinutes(settings) - sinceStep : 0;
  const onTrial = state.lastBatch.length > 0 && sinceStep !== undefined && trialMinutesLeft >= 0;
  if (onTrial && percent !== undefined && percent >= settings.criticalPercent) {
    const live = new Set([...input.onboarded, ...input.inProgress].map(lower));
    const offboard = state.lastBatch.filter((name) => live.has(lower(name)));
    const rolledBackNames = new Set(state.rolledBack.map(lower));
    const rolledBack = [
      ...state.rolledBack,
      ...state.lastBatch.filter((n) => !rolledBackNames.has(lower(n))),
    ];
    const retryAfterSeconds = Math.max(intervalSeconds(settings), ROLLBACK_COOL_DOWN_SECONDS);
    const batchSize = Math.max(1, Math.floor(state.batchSize / 2));
    const nextState: RolloutState = {
      ...state,
      batchSize,
      lastStepAt: nowIso,
      lastBatch: [],
      readingBeforeLastStep: undefined,
      perApiEstimate: learnPerApiEstimate(state, percent),
      waitingSince: state.waitingSince ?? nowIso,
      notBefore: new Date(now.getTime() + retryAfterSeconds * 1000).toISOString(),
      rollbacks: state.rollbacks + 1,
      rolledBack,
    };
    const reason =
      `rolled back the last step (${String(state.lastBatch.length)} API(s)): capacity reached ` +
      `${percentText(percent)}, over the critical ${percentText(settings.criticalPercent)}; ` +
      `continuing later with batches of ${String(batchSize)}`;
    const perApi = statusFor(order, { kind: "waiting", reason, retryAfterSeconds });
    statusFor(offboard, { kind: "rolled-back", reason, retryAfterSeconds }, perApi);
    return {
      onboard: [],
      offboard,
      nextState,
      perApi,
      nextLookSeconds: retryAfterSeconds,
      details: { ...baseDetails, decision: "rollback", rolledBack: offboard, nextBatchSize: batchSize },
    };
  }

  // 2. No data: onboarding blind is exactly what this controller exists to prevent.
  if (percent === undefined) {
    return wait(
      `no ${reading.metric} data from Azure Monitor for the last 15 minutes; onboarding waits for a reading`,
      NO_DATA_RETRY_SECONDS,
      state,
    );
  }

  /**
   * Capacity holds onboarding up (over the limit, or no room for one more API under it): wait, and
   * hand over to a person once that has lasted longer than the configured time.
   */
  const waitForCapacity = (measured: RolloutState, why: string, manual: string): RolloutDecision => {
    const waitingSince = measured.waitingSince ?? nowIso;
    const waited = minutesBetween(waitingSince, now) ?? 0;
    const nextState: RolloutState = { ...measured, waitingSince };
    const retryAfterSeconds = Math.max(intervalSeconds(settings), NO_DATA_RETRY_SECONDS);
    const extra = { waitingSince, perApiEstimate: measured.perApiEstimate ?? null };
    if (waited >= settings.manualAfterMinutes && order.length > 0) {
      return {
        onboard: [],
        offboard: [],
        nextState,
        perApi: statusFor(order, { kind: "manual", reason: `scale out: ${manual} since ${waitingSince}` }),
        nextLookSeconds: retryAfterSeconds,
        details: { ...baseDetails, decision: "manual", ...extra },
      };
    }
    return wait(`${why}; onboarding waits`, retryAfterSeconds, nextState, extra);
  };

  // 3. At or over the limit.
  if (percent >= settings.limitPercent) {
    const over = `capacity ${percentText(percent)} over the ${percentText(settings.limitPercent)} limit`;
    return waitForCapacity(
      measureLastStep(state, percent, reading.latestAt, settings),
      `capacity ${percentText(percent)} is at or over the ${percentText(settings.limitPercent)} limit`,
      over,
    );
  }

  // Below the limit from here on: capacity no longer holds anything up.
  const calm: RolloutState = { ...state, waitingSince: undefined };

  // 4. One step at a time: the previous one must have finished before its effect can be read.
  if (input.inProgress.length > 0) {
    return wait(
      `waiting for ${String(input.inProgress.length)} onboarding(s) of the last step to finish`,
      IN_PROGRESS_RETRY_SECONDS,
      calm,
    );
  }

  if (order.length === 0) {
    // Nothing left; keep looking while the last batch is on trial so a late spike can still roll it back.
    return {
      onboard: [],
      offboard: [],
      nextState: calm,
      perApi: new Map(),
      nextLookSeconds:
        trialMinutesLeft > 0
          ? Math.max(intervalSeconds(settings), Math.ceil(trialMinutesLeft * 60))
          : undefined,
      details: { ...baseDetails, decision: "done" },
    };
  }

  // 5. Pacing: the interval after the last step, and the cool-down after a rollback.
  const paced = sinceStep === undefined ? 0 : (settings.intervalMinutes - sinceStep) * 60;
  const coolDown = state.notBefore === undefined ? 0 : (Date.parse(state.notBefore) - now.getTime()) / 1000;
  if (paced > 0 || coolDown > 0) {
    const remaining = Math.max(MIN_LOOK_SECONDS, Math.ceil(Math.max(paced, coolDown)));
    const nextAt = new Date(now.getTime() + remaining * 1000).toISOString();
    return wait(`queued for the next rollout step, not before ${nextAt}`, remaining, calm, {
      nextStepAt: nextAt,
    });
  }

  // 6. The metric must have seen the last step: Azure Monitor lags by minutes, and a reading from
  // before the step would say there is room the step may already have taken.
  if (state.lastBatch.length > 0 && state.lastStepAt !== undefined) {
    if (!hasSeenLastStep(state, reading.latestAt)) {
      return wait(
        `waiting for ${reading.metric} to show a full minute after the last step (Azure Monitor lags)`,
        MIN_LOOK_SECONDS,
        calm,
        { latestDataAt: reading.latestAt ?? null },
      );
    }
  }

  // 7. A step: the batch size, capped by the headroom the learned per-API load leaves.
  const measured = measureLastStep(calm, percent, reading.latestAt, settings);
  const { batchSize, perApiEstimate } = measured;
  const cap = headroomCap(percent, perApiEstimate, settings);
  const count = Math.min(batchSize, cap, order.length);
  if (count === 0) {
    const room = `capacity ${percentText(percent)} leaves no room under the ${percentText(settings.limitPercent)} limit`;
    const each = `about ${String(round1(perApiEstimate ?? 0))} points each`;
    return waitForCapacity(
      { ...measured, waitingSince: state.waitingSince },
      `${room} for another API (${each})`,
      `${room} for another API (${each})`,
    );
  }
  const batch = order.slice(0, count);
  const inBatch = new Set(batch.map(lower));
  const rest = order.slice(count);
  const nextState: RolloutState = {
    ...calm,
    batchSize,
    lastStepAt: nowIso,
    lastBatch: batch,
    notBefore: undefined,
    readingBeforeLastStep: percent,
    perApiEstimate,
    steps: state.steps + 1,
    rolledBack: state.rolledBack.filter((name) => !inBatch.has(lower(name))),
  };
  const lookAgain = intervalSeconds(settings);
  const nextAt = new Date(now.getTime() + lookAgain * 1000).toISOString();
  const perApi = statusFor(batch, {
    kind: "onboard",
    reason: `rollout step ${String(nextState.steps)}: capacity ${percentText(percent)} is under the ${percentText(settings.limitPercent)} limit`,
  });
  statusFor(
    rest,
    {
      kind: "waiting",
      reason: `queued for a later rollout step (${String(rest.length)} API(s) left, next step not before ${nextAt})`,
      retryAfterSeconds: lookAgain,
    },
    perApi,
  );
  return {
    onboard: batch,
    offboard: [],
    nextState,
    perApi,
    nextLookSeconds: lookAgain,
    details: {
      ...baseDetails,
      decision: "step",
      step: nextState.steps,
      batchSize,
      onboarding: batch.length,
      headroomCap: Number.isFinite(cap) ? cap : null,
      perApiEstimate: perApiEstimate === undefined ? null : round1(perApiEstimate),
      remaining: rest.length,
    },
  };
}
