// Rollout benchmark: the engine's rollout step sequence (runRolloutStep in src/engine/apim.ts: read the
// state and the capacity, decide, claim, offboard, onboard, record) against a pure model of an API
// Management instance (bench/rollout-model.ts), in simulated minutes: no real waiting, no simulator.
// `node dist/bench/rollout.js` (table) or `... --json`; `npm run bench` prints it after the sweeps.
import { existsSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { rolloutSettings } from "../src/rollout/settings.js";
import { toRolloutState } from "../src/rollout/state-store.js";
import type { ApiRolloutStatus, RolloutSettings, RolloutState } from "../src/rollout/types.js";
import { inventoryApis } from "../src/checks/index.js";
import { runRolloutStep } from "../src/engine/apim.js";
import {
  createModelInstance,
  MODEL_SERVICE_ID,
  type ModelFault,
  type ModelInstance,
} from "./rollout-model.js";

/** Azure Monitor publishes a minute's Capacity about two minutes after it ends. */
const METRIC_PUBLISH_DELAY_MINUTES = 2;
/** An eager scheduler: the rollout is run every minute and paces itself. */
const RUN_EVERY_MINUTES = 1;
/** The "one per step" baseline's pace: the controller's default interval, without its capacity check. */
const ONE_PER_STEP_INTERVAL_MINUTES = 10;
/** Give up after two weeks: a rollout still going by then is reported as not finished. */
const HORIZON_MINUTES = 14 * 24 * 60;
/** Simulated minute 0; fixed so that every timestamp, and so every figure, is reproducible. */
const SIMULATION_START_MS = Date.UTC(2026, 0, 5, 8, 0, 0);

const SETTINGS: RolloutSettings = rolloutSettings({ capacityLimit: 60, rolloutIntervalMinutes: 10 });

/** The controller may overshoot the limit by this much at peak (the reading it steers by lags the load). */
const PEAK_TOLERANCE_POINTS = 5;
/** The controller must finish in at most this share of the "one per step" baseline's time. */
const SPEED_UP_SHARE = 0.25;

/** Every call of `method` between two minutes meets `fault`. */
interface FaultWindow {
  readonly method: "PUT" | "DELETE";
  readonly fault: ModelFault;
  readonly fromMinute: number;
  readonly toMinute: number;
}

interface CapacityScenario {
  readonly name: string;
  readonly apis: number;
  /** The instance's own load, before any API is onboarded (percent). */
  readonly basePercent: number;
  /** What one onboarded API adds once its traffic is mirrored (percentage points). */
  readonly perApiPercent: number;
  /** Traffic the rollout has no part in. */
  readonly spikes?: readonly {
    readonly fromMinute: number;
    readonly toMinute: number;
    readonly points: number;
  }[];
  /** Per-minute jitter of ± this many points: the metric is never flat, and the controller learns from it. */
  readonly jitterPoints: number;
  readonly seed: number;
  readonly faults?: FaultWindow;
  /** The fault-free scenario this one is compared with. */
  readonly comparedWith?: string;
  /** Run the baselines (everything at once, one per step) on it too. */
  readonly baselines: boolean;
}

const SCENARIOS: readonly CapacityScenario[] = [
  {
    name: "idle",
    apis: 500,
    basePercent: 10,
    perApiPercent: 0.08,
    jitterPoints: 1,
    seed: 1,
    baselines: true,
  },
  // All 200 at once would take it to 95 %: only about 50 fit under the limit, then it must hand over.
  {
    name: "busy",
    apis: 200,
    basePercent: 45,
    perApiPercent: 0.25,
    jitterPoints: 1,
    seed: 2,
    baselines: true,
  },
  // As busy, but all 200 together bring it to 55 %, just under the limit: speed matters here.
  {
    name: "busy, room for all",
    apis: 200,
    basePercent: 45,
    perApiPercent: 0.05,
    jitterPoints: 1,
    seed: 3,
    baselines: true,
  },
  // Already over the limit before anything is onboarded.
  {
    name: "over limit",
    apis: 100,
    basePercent: 70,
    perApiPercent: 0.1,
    jitterPoints: 1,
    seed: 4,
    baselines: true,
  },
  // As "busy, room for all", but every onboarding PUT fails (500) for two hours from minute 20.
  {
    name: "failed steps",
    apis: 200,
    basePercent: 45,
    perApiPercent: 0.05,
    jitterPoints: 1,
    seed: 3,
    faults: {
      method: "PUT",
      fault: { kind: "status", status: 500, code: "InternalServerError" },
      fromMinute: 20,
      toMinute: 140,
    },
    comparedWith: "busy, room for all",
    baselines: false,
  },
  // Few APIs, each heavy: only 5 fit. The first two steps fail (every PUT refused for 11 minutes).
  { name: "tight", apis: 20, basePercent: 38, perApiPercent: 4, jitterPoints: 1, seed: 7, baselines: false },
  {
    name: "tight, first two steps fail",
    apis: 20,
    basePercent: 38,
    perApiPercent: 4,
    jitterPoints: 1,
    seed: 7,
    faults: {
      method: "PUT",
      fault: { kind: "status", status: 500, code: "InternalServerError" },
      fromMinute: 0,
      toMinute: 11,
    },
    comparedWith: "tight",
    baselines: false,
  },
  // As "busy, room for all", with 30 minutes of traffic (+36 points) just after a step: the reading
  // crosses the critical level while that step is on trial, and the step is rolled back.
  {
    name: "traffic spike",
    apis: 200,
    basePercent: 45,
    perApiPercent: 0.05,
    spikes: [{ fromMinute: 33, toMinute: 63, points: 36 }],
    jitterPoints: 1,
    seed: 3,
    comparedWith: "busy, room for all",
    baselines: false,
  },
  // The same, with every DELETE refused (409) for the first two hours: the rollback is owed that long.
  {
    name: "failed rollback",
    apis: 200,
    basePercent: 45,
    perApiPercent: 0.05,
    spikes: [{ fromMinute: 33, toMinute: 63, points: 36 }],
    jitterPoints: 1,
    seed: 3,
    faults: {
      method: "DELETE",
      fault: { kind: "status", status: 409, code: "Conflict" },
      fromMinute: 0,
      toMinute: 120,
    },
    comparedWith: "traffic spike",
    baselines: false,
  },
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
  /** The fault injected, if any ("PUT 500 from 0:20 to 2:20"). */
  readonly faults: string | null;
  readonly comparedWith: string | null;
  readonly finished: boolean;
  /** Simulated hours until every API was onboarded and nothing was left to do; null: not finished. */
  readonly hoursToFinish: number | null;
  /** Simulated hours until every API was onboarded (the controller then watches the last step for a while). */
  readonly hoursToAllOnboarded: number | null;
  /** Simulated hours until the last onboarding that stayed (all the APIs that fit, where not all do). */
  readonly hoursToLastOnboarding: number | null;
  readonly apisOnboarded: number;
  /** Peak and time over the limit of the true per-minute load over the whole two-week horizon. */
  readonly peakLoadPercent: number;
  readonly pointsOverLimitAtPeak: number;
  readonly minutesOverLimit: number;
  readonly minutesOverCritical: number;
  /** The peak the instance reaches with nothing onboarded: what no rollout can be blamed for. */
  readonly peakWithoutOnboardingPercent: number;
  readonly rollbacks: number;
  readonly steps: number;
  /** Controller only: steps that onboarded nothing, and how many times the error budget paused it. */
  readonly failedSteps: number;
  readonly pauses: number;
  /** Controller only: minutes a rollback was owed (recorded and not yet done). */
  readonly minutesRollbackOwed: number;
  /** Controller only: simulated hour it first reported APIs as `manual`, and why; null: never. */
  readonly manualFromHours: number | null;
  readonly manualReason: string | null;
  /** Controller only: how the APIs still pending stood at its last decision, by status. */
  readonly pendingStatusAtEnd: Readonly<Partial<Record<ApiRolloutStatus["kind"], number>>>;
  readonly runs: number;
  /**
   * Controller only: real wall time of one run of the step sequence against the model (state read and
   * validated, decision, claim, writes to the model, result recorded), averaged; null otherwise.
   */
  readonly microsecondsPerRun: number | null;
}

export interface RolloutBenchCheck {
  readonly description: string;
  readonly holds: boolean;
  readonly detail: string;
}

function apiNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `api-${i.toString().padStart(3, "0")}`);
}

function instanceFor(scenario: CapacityScenario): ModelInstance {
  const window = scenario.faults;
  return createModelInstance({
    apis: apiNames(scenario.apis),
    capacity: {
      base: scenario.basePercent,
      perApi: scenario.perApiPercent,
      noise: scenario.jitterPoints,
      seed: scenario.seed,
      lagMinutes: 0,
      publishDelayMinutes: METRIC_PUBLISH_DELAY_MINUTES,
      ...(scenario.spikes === undefined ? {} : { spikes: scenario.spikes }),
    },
    startMs: SIMULATION_START_MS,
    fault: (call) =>
      window !== undefined &&
      call.method === window.method &&
      call.minute >= window.fromMinute &&
      call.minute < window.toMinute
        ? window.fault
        : undefined,
  });
}

/** What a strategy does at one run; true once it has nothing left to do. */
type Strategy = (instance: ModelInstance) => Promise<boolean>;

interface ControllerTally {
  runs: number;
  runMs: number;
  failedSteps: number;
  pauses: number;
  minutesRollbackOwed: number;
  manual: { minute: number; reason: string } | undefined;
  pendingStatusAtEnd: Partial<Record<ApiRolloutStatus["kind"], number>>;
  lastStep: string | undefined;
}

function storedState(instance: ModelInstance): RolloutState | undefined {
  const text = instance.storedText();
  return text === undefined ? undefined : toRolloutState(JSON.parse(text), "bench");
}

function controller(tally: ControllerTally): Strategy {
  return async (instance) => {
    const started = performance.now();
    const inventory = inventoryApis(instance.view(), "autoprotect-exclude");
    const run = await runRolloutStep(instance.ports("enforce"), MODEL_SERVICE_ID, inventory, SETTINGS);
    tally.runMs += performance.now() - started;
    tally.runs += 1;
    const state = storedState(instance);
    if (state?.rollback !== undefined && state.rollback.apis.length > 0)
      tally.minutesRollbackOwed += RUN_EVERY_MINUTES;
    const step = state?.lastStep;
    if (step?.judged === "failed" && step.at !== tally.lastStep) {
      tally.failedSteps += 1;
      tally.lastStep = step.at;
    }
    if (run.gate === undefined) return true;
    if (run.gate.kind !== "decided") return false;
    const decision = run.gate.decision;
    if (decision.details.decision === "pause") tally.pauses += 1;
    tally.pendingStatusAtEnd = {};
    for (const status of decision.perApi.values()) {
      tally.pendingStatusAtEnd[status.kind] = (tally.pendingStatusAtEnd[status.kind] ?? 0) + 1;
      if (status.kind === "manual" && tally.manual === undefined) {
        tally.manual = { minute: instance.minute, reason: status.reason };
      }
    }
    return decision.nextLookSeconds === undefined;
  };
}

/** Baseline: everything at minute 0, no look at capacity. */
const allAtOnce: Strategy = async (instance) => {
  const ports = instance.ports("enforce");
  for (const api of instance.view().apis) await ports.onboard(api.name);
  return true;
};

/** Baseline: one API per interval, no look at capacity. */
const onePerStep: Strategy = async (instance) => {
  const view = instance.view();
  const pending = view.apis.filter((api) => !view.collections.has(api.name));
  const next = pending[0];
  if (next === undefined) return true;
  if (instance.minute % ONE_PER_STEP_INTERVAL_MINUTES === 0)
    await instance.ports("enforce").onboard(next.name);
  return false;
};

function loadFigures(instance: ModelInstance) {
  let peak = 0;
  let minutesOverLimit = 0;
  let minutesOverCritical = 0;
  for (let minute = 0; minute < HORIZON_MINUTES; minute += 1) {
    const load = instance.sample(minute);
    peak = Math.max(peak, load);
    if (load > SETTINGS.limitPercent) minutesOverLimit += 1;
    if (load >= SETTINGS.criticalPercent) minutesOverCritical += 1;
  }
  return { peak, minutesOverLimit, minutesOverCritical };
}

function faultText(window: FaultWindow | undefined): string | null {
  if (window === undefined) return null;
  const at = (minute: number) => `${String(Math.floor(minute / 60))}:${String(minute % 60).padStart(2, "0")}`;
  const what =
    window.fault.kind === "status"
      ? `${String(window.fault.status)} ${window.fault.code}`
      : window.fault.kind;
  return `every ${window.method} ${what} from ${at(window.fromMinute)} to ${at(window.toMinute)}`;
}

async function simulate(scenario: CapacityScenario, name: RolloutStrategyName): Promise<RolloutBenchFigures> {
  const instance = instanceFor(scenario);
  const tally: ControllerTally = {
    runs: 0,
    runMs: 0,
    failedSteps: 0,
    pauses: 0,
    minutesRollbackOwed: 0,
    manual: undefined,
    pendingStatusAtEnd: {},
    lastStep: undefined,
  };
  const strategy =
    name === "controller" ? controller(tally) : name === "all at once" ? allAtOnce : onePerStep;
  let finishedAt: number | undefined;
  let allOnboardedAt: number | undefined;
  let lastOnboardingAt: number | undefined;
  let onboarded = 0;
  let runs = 0;
  while (instance.minute < HORIZON_MINUTES) {
    const done = await strategy(instance);
    runs += 1;
    const now = instance.succeededCount();
    if (now !== onboarded) lastOnboardingAt = now > onboarded ? instance.minute : undefined;
    onboarded = now;
    // A rollback can take "all onboarded" back; it counts from the last time it became true.
    if (onboarded < scenario.apis) allOnboardedAt = undefined;
    else allOnboardedAt ??= instance.minute;
    if (done && onboarded === scenario.apis) {
      finishedAt = instance.minute;
      break;
    }
    instance.advance(RUN_EVERY_MINUTES);
  }
  const { peak, minutesOverLimit, minutesOverCritical } = loadFigures(instance);
  const state = storedState(instance);
  const hours = (minute: number | undefined): number | null => (minute === undefined ? null : minute / 60);
  return {
    scenario: scenario.name,
    strategy: name,
    apis: scenario.apis,
    basePercent: scenario.basePercent,
    perApiPercent: scenario.perApiPercent,
    limitPercent: SETTINGS.limitPercent,
    criticalPercent: SETTINGS.criticalPercent,
    faults: faultText(scenario.faults),
    comparedWith: scenario.comparedWith ?? null,
    finished: finishedAt !== undefined,
    hoursToFinish: hours(finishedAt),
    hoursToAllOnboarded: hours(allOnboardedAt),
    hoursToLastOnboarding: hours(lastOnboardingAt),
    apisOnboarded: onboarded,
    peakLoadPercent: peak,
    pointsOverLimitAtPeak: Math.max(0, peak - SETTINGS.limitPercent),
    minutesOverLimit,
    minutesOverCritical,
    peakWithoutOnboardingPercent: loadFigures(instanceFor({ ...scenario, faults: undefined })).peak,
    rollbacks: state?.rollbacks ?? 0,
    steps:
      name === "controller" ? (state?.steps ?? 0) : instance.writes.filter((w) => w.method === "PUT").length,
    failedSteps: tally.failedSteps,
    pauses: tally.pauses,
    minutesRollbackOwed: tally.minutesRollbackOwed,
    manualFromHours: tally.manual === undefined ? null : tally.manual.minute / 60,
    manualReason: tally.manual?.reason ?? null,
    pendingStatusAtEnd: tally.pendingStatusAtEnd,
    runs,
    microsecondsPerRun: tally.runs === 0 ? null : (tally.runMs * 1000) / tally.runs,
  };
}

/** Every scenario under the controller, and the fault-free ones under the two baselines, on the same models. */
export async function runRolloutBenchmark(): Promise<RolloutBenchFigures[]> {
  const figures: RolloutBenchFigures[] = [];
  for (const scenario of SCENARIOS) {
    figures.push(await simulate(scenario, "controller"));
    if (scenario.baselines) {
      figures.push(await simulate(scenario, "all at once"));
      figures.push(await simulate(scenario, "one per step"));
    }
  }
  return figures;
}

function figuresFor(
  figures: readonly RolloutBenchFigures[],
  scenario: string,
  strategy: RolloutStrategyName,
): RolloutBenchFigures | undefined {
  return figures.find((f) => f.scenario === scenario && f.strategy === strategy);
}

function hoursText(hours: number | null): string {
  return hours === null ? "–" : `${hours.toFixed(1)} h`;
}

function percentText(value: number): string {
  return `${value.toFixed(1)} %`;
}

/** The targets the controller is held to, as measured. */
export function rolloutBenchChecks(figures: readonly RolloutBenchFigures[]): RolloutBenchCheck[] {
  const checks: RolloutBenchCheck[] = [];
  for (const scenario of ["idle", "busy, room for all"]) {
    const controllerRun = figuresFor(figures, scenario, "controller");
    const baseline = figuresFor(figures, scenario, "one per step")?.hoursToFinish ?? null;
    const target = baseline === null ? null : baseline * SPEED_UP_SHARE;
    const actual = controllerRun?.hoursToFinish ?? null;
    checks.push({
      description: `${scenario}: controller finishes within ¼ of one-per-step's time`,
      holds: actual !== null && target !== null && actual <= target,
      detail: `${hoursText(actual)} vs ≤ ${target === null ? "?" : `${target.toFixed(1)} h`}`,
    });
  }
  const ceiling = SETTINGS.limitPercent + PEAK_TOLERANCE_POINTS;
  for (const f of figures.filter((x) => x.strategy === "controller" && x.rollbacks === 0)) {
    // An instance already over the ceiling on its own cannot be held under it by onboarding nothing.
    const notItsDoing = f.apisOnboarded === 0 && f.peakWithoutOnboardingPercent > ceiling;
    checks.push({
      description: `${f.scenario}: controller's peak ≤ limit + ${String(PEAK_TOLERANCE_POINTS)}`,
      holds: f.peakLoadPercent <= ceiling || notItsDoing,
      detail:
        `peak ${percentText(f.peakLoadPercent)} vs ≤ ${percentText(ceiling)}` +
        (notItsDoing ? ` (the instance alone peaks at ${percentText(f.peakWithoutOnboardingPercent)})` : ""),
    });
  }
  const failedSteps = figuresFor(figures, "failed steps", "controller");
  checks.push({
    description: "failed steps: nothing learned from them, the rollout pauses and finishes once PUTs succeed",
    holds:
      failedSteps !== undefined &&
      failedSteps.finished &&
      failedSteps.minutesOverLimit === 0 &&
      failedSteps.pauses > 0,
    detail:
      failedSteps === undefined
        ? "?"
        : `${String(failedSteps.failedSteps)} failed steps, ${String(failedSteps.pauses)} paused runs, ` +
          `${String(failedSteps.minutesOverLimit)} minutes over the limit, finished at ${hoursText(failedSteps.hoursToFinish)}`,
  });
  const failedRollback = figuresFor(figures, "failed rollback", "controller");
  const spike = figuresFor(figures, "traffic spike", "controller");
  checks.push({
    description:
      "failed rollback: retried until done, `manual` after 1 h, no longer over the critical level than without the fault, and finishes",
    holds:
      failedRollback !== undefined &&
      spike !== undefined &&
      /^rollback of \d+ API\(s\) failed \(Conflict\)/.test(failedRollback.manualReason ?? "") &&
      failedRollback.minutesOverCritical <= spike.minutesOverCritical &&
      failedRollback.finished,
    detail:
      failedRollback === undefined || spike === undefined
        ? "?"
        : `owed ${String(failedRollback.minutesRollbackOwed)} min, manual from ` +
          `${hoursText(failedRollback.manualFromHours)}, ${String(failedRollback.minutesOverCritical)} vs ` +
          `${String(spike.minutesOverCritical)} min at or over the critical level, finished at ` +
          hoursText(failedRollback.hoursToFinish),
  });
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
  const parts = Object.entries(status).map(([kind, count]) => `${String(count)} ${kind}`);
  return parts.length === 0 ? "–" : parts.join(", ");
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
    "last onboarding",
    "onboarded",
    "peak load",
    "minutes over limit",
    "minutes ≥ critical",
    "rollbacks",
    "steps (failed)",
    "rollback owed",
    "manual from",
    "pending at end",
    "µs per run",
  ];
  let text =
    `Rollout of API onboarding (simulated minutes, limit ${String(SETTINGS.limitPercent)} %, critical ` +
    `${String(SETTINGS.criticalPercent)} %, step interval ${String(SETTINGS.intervalMinutes)} min, ` +
    `runs every ${String(RUN_EVERY_MINUTES)} min, metric published ${String(METRIC_PUBLISH_DELAY_MINUTES)} min late, ` +
    `load observed over ${String(HORIZON_MINUTES / 1440)} days)\n\n`;
  text += tableRow(header);
  text += tableRow(header.map(() => "---"));
  for (const f of figures) {
    text += tableRow([
      `${f.scenario} (${String(f.apis)} × ${String(f.perApiPercent)} pt on ${String(f.basePercent)} %${f.faults === null ? "" : `; ${f.faults}`})`,
      f.strategy,
      hoursText(f.hoursToFinish),
      hoursText(f.hoursToLastOnboarding),
      `${String(f.apisOnboarded)}/${String(f.apis)}`,
      percentText(f.peakLoadPercent),
      String(f.minutesOverLimit),
      String(f.minutesOverCritical),
      String(f.rollbacks),
      `${String(f.steps)} (${String(f.failedSteps)})`,
      `${String(f.minutesRollbackOwed)} min`,
      hoursText(f.manualFromHours),
      statusText(f.pendingStatusAtEnd),
      f.microsecondsPerRun === null ? "–" : f.microsecondsPerRun.toFixed(0),
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
  const figures = await runRolloutBenchmark();
  process.stdout.write(
    values.json === true
      ? `${JSON.stringify({ figures, checks: rolloutBenchChecks(figures) })}\n`
      : formatRolloutReport(figures),
  );
}
