import type { Timer } from "@azure/functions";
import { afterEach, describe, expect, it } from "vitest";
import type { ArmResource, Estate } from "../../sim/index.js";
import { createSweepHandler } from "../../src/functions/sweep.js";
import { mergeRunResults } from "../../src/engine/engine.js";
import { useAzurite } from "../support/azurite.js";
import { SUB_A, SUB_B, cluster, estate } from "../support/estate.js";
import { startFunctionsWorld, type FunctionsWorld } from "../support/functions.js";

const azurite = useAzurite();

const timer: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: false },
  scheduleStatus: { last: "", next: "", lastUpdated: "" },
};

let world: FunctionsWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const SUB_C = "0a1b2c3d-0000-4000-8000-00000000000c";

function twoSubscriptions(extra: ArmResource[] = []): Estate {
  const e = estate([cluster("aks-a"), cluster("aks-b", { sub: SUB_B }), ...extra]);
  e.subscriptions.push({ subscriptionId: SUB_B }, { subscriptionId: SUB_C });
  return e;
}

/** The timer, then every look it queued run by the queue trigger, as the Functions host would. */
async function sweepWith(env: Record<string, string>, extra: ArmResource[] = []) {
  world = await startFunctionsWorld(twoSubscriptions(extra), azurite(), env);
  const context = world.context("sweep");
  const sweep = await createSweepHandler(() => (world as FunctionsWorld).runtime)(timer, context);
  const runs = await world.drainQueue();
  return { sweep, runs, result: mergeRunResults(runs), timerId: context.invocationId };
}

describe("timer sweep trigger", () => {
  it("queues one look per subscription the identity can see, and the queue trigger runs each", async () => {
    const { sweep, runs, result, timerId } = await sweepWith({});
    expect([...sweep.scheduled].sort()).toEqual([SUB_A, SUB_B, SUB_C].sort());
    expect(runs).toHaveLength(3);
    // Every subscription was looked at in a run of its own, correlated with the timer's invocation.
    for (const run of runs) expect(new Set(run.outcomes.map((o) => o.SubscriptionId)).size).toBe(1);
    expect(new Set(result.outcomes.map((o) => o.SubscriptionId))).toEqual(new Set([SUB_A, SUB_B, SUB_C]));
    for (const outcome of result.outcomes) {
      expect(outcome).toMatchObject({ Trigger: "queue", CorrelationId: timerId });
    }
    expect(result.outcomes.filter((o) => o.Status === "failed")).toEqual([]);
    expect(world?.logs.map((l) => l.text).join("\n")).toMatch(/sweep of 3 subscriptions: 3 looks queued/);
  });

  it("sweeps only the subscriptions in AUTOPROTECT_SUBSCRIPTIONS", async () => {
    const { sweep, result } = await sweepWith({
      AUTOPROTECT_SUBSCRIPTIONS: SUB_B,
      AUTOPROTECT_MODE: "audit",
    });
    expect(sweep.scheduled).toEqual([SUB_B]);
    expect(new Set(result.outcomes.map((o) => o.SubscriptionId))).toEqual(new Set([SUB_B]));
    expect(result.outcomes.every((o) => o.Mode === "audit")).toBe(true);
  });

  it("with Resource Graph discovery, leaves out the subscriptions that hold nothing to reconcile", async () => {
    const { sweep, result } = await sweepWith({ AUTOPROTECT_DISCOVERY: "resource-graph" });
    expect([...sweep.scheduled].sort()).toEqual([SUB_A, SUB_B].sort());
    expect(sweep.empty).toEqual([SUB_C]);
    expect(result.outcomes.some((o) => o.SubscriptionId === SUB_C)).toBe(false);
    const queries = world?.sim.requests.filter((r) => r.method === "POST" && /ResourceGraph/i.test(r.path));
    expect(queries).toHaveLength(1);
    // Each look still read ARM itself: the clusters were listed and read there.
    expect(result.outcomes.filter((o) => o.Check === "aks.defender-sensor")).toHaveLength(2);
  });

  it("gives each API Management service of a subscription a look of its own", async () => {
    const service: ArmResource = {
      id: `/subscriptions/${SUB_A}/resourceGroups/rg-apis/providers/Microsoft.ApiManagement/service/apim-1`,
      name: "apim-1",
      type: "Microsoft.ApiManagement/service",
      location: "westeurope",
      sku: { name: "Developer", capacity: 1 },
      properties: { provisioningState: "Succeeded" },
    };
    const { runs, result } = await sweepWith({ AUTOPROTECT_SUBSCRIPTIONS: SUB_A }, [service]);
    expect(runs).toHaveLength(2);
    // The service's look is due at once; the cluster's started update is confirmed later.
    expect(runs[0]?.requeue).toEqual(
      expect.arrayContaining([expect.objectContaining({ resourceId: service.id, afterSeconds: 0 })]),
    );
    expect(runs[0]?.outcomes.some((o) => o.Check === "apim.api-onboarding")).toBe(false);
    const serviceRun = runs[1];
    expect(serviceRun?.outcomes.length).toBeGreaterThan(0);
    expect(result.outcomes.filter((o) => o.Check === "defender.containers-plan")).toHaveLength(1);
  });

  it("looks at every subscription when Resource Graph cannot be asked", async () => {
    world = await startFunctionsWorld(twoSubscriptions(), azurite(), {
      AUTOPROTECT_DISCOVERY: "resource-graph",
    });
    world.sim.injectFault({
      kind: "status",
      method: "POST",
      pathRegex: "ResourceGraph",
      status: 500,
      code: "InternalServerError",
      times: 10,
    });
    const sweep = await createSweepHandler(() => (world as FunctionsWorld).runtime)(
      timer,
      world.context("sweep"),
    );
    expect([...sweep.scheduled].sort()).toEqual([SUB_A, SUB_B, SUB_C].sort());
    expect(world.logs.find((l) => l.level === "warning")?.text).toMatch(
      /Resource Graph discovery failed \(InternalServerError: .*\); looking at every subscription/,
    );
  });
});
