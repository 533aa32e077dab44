/**
 * Property: the rollout under faults, through the engine's own step sequence (read the state and the
 * capacity, decide, claim with compare-and-swap, offboard, onboard, record) against a pure model of an
 * instance (bench/rollout-model.ts). For any capacity model, metric noise (up to ±1 point), load that
 * shows up to 4 minutes late and metrics published up to 3 minutes late, any sequence of
 * failed PUTs and DELETEs (409, 412, 500, a long-running operation that fails or never ends) and runs
 * that die at any call and start again:
 * - no API is PUT while its collection exists, and nothing is DELETEd that the rollout did not onboard;
 * - once a step has measured the load per API, no step of ours takes the load above limit + 5;
 * - a rollback owed for an hour is `manual` for each API still there, and every rollback ends;
 * - once the faults clear, every API that fits is onboarded, and none is left behind.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createModelInstance,
  runModelRollout,
  type ModelFault,
  type ModelInstance,
} from "../../bench/rollout-model.js";
import { rolloutSettings } from "../../src/rollout/settings.js";
import { toRolloutState } from "../../src/rollout/state-store.js";
import type { RolloutSettings, RolloutState } from "../../src/rollout/types.js";

const LIMIT = 60;
const TOLERANCE = 5;
const START_MS = Date.UTC(2026, 10, 25, 10, 0, 0);
/** After the faults clear, the rollout has this long to finish. */
const FINISH_WITHIN_MINUTES = 24 * 60;

const fault: fc.Arbitrary<ModelFault | null> = fc.oneof(
  { arbitrary: fc.constant(null), weight: 6 },
  fc.constantFrom<ModelFault>(
    { kind: "status", status: 409, code: "Conflict" },
    { kind: "status", status: 412, code: "PreconditionFailed" },
    { kind: "status", status: 500, code: "InternalServerError" },
    { kind: "lro-failed", code: "InternalServerError" },
    { kind: "stuck" },
  ),
);

/** Per run while faults last: die after this many port calls (null: do not), and run twice at once-ish. */
const runFate = fc.record({
  crashAfter: fc.oneof({ arbitrary: fc.constant(null), weight: 4 }, fc.integer({ min: 0, max: 8 })),
  duplicate: fc.oneof({ arbitrary: fc.constant(false), weight: 5 }, fc.constant(true)),
});

/** DELETEs that fail now and then, or every time while the faults last (a rollback that cannot finish). */
const deleteFaults = fc.oneof(
  fc.array(fault, { minLength: 1, maxLength: 20 }),
  fc
    .constantFrom<ModelFault>(
      { kind: "status", status: 409, code: "Conflict" },
      { kind: "status", status: 500, code: "InternalServerError" },
    )
    .map((f) => [f]),
);

const scenario = fc.record({
  apis: fc.integer({ min: 1, max: 40 }),
  base: fc.integer({ min: 0, max: 550 }).map((n) => n / 10),
  perApi: fc.oneof(
    fc.integer({ min: 0, max: 50 }).map((n) => n / 100),
    fc.integer({ min: 50, max: 2000 }).map((n) => n / 100),
  ),
  noise: fc.integer({ min: 0, max: 10 }).map((n) => n / 10),
  lagMinutes: fc.integer({ min: 0, max: 4 }),
  publishDelayMinutes: fc.integer({ min: 0, max: 3 }),
  seed: fc.integer({ min: 1, max: 1_000_000 }),
  intervalMinutes: fc.constantFrom(0, 5, 10, 15),
  runEveryMinutes: fc.integer({ min: 2, max: 11 }),
  faultMinutes: fc.integer({ min: 0, max: 8 * 60 }),
  faults: fc.array(fault, { minLength: 1, maxLength: 40 }),
  deleteFaults,
  fates: fc.array(runFate, { minLength: 1, maxLength: 20 }),
});
type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

const names = (count: number): string[] =>
  Array.from({ length: count }, (_, i) => `api-${String(i).padStart(3, "0")}`);

function storedState(instance: ModelInstance): RolloutState | undefined {
  const text = instance.storedText();
  return text === undefined ? undefined : toRolloutState(JSON.parse(text), "model");
}

/** Everything fits under the limit with room for noise and a noisy estimate: the rollout must finish. */
function fits(s: Scenario): boolean {
  return s.base + s.perApi * s.apis + 3 * s.noise + 4 <= LIMIT - 2;
}

async function play(s: Scenario): Promise<void> {
  const settings: RolloutSettings = rolloutSettings({
    capacityLimit: LIMIT,
    rolloutIntervalMinutes: s.intervalMinutes,
  });
  let calls = 0;
  const instance = createModelInstance({
    apis: names(s.apis),
    capacity: {
      base: s.base,
      perApi: s.perApi,
      noise: s.noise,
      seed: s.seed,
      lagMinutes: s.lagMinutes,
      publishDelayMinutes: s.publishDelayMinutes,
    },
    startMs: START_MS,
    faultsActive: (minute) => minute < s.faultMinutes,
    fault: (call) => {
      if (call.minute >= s.faultMinutes || call.method === "METRICS") return undefined;
      calls += 1;
      const list = call.method === "PUT" ? s.faults : s.deleteFaults;
      const chosen = list[calls % list.length] ?? null;
      // A DELETE is refused or answers 404; it never "gets stuck".
      if (call.method === "DELETE" && (chosen?.kind === "stuck" || chosen?.kind === "lro-failed"))
        return undefined;
      return chosen ?? undefined;
    },
  });

  let runs = 0;
  let finishedAt: number | undefined;
  const end = s.faultMinutes + FINISH_WITHIN_MINUTES;
  while (instance.minute <= end) {
    const faulty = instance.minute < s.faultMinutes;
    const fate = faulty ? s.fates[runs % s.fates.length] : undefined;
    runs += 1;
    const writesBefore = instance.writes.length;
    const { run, planned } = await runModelRollout(
      instance,
      settings,
      "enforce",
      fate?.crashAfter ?? undefined,
    );
    if (fate?.duplicate === true) await runModelRollout(instance, settings, "enforce");
    const context = `minute ${String(instance.minute)}`;

    // One finding per API, every run.
    expect(planned.map((p) => p.api.name).sort(), context).toEqual(names(s.apis));

    // Never onboarded twice; never offboarded unless the rollout onboarded it.
    for (const write of instance.writes.slice(writesBefore)) {
      if (write.method === "PUT") expect(write.before, `${context}: PUT ${write.api}`).toBeUndefined();
      else expect(write.before === undefined || write.ours, `${context}: DELETE ${write.api}`).toBe(true);
    }

    const decision = run.gate?.kind === "decided" ? run.gate.decision : undefined;
    // Our own steps stay within limit + 5 once the load per API has been measured.
    if (decision !== undefined && decision.onboard.length > 0 && decision.details.perApiEstimate !== null) {
      const peak = s.base + s.perApi * instance.liveCount() + s.noise;
      expect(
        peak,
        `${context}: step of ${String(decision.onboard.length)} at ${JSON.stringify(decision.details)}`,
      ).toBeLessThanOrEqual(LIMIT + TOLERANCE);
    }

    // A rollback owed for an hour is a person's job for each API still there.
    const owed = decision?.nextState.rollback;
    if (decision !== undefined && owed !== undefined && owed.apis.length > 0) {
      const age = (instance.ports("audit").now().getTime() - Date.parse(owed.since)) / 60_000;
      if (age >= settings.rollbackManualAfterMinutes) {
        for (const api of owed.apis)
          expect(decision.perApi.get(api)?.kind, `${context}: ${api}`).toBe("manual");
      }
    }

    if (
      !faulty &&
      finishedAt === undefined &&
      instance.succeededCount() === s.apis &&
      (run.gate === undefined || decision?.details.decision === "done")
    ) {
      // Done: every API onboarded, and the controller has nothing left to do (or is not even asked).
      finishedAt = instance.minute;
      if (fits(s)) break;
    }
    instance.advance(s.runEveryMinutes);
  }

  // Every rollback ended, with the faults gone.
  const final = storedState(instance);
  expect(final?.rollback?.apis ?? [], "rollback left owed").toEqual([]);
  if (fits(s)) {
    expect(instance.succeededCount(), "APIs left behind").toBe(s.apis);
    expect(finishedAt, "finished").toBeDefined();
  }
}

/** An instance near the limit where one API adds a lot: the first step crosses the critical level. */
const hot = scenario.chain((s) =>
  fc
    .record({
      base: fc.integer({ min: 450, max: 560 }).map((n) => n / 10),
      perApi: fc.integer({ min: 1200, max: 2000 }).map((n) => n / 100),
      faultMinutes: fc.integer({ min: 30, max: 4 * 60 }),
    })
    .map((capacity) => ({ ...s, ...capacity })),
);

describe("the rollout under faults, crashes and restarts (model)", () => {
  it("keeps its promises for any capacity model, noise, lag and fault sequence", async () => {
    await fc.assert(fc.asyncProperty(scenario, play), { numRuns: 80 });
  }, 120_000);

  it("rolls back on an instance its first step overloads, and every rollback ends or is escalated", async () => {
    await fc.assert(fc.asyncProperty(hot, play), { numRuns: 40 });
  }, 120_000);

  it("finishes where everything fits, whatever failed before", async () => {
    const fitting = scenario.filter(fits);
    await fc.assert(fc.asyncProperty(fitting, play), { numRuns: 40 });
  }, 120_000);
});
