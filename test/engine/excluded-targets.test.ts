import { afterEach, describe, expect, it } from "vitest";
import {
  apimServiceId,
  apimServiceResource,
  connectedCluster,
  connectedClusterId,
} from "../../sim/builders.js";
import type { Estate } from "../../sim/index.js";
import { runInfo, startWorld, writes, type TestWorld } from "../support/azure.js";
import { SUB_A, cluster, clusterId, estate } from "../support/estate.js";

/**
 * A run on one resource (an event, `reconcile`, the HTTP trigger) that a tag excludes turns no
 * billable plan on for it: the plan check looks for another resource in scope, as a sweep's does.
 */
let world: TestWorld | undefined;
afterEach(async () => {
  await world?.sim.close();
  world = undefined;
});

const EXCLUDED = { "autoprotect-exclude": "true" };
const SERVICE = apimServiceId(SUB_A, "rg-apis", "apim-x");
const ARC = connectedClusterId(SUB_A, "rg-edge", "edge-x");

const planWrites = (w: TestWorld) =>
  writes(w.sim).filter((r) => /\/providers\/Microsoft\.Security\/pricings\//i.test(r.path));

function withPlansOff(resources: Estate["resources"]): Estate {
  const base = estate(resources);
  return {
    ...base,
    subscriptions: [
      {
        subscriptionId: SUB_A,
        pricings: { Containers: { pricingTier: "Free" }, Api: { pricingTier: "Free" } },
      },
    ],
  };
}

async function runOn(resourceId: string) {
  if (world === undefined) throw new Error("no world");
  return world.engine().reconcile([{ kind: "resource", resourceId }], runInfo(), { operations: "start" });
}

describe("a run on an excluded resource", () => {
  it.each([
    ["an AKS cluster", clusterId("aks-x"), "defender.containers-plan"],
    ["an Arc-enabled cluster", ARC, "defender.containers-plan"],
    ["an API Management service", SERVICE, "defender.apis-plan"],
  ])("on %s alone in its subscription turns no plan on", async (_what, resourceId, planCheck) => {
    world = await startWorld(
      withPlansOff([
        cluster("aks-x", { tags: EXCLUDED }),
        connectedCluster(ARC, { tags: EXCLUDED }),
        apimServiceResource(SERVICE, "Developer", { tags: EXCLUDED }),
      ]),
    );
    const { outcomes } = await runOn(resourceId);
    const plan = outcomes.find((o) => o.Check === planCheck);
    expect(plan?.Status).toBe("skipped");
    expect(planWrites(world)).toEqual([]);
  });

  it("still turns the plan on when another cluster in the subscription is in scope", async () => {
    world = await startWorld(withPlansOff([cluster("aks-x", { tags: EXCLUDED }), cluster("aks-in")]));
    const { outcomes } = await runOn(clusterId("aks-x"));
    expect(outcomes.find((o) => o.Check === "defender.containers-plan")?.Status).toBe("remediated");
    expect(planWrites(world).map((r) => r.method)).toEqual(["PUT"]);
  });

  it("an excluded resource group excludes the cluster as its own tag does", async () => {
    const grouped = withPlansOff([cluster("aks-g", { group: "rg-frozen" })]);
    grouped.resources.push({
      id: `/subscriptions/${SUB_A}/resourceGroups/rg-frozen`,
      name: "rg-frozen",
      type: "Microsoft.Resources/resourceGroups",
      location: "westeurope",
      tags: EXCLUDED,
    });
    world = await startWorld(grouped);
    const { outcomes } = await runOn(clusterId("aks-g", SUB_A, "rg-frozen"));
    expect(outcomes.find((o) => o.Check === "defender.containers-plan")?.Status).toBe("skipped");
    expect(planWrites(world)).toEqual([]);
  });
});
