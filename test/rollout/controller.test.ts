import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CapacityReading } from "../../src/model/apim.js";
import { decideRolloutStep, initialRolloutState, rolloutOrder } from "../../src/rollout/controller.js";
import { rolloutSettings } from "../../src/rollout/settings.js";
import type { RolloutInput, RolloutState } from "../../src/rollout/types.js";

const SERVICE = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim";
const settings = rolloutSettings({ capacityLimit: 60, rolloutIntervalMinutes: 10 });
const T0 = new Date("2026-11-25T10:00:00Z");

function at(minutes: number): Date {
  return new Date(T0.getTime() + minutes * 60_000);
}

function reading(percent: number | undefined): CapacityReading {
  return {
    metric: "Capacity",
    percent,
    latestPercent: percent,
    perRegion: percent === undefined ? {} : { "West Europe": percent },
    windowStart: "2026-11-25T09:45:00Z",
    windowEnd: "2026-11-25T10:00:00Z",
  };
}

/** Unless a test says otherwise, the metric's newest point is the minute before `now`. */
function input(overrides: Partial<RolloutInput>): RolloutInput {
  const now = overrides.now ?? T0;
  const given = overrides.reading ?? reading(20);
  return {
    serviceId: SERVICE,
    state: undefined,
    pending: [],
    onboarded: [],
    inProgress: [],
    settings,
    ...overrides,
    now,
    reading: { latestAt: new Date(now.getTime() - 60_000).toISOString(), ...given },
  };
}

const names = (count: number): string[] =>
  Array.from({ length: count }, (_, i) => `api-${String(i).padStart(3, "0")}`);

describe("decideRolloutStep", () => {
  it("starts with a small first batch, in case-insensitive name order", () => {
    const decision = decideRolloutStep(input({ pending: ["orders", "Billing", "catalog", "accounts"] }));
    expect(decision.onboard).toEqual(["accounts", "Billing"]);
    expect(decision.perApi.get("catalog")?.kind).toBe("waiting");
    expect(decision.nextState).toMatchObject({
      steps: 1,
      lastBatch: ["accounts", "Billing"],
      readingBeforeLastStep: 20,
    });
    expect(decision.nextLookSeconds).toBe(600);
  });

  it("onboards nothing without metric data, and says so", () => {
    const decision = decideRolloutStep(input({ pending: ["a", "b"], reading: reading(undefined) }));
    expect(decision.onboard).toEqual([]);
    const status = decision.perApi.get("a");
    expect(status?.kind).toBe("waiting");
    expect(status?.reason).toMatch(/no Capacity data/);
  });

  it("waits at the limit, and hands over to a person after 24 hours with the reading and since when", () => {
    const first = decideRolloutStep(input({ pending: ["a"], reading: reading(60) }));
    expect(first.onboard).toEqual([]);
    expect(first.perApi.get("a")).toMatchObject({ kind: "waiting" });
    expect(first.perApi.get("a")?.reason).toMatch(/60% is at or over the 60% limit/);
    expect(first.nextState.waitingSince).toBe(T0.toISOString());

    const later = decideRolloutStep(
      input({ pending: ["a"], reading: reading(65.04), state: first.nextState, now: at(24 * 60 - 1) }),
    );
    expect(later.perApi.get("a")?.kind).toBe("waiting");

    const dayLater = decideRolloutStep(
      input({ pending: ["a"], reading: reading(65.04), state: first.nextState, now: at(24 * 60) }),
    );
    expect(dayLater.perApi.get("a")).toEqual({
      kind: "manual",
      reason: `scale out: capacity 65% over the 60% limit since ${T0.toISOString()}`,
    });
    expect(dayLater.onboard).toEqual([]);
  });

  it("forgets how long it waited once capacity is back under the limit", () => {
    const waiting: RolloutState = {
      ...initialRolloutState(SERVICE, settings),
      waitingSince: at(-600).toISOString(),
    };
    const decision = decideRolloutStep(input({ pending: ["a"], state: waiting, reading: reading(30) }));
    expect(decision.onboard).toEqual(["a"]);
    expect(decision.nextState.waitingSince).toBeUndefined();
  });

  it("rolls back the last batch when capacity crosses the critical level after a step, and slows down", () => {
    const step = decideRolloutStep(input({ pending: ["a", "b", "c", "d"], reading: reading(40) }));
    expect(step.onboard).toEqual(["a", "b"]);
    const state = { ...step.nextState, batchSize: 8 };
    const rollback = decideRolloutStep(
      input({ pending: ["c", "d"], onboarded: ["a", "b"], state, reading: reading(85), now: at(5) }),
    );
    expect(rollback.offboard).toEqual(["a", "b"]);
    expect(rollback.onboard).toEqual([]);
    expect(rollback.perApi.get("a")?.kind).toBe("rolled-back");
    expect(rollback.perApi.get("a")?.reason).toMatch(/capacity reached 85%, over the critical 80%/);
    expect(rollback.perApi.get("c")?.kind).toBe("waiting");
    expect(rollback.nextState).toMatchObject({
      batchSize: 4,
      rollbacks: 1,
      lastBatch: [],
      rolledBack: ["a", "b"],
    });

    // Once calm again, what was rolled back goes last, after a cool-down.
    const tooSoon = decideRolloutStep(
      input({ pending: ["a", "b", "c", "d"], state: rollback.nextState, reading: reading(20), now: at(10) }),
    );
    expect(tooSoon.onboard).toEqual([]);
    const resumed = decideRolloutStep(
      input({ pending: ["a", "b", "c", "d"], state: rollback.nextState, reading: reading(20), now: at(20) }),
    );
    // The rollback taught it that one API adds about (85 − 40) / 2 = 22.5 points: one fits under 55.
    expect(resumed.onboard).toEqual(["c"]);
    expect(rolloutOrder(["a", "b", "c", "d"], rollback.nextState.rolledBack)).toEqual(["c", "d", "a", "b"]);
  });

  it("does not roll back a step that has long been confirmed", () => {
    const step = decideRolloutStep(input({ pending: ["a", "b"], reading: reading(40) }));
    const decision = decideRolloutStep(
      input({ onboarded: ["a", "b"], state: step.nextState, reading: reading(90), now: at(24 * 60) }),
    );
    expect(decision.offboard).toEqual([]);
  });

  it("takes no step until the metric shows a full minute after the last one", () => {
    const step = decideRolloutStep(input({ pending: names(10), reading: reading(20) }));
    const stale = { ...reading(20), latestAt: at(-1).toISOString() };
    const decision = decideRolloutStep(
      input({ pending: names(10).slice(2), state: step.nextState, reading: stale, now: at(12) }),
    );
    expect(decision.onboard).toEqual([]);
    expect(decision.perApi.get("api-002")?.reason).toMatch(/waiting for Capacity to show a full minute/);
    const fresh = { ...reading(20), latestAt: at(1).toISOString() };
    expect(
      decideRolloutStep(
        input({ pending: names(10).slice(2), state: step.nextState, reading: fresh, now: at(12) }),
      ).onboard,
    ).toHaveLength(4);
  });

  it("paces steps by the configured interval", () => {
    const step = decideRolloutStep(input({ pending: names(10), reading: reading(20) }));
    const early = decideRolloutStep(
      input({ pending: names(10).slice(2), onboarded: step.onboard, state: step.nextState, now: at(4) }),
    );
    expect(early.onboard).toEqual([]);
    expect(early.nextLookSeconds).toBe(360);
    expect(early.perApi.get("api-002")?.reason).toMatch(/not before 2026-11-25T10:10:00.000Z/);
    const onTime = decideRolloutStep(
      input({ pending: names(10).slice(2), onboarded: step.onboard, state: step.nextState, now: at(10) }),
    );
    expect(onTime.onboard).toEqual(["api-002", "api-003", "api-004", "api-005"]);
  });

  it("grows batches while a step costs little of the room left, and shrinks them as capacity nears the limit", () => {
    const state: RolloutState = {
      ...initialRolloutState(SERVICE, settings),
      batchSize: 8,
      steps: 3,
      lastStepAt: at(-10).toISOString(),
      lastBatch: names(8),
      readingBeforeLastStep: 45,
    };
    const pending = names(200).slice(8);
    const after = (percent: number) =>
      decideRolloutStep(input({ pending, state, reading: reading(percent) })).nextState.batchSize;
    // Room left is 60 − 2 − reading. The step rose 0.4 of 12.6 points: cheap, double.
    expect(after(45.4)).toBe(16);
    // Rose 3 of 10 left: keep. Rose 6 of 7 left: halve.
    expect(after(48)).toBe(8);
    expect(after(51)).toBe(4);
    // A busy instance far above half the limit still grows while each step is cheap.
    expect(decideRolloutStep(input({ pending, state, reading: reading(45.4) })).onboard).toHaveLength(16);
    expect(
      decideRolloutStep(
        input({
          pending,
          state: { ...state, batchSize: 50, readingBeforeLastStep: 10 },
          reading: reading(10),
        }),
      ).onboard,
    ).toHaveLength(50);
  });

  it("caps a batch by the headroom the measured load per API leaves, with a margin", () => {
    // The last step of 4 APIs raised the reading from 30 to 42: 3 points per API.
    const state: RolloutState = {
      ...initialRolloutState(SERVICE, settings),
      batchSize: 8,
      steps: 2,
      lastStepAt: at(-10).toISOString(),
      lastBatch: ["w", "x", "y", "z"],
      readingBeforeLastStep: 30,
    };
    const decision = decideRolloutStep(input({ pending: names(20), state, reading: reading(42) }));
    // (60 − 2 − 42) / (1.5 × 3) = 3.6: three APIs fit.
    expect(decision.onboard).toHaveLength(3);
    expect(decision.nextState.perApiEstimate).toBeCloseTo(3);
  });

  it("learns from a step once, so waiting for hours does not wear its estimate down", () => {
    const state: RolloutState = {
      ...initialRolloutState(SERVICE, settings),
      batchSize: 2,
      steps: 5,
      lastStepAt: at(-10).toISOString(),
      lastBatch: ["w", "x"],
      readingBeforeLastStep: 56,
      perApiEstimate: 0.4,
    };
    // The step raised the reading from 56 to 57.5: 0.75 per API, and (58 − 57.5) / (1.5 × 0.75) < 1.
    const full = decideRolloutStep(input({ pending: names(50), state, reading: reading(57.5) }));
    expect(full.onboard).toEqual([]);
    expect(full.nextState.readingBeforeLastStep).toBeUndefined();
    // Hours later a dip in the reading does not re-learn from that old step.
    const later = decideRolloutStep(
      input({ pending: names(50), state: full.nextState, reading: reading(57.3), now: at(300) }),
    );
    expect(later.nextState.perApiEstimate).toBe(full.nextState.perApiEstimate);
    expect(later.onboard).toEqual([]);
  });

  it("asks for a scale-out after 24 hours without room for another API, without flipping back on dips", () => {
    const state: RolloutState = {
      ...initialRolloutState(SERVICE, settings),
      steps: 5,
      lastStepAt: at(-10).toISOString(),
      lastBatch: ["w"],
      perApiEstimate: 0.4,
    };
    const waiting = decideRolloutStep(input({ pending: ["a"], state, reading: reading(57.9) }));
    expect(waiting.perApi.get("a")?.kind).toBe("waiting");
    const overLimit = decideRolloutStep(
      input({ pending: ["a"], state: waiting.nextState, reading: reading(61), now: at(12 * 60) }),
    );
    expect(overLimit.nextState.waitingSince).toBe(T0.toISOString());
    const dip = decideRolloutStep(
      input({ pending: ["a"], state: overLimit.nextState, reading: reading(57.6), now: at(24 * 60) }),
    );
    expect(dip.perApi.get("a")).toEqual({
      kind: "manual",
      reason: `scale out: capacity 57.6% leaves no room under the 60% limit for another API (about 0.4 points each) since ${T0.toISOString()}`,
    });
  });

  it("still takes one API at a time when only the safety factor keeps it out, so a noisy estimate is measured again", () => {
    const state: RolloutState = {
      ...initialRolloutState(SERVICE, settings),
      steps: 4,
      lastStepAt: at(-10).toISOString(),
      lastBatch: ["w"],
      perApiEstimate: 0.06,
    };
    // 58 − 57.91 = 0.09 points of room: one API at 0.06 fits, though not at 1.5 × 0.06.
    expect(decideRolloutStep(input({ pending: ["a", "b"], state, reading: reading(57.91) })).onboard).toEqual(
      ["a"],
    );
    expect(decideRolloutStep(input({ pending: ["a", "b"], state, reading: reading(57.95) })).onboard).toEqual(
      [],
    );
  });

  it("waits for a running onboarding before the next step", () => {
    const decision = decideRolloutStep(input({ pending: ["b"], inProgress: ["a"] }));
    expect(decision.onboard).toEqual([]);
    expect(decision.perApi.get("b")?.reason).toMatch(/1 onboarding\(s\) of the last step to finish/);
  });

  it("stops looking once everything is onboarded and the last step is confirmed", () => {
    const step = decideRolloutStep(input({ pending: ["a"] }));
    const watching = decideRolloutStep(input({ onboarded: ["a"], state: step.nextState, now: at(10) }));
    expect(watching.nextLookSeconds).toBeGreaterThan(0);
    const done = decideRolloutStep(input({ onboarded: ["a"], state: step.nextState, now: at(61) }));
    expect(done.nextLookSeconds).toBeUndefined();
    expect(done.onboard).toEqual([]);
  });
});

describe("decideRolloutStep properties", () => {
  const apiName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,11}$/);
  const percent = fc.option(fc.double({ min: 0, max: 100, noNaN: true }), { nil: undefined });
  const stateArb = fc.record({
    batchSize: fc.integer({ min: 1, max: 50 }),
    steps: fc.nat(20),
    rollbacks: fc.nat(5),
    minutesSinceStep: fc.option(fc.integer({ min: 0, max: 3000 }), { nil: undefined }),
    lastBatchCount: fc.nat(5),
    readingBefore: fc.option(fc.double({ min: 0, max: 100, noNaN: true }), { nil: undefined }),
  });

  it("never onboards outside the pending list, never twice, never at or over the limit, and skips nothing", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(apiName, { maxLength: 60, selector: (n) => n.toLowerCase() }),
        fc.nat(60),
        percent,
        stateArb,
        (all, onboardedCount, capacity, s) => {
          const onboarded = all.slice(0, Math.min(onboardedCount, all.length));
          const pending = all.slice(onboarded.length);
          const state: RolloutState = {
            ...initialRolloutState(SERVICE, settings),
            batchSize: s.batchSize,
            steps: s.steps,
            rollbacks: s.rollbacks,
            lastStepAt: s.minutesSinceStep === undefined ? undefined : at(-s.minutesSinceStep).toISOString(),
            lastBatch: onboarded.slice(0, s.lastBatchCount),
            readingBeforeLastStep: s.readingBefore,
          };
          const decision = decideRolloutStep(
            input({ pending, onboarded, state, reading: reading(capacity) }),
          );
          const expectedOrder = rolloutOrder(pending, state.rolledBack);
          expect(decision.onboard).toEqual(expectedOrder.slice(0, decision.onboard.length));
          expect(decision.onboard.length).toBeLessThanOrEqual(settings.maxBatchSize);
          if (capacity === undefined || capacity >= settings.limitPercent)
            expect(decision.onboard).toEqual([]);
          for (const name of decision.offboard) expect(state.lastBatch).toContain(name);
          if (decision.offboard.length > 0) expect(decision.onboard).toEqual([]);
          for (const name of pending) expect(decision.perApi.has(name)).toBe(true);
          expect(decision.nextState.batchSize).toBeGreaterThanOrEqual(1);
          // The same input always gives the same step: a re-run neither skips nor repeats.
          expect(decideRolloutStep(input({ pending, onboarded, state, reading: reading(capacity) }))).toEqual(
            decision,
          );
        },
      ),
    );
  });

  it("onboards every API exactly once over a rollout on an instance with room", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.double({ min: 0, max: 40, noNaN: true }),
        fc.double({ min: 0, max: 0.06, noNaN: true }),
        (count, base, perApi) => {
          const all = names(count);
          const onboarded: string[] = [];
          const onboardedAt = new Map<string, number>();
          let state: RolloutState | undefined;
          for (let minute = 0; minute < 14 * 24 * 60 && onboarded.length < count; minute += 1) {
            const load = base + perApi * onboarded.length;
            const decision = decideRolloutStep(
              input({
                pending: all.filter((n) => !onboardedAt.has(n)),
                onboarded,
                state,
                reading: reading(load),
                now: at(minute),
              }),
            );
            expect(decision.offboard).toEqual([]);
            for (const name of decision.onboard) {
              expect(onboardedAt.has(name)).toBe(false);
              onboardedAt.set(name, minute);
              onboarded.push(name);
            }
            state = decision.nextState;
          }
          expect(onboarded).toHaveLength(count);
          expect(onboarded).toEqual(all);
        },
      ),
      { numRuns: 40 },
    );
  });
});
