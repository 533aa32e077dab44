/**
 * API onboarding when things fail, through the engine, the real SDK clients and the simulator's fault
 * injection: failed steps, failed rollbacks, stuck onboardings, a damaged rollout state, unreadable
 * listings, and audit mode deciding as enforce does. (The many-run properties are in
 * test/rollout/faults.test.ts, against a model.)
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ArmResource } from "../../sim/index.js";
import { rolloutKeyHash } from "../../src/rollout/state-store.js";
import type { RolloutState } from "../../src/rollout/types.js";
import { apimService, collectionId, serviceId } from "../support/sim.js";
import type { TestWorld } from "../support/azure.js";
import {
  MINUTE,
  apiOutcomes,
  apimEstate,
  apis,
  collectionWrites,
  startApimWorld as startApim,
} from "./apim-world.js";

let world: TestWorld | undefined;
afterEach(async () => {
  await world?.sim.close();
  world = undefined;
});

async function startApimWorld(...args: Parameters<typeof startApim>) {
  const started = await startApim(...args);
  world = started.world;
  return started;
}

const COLLECTION_PUT = /\/providers\/Microsoft\.Security\/apiCollections\/[^/]+$/i;

function collection(service: string, api: string, provisioningState: string): ArmResource {
  return {
    id: collectionId(service, api),
    name: api,
    type: "Microsoft.Security/apiCollections",
    properties: { provisioningState },
  };
}

/** Collection PUTs of one run. */
async function putsDuring(w: TestWorld, run: () => Promise<unknown>): Promise<string[]> {
  const before = collectionWrites(w, "PUT").length;
  await run();
  return collectionWrites(w, "PUT").slice(before);
}

describe("a failed step", () => {
  it("teaches nothing: the next step is no larger, three in a row pause with the codes, and it goes on once the fault clears", async () => {
    const service = apimService("apim-dev", "Developer");
    const { world, clock, run } = await startApimWorld(
      apimEstate([service, ...apis("apim-dev", 6)], { [service.id]: { base: 20, perApi: 1 } }, "Standard"),
    );
    world.sim.injectFault({
      kind: "status",
      method: "PUT",
      path: COLLECTION_PUT,
      status: 500,
      code: "InternalServerError",
      times: 1000,
    });
    const first = await run();
    const failed = apiOutcomes(first.outcomes).get("api-000");
    expect(failed?.Status).toBe("failed");
    expect(failed?.Reason).toMatch(/^InternalServerError: /);
    expect(failed?.Details).toMatchObject({ code: "InternalServerError" });

    // Each later step retries the same two APIs: a step that onboarded nothing does not grow the batch.
    const steps: string[][] = [];
    for (let i = 0; i < 2; i += 1) {
      clock.advance(11 * MINUTE);
      steps.push(await putsDuring(world, run));
    }
    expect(steps.map((s) => [...new Set(s)])).toEqual([
      ["api-000", "api-001"],
      ["api-000", "api-001"],
    ]);

    clock.advance(11 * MINUTE);
    const paused = await run();
    expect(collectionWrites(world, "PUT").filter((n) => n === "api-002")).toEqual([]);
    const waiting = apiOutcomes(paused.outcomes).get("api-003");
    expect(waiting?.Status).toBe("deferred");
    expect(waiting?.Reason).toBe(
      "3 rollout step(s) in a row onboarded nothing (InternalServerError); paused until 2026-11-25T10:52:30.000Z",
    );
    expect(waiting?.Details).toMatchObject({ step: { decision: "pause", failedSteps: 3 } });

    world.sim.clearFaults();
    clock.advance(20 * MINUTE);
    const resumed = apiOutcomes((await run()).outcomes);
    expect(resumed.get("api-000")?.Status).toBe("remediated");
    expect(resumed.get("api-001")?.Status).toBe("remediated");
  });

  it("is judged from what Azure shows when the run that took it died after claiming it", async () => {
    const service = apimService("apim-dev", "Developer");
    const { world, clock, run } = await startApimWorld(
      apimEstate([service, ...apis("apim-dev", 4)], { [service.id]: { base: 20, perApi: 1 } }, "Standard"),
    );
    // A step claimed 40 minutes ago by a run that died before its PUTs and before recording anything.
    const claimed: RolloutState = {
      schemaVersion: 3,
      serviceId: service.id,
      batchSize: 2,
      steps: 1,
      rollbacks: 0,
      rolledBack: [],
      inProgressSince: {},
      lastStep: {
        at: new Date(clock.now().getTime() - 40 * MINUTE).toISOString(),
        batch: ["api-000", "api-001"],
        readingBefore: 20,
      },
    };
    await world.rolloutStore.put(claimed, undefined);
    const { outcomes } = await run();
    expect(collectionWrites(world, "PUT")).toEqual(["api-000", "api-001"]);
    expect(apiOutcomes(outcomes).get("api-002")?.Details).toMatchObject({
      step: { decision: "step", failureCodes: ["StepInterrupted"], batchSize: 2, perApiEstimate: null },
    });
  });
});

describe("a failed rollback", () => {
  it("is retried on every run with no new step, turns manual after an hour, and finishes once the fault clears", async () => {
    const service = apimService("apim-hot", "Developer");
    const { world, clock, run } = await startApimWorld(
      apimEstate([service, ...apis("apim-hot", 6)], { [service.id]: { base: 50, perApi: 16 } }, "Standard"),
    );
    await run();
    expect(collectionWrites(world, "PUT")).toEqual(["api-000", "api-001"]);
    world.sim.injectFault({
      kind: "status",
      method: "DELETE",
      path: COLLECTION_PUT,
      status: 409,
      code: "Conflict",
      times: 1000,
    });

    clock.advance(3 * MINUTE);
    const first = apiOutcomes((await run()).outcomes);
    expect(collectionWrites(world, "DELETE")).toEqual(["api-000", "api-001"]);
    expect(first.get("api-000")?.Status).toBe("deferred");
    expect(first.get("api-000")?.Reason).toMatch(
      /^rolling back the last step: capacity reached 82%, over the critical 80%, after a step of 2 API\(s\).*; offboarding it failed \(Conflict\) and is retried$/,
    );
    expect(first.get("api-000")?.Details).toMatchObject({ code: "Conflict", retryAfterSeconds: 120 });
    expect(first.get("api-002")?.Reason).toMatch(/waiting for the rollback of 2 API\(s\) to finish/);

    for (const minutes of [2, 30]) {
      clock.advance(minutes * MINUTE);
      const deletes = collectionWrites(world, "DELETE").length;
      await run();
      expect(collectionWrites(world, "DELETE").length - deletes).toBe(2);
    }
    clock.advance(29 * MINUTE);
    const overdue = apiOutcomes((await run()).outcomes);
    expect(overdue.get("api-001")?.Status).toBe("manual");
    expect(overdue.get("api-001")?.Reason).toBe(
      "rollback of 2 API(s) failed (Conflict) since 2026-11-25T10:03:30.000Z: offboard them or scale out; " +
        "onboarding stays paused until they are gone",
    );
    expect(overdue.get("api-002")?.Status).toBe("deferred");
    expect(collectionWrites(world, "PUT")).toHaveLength(2);

    // Someone offboards one by hand (gone counts as done); the fault clears and the other goes too.
    await world.azure.security.offboardApi(service.id, "api-000").catch(() => undefined);
    world.sim.clearFaults();
    await world.azure.security.offboardApi(service.id, "api-000");
    clock.advance(2 * MINUTE);
    const deletes = collectionWrites(world, "DELETE").length;
    const done = apiOutcomes((await run()).outcomes);
    expect(collectionWrites(world, "DELETE").slice(deletes)).toEqual(["api-001"]);
    expect(done.get("api-001")).toMatchObject({ Status: "deferred", Details: { rolledBack: true } });
    clock.advance(2 * MINUTE);
    const after = collectionWrites(world, "DELETE").length;
    await run();
    expect(collectionWrites(world, "DELETE").length).toBe(after);
  });
});

describe("a stuck onboarding", () => {
  it("turns that API manual an hour after it was first seen, and the rollout goes on with the others", async () => {
    const service = apimService("apim-dev", "Developer");
    const { world, clock, run } = await startApimWorld(
      apimEstate(
        [service, ...apis("apim-dev", 4), collection("apim-dev", "api-000", "InProgress")],
        { [service.id]: { base: 20, perApi: 1 } },
        "Standard",
      ),
    );
    const first = apiOutcomes((await run()).outcomes);
    expect(first.get("api-000")).toMatchObject({
      Status: "deferred",
      Reason: "onboarding to Defender for APIs is in progress",
      Details: { collectionState: "InProgress" },
    });
    expect(first.get("api-001")?.Reason).toBe("waiting for 1 onboarding(s) to finish");
    expect(collectionWrites(world, "PUT")).toEqual([]);

    clock.advance(60 * MINUTE);
    const later = apiOutcomes((await run()).outcomes);
    expect(later.get("api-000")).toMatchObject({
      Status: "manual",
      Details: { collectionState: "InProgress" },
    });
    expect(later.get("api-000")?.Reason).toMatch(
      /^onboarding to Defender for APIs has been in progress since 2026-11-25T10:00:30.000Z, longer than 60 minutes/,
    );
    expect(later.get("api-001")?.Status).toBe("remediated");
    expect(collectionWrites(world, "PUT")).toEqual(["api-001", "api-002"]);
  });
});

describe("a damaged rollout state", () => {
  it("is a failed outcome naming the field and the repair, in enforce and audit mode, and nothing is onboarded", async () => {
    const service = apimService("apim-dev", "Developer");
    const { world, run } = await startApimWorld(
      apimEstate(
        [service, ...apis("apim-dev", 3), collection("apim-dev", "api-002", "Succeeded")],
        {},
        "Standard",
      ),
    );
    const file = join(world.stateDir, "rollouts", `${rolloutKeyHash(service.id)}.json`);
    await mkdir(join(world.stateDir, "rollouts"), { recursive: true });
    const state = {
      serviceId: service.id,
      batchSize: 2,
      lastStepAt: "yesterday",
      lastBatch: ["api-000"],
      steps: 1,
      rollbacks: 0,
      rolledBack: [],
    };
    await writeFile(
      file,
      JSON.stringify({ format: 1, revision: 1, serviceId: service.id, updatedAt: "", state }),
    );
    for (const mode of ["enforce", "audit"] as const) {
      const byApi = apiOutcomes((await run(mode)).outcomes);
      const outcome = byApi.get("api-000");
      expect(outcome?.Status).toBe("failed");
      expect(outcome?.Reason).toBe(
        `RolloutStateCorruptError: rollout state file ${file} is unreadable: lastStepAt is not an ISO 8601 ` +
          `time (found "yesterday"); to repair, correct that field or delete the record to start this ` +
          `service's rollout over (onboarded APIs stay onboarded; check first that no rollback was owed)`,
      );
      expect(outcome?.Details).toMatchObject({ code: "RolloutStateCorruptError" });
      expect(outcome?.Details).not.toHaveProperty("retryAfterSeconds");
      expect(byApi.get("api-002")?.Status).toBe("compliant");
    }
    expect(collectionWrites(world, "PUT")).toEqual([]);
  });
});

describe("an unreadable listing", () => {
  it("is one failed outcome on what was asked about, with the code and when to look again", async () => {
    const service = apimService("apim-dev", "Developer");
    const { world, run } = await startApimWorld(
      apimEstate([service, ...apis("apim-dev", 3)], {}, "Standard"),
    );
    world.sim.injectFault({
      kind: "status",
      method: "GET",
      path: /\/providers\/Microsoft\.Security\/apiCollections$/i,
      status: 500,
      code: "InternalServerError",
      times: 1000,
    });
    const result = await run();
    const onboarding = result.outcomes.filter((o) => o.Check === "apim.api-onboarding");
    expect(onboarding).toHaveLength(1);
    expect(onboarding[0]).toMatchObject({
      ResourceId: service.id,
      ResourceType: "Microsoft.ApiManagement/service",
      Status: "failed",
      Details: { code: "InternalServerError" },
    });
    expect(onboarding[0]?.Reason).toMatch(
      /^reading the API Management service, its APIs and collections: InternalServerError: /,
    );
    expect(onboarding[0]?.Details.retryAfterSeconds).toBeGreaterThan(0);
    expect(result.errors).toEqual([]);

    const api = `${serviceId("apim-dev")}/apis/api-001`;
    const focused = await run("enforce", [{ kind: "resource", resourceId: api }]);
    const onApi = focused.outcomes.filter((o) => o.Check === "apim.api-onboarding");
    expect(onApi).toHaveLength(1);
    expect(onApi[0]).toMatchObject({
      ResourceId: api,
      Status: "failed",
      Details: { code: "InternalServerError" },
    });
  });
});

describe("audit mode", () => {
  it("reads capacity as enforce does: over the limit it defers with the reading and the scale-out advice", async () => {
    const service = apimService("apim-busy", "Developer");
    const { run } = await startApimWorld(
      apimEstate([service, ...apis("apim-busy", 3)], { [service.id]: { base: 75, perApi: 1 } }, "Standard"),
    );
    const audit = apiOutcomes((await run("audit")).outcomes);
    const enforce = apiOutcomes((await run("enforce")).outcomes);
    for (const name of ["api-000", "api-001", "api-002"]) {
      expect(audit.get(name)?.Status).toBe("deferred");
      expect(audit.get(name)?.Reason).toBe(
        "capacity 75% is at or over the 60% limit; onboarding waits (scale out the instance or lower its load for it to go on)",
      );
      expect(audit.get(name)?.Details).toMatchObject({ step: { capacityPercent: 75, decision: "wait" } });
      expect(enforce.get(name)?.Reason).toBe(audit.get(name)?.Reason);
    }
  });

  it("plans only the next step's APIs, and enforce then onboards exactly those", async () => {
    const service = apimService("apim-dev", "Developer");
    const { world, run } = await startApimWorld(
      apimEstate([service, ...apis("apim-dev", 5)], { [service.id]: { base: 20, perApi: 1 } }, "Standard"),
    );
    const audit = apiOutcomes((await run("audit")).outcomes);
    expect(collectionWrites(world, "PUT")).toEqual([]);
    const enforce = apiOutcomes((await run("enforce")).outcomes);
    const expected = { planned: "remediated", deferred: "deferred" } as const;
    for (const [name, outcome] of audit) {
      expect(["planned", "deferred"]).toContain(outcome.Status);
      expect(enforce.get(name)?.Status, name).toBe(expected[outcome.Status as keyof typeof expected]);
    }
    expect([...audit].filter(([, o]) => o.Status === "planned").map(([name]) => name)).toEqual(
      collectionWrites(world, "PUT"),
    );
    expect(audit.get("api-004")?.Details).toMatchObject({ step: { decision: "step", capacityPercent: 20 } });
  });
});
