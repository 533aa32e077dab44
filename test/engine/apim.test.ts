import { afterEach, describe, expect, it } from "vitest";
import { apimApi, apimChild, apimService, serviceId } from "../support/sim.js";
import { createFileStateStore } from "../../src/rollout/file-state-store.js";
import { runInfo, writes, type TestWorld } from "../support/azure.js";
import {
  MINUTE,
  apiOutcomes,
  apimEstate,
  apis,
  collectionWrites,
  startApimWorld as startApim,
  sweep,
} from "./apim-world.js";

let world: TestWorld | undefined;
afterEach(async () => {
  await world?.sim.close();
  world = undefined;
});

/** Starts a world that afterEach closes. */
async function startApimWorld(...args: Parameters<typeof startApim>) {
  const started = await startApim(...args);
  world = started.world;
  return started;
}

describe("API onboarding through the engine, against the simulator", () => {
  it("turns the Defender for APIs plan on first, then onboards a small first batch in name order", async () => {
    const service = apimService("apim-dev", "Developer");
    const { world, run } = await startApimWorld(
      apimEstate([
        service,
        ...apis("apim-dev", 5),
        apimApi("apim-dev", "legacy-soap", { type: "soap", apiType: "soap" }),
        apimApi("apim-dev", "api-000;rev=2", { isCurrent: false, apiRevision: "2" }),
      ]),
    );
    const { outcomes, requeue } = await run();

    // The next step is asked for without waiting for a sweep: the service, when the pace allows.
    expect(requeue).toContainEqual(expect.objectContaining({ resourceId: service.id, afterSeconds: 600 }));
    const plan = outcomes.find((o) => o.Check === "defender.apis-plan");
    expect(plan).toMatchObject({ Status: "remediated" });
    const byApi = apiOutcomes(outcomes);
    expect([...byApi.keys()].sort()).toEqual([
      "api-000",
      "api-001",
      "api-002",
      "api-003",
      "api-004",
      "legacy-soap",
    ]);
    expect(byApi.get("api-000")).toMatchObject({
      Status: "remediated",
      Action: "onboard api-000 to Defender for APIs",
    });
    expect(byApi.get("api-001")?.Status).toBe("remediated");
    expect(byApi.get("api-002")).toMatchObject({ Status: "deferred" });
    expect(byApi.get("api-002")?.Reason).toMatch(/queued for a later rollout step/);
    expect(byApi.get("legacy-soap")).toMatchObject({ Status: "skipped" });
    expect(byApi.get("api-000")?.Details).toMatchObject({ step: { decision: "step", capacityPercent: 10 } });

    // The plan PUT went out before the first onboarding PUT.
    const writes = world.sim.requests.filter((r) => r.method === "PUT").map((r) => r.path);
    const planPut = writes.findIndex((path) => path.endsWith("/pricings/Api"));
    const firstOnboarding = writes.findIndex((path) => /apiCollections/.test(path));
    expect(planPut).toBeGreaterThanOrEqual(0);
    expect(planPut).toBeLessThan(firstOnboarding);
    expect(collectionWrites(world, "PUT")).toEqual(["api-000", "api-001"]);
    expect(world.sim.requests.find((r) => /apiCollections/.test(r.path))?.apiVersion).toBe("2023-11-15");
  });

  it("reads Capacity averaged per Location on classic tiers, never the Maximum", async () => {
    const { world, run } = await startApimWorld(
      apimEstate([apimService("apim-dev", "Developer"), ...apis("apim-dev", 1)]),
    );
    await run();
    const query = world.sim.requests.find((r) => r.path.endsWith("metrics:getBatch"))?.query ?? {};
    expect(query).toMatchObject({ metricnames: "Capacity", interval: "PT1M" });
    expect(query.aggregation?.toLowerCase()).toBe("average");
    expect(query.filter).toMatch(/Location eq '\*'/);
  });

  it("reads gateway CPU and memory on v2 tiers, the higher counting", async () => {
    const service = apimService("apim-v2", "StandardV2");
    const { world, run } = await startApimWorld(
      apimEstate([service, ...apis("apim-v2", 3)], { [service.id]: { base: 70, perApi: 0 } }),
    );
    const { outcomes } = await run();
    const query = world.sim.requests.find((r) => r.path.endsWith("metrics:getBatch"))?.query ?? {};
    expect(query.metricnames?.split(",").sort()).toEqual(["CpuPercent_Gateway", "MemoryPercent_Gateway"]);
    const outcome = apiOutcomes(outcomes).get("api-000");
    expect(outcome?.Status).toBe("deferred");
    expect(outcome?.Reason).toMatch(/capacity 70% is at or over the 60% limit/);
    expect(collectionWrites(world, "PUT")).toEqual([]);
  });

  it("pages through services with hundreds of APIs: one outcome each, planned only for the next step", async () => {
    const { world, run } = await startApimWorld(
      apimEstate([apimService("apim-big", "Premium"), ...apis("apim-big", 130)], {}, "Standard"),
      {},
      { pageSize: 50 },
    );
    const { outcomes } = await run("audit");
    const byApi = apiOutcomes(outcomes);
    expect(byApi.size).toBe(130);
    const planned = [...byApi.values()].filter((o) => o.Status === "planned");
    expect(planned.map((o) => o.Action)).toEqual([
      "onboard api-000 to Defender for APIs",
      "onboard api-001 to Defender for APIs",
    ]);
    expect([...byApi.values()].filter((o) => o.Status === "deferred")).toHaveLength(128);
    expect(writes(world.sim).filter((r) => !r.path.endsWith("metrics:getBatch"))).toEqual([]);
  });

  it("onboards everything over successive runs, each API once, with batches that grow while capacity is low", async () => {
    const service = apimService("apim-dev", "Developer");
    const { world, clock, run } = await startApimWorld(
      apimEstate([service, ...apis("apim-dev", 40)], { [service.id]: { base: 10, perApi: 0.2 } }, "Standard"),
    );
    const batches: number[] = [];
    for (let i = 0; i < 12; i += 1) {
      const before = collectionWrites(world, "PUT").length;
      await run();
      const step = collectionWrites(world, "PUT").length - before;
      if (step > 0) batches.push(step);
      clock.advance(11 * MINUTE);
    }
    const puts = collectionWrites(world, "PUT");
    expect(new Set(puts).size).toBe(40);
    expect(puts).toHaveLength(40);
    expect(batches).toEqual([2, 4, 8, 16, 10]);
    const { outcomes } = await run();
    expect(new Set([...apiOutcomes(outcomes).values()].map((o) => o.Status))).toEqual(new Set(["compliant"]));
  });

  it("rolls the last batch back when capacity crosses the critical level after a step", async () => {
    const service = apimService("apim-hot", "Developer");
    const { world, clock, run } = await startApimWorld(
      apimEstate([service, ...apis("apim-hot", 6)], { [service.id]: { base: 50, perApi: 16 } }, "Standard"),
    );
    await run();
    expect(collectionWrites(world, "PUT")).toEqual(["api-000", "api-001"]);

    clock.advance(3 * MINUTE);
    const { outcomes } = await run();
    expect(collectionWrites(world, "DELETE")).toEqual(["api-000", "api-001"]);
    const rolledBack = apiOutcomes(outcomes).get("api-000");
    expect(rolledBack?.Status).toBe("deferred");
    expect(rolledBack?.Reason).toMatch(
      /^offboarded again: rolling back the last step: capacity reached 82%, over the critical 80%, after a step of 2 API\(s\)/,
    );
    expect(rolledBack?.Details).toMatchObject({ rolledBack: true, step: { decision: "rollback" } });
    // The rollback is over, and is not owed again.
    clock.advance(2 * MINUTE);
    await run();
    expect(collectionWrites(world, "DELETE")).toEqual(["api-000", "api-001"]);
    expect(apiOutcomes(outcomes).get("api-002")?.Status).toBe("deferred");

    // Once the metric shows the rollback it knows one API adds about 16 points: none fits under the limit.
    clock.advance(20 * MINUTE);
    const resumed = apiOutcomes((await run()).outcomes).get("api-002");
    expect(resumed?.Reason).toMatch(
      /50% leaves no room under the 60% limit for another API \(about 16 points each\)/,
    );
    expect(collectionWrites(world, "PUT")).toHaveLength(2);
  });

  it("waits while the instance is at its limit, and asks for a scale-out after 24 hours", async () => {
    const service = apimService("apim-busy", "Premium", { additionalLocations: ["North Europe"] });
    const { world, clock, run } = await startApimWorld(
      apimEstate([service, ...apis("apim-busy", 2)], { [service.id]: { base: 72, perApi: 1 } }, "Standard"),
    );
    const first = apiOutcomes((await run()).outcomes).get("api-000");
    expect(first?.Status).toBe("deferred");
    expect(first?.Details).toMatchObject({ step: { capacityPercent: 72, limitPercent: 60 } });
    clock.advance(24 * 60 * MINUTE);
    const later = apiOutcomes((await run()).outcomes).get("api-000");
    expect(later?.Status).toBe("manual");
    expect(later?.Reason).toBe("scale out: capacity 72% over the 60% limit since 2026-11-25T10:00:30.000Z");
    expect(collectionWrites(world, "PUT")).toEqual([]);
  });

  it("reports failed with ARM's code when onboarding ends Failed, and retries it on a later step", async () => {
    const { world, clock, run } = await startApimWorld(
      apimEstate([apimService("apim-dev", "Developer"), ...apis("apim-dev", 2)], {}, "Standard"),
    );
    world.sim.injectFault({
      kind: "lro-failed",
      method: "PUT",
      path: /apiCollections\/api-000$/,
      code: "InternalServerError",
      message: "Onboarding failed",
    });
    const byApi = apiOutcomes((await run()).outcomes);
    expect(byApi.get("api-000")?.Status).toBe("failed");
    expect(byApi.get("api-000")?.Reason).toMatch(/InternalServerError/);
    expect(byApi.get("api-001")?.Status).toBe("remediated");
    clock.advance(11 * MINUTE);
    expect(apiOutcomes((await run()).outcomes).get("api-000")?.Status).toBe("remediated");
  });

  it("continues from durable state after a restart, and two runs at once take one step between them", async () => {
    const service = apimService("apim-dev", "Developer");
    const { world, clock } = await startApimWorld(
      apimEstate([service, ...apis("apim-dev", 10)], {}, "Standard"),
    );
    const engineAt = () =>
      world.engine({ now: clock.now, rolloutStore: createFileStateStore(world.stateDir) });

    const [a, b] = await Promise.all([
      engineAt().reconcile(sweep, runInfo()),
      engineAt().reconcile(sweep, runInfo()),
    ]);
    expect(collectionWrites(world, "PUT")).toEqual(["api-000", "api-001"]);
    const onboarded = [...a.outcomes, ...b.outcomes].filter(
      (o) => o.Check === "apim.api-onboarding" && o.Status === "remediated",
    );
    expect(onboarded).toHaveLength(2);

    // A "restarted" worker with a fresh store object on the same state continues with the next batch.
    clock.advance(11 * MINUTE);
    await engineAt().reconcile(sweep, runInfo());
    expect(collectionWrites(world, "PUT")).toEqual([
      "api-000",
      "api-001",
      "api-002",
      "api-003",
      "api-004",
      "api-005",
    ]);
    // A duplicate trigger right after finds the step taken and the pace not yet due: nothing more.
    await engineAt().reconcile(sweep, runInfo());
    expect(collectionWrites(world, "PUT")).toHaveLength(6);
  });

  it("skips Consumption services, workspace APIs and excluded services, and defers a service that is updating", async () => {
    const consumption = apimService("apim-cons", "Consumption");
    const prod = apimService("apim-prod", "Premium");
    const updating = {
      ...apimService("apim-upd", "Developer"),
      properties: { ...apimService("apim-upd", "Developer").properties, provisioningState: "Updating" },
    };
    const excluded = { ...apimService("apim-skip", "Developer"), tags: { "autoprotect-exclude": "TRUE" } };
    const { world, run } = await startApimWorld(
      apimEstate(
        [
          consumption,
          apimApi("apim-cons", "checkout"),
          prod,
          apimApi("apim-prod", "payments"),
          apimChild("apim-prod", "workspaces", "team", {}),
          apimApi("apim-prod", "campaigns", {}, { workspace: "team" }),
          updating,
          apimApi("apim-upd", "ledger"),
          excluded,
          apimApi("apim-skip", "sandbox"),
        ],
        {},
        "Standard",
      ),
    );
    const byApi = apiOutcomes((await run()).outcomes);
    expect(byApi.get("checkout")).toMatchObject({ Status: "skipped" });
    expect(byApi.get("checkout")?.Reason).toMatch(/Consumption/);
    expect(byApi.get("campaigns")).toMatchObject({ Status: "skipped" });
    expect(byApi.get("campaigns")?.Reason).toMatch(/workspaces/);
    expect(byApi.get("sandbox")).toMatchObject({ Status: "skipped", Reason: "excluded by tag" });
    expect(byApi.get("ledger")).toMatchObject({ Status: "deferred" });
    expect(byApi.get("ledger")?.Reason).toMatch(/Updating/);
    expect(byApi.get("payments")?.Status).toBe("remediated");
    expect(collectionWrites(world, "PUT")).toEqual(["payments"]);
  });

  it("reconciles one API by id: only that API's outcome, and the step it may take", async () => {
    const service = apimService("apim-dev", "Developer");
    const { world, run } = await startApimWorld(
      apimEstate([service, ...apis("apim-dev", 4)], {}, "Standard"),
    );
    const { outcomes } = await run("enforce", [
      { kind: "resource", resourceId: `${serviceId("apim-dev")}/apis/api-003` },
    ]);
    // The step follows the rollout order, so the API asked about waits its turn and the first two go.
    const byApi = apiOutcomes(outcomes);
    expect(byApi.get("api-003")?.Status).toBe("deferred");
    expect([...byApi.keys()].sort()).toEqual(["api-000", "api-001", "api-003"]);
    expect(collectionWrites(world, "PUT")).toEqual(["api-000", "api-001"]);
  });

  it("says once that an API it was asked about does not exist, and onboards no other API for it", async () => {
    const service = apimService("apim-dev", "Developer");
    // The plan is off and a first rollout step is due: either would be written for a run on the service.
    const { world, run } = await startApimWorld(apimEstate([service, ...apis("apim-dev", 4)], {}, "Free"));
    const gone = await run("enforce", [
      { kind: "resource", resourceId: `${serviceId("apim-dev")}/apis/deleted-api` },
    ]);
    expect(gone.outcomes).toHaveLength(1);
    expect(apiOutcomes(gone.outcomes).get("deleted-api")).toMatchObject({ Status: "skipped" });
    expect(gone.outcomes[0]?.Reason).toMatch(/not found/);
    expect(writes(world.sim)).toEqual([]);
  });
});
