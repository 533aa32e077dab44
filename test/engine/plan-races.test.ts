import { afterEach, describe, expect, it } from "vitest";
import type { Simulator } from "../../sim/index.js";
import { runInfo, startWorld, statusOf, type TestWorld } from "../support/azure.js";
import { PROTECTED_PROPERTIES, SUB_A, cluster, estate } from "../support/estate.js";
import { apimApi, apimService, call } from "../support/sim.js";

/**
 * Plans have no ETag: another writer (a person in the portal, Azure Policy, another tool) can change
 * one between autoprotect's read and its write. These tests put that writer into the simulator at the
 * worst moment and check that nothing it set is lost.
 */
let world: TestWorld | undefined;
afterEach(async () => {
  await world?.sim.close();
  world = undefined;
});

const sweep = [{ kind: "subscription" as const, subscriptionId: SUB_A }];
const planPath = (plan: string): string =>
  `/subscriptions/${SUB_A}/providers/Microsoft.Security/pricings/${plan}`;

function writePlan(sim: Simulator, plan: string, properties: Record<string, unknown>): Promise<unknown> {
  return call(sim, "PUT", `${planPath(plan)}?api-version=2024-01-01`, { body: { properties } });
}

function extensionsOf(w: TestWorld): Record<string, string> {
  const plan = w.sim.exportEstate().subscriptions[0]?.pricings?.Containers;
  return Object.fromEntries((plan?.extensions ?? []).map((e) => [e.name, e.isEnabled]));
}

describe("plan writes that race with another writer", () => {
  it("keeps what another writer set between autoprotect's first read of the plan and its write", async () => {
    const other: { sim?: Simulator } = {};
    let raced = false;
    world = await startWorld(
      estate([cluster("aks-1", { properties: PROTECTED_PROPERTIES })], {
        pricingTier: "Free",
        extensions: [
          { name: "ContainerRegistriesVulnerabilityAssessments", isEnabled: "False" },
          { name: "AgentlessDiscoveryForKubernetes", isEnabled: "False" },
          { name: "ContainerSensor", isEnabled: "False" },
        ],
      }),
      {},
      {
        // While autoprotect looks for clusters that use the plan, someone turns on two extensions.
        onRequest: async ({ method, path }) => {
          if (raced || other.sim === undefined || method !== "GET" || !/\/managedClusters$/i.test(path))
            return;
          raced = true;
          await writePlan(other.sim, "Containers", {
            pricingTier: "Free",
            extensions: [
              { name: "ContainerRegistriesVulnerabilityAssessments", isEnabled: "True" },
              { name: "AgentlessDiscoveryForKubernetes", isEnabled: "False" },
              { name: "ContainerSensor", isEnabled: "False" },
              { name: "ContainerIntegrityContribution", isEnabled: "True" },
            ],
          });
        },
      },
    );
    other.sim = world.sim;
    const { outcomes } = await world.engine().reconcile(sweep, runInfo());
    expect(raced).toBe(true);
    expect(statusOf(outcomes, "Containers", "defender.containers-plan")).toBe("remediated");
    expect(extensionsOf(world)).toEqual({
      ContainerRegistriesVulnerabilityAssessments: "True",
      AgentlessDiscoveryForKubernetes: "True",
      ContainerSensor: "True",
      ContainerIntegrityContribution: "True",
    });
  });

  it("puts back, in one more write, what a stale writer lowered right after autoprotect's write", async () => {
    const other: { sim?: Simulator } = {};
    let wrote = false;
    let raced = false;
    world = await startWorld(
      estate([cluster("aks-1", { properties: PROTECTED_PROPERTIES })], {
        pricingTier: "Free",
        extensions: [
          { name: "ContainerRegistriesVulnerabilityAssessments", isEnabled: "True" },
          { name: "AgentlessDiscoveryForKubernetes", isEnabled: "False" },
          { name: "ContainerSensor", isEnabled: "False" },
        ],
      }),
      {},
      {
        // Someone who read the plan before autoprotect wrote it writes back what they read.
        onRequest: async ({ method, path }) => {
          if (other.sim === undefined || !path.toLowerCase().endsWith("/pricings/containers")) return;
          if (method === "PUT" && !raced) wrote = true;
          if (method !== "GET" || !wrote || raced) return;
          raced = true;
          await writePlan(other.sim, "Containers", {
            pricingTier: "Standard",
            extensions: [
              { name: "ContainerRegistriesVulnerabilityAssessments", isEnabled: "False" },
              { name: "AgentlessDiscoveryForKubernetes", isEnabled: "True" },
              { name: "ContainerSensor", isEnabled: "False" },
            ],
          });
        },
      },
    );
    other.sim = world.sim;
    const { outcomes } = await world.engine().reconcile(sweep, runInfo());
    expect(raced).toBe(true);
    const plan = outcomes.find((o) => o.Check === "defender.containers-plan");
    expect(plan?.Status).toBe("remediated");
    expect(plan?.Details.race).toEqual({
      lost: ["ContainerRegistriesVulnerabilityAssessments: True → False", "ContainerSensor: True → False"],
      restored: true,
    });
    expect(extensionsOf(world)).toEqual({
      ContainerRegistriesVulnerabilityAssessments: "True",
      AgentlessDiscoveryForKubernetes: "True",
      ContainerSensor: "True",
    });
  });

  it("never replaces a sub-plan another writer chose while autoprotect was deciding to turn the APIs plan on", async () => {
    const other: { sim?: Simulator } = {};
    let raced = false;
    world = await startWorld(
      {
        subscriptions: [{ subscriptionId: SUB_A, pricings: { Api: { pricingTier: "Free" } } }],
        resources: [apimService("apim-race", "Developer"), apimApi("apim-race", "orders")].map((r) => ({
          ...r,
          id: r.id.replace(/\/subscriptions\/[^/]+/, `/subscriptions/${SUB_A}`),
        })),
      },
      {},
      {
        // While autoprotect counts the services that would use the plan, someone turns it on with P3.
        onRequest: async ({ method, path }) => {
          if (
            raced ||
            other.sim === undefined ||
            method !== "GET" ||
            !/\/Microsoft\.ApiManagement\/service$/i.test(path)
          )
            return;
          raced = true;
          await writePlan(other.sim, "Api", { pricingTier: "Standard", subPlan: "P3" });
        },
      },
    );
    other.sim = world.sim;
    const { outcomes } = await world.engine().reconcile(sweep, runInfo());
    expect(raced).toBe(true);
    expect(statusOf(outcomes, "Api", "defender.apis-plan")).toBe("compliant");
    expect(world.sim.exportEstate().subscriptions[0]?.pricings?.Api).toMatchObject({
      pricingTier: "Standard",
      subPlan: "P3",
    });
  });
});
