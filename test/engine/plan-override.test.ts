/**
 * `aks.containers-plan-override` through the engine, the real adapters and the simulator: a cluster's
 * own Containers plan is reported, removed only when asked to and when that weakens nothing, and
 * audit mode decides as enforce does.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Estate } from "../../sim/index.js";
import type { OutcomeRecord } from "../../src/model/outcome.js";
import { clusterPlan } from "../support/arc.js";
import { runInfo, startWorld, writes, type TestWorld } from "../support/azure.js";
import { PROTECTED_PROPERTIES, SUB_A, cluster, clusterId, workspace } from "../support/estate.js";

let world: TestWorld | undefined;
afterEach(async () => {
  await world?.sim.close();
  world = undefined;
});

const sweep = [{ kind: "subscription", subscriptionId: SUB_A }] as const;
const CHECK = "aks.containers-plan-override";
const ON = { ContainerSensor: "True", AgentlessDiscoveryForKubernetes: "True" } as const;

function planEstate(resources: Estate["resources"], containers: Record<string, unknown>): Estate {
  return {
    subscriptions: [{ subscriptionId: SUB_A, pricings: { Containers: containers as never } }],
    resources: [workspace(), ...resources],
  };
}

const STANDARD = {
  pricingTier: "Standard",
  extensions: [
    { name: "ContainerSensor", isEnabled: "True" },
    { name: "AgentlessDiscoveryForKubernetes", isEnabled: "True" },
    { name: "ContainerRegistriesVulnerabilityAssessments", isEnabled: "False" },
  ],
};

function override(outcomes: readonly OutcomeRecord[], name: string): OutcomeRecord {
  const found = outcomes.find((o) => o.ResourceId === clusterId(name) && o.Check === CHECK);
  if (found === undefined) throw new Error(`no ${CHECK} outcome for ${name}`);
  return found;
}

function planDeletes(w: TestWorld) {
  return writes(w.sim).filter((r) => r.method === "DELETE" && r.path.includes("/pricings/"));
}

const protectedCluster = (name: string, tags?: Record<string, string>) =>
  cluster(name, { properties: PROTECTED_PROPERTIES, ...(tags === undefined ? {} : { tags }) });

describe("a cluster's own Containers plan", () => {
  it("is manual by default: Defender is off for the cluster by its own plan; nothing is removed", async () => {
    world = await startWorld(
      planEstate(
        [
          protectedCluster("aks-free"),
          clusterPlan(clusterId("aks-free"), "Free"),
          protectedCluster("aks-inherits"),
        ],
        STANDARD,
      ),
    );
    const { outcomes } = await world.engine().reconcile(sweep, runInfo());
    const free = override(outcomes, "aks-free");
    expect(free.Status).toBe("manual");
    expect(free.Reason).toMatch(
      /^Defender for Containers is off for this cluster by a resource-level plan \(Free\): remove the cluster's plan/,
    );
    expect(free.ResourceType).toBe("Microsoft.ContainerService/managedClusters");
    expect(override(outcomes, "aks-inherits").Status).toBe("compliant");
    expect(writes(world.sim)).toEqual([]);
  });

  it("with AUTOPROTECT_REMOVE_PLAN_OVERRIDES removes it so the cluster inherits, confirmed by reading it again", async () => {
    world = await startWorld(
      planEstate([protectedCluster("aks-free"), clusterPlan(clusterId("aks-free"), "Free")], STANDARD),
      { AUTOPROTECT_REMOVE_PLAN_OVERRIDES: "true" },
    );
    const first = await world.engine().reconcile(sweep, runInfo());
    expect(override(first.outcomes, "aks-free")).toMatchObject({
      Status: "remediated",
      Action:
        "remove the cluster's resource-level Containers plan so that it inherits the subscription's " +
        "(Standard with ContainerSensor and AgentlessDiscoveryForKubernetes on)",
    });
    expect(planDeletes(world).map((r) => [r.path, r.apiVersion])).toEqual([
      [`${clusterId("aks-free")}/providers/Microsoft.Security/pricings/Containers`, "2024-01-01"],
    ]);
    world.sim.clearRequests();
    const second = await world.engine().reconcile(sweep, runInfo());
    expect(override(second.outcomes, "aks-free").Status).toBe("compliant");
    expect(writes(world.sim)).toEqual([]);
  });

  it("keeps an override when the inherited plan would turn something off, and says what", async () => {
    const own = clusterPlan(clusterId("aks-vuln"), "Standard", {
      AgentlessDiscoveryForKubernetes: "True",
      ContainerRegistriesVulnerabilityAssessments: "True",
    });
    world = await startWorld(planEstate([protectedCluster("aks-vuln"), own], STANDARD), {
      AUTOPROTECT_REMOVE_PLAN_OVERRIDES: "true",
    });
    const { outcomes } = await world.engine().reconcile(sweep, runInfo());
    const kept = override(outcomes, "aks-vuln");
    expect(kept.Status).toBe("manual");
    expect(kept.Reason).toMatch(
      /is Standard with ContainerSensor off; not removed: .* would turn off ContainerRegistriesVulnerabilityAssessments/,
    );
    expect(planDeletes(world)).toEqual([]);
  });

  it("in audit mode decides as enforce would: the subscription's plan enforce turns on counts as on", async () => {
    world = await startWorld(
      planEstate(
        [
          protectedCluster("aks-std"),
          clusterPlan(clusterId("aks-std"), "Standard", { AgentlessDiscoveryForKubernetes: "True" }),
        ],
        { pricingTier: "Free" },
      ),
      { AUTOPROTECT_REMOVE_PLAN_OVERRIDES: "true" },
    );
    const audit = await world.engine().reconcile(sweep, runInfo("audit"));
    expect(writes(world.sim)).toEqual([]);
    expect(override(audit.outcomes, "aks-std").Status).toBe("planned");
    const enforce = await world.engine().reconcile(sweep, runInfo());
    expect(override(enforce.outcomes, "aks-std").Status).toBe("remediated");
  });

  it("costs no plan read for an excluded cluster, and its own Standard plan with both on is compliant", async () => {
    world = await startWorld(
      planEstate(
        [
          protectedCluster("aks-excluded", { "autoprotect-exclude": "true" }),
          clusterPlan(clusterId("aks-excluded"), "Free"),
          protectedCluster("aks-own-on"),
          clusterPlan(clusterId("aks-own-on"), "Standard", ON),
        ],
        STANDARD,
      ),
    );
    const { outcomes } = await world.engine().reconcile(sweep, runInfo());
    expect(override(outcomes, "aks-excluded").Status).toBe("skipped");
    expect(override(outcomes, "aks-own-on")).toMatchObject({
      Status: "compliant",
      Reason:
        "the cluster's own Containers plan is Standard with ContainerSensor and AgentlessDiscoveryForKubernetes on",
    });
    expect(world.sim.requests.some((r) => r.path.includes("aks-excluded/providers/Microsoft.Security"))).toBe(
      false,
    );
  });

  it("a plan read that fails fails this check only", async () => {
    world = await startWorld(planEstate([protectedCluster("aks-1")], STANDARD));
    world.sim.injectFault({
      kind: "status",
      method: "GET",
      pathRegex: "/managedClusters/aks-1/providers/Microsoft\\.Security/pricings/Containers$",
      status: 500,
      code: "InternalServerError",
      times: 10,
    });
    const { outcomes } = await world.engine().reconcile(sweep, runInfo());
    expect(override(outcomes, "aks-1")).toMatchObject({
      Status: "failed",
      Reason: expect.stringMatching(/^InternalServerError/) as unknown,
    });
    expect(
      outcomes.filter((o) => o.ResourceId === clusterId("aks-1") && o.Check !== CHECK).map((o) => o.Status),
    ).toEqual(["compliant", "compliant", "compliant", "compliant"]);
  });
});
