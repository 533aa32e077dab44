import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CapacityReading } from "../../src/model/apim.js";
import {
  decideRolloutStep,
  initialRolloutState,
  recordApplied,
  rolloutOrder,
} from "../../src/rollout/controller.js";
import { rolloutSettings } from "../../src/rollout/settings.js";
import type {
  AppliedStep,
  RolloutDecision,
  RolloutInput,
  RolloutState,
  StepRecord,
} from "../../src/rollout/types.js";

const SERVICE = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim";
const settings = rolloutSettings({ capacityLimit: 60, rolloutIntervalMinutes: 10 });
const T0 = new Date("2026-11-25T10:00:00Z");

function at(minutes: number): Date {
  return new Date(T0.getTime() + minutes * 60_000);
}

function iso(minutes: number): string {
  return at(minutes).toISOString();
}

function reading(percent: number | undefined): CapacityReading {
  return {
    metric: "Capacity",
    percent,
    latestPercent: percent,
    perRegion: percent === undefined ? {} : { "West Europe": percent },
    windowStart: "",
    windowEnd: "",
  };
}

/** Unless a test says otherwise, the metric's newest point is the minute before `now`, in a 15-minute window. */
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
    reading: {
      ...given,
      latestAt: given.latestAt ?? new Date(now.getTime() - 60_000).toISOString(),
      windowStart: given.windowStart || new Date(now.getTime() - 15 * 60_000).toISOString(),
      windowEnd: given.windowEnd || now.toISOString(),
    },
  };
}

/** What the engine records once the step's writes returned: by default, everything went through. */
function applied(decision: RolloutDecision, at: Date, result: Partial<AppliedStep> = {}): RolloutState {
  return recordApplied(decision.nextState, decision, {
    at,
    unfinished: [],
    onboardCodes: [],
    notOffboarded: [],
    offboardCodes: [],
    ...result,
  });
}

/** A step taken `minutesAgo` before T0, applied at once, not yet judged. */
function stepRecord(batch: readonly string[], readingBefore: number, minutesAgo = 10): StepRecord {
  return {
    at: iso(-minutesAgo),
    batch,
    readingBefore,
    applied: { at: iso(-minutesAgo), codes: [] },
    settledAt: iso(-minutesAgo),
  };
}

function stateWith(overrides: Partial<RolloutState>): RolloutState {
  return { ...initialRolloutState(SERVICE, settings), ...overrides };
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
      lastStep: { batch: ["accounts", "Billing"], readingBefore: 20, at: T0.toISOString() },
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

  it("waits at the limit with the scale-out advice, and hands over to a person after 24 hours", () => {
    const first = decideRolloutStep(input({ pending: ["a"], reading: reading(60) }));
    expect(first.onboard).toEqual([]);
    expect(first.perApi.get("a")).toMatchObject({ kind: "waiting" });
    expect(first.perApi.get("a")?.reason).toBe(
      "capacity 60% is at or over the 60% limit; onboarding waits (scale out the instance or lower its load for it to go on)",
    );
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
    const waiting = stateWith({ waitingSince: iso(-600) });
    const decision = decideRolloutStep(input({ pending: ["a"], state: waiting, reading: reading(30) }));
    expect(decision.onboard).toEqual(["a"]);
    expect(decision.nextState.waitingSince).toBeUndefined();
  });

  it("takes no step until the metric shows the last one settled, 5 minutes after it finished", () => {
    const step = decideRolloutStep(input({ pending: names(10), reading: reading(20) }));
    const state = applied(step, at(0));
    const rest = { pending: names(10).slice(2), onboarded: step.onboard, state, now: at(12) };
    const stale = { ...reading(20), latestAt: iso(4) };
    const decision = decideRolloutStep(input({ ...rest, reading: stale }));
    expect(decision.onboard).toEqual([]);
    expect(decision.perApi.get("api-002")?.reason).toMatch(
      /waiting for Capacity to show the last onboardings/,
    );
    const fresh = { ...reading(20), latestAt: iso(5) };
    expect(decideRolloutStep(input({ ...rest, reading: fresh })).onboard).toHaveLength(4);
  });

  it("paces steps by the configured interval", () => {
    const step = decideRolloutStep(input({ pending: names(10), reading: reading(20) }));
    const state = applied(step, at(0));
    const early = decideRolloutStep(
      input({ pending: names(10).slice(2), onboarded: step.onboard, state, now: at(4) }),
    );
    expect(early.onboard).toEqual([]);
    expect(early.nextLookSeconds).toBe(360);
    expect(early.perApi.get("api-002")?.reason).toMatch(/not before 2026-11-25T10:10:00.000Z/);
    const onTime = decideRolloutStep(
      input({ pending: names(10).slice(2), onboarded: step.onboard, state, now: at(10) }),
    );
    expect(onTime.onboard).toEqual(["api-002", "api-003", "api-004", "api-005"]);
  });

  it("grows batches while a step costs little of the room left, and shrinks them as capacity nears the limit", () => {
    const state = stateWith({ batchSize: 8, steps: 3, lastStep: stepRecord(names(8), 45) });
    const pending = names(200).slice(8);
    const onboarded = names(8);
    const after = (percent: number) =>
      decideRolloutStep(input({ pending, onboarded, state, reading: reading(percent) })).nextState.batchSize;
    // Room left is 60 − 2 − reading. The step rose 0.4 of 12.6 points: cheap, double.
    expect(after(45.4)).toBe(16);
    // Rose 3 of 10 left: keep. Rose 6 of 7 left: halve.
    expect(after(48)).toBe(8);
    expect(after(51)).toBe(4);
    expect(
      decideRolloutStep(input({ pending, onboarded, state, reading: reading(45.4) })).onboard,
    ).toHaveLength(16);
  });

  it("caps a batch by the headroom the measured load per API leaves, with a margin", () => {
    // The last step of 4 APIs raised the reading from 30 to 42: 3 points per API.
    const state = stateWith({ batchSize: 8, steps: 2, lastStep: stepRecord(["w", "x", "y", "z"], 30) });
    const decision = decideRolloutStep(
      input({ pending: names(20), onboarded: ["w", "x", "y", "z"], state, reading: reading(42) }),
    );
    // (60 − 2 − 42) / (1.5 × 3) = 3.6: three APIs fit.
    expect(decision.onboard).toHaveLength(3);
    expect(decision.nextState.perApiEstimate).toBeCloseTo(3);
  });

  it("learns from a step once, so waiting for hours does not wear its estimate down", () => {
    const state = stateWith({ steps: 5, lastStep: stepRecord(["w", "x"], 56), perApiEstimate: 0.4 });
    // The step raised the reading from 56 to 57.5: 0.75 per API, and (58 − 57.5) / (1.5 × 0.75) < 1.
    const full = decideRolloutStep(
      input({ pending: names(50), onboarded: ["w", "x"], state, reading: reading(57.5) }),
    );
    expect(full.onboard).toEqual([]);
    expect(full.nextState.lastStep?.judged).toBe("measured");
    const later = decideRolloutStep(
      input({
        pending: names(50),
        onboarded: ["w", "x"],
        state: full.nextState,
        reading: reading(57.3),
        now: at(300),
      }),
    );
    expect(later.nextState.perApiEstimate).toBe(full.nextState.perApiEstimate);
    expect(later.onboard).toEqual([]);
  });

  it("asks for a scale-out after 24 hours without room for another API, without flipping back on dips", () => {
    const state = stateWith({
      steps: 5,
      lastStep: { ...stepRecord(["w"], 57), judged: "measured" },
      perApiEstimate: 0.4,
    });
    const rest = { pending: ["a"], onboarded: ["w"] };
    const waiting = decideRolloutStep(input({ ...rest, state, reading: reading(57.9) }));
    expect(waiting.perApi.get("a")?.kind).toBe("waiting");
    const overLimit = decideRolloutStep(
      input({ ...rest, state: waiting.nextState, reading: reading(61), now: at(12 * 60) }),
    );
    expect(overLimit.nextState.waitingSince).toBe(T0.toISOString());
    const dip = decideRolloutStep(
      input({ ...rest, state: overLimit.nextState, reading: reading(57.6), now: at(24 * 60) }),
    );
    expect(dip.perApi.get("a")).toEqual({
      kind: "manual",
      reason: `scale out: capacity 57.6% leaves no room under the 60% limit for another API (about 0.4 points each) since ${T0.toISOString()}`,
    });
  });

  it("still takes one API at a time when only the safety factor keeps it out, so a noisy estimate is measured again", () => {
    const state = stateWith({
      steps: 4,
      lastStep: { ...stepRecord(["w"], 57.9), judged: "measured" },
      perApiEstimate: 0.06,
    });
    const rest = { pending: ["a", "b"], onboarded: ["w"], state };
    // 58 − 57.91 = 0.09 points of room: one API at 0.06 fits, though not at 1.5 × 0.06.
    expect(decideRolloutStep(input({ ...rest, reading: reading(57.91) })).onboard).toEqual(["a"]);
    expect(decideRolloutStep(input({ ...rest, reading: reading(57.95) })).onboard).toEqual([]);
  });

  it("waits for a running onboarding before the next step", () => {
    const decision = decideRolloutStep(input({ pending: ["b"], inProgress: ["a"] }));
    expect(decision.onboard).toEqual([]);
    expect(decision.perApi.get("b")?.reason).toMatch(/waiting for 1 onboarding\(s\) to finish/);
    expect(decision.perApi.get("a")?.kind).toBe("waiting");
  });

  it("stops looking once everything is onboarded and the last step is confirmed", () => {
    const step = decideRolloutStep(input({ pending: ["a"] }));
    const state = applied(step, at(0));
    const watching = decideRolloutStep(input({ onboarded: ["a"], state, now: at(10) }));
    expect(watching.nextLookSeconds).toBeGreaterThan(0);
    const done = decideRolloutStep(input({ onboarded: ["a"], state: watching.nextState, now: at(61) }));
    expect(done.nextLookSeconds).toBeUndefined();
    expect(done.onboard).toEqual([]);
  });
});

describe("learning only from what happened", () => {
  it("learns nothing from a step whose onboardings all failed, and counts it against the error budget", () => {
    const state = stateWith({ batchSize: 4, steps: 3, perApiEstimate: 2 });
    const step = decideRolloutStep(input({ pending: names(20), state, reading: reading(30) }));
    expect(step.onboard).toHaveLength(4);
    const failed = applied(step, at(0), { onboardCodes: ["InternalServerError", "Conflict"] });
    // Nothing was onboarded: the reading did not move, which says nothing about the load per API.
    const next = decideRolloutStep(
      input({ pending: names(20), state: failed, reading: reading(30), now: at(10) }),
    );
    expect(next.nextState.perApiEstimate).toBe(2);
    expect(next.nextState.batchSize).toBe(4);
    expect(next.nextState.failures).toEqual({
      steps: 1,
      since: T0.toISOString(),
      lastAt: T0.toISOString(),
      codes: ["InternalServerError", "Conflict"],
    });
    // The failed APIs are first in line again, in a batch no larger than before.
    expect(next.onboard).toEqual(names(4));
  });

  it("measures a step by the APIs Azure shows onboarded, not by the batch it claimed", () => {
    const state = stateWith({ batchSize: 4, steps: 3, perApiEstimate: 1 });
    const step = decideRolloutStep(input({ pending: names(20), state, reading: reading(30) }));
    const partly = applied(step, at(0), { onboardCodes: ["InternalServerError"] });
    // One of four went through and the reading rose 3 points: 3 per API, not 0.75.
    const next = decideRolloutStep(
      input({
        pending: names(20).slice(1),
        onboarded: ["api-000"],
        state: partly,
        reading: reading(33),
        now: at(10),
      }),
    );
    expect(next.nextState.perApiEstimate).toBeCloseTo(3);
    expect(next.nextState.failures).toBeUndefined();
  });

  it("pauses after three failed steps in a row with their codes, tries again after 30 minutes, and asks a person after a day", () => {
    let state: RolloutState | undefined;
    let minute = 0;
    const run = (percent = 30) =>
      decideRolloutStep(input({ pending: names(6), state, reading: reading(percent), now: at(minute) }));
    for (let failed = 0; failed < 3; failed += 1) {
      const step = run();
      expect(step.onboard.length).toBeGreaterThan(0);
      state = applied(step, at(minute), { onboardCodes: ["InternalServerError"] });
      minute += 10;
    }
    const paused = run();
    expect(paused.onboard).toEqual([]);
    expect(paused.details.decision).toBe("pause");
    expect(paused.perApi.get("api-000")).toEqual({
      kind: "waiting",
      reason:
        "3 rollout step(s) in a row onboarded nothing (InternalServerError); paused until 2026-11-25T10:50:00.000Z",
      retryAfterSeconds: 1200,
    });
    minute = 50;
    const retry = run();
    expect(retry.onboard.length).toBeGreaterThan(0);
    state = applied(retry, at(minute), { onboardCodes: ["InternalServerError"] });
    minute = 60;
    expect(run().details.decision).toBe("pause");

    // A day of that: a person's job, with the codes and what to do; it still tries every 30 minutes.
    while (minute < 24 * 60 + 30) {
      const decision = run();
      if (decision.onboard.length > 0) {
        state = applied(decision, at(minute), { onboardCodes: ["InternalServerError"] });
      } else {
        state = decision.nextState;
      }
      minute += 10;
    }
    const manual = run();
    expect(manual.perApi.get("api-005")?.kind).toBe("manual");
    expect(manual.perApi.get("api-005")?.reason).toMatch(
      /^onboarding has failed since 2026-11-25T10:00:00.000Z: \d+ rollout step\(s\) in a row onboarded nothing \(InternalServerError\); fix the cause/,
    );

    // Once the fault clears, the next step succeeds and the streak ends.
    minute += 30;
    const clear = run();
    expect(clear.onboard.length).toBeGreaterThan(0);
    state = applied(clear, at(minute));
    minute += 10;
    const after = decideRolloutStep(
      input({
        pending: names(6).filter((n) => !clear.onboard.includes(n)),
        onboarded: [...clear.onboard],
        state,
        reading: reading(31),
        now: at(minute),
      }),
    );
    expect(after.nextState.failures).toBeUndefined();
    expect(after.onboard.length).toBeGreaterThan(0);
  });

  it("judges a step whose run died before recording it from what Azure shows, after 30 minutes", () => {
    const step = decideRolloutStep(input({ pending: names(6), reading: reading(30) }));
    // The run died right after claiming: no PUT went out, nothing was recorded.
    const soon = decideRolloutStep(
      input({ pending: names(6), state: step.nextState, reading: reading(30), now: at(15) }),
    );
    expect(soon.onboard).toEqual([]);
    expect(soon.perApi.get("api-000")?.reason).toBe("the last rollout step is still being applied");
    const later = decideRolloutStep(
      input({ pending: names(6), state: step.nextState, reading: reading(30), now: at(30) }),
    );
    expect(later.nextState.failures?.codes).toEqual(["StepInterrupted"]);
    expect(later.nextState.batchSize).toBe(2);
    expect(later.nextState.perApiEstimate).toBeUndefined();
    expect(later.onboard).toEqual(["api-000", "api-001"]);
  });

  it("measures a step whose run died after onboarding, once the metric shows it", () => {
    const step = decideRolloutStep(input({ pending: names(6), reading: reading(30) }));
    const rest = { pending: names(6).slice(2), onboarded: ["api-000", "api-001"], reading: reading(36) };
    const seen = decideRolloutStep(input({ ...rest, state: step.nextState, now: at(30) }));
    // Settled as this run saw it; the load shows 5 minutes on.
    expect(seen.nextState.lastStep?.settledAt).toBe(iso(30));
    expect(seen.onboard).toEqual([]);
    const measured = decideRolloutStep(input({ ...rest, state: seen.nextState, now: at(36) }));
    expect(measured.nextState.perApiEstimate).toBeCloseTo(3);
    expect(measured.nextState.failures).toBeUndefined();
  });
});

describe("rollbacks", () => {
  const onTrial = () => {
    const step = decideRolloutStep(input({ pending: ["a", "b", "c", "d"], reading: reading(40) }));
    return { ...applied(step, at(0)), batchSize: 8 };
  };

  it("rolls back the last batch when capacity crosses the critical level after a step, and slows down", () => {
    const state = onTrial();
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
      rolledBack: ["a", "b"],
      rollback: { since: iso(5), apis: ["a", "b"], codes: [] },
    });
    expect(rollback.nextState.lastStep).toBeUndefined();

    // The DELETEs went through: the rollback is done, and cleared once the reading is all from after it.
    const done = applied(rollback, at(5));
    const settling = decideRolloutStep(
      input({ pending: ["a", "b", "c", "d"], state: done, reading: reading(40), now: at(15) }),
    );
    expect(settling.onboard).toEqual([]);
    expect(settling.perApi.get("c")?.reason).toMatch(/waiting for the metric to show the rollback/);
    const resumed = decideRolloutStep(
      input({ pending: ["a", "b", "c", "d"], state: settling.nextState, reading: reading(20), now: at(25) }),
    );
    // The rollback taught it that one API adds about (85 − 40) / 2 = 22.5 points: one fits under 58.
    expect(resumed.nextState.rollback).toBeUndefined();
    expect(resumed.onboard).toEqual(["c"]);
    expect(rolloutOrder(["a", "b", "c", "d"], rollback.nextState.rolledBack)).toEqual(["c", "d", "a", "b"]);
  });

  it("retries a rollback that failed on every run, takes no new step meanwhile, and hands over after an hour", () => {
    const state = onTrial();
    const rollback = decideRolloutStep(
      input({ pending: ["c", "d"], onboarded: ["a", "b"], state, reading: reading(85), now: at(5) }),
    );
    // Only "a" went; "b" answered 409.
    let owed = applied(rollback, at(5), { notOffboarded: ["b"], offboardCodes: ["Conflict"] });
    expect(owed.rollback).toMatchObject({ apis: ["b"], codes: ["Conflict"] });
    for (const minute of [7, 30, 64]) {
      const retry = decideRolloutStep(
        input({
          pending: ["a", "c", "d"],
          onboarded: ["b"],
          state: owed,
          reading: reading(20),
          now: at(minute),
        }),
      );
      expect(retry.offboard).toEqual(["b"]);
      expect(retry.onboard).toEqual([]);
      expect(retry.perApi.get("b")?.kind).toBe("rolled-back");
      expect(retry.perApi.get("c")?.reason).toMatch(/waiting for the rollback of 1 API\(s\) to finish/);
      owed = applied(retry, at(minute), { notOffboarded: ["b"], offboardCodes: ["Conflict"] });
    }
    const overdue = decideRolloutStep(
      input({ pending: ["a", "c", "d"], onboarded: ["b"], state: owed, reading: reading(20), now: at(65) }),
    );
    expect(overdue.offboard).toEqual(["b"]);
    expect(overdue.perApi.get("b")).toEqual({
      kind: "manual",
      reason: `rollback of 1 API(s) failed (Conflict) since ${iso(5)}: offboard them or scale out; onboarding stays paused until they are gone`,
    });
    // Someone offboarded it (or the fault cleared): a collection that is gone counts as done.
    const gone = decideRolloutStep(
      input({ pending: ["a", "b", "c", "d"], state: overdue.nextState, reading: reading(20), now: at(70) }),
    );
    expect(gone.offboard).toEqual([]);
    expect(gone.nextState.rollback).toMatchObject({ apis: [], doneAt: iso(70) });
  });

  it("never offboards what it did not onboard: an unexplained critical reading pauses and asks a person", () => {
    // Nothing of ours on trial: APIs onboarded by hand, or traffic.
    const decision = decideRolloutStep(
      input({ pending: ["c"], onboarded: ["a", "b"], reading: reading(90) }),
    );
    expect(decision.offboard).toEqual([]);
    expect(decision.onboard).toEqual([]);
    expect(decision.perApi.get("c")).toEqual({
      kind: "manual",
      reason:
        "capacity reached 90%, over the critical 80%, and no recent step of autoprotect's explains it (APIs " +
        "onboarded by hand, or traffic): onboarding is paused until capacity is under the limit; scale out or find the cause",
    });
    // A step of ours that onboarded nothing is not to blame either.
    const failedStep = { ...onTrial(), batchSize: 2 };
    const still = decideRolloutStep(
      input({ pending: ["a", "b", "c", "d"], state: failedStep, reading: reading(90), now: at(5) }),
    );
    expect(still.offboard).toEqual([]);
    expect(still.perApi.get("a")?.kind).toBe("manual");
  });

  it("does not roll back a step that has long been confirmed", () => {
    const state = onTrial();
    const decision = decideRolloutStep(
      input({ onboarded: ["a", "b"], state, reading: reading(90), now: at(24 * 60) }),
    );
    expect(decision.offboard).toEqual([]);
  });
});

describe("stuck onboardings", () => {
  it("turns an onboarding in progress for an hour manual, and goes on with the others counting its load", () => {
    const state = stateWith({
      batchSize: 8,
      steps: 4,
      perApiEstimate: 4,
      lastStep: { ...stepRecord(["stuck"], 20, 120), judged: "measured" },
    });
    const first = decideRolloutStep(input({ pending: names(10), inProgress: ["stuck"], state }));
    expect(first.onboard).toEqual([]);
    expect(first.nextState.inProgressSince).toEqual({ stuck: T0.toISOString() });
    const hour = decideRolloutStep(
      input({ pending: names(10), inProgress: ["stuck"], state: first.nextState, now: at(60) }),
    );
    expect(hour.perApi.get("stuck")).toEqual({
      kind: "manual",
      reason:
        `onboarding to Defender for APIs has been in progress since ${T0.toISOString()}, longer than 60 ` +
        "minutes: look at the API's collection in Defender for Cloud, or delete it so that autoprotect onboards the API again",
    });
    // Room is 58 − 20 = 38 points, less 4 for the stuck one: 34 / (1.5 × 4) = 5.7, so 5 (batch 8).
    expect(hour.onboard).toEqual(names(5));
  });
});

describe("onboardings that finish late", () => {
  it("waits for the metric to show one that finished since the last run, and shares the rise among all that finished", () => {
    const running = stateWith({
      batchSize: 4,
      perApiEstimate: 5,
      inProgressSince: { late: iso(-90) },
      lastStep: { ...stepRecord(["a"], 20), onboardedBefore: 0 },
    });
    // "late" (stuck for 90 minutes) finished since the last run: its load shows in a few minutes.
    const finished = decideRolloutStep(
      input({ pending: names(10), onboarded: ["a", "late"], state: running, reading: reading(25) }),
    );
    expect(finished.onboard).toEqual([]);
    expect(finished.nextState.lateFinishAt).toBe(T0.toISOString());
    expect(finished.perApi.get("api-000")?.reason).toMatch(
      /waiting for Capacity to show the last onboardings/,
    );
    // The reading rose 10 points over the step's baseline for two APIs, not one: 5 each.
    const later = decideRolloutStep(
      input({
        pending: names(10),
        onboarded: ["a", "late"],
        state: finished.nextState,
        reading: reading(30),
        now: at(6),
      }),
    );
    expect(later.nextState.lateFinishAt).toBeUndefined();
    expect(later.nextState.perApiEstimate).toBeCloseTo(5);
    expect(later.onboard.length).toBeGreaterThan(0);
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
    readingBefore: fc.double({ min: 0, max: 100, noNaN: true }),
    judged: fc.constantFrom(undefined, "failed" as const, "measured" as const),
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
          const state = stateWith({
            batchSize: s.batchSize,
            steps: s.steps,
            rollbacks: s.rollbacks,
            ...(s.minutesSinceStep === undefined
              ? {}
              : {
                  lastStep: {
                    ...stepRecord(onboarded.slice(0, s.lastBatchCount), s.readingBefore, s.minutesSinceStep),
                    ...(s.judged === undefined ? {} : { judged: s.judged }),
                  },
                }),
          });
          const decision = decideRolloutStep(
            input({ pending, onboarded, state, reading: reading(capacity) }),
          );
          const expectedOrder = rolloutOrder(pending, state.rolledBack);
          expect(decision.onboard).toEqual(expectedOrder.slice(0, decision.onboard.length));
          expect(decision.onboard.length).toBeLessThanOrEqual(settings.maxBatchSize);
          if (capacity === undefined || capacity >= settings.limitPercent)
            expect(decision.onboard).toEqual([]);
          for (const name of decision.offboard) expect(state.lastStep?.batch).toContain(name);
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
            state = applied(decision, at(minute));
          }
          expect(onboarded).toHaveLength(count);
          expect(onboarded).toEqual(all);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe("a person's pause", () => {
  const paused = (state: RolloutState = initialRolloutState(SERVICE, settings)): RolloutState => ({
    ...state,
    paused: { since: iso(-60), by: "ops on laptop (autoprotect CLI)", note: "Black Friday" },
  });

  it("takes no step, whatever the capacity, and keeps every pending API waiting with the pause in the reason", () => {
    const decision = decideRolloutStep(
      input({ state: paused(), pending: ["a", "b", "c"], reading: reading(5) }),
    );
    expect(decision.onboard).toEqual([]);
    expect(decision.details.decision).toBe("paused");
    for (const name of ["a", "b", "c"]) {
      const status = decision.perApi.get(name);
      expect(status?.kind).toBe("waiting");
      expect(status?.kind === "waiting" && status.reason).toMatch(/rollout paused by ops .*\(Black Friday\)/);
    }
    expect(decision.nextState.paused).toBeDefined();
  });

  it("is never escalated to manual, even after days of an instance over its limit", () => {
    const waiting = { ...paused(), waitingSince: iso(-5 * 24 * 60) };
    const decision = decideRolloutStep(input({ state: waiting, pending: ["a"], reading: reading(95) }));
    expect(decision.perApi.get("a")?.kind).toBe("waiting");
    // Waiting for capacity starts again after the resume, not from before the pause.
    expect(decision.nextState.waitingSince).toBeUndefined();
  });

  it("still rolls back its own last step on a critical reading: that takes load off the instance", () => {
    const state = paused({
      ...initialRolloutState(SERVICE, settings),
      steps: 1,
      lastStep: stepRecord(["a"], 20),
    });
    const decision = decideRolloutStep(
      input({ state, onboarded: ["a"], pending: ["b"], reading: reading(95) }),
    );
    expect(decision.offboard).toEqual(["a"]);
    expect(decision.onboard).toEqual([]);
  });

  it("records what each look saw for rollout status", () => {
    const decision = decideRolloutStep(
      input({ pending: ["a", "b", "c"], onboarded: ["z"], reading: reading(20) }),
    );
    expect(decision.nextState.lastLook).toMatchObject({
      at: T0.toISOString(),
      decision: "step",
      metric: "Capacity",
      percent: 20,
      onboarded: 1,
      pending: 3,
      inProgress: 0,
    });
  });
});
