// Rollout benchmark: the APIM onboarding rollout controller against a capacity model, in simulated
// minutes (no real waiting, no simulator). `node dist/bench/rollout.js` (table) or `... --json`;
// `npm run bench` prints it after the sweeps.
import { existsSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { CapacityReading } from "../src/model/apim.js";
import { decideRolloutStep } from "../src/rollout/controller.js";
import { rolloutSettings } from "../src/rollout/settings.js";
import type { ApiRolloutStatus, RolloutInput, RolloutSettings, RolloutState } from "../src/rollout/types.js";

/**
 * Azure Monitor publishes a minute's Capacity about two minutes after it ends: a reading at minute t has
 * data up to minute t − 1 − lag, so a step's effect shows a few minutes after the step.
 */
const METRIC_LAG_MINUTES = 2;
/** The monitor adapter asks for the last 15 minutes, at 1-minute grain. */
const READING_WINDOW_MINUTES = 15;
/** An eager scheduler: the controller is asked every minute and paces itself. */
const RUN_EVERY_MINUTES = 1;
/** The "one per step" baseline's pace: the controller's default interval, without its capacity check. */
const ONE_PER_STEP_INTERVAL_MINUTES = 10;
/** Give up after two weeks: a rollout still going by then is reported as not finished. */
const HORIZON_MINUTES = 14 * 24 * 60;
/** Simulated minute 0; fixed so that every timestamp, and so every figure, is reproducible. */
const SIMULATION_START_MS = Date.UTC(2026, 0, 5, 8, 0, 0);
const REGION = "West Europe";
const SERVICE_ID =
  "/subscriptions/00000000-0000-4000-8000-000000000000/resourceGroups/rg-apim/providers/Microsoft.ApiManagement/service/apim-bench";

const SETTINGS: RolloutSettings = rolloutSettings({ capacityLimit: 60, rolloutIntervalMinutes: 10 });

/** The controller may overshoot the limit by this much at peak (the reading it steers by lags the load). */
const PEAK_TOLERANCE_POINTS = 5;
/** The controller must finish in at most this share of the "one per step" baseline's time. */
const SPEED_UP_SHARE = 0.25;

interface CapacityScenario {
  readonly name: string;
  readonly apis: number;
  /** The instance's own load, before any API is onboarded (percent). */
  readonly basePercent: number;
  /** What one onboarded API adds once its traffic is mirrored (percentage points). */
  readonly perApiPercent: number;
  /** Per-minute jitter of ± this many points: the metric is never flat, and the controller learns from it. */
  readonly jitterPoints: number;
  readonly seed: number;
}

const SCENARIOS: readonly CapacityScenario[] = [
  { name: "idle", apis: 500, basePercent: 10, perApiPercent: 0.08, jitterPoints: 1, seed: 1 },
  // All 200 at once would take it to 95 %: only about 50 fit under the limit, then it must hand over.
  { name: "busy", apis: 200, basePercent: 45, perApiPercent: 0.25, jitterPoints: 1, seed: 2 },
  // As busy, but all 200 together bring it to 55 %, just under the limit: speed matters here.
  { name: "busy, room for all", apis: 200, basePercent: 45, perApiPercent: 0.05, jitterPoints: 1, seed: 3 },
  // Already over the limit before anything is onboarded.
  { name: "over limit", apis: 100, basePercent: 70, perApiPercent: 0.1, jitterPoints: 1, seed: 4 },
];

export type RolloutStrategyName = "controller" | "all at once" | "one per step";

export interface RolloutBenchFigures {
  readonly scenario: string;
  readonly strategy: RolloutStrategyName;
  readonly apis: number;
  readonly basePercent: number;
  readonly perApiPercent: number;
  readonly limitPercent: number;
  readonly criticalPercent: number;
  readonly finished: boolean;
  /** Simulated hours until every API was onboarded and the controller said it was done; null: not finished. */
  readonly hoursToFinish: number | null;
  /** Simulated hours until every API was onboarded (the controller then watches the last step for a while). */
  readonly hoursToAllOnboarded: number | null;
  readonly apisOnboarded: number;
  /** Peak and time over the limit of the true per-minute load over the whole two-week horizon. */
  readonly peakLoadPercent: number;
  readonly pointsOverLimitAtPeak: number;
  readonly minutesOverLimit: number;
  /** The peak the instance reaches with nothing onboarded: what no rollout can be blamed for. */
  readonly peakWithoutOnboardingPercent: number;
  readonly rollbacks: number;
  readonly steps: number;
  /** Controller only: simulated hour it first reported APIs as `manual`; null: never. */
  readonly manualFromHours: number | null;
  /** Controller only: how long it had been waiting on capacity by then (hours). */
  readonly waitedHoursBeforeManual: number | null;
  /** Controller only: how the APIs still pending stood at its last decision, by status. */
  readonly pendingStatusAtEnd: Readonly<Partial<Record<ApiRolloutStatus["kind"], number>>>;
  readonly decisions: number;
  /**
   * Controller only: real wall time of one decideRolloutStep call, averaged over all of them; null otherwise.
   * The first scenario's figure includes the JIT warming up.
   */
  readonly microsecondsPerDecision: number | null;
}

export interface RolloutBenchCheck {
  readonly description: string;
  readonly holds: boolean;
  readonly detail: string;
}

/** Deterministic jitter in [−amplitude, amplitude]: a hash of (seed, minute), so every strategy sees the same. */
function jitter(seed: number, minute: number, amplitude: number): number {
  // mulberry32's output function over a per-minute counter.
  let x = (Math.imul(seed, 0x9e3779b1) + Math.imul(minute, 0x6d2b79f5)) | 0;
  x = Math.imul(x ^ (x >>> 15), x | 1);
  x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
  const unit = ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296;
  return (unit * 2 - 1) * amplitude;
}

function dateAt(minute: number): Date {
  return new Date(SIMULATION_START_MS + minute * 60_000);
}

function isoAt(minute: number): string {
  return dateAt(minute).toISOString();
}

/** One scenario's instance: how many APIs were onboarded each minute, and the load that follows from it. */
class CapacityTimeline {
  /** onboardedByMinute[m]: APIs counted as onboarded during minute m (after that minute's run). */
  private readonly onboardedByMinute: number[] = [];

  constructor(private readonly scenario: CapacityScenario) {}

  /** Records the count from `minute` on; minutes skipped since the last record keep the previous count. */
  record(minute: number, onboarded: number): void {
    const previous = this.onboardedAt(minute - 1);
    while (this.onboardedByMinute.length < minute) this.onboardedByMinute.push(previous);
    this.onboardedByMinute[minute] = onboarded;
  }

  /** Before minute 0 nothing was onboarded; after the last record the count stays as it was. */
  onboardedAt(minute: number): number {
    if (minute < 0 || this.onboardedByMinute.length === 0) return 0;
    return this.onboardedByMinute[Math.min(minute, this.onboardedByMinute.length - 1)] ?? 0;
  }

  /** The true average load of one minute: APIs onboarded by that minute's run count from that minute on. */
  loadAt(minute: number): number {
    const { basePercent, perApiPercent, jitterPoints, seed } = this.scenario;
    const load = basePercent + perApiPercent * this.onboardedAt(minute) + jitter(seed, minute, jitterPoints);
    return Math.min(100, Math.max(0, load));
  }

  /**
   * What the monitor adapter would hand the controller at the start of `minute`: the highest per-minute
   * value of the minutes in the window Azure Monitor has published (the current minute is still open).
   */
  readingAt(minute: number): CapacityReading {
    const newestPublished = minute - 1 - METRIC_LAG_MINUTES;
    let peak = 0;
    for (let m = minute - READING_WINDOW_MINUTES; m <= newestPublished; m += 1) {
      peak = Math.max(peak, this.loadAt(m));
    }
    return {
      metric: "Capacity",
      percent: peak,
      latestPercent: this.loadAt(newestPublished),
      latestAt: isoAt(newestPublished),
      perRegion: { [REGION]: peak },
      windowStart: isoAt(minute - READING_WINDOW_MINUTES),
      windowEnd: isoAt(minute),
    };
  }
}

/** What a strategy does at one run. */
interface RunAction {
  readonly onboard: readonly string[];
  readonly offboard: readonly string[];
  /** Nothing left for this strategy to do once everything is onboarded. */
  readonly done: boolean;
}

interface RolloutStrategy {
  readonly name: RolloutStrategyName;
  decide(minute: number, reading: CapacityReading, pending: string[], onboarded: string[]): RunAction;
  /** Strategy-specific figures, read once the simulation has stopped. */
  summary(): Pick<
    RolloutBenchFigures,
    | "rollbacks"
    | "steps"
    | "manualFromHours"
    | "waitedHoursBeforeManual"
    | "pendingStatusAtEnd"
    | "microsecondsPerDecision"
  >;
}

function controllerStrategy(settings: RolloutSettings): RolloutStrategy {
  let state: RolloutState | undefined;
  let decisionMs = 0;
  let decisions = 0;
  let firstManual: { minute: number; waitingSince: string | undefined } | undefined;
  let pendingStatusAtEnd: Partial<Record<ApiRolloutStatus["kind"], number>> = {};
  return {
    name: "controller",
    decide(minute, reading, pending, onboarded) {
      const input: RolloutInput = {
        serviceId: SERVICE_ID,
        now: dateAt(minute),
        state,
        reading,
        pending,
        onboarded,
        inProgress: [],
        settings,
      };
      const started = performance.now();
      const decision = decideRolloutStep(input);
      decisionMs += performance.now() - started;
      decisions += 1;
      // The engine stores the next state before acting on it; here nothing can fail in between.
      state = decision.nextState;
      pendingStatusAtEnd = {};
      for (const status of decision.perApi.values()) {
        pendingStatusAtEnd[status.kind] = (pendingStatusAtEnd[status.kind] ?? 0) + 1;
      }
      if (firstManual === undefined && pendingStatusAtEnd.manual !== undefined) {
        firstManual = { minute, waitingSince: decision.nextState.waitingSince };
      }
      return {
        onboard: decision.onboard,
        offboard: decision.offboard,
        done: decision.nextLookSeconds === undefined,
      };
    },
    summary() {
      return {
        rollbacks: state?.rollbacks ?? 0,
        steps: state?.steps ?? 0,
        manualFromHours: firstManual === undefined ? null : firstManual.minute / 60,
        waitedHoursBeforeManual:
          firstManual?.waitingSince === undefined
            ? null
            : firstManual.minute / 60 -
              (Date.parse(firstManual.waitingSince) - SIMULATION_START_MS) / 3_600_000,
        pendingStatusAtEnd,
        microsecondsPerDecision: decisions === 0 ? null : (decisionMs * 1000) / decisions,
      };
    },
  };
}

/** Baseline: everything at minute 0, no look at capacity. */
function allAtOnceStrategy(): RolloutStrategy {
  let steps = 0;
  return {
    name: "all at once",
    decide(_minute, _reading, pending) {
      if (pending.length > 0) steps += 1;
      return { onboard: pending, offboard: [], done: true };
    },
    summary: () => ({
      rollbacks: 0,
      steps,
      manualFromHours: null,
      waitedHoursBeforeManual: null,
      pendingStatusAtEnd: {},
      microsecondsPerDecision: null,
    }),
  };
}

/** Baseline: one API per interval, no look at capacity. */
function onePerStepStrategy(): RolloutStrategy {
  let steps = 0;
  let lastStepMinute = Number.NEGATIVE_INFINITY;
  return {
    name: "one per step",
    decide(minute, _reading, pending) {
      const next = pending[0];
      if (next === undefined || minute - lastStepMinute < ONE_PER_STEP_INTERVAL_MINUTES) {
        return { onboard: [], offboard: [], done: next === undefined };
      }
      steps += 1;
      lastStepMinute = minute;
      return { onboard: [next], offboard: [], done: pending.length === 1 };
    },
    summary: () => ({
      rollbacks: 0,
      steps,
      manualFromHours: null,
      waitedHoursBeforeManual: null,
      pendingStatusAtEnd: {},
      microsecondsPerDecision: null,
    }),
  };
}

function apiNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `api-${i.toString().padStart(3, "0")}`);
}

/** Peak and minutes over the limit of the true load over the whole horizon, the same span for every strategy. */
function loadFigures(timeline: CapacityTimeline): { peak: number; minutesOverLimit: number } {
  let peak = 0;
  let minutesOverLimit = 0;
  for (let minute = 0; minute < HORIZON_MINUTES; minute += 1) {
    const load = timeline.loadAt(minute);
    peak = Math.max(peak, load);
    if (load > SETTINGS.limitPercent) minutesOverLimit += 1;
  }
  return { peak, minutesOverLimit };
}

function simulate(scenario: CapacityScenario, strategy: RolloutStrategy): RolloutBenchFigures {
  const names = apiNames(scenario.apis);
  const onboarded = new Set<string>();
  const timeline = new CapacityTimeline(scenario);
  let finishedAt: number | undefined;
  let allOnboardedAt: number | undefined;
  let decisions = 0;
  for (let minute = 0; minute < HORIZON_MINUTES; minute += RUN_EVERY_MINUTES) {
    // The reading is taken before this run acts: it only covers finished minutes.
    const reading = timeline.readingAt(minute);
    const pending = names.filter((name) => !onboarded.has(name));
    const action = strategy.decide(minute, reading, pending, [...onboarded]);
    decisions += 1;
    for (const name of action.offboard) onboarded.delete(name);
    for (const name of action.onboard) onboarded.add(name);
    timeline.record(minute, onboarded.size);
    // A rollback can take "all onboarded" back; it counts from the last time it became true.
    if (onboarded.size < names.length) allOnboardedAt = undefined;
    else allOnboardedAt ??= minute;
    if (action.done && onboarded.size === names.length) {
      finishedAt = minute;
      break;
    }
  }
  const { peak, minutesOverLimit } = loadFigures(timeline);
  const peakWithoutOnboarding = loadFigures(new CapacityTimeline(scenario)).peak;
  return {
    scenario: scenario.name,
    strategy: strategy.name,
    apis: scenario.apis,
    basePercent: scenario.basePercent,
    perApiPercent: scenario.perApiPercent,
    limitPercent: SETTINGS.limitPercent,
    criticalPercent: SETTINGS.criticalPercent,
    finished: finishedAt !== undefined,
    hoursToFinish: finishedAt === undefined ? null : finishedAt / 60,
    hoursToAllOnboarded: allOnboardedAt === undefined ? null : allOnboardedAt / 60,
    apisOnboarded: onboarded.size,
    peakLoadPercent: peak,
    pointsOverLimitAtPeak: Math.max(0, peak - SETTINGS.limitPercent),
    minutesOverLimit,
    peakWithoutOnboardingPercent: peakWithoutOnboarding,
    decisions,
    ...strategy.summary(),
  };
}

/** Every scenario under the controller and the two baselines, on the same capacity models. */
export function runRolloutBenchmark(): RolloutBenchFigures[] {
  return SCENARIOS.flatMap((scenario) => [
    simulate(scenario, controllerStrategy(SETTINGS)),
    simulate(scenario, allAtOnceStrategy()),
    simulate(scenario, onePerStepStrategy()),
  ]);
}

function figuresFor(
  figures: readonly RolloutBenchFigures[],
  scenario: string,
  strategy: RolloutStrategyName,
): RolloutBenchFigures | undefined {
  return figures.find((f) => f.scenario === scenario && f.strategy === strategy);
}

function hoursText(hours: number | null): string {
  return hours === null ? "not finished" : `${hours.toFixed(1)} h`;
}

function percentText(value: number): string {
  return `${value.toFixed(1)} %`;
}

/** The targets the controller is held to, as measured. */
export function rolloutBenchChecks(figures: readonly RolloutBenchFigures[]): RolloutBenchCheck[] {
  const checks: RolloutBenchCheck[] = [];
  for (const scenario of ["idle", "busy, room for all"]) {
    const controller = figuresFor(figures, scenario, "controller");
    const onePerStep = figuresFor(figures, scenario, "one per step");
    const baseline = onePerStep?.hoursToFinish ?? null;
    const target = baseline === null ? null : baseline * SPEED_UP_SHARE;
    const actual = controller?.hoursToFinish ?? null;
    checks.push({
      description: `${scenario}: controller finishes within ¼ of one-per-step's time`,
      holds: actual !== null && target !== null && actual <= target,
      detail: `${hoursText(actual)} vs ≤ ${target === null ? "?" : `${target.toFixed(1)} h`}`,
    });
  }
  const limit = SETTINGS.limitPercent;
  for (const controller of figures.filter((f) => f.strategy === "controller")) {
    const ceiling = limit + PEAK_TOLERANCE_POINTS;
    // An instance already over the ceiling on its own cannot be held under it by onboarding nothing.
    const notItsDoing = controller.apisOnboarded === 0 && controller.peakWithoutOnboardingPercent > ceiling;
    checks.push({
      description: `${controller.scenario}: controller's peak ≤ limit + ${PEAK_TOLERANCE_POINTS}`,
      holds: controller.peakLoadPercent <= ceiling || notItsDoing,
      detail:
        `peak ${percentText(controller.peakLoadPercent)} vs ≤ ${percentText(ceiling)}` +
        (notItsDoing
          ? ` (the instance alone peaks at ${percentText(controller.peakWithoutOnboardingPercent)}; nothing onboarded)`
          : ""),
    });
  }
  // Where everything fits, all at once is harmless; where it does not, it is the outage the docs warn of.
  const busyAllAtOnce = figuresFor(figures, "busy", "all at once");
  checks.push({
    description: "busy: all at once goes past 90 % (the outage the controller avoids)",
    holds: busyAllAtOnce !== undefined && busyAllAtOnce.peakLoadPercent > 90,
    detail: `peak ${busyAllAtOnce === undefined ? "?" : percentText(busyAllAtOnce.peakLoadPercent)} vs > 90 %`,
  });
  return checks;
}

function statusText(status: RolloutBenchFigures["pendingStatusAtEnd"]): string {
  const parts = Object.entries(status).map(([kind, count]) => `${count} ${kind}`);
  return parts.length === 0 ? "–" : parts.join(", ");
}

function manualText(f: RolloutBenchFigures): string {
  if (f.manualFromHours === null) return "–";
  const waited =
    f.waitedHoursBeforeManual === null ? "" : ` (waited ${f.waitedHoursBeforeManual.toFixed(1)} h)`;
  return `from ${f.manualFromHours.toFixed(1)} h${waited}`;
}

function tableRow(cells: readonly string[]): string {
  return `| ${cells.join(" | ")} |\n`;
}

/** The figures as a markdown table, then the checks. */
export function formatRolloutReport(figures: readonly RolloutBenchFigures[]): string {
  const header = [
    "scenario",
    "strategy",
    "time to finish",
    "all onboarded at",
    "onboarded",
    "peak load",
    "over limit at peak",
    "minutes over limit",
    "rollbacks",
    "steps",
    "manual",
    "pending at end",
    "µs per decision",
  ];
  let text =
    `Rollout of API onboarding (simulated minutes, limit ${SETTINGS.limitPercent} %, critical ` +
    `${SETTINGS.criticalPercent} %, step interval ${SETTINGS.intervalMinutes} min, ` +
    `runs every ${RUN_EVERY_MINUTES} min, metric lag ${METRIC_LAG_MINUTES} min, ` +
    `load observed over ${HORIZON_MINUTES / 1440} days)\n\n`;
  text += tableRow(header);
  text += tableRow(header.map(() => "---"));
  for (const f of figures) {
    text += tableRow([
      `${f.scenario} (${f.apis} × ${f.perApiPercent} pt on ${f.basePercent} %)`,
      f.strategy,
      hoursText(f.hoursToFinish),
      hoursText(f.hoursToAllOnboarded),
      `${f.apisOnboarded}/${f.apis}`,
      percentText(f.peakLoadPercent),
      f.pointsOverLimitAtPeak.toFixed(1),
      String(f.minutesOverLimit),
      String(f.rollbacks),
      String(f.steps),
      manualText(f),
      statusText(f.pendingStatusAtEnd),
      f.microsecondsPerDecision === null ? "–" : f.microsecondsPerDecision.toFixed(1),
    ]);
  }
  text += "\n";
  for (const check of rolloutBenchChecks(figures)) {
    text += `${check.holds ? "PASS" : "FAIL"} ${check.description}: ${check.detail}\n`;
  }
  return text;
}

// Run directly (`node dist/bench/rollout.js`), not when bench/run.ts imports it. Node resolves the main
// module's symlinks for import.meta.url but not for argv, hence realpath.
const script = process.argv[1];
const invokedDirectly =
  script !== undefined && existsSync(script) && realpathSync(script) === fileURLToPath(import.meta.url);

if (invokedDirectly) {
  const { values } = parseArgs({ options: { json: { type: "boolean" } } });
  const figures = runRolloutBenchmark();
  process.stdout.write(
    values.json === true
      ? `${JSON.stringify({ figures, checks: rolloutBenchChecks(figures) })}\n`
      : formatRolloutReport(figures),
  );
}
