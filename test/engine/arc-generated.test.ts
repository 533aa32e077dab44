/**
 * Property: sweeps over generated estates (not the repository's sample) with Arc-enabled clusters in
 * any state and AKS clusters with or without a Containers plan of their own. The dry run gives the
 * verdicts the contract's rules give (computed here independently of the planners), enforce fixes
 * what it should in one run once the extension installs complete, the next run writes nothing, and
 * nothing is ever turned off: no extension deleted or rewritten, no plan written at a cluster's scope,
 * and a cluster's own plan deleted only when asked to and when the subscription's is at least as strong.
 */
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import type { Estate } from "../../sim/index.js";
import type { OutcomeRecord } from "../../src/model/outcome.js";
import {
  arcCluster,
  arcClusterId,
  clusterPlan,
  defenderExtension,
  extension,
  policyExtension,
  DEFENDER_TYPE,
} from "../support/arc.js";
import { runInfo, startWorld, writes, type TestWorld } from "../support/azure.js";
import { PROTECTED_PROPERTIES, SUB_A, cluster, clusterId, workspace } from "../support/estate.js";

let world: TestWorld | undefined;
afterEach(async () => {
  await world?.sim.close();
  world = undefined;
});

type ExtensionState = "none" | "Succeeded" | "Failed" | "Creating";

interface ArcSpec {
  connectivity: "Connected" | "Offline" | "Expired" | "Connecting";
  distribution: "k3s" | "openshift" | "AKS" | "eks" | "gke" | "aks_management";
  excluded: boolean;
  sensorOptOut: boolean;
  policyOptOut: boolean;
  sensor: ExtensionState | "Succeeded without workspace";
  policy: ExtensionState;
}

type OwnPlan = "none" | "Free" | "Standard with both" | "Standard, sensor off" | "Standard, VM scanning on";

const arcSpec: fc.Arbitrary<ArcSpec> = fc.record({
  connectivity: fc.constantFrom("Connected", "Connected", "Offline", "Expired", "Connecting"),
  distribution: fc.constantFrom("k3s", "openshift", "AKS", "eks", "gke", "aks_management"),
  excluded: fc.boolean(),
  sensorOptOut: fc.boolean(),
  policyOptOut: fc.boolean(),
  sensor: fc.constantFrom("none", "none", "Succeeded", "Succeeded without workspace", "Failed", "Creating"),
  policy: fc.constantFrom("none", "none", "Succeeded", "Failed", "Creating"),
});
const ownPlan = fc.constantFrom<OwnPlan>(
  "none",
  "Free",
  "Standard with both",
  "Standard, sensor off",
  "Standard, VM scanning on",
);

const PLAN_EXTENSIONS: Record<Exclude<OwnPlan, "none" | "Free">, Record<string, "True" | "False">> = {
  "Standard with both": { ContainerSensor: "True", AgentlessDiscoveryForKubernetes: "True" },
  "Standard, sensor off": { ContainerSensor: "False", AgentlessDiscoveryForKubernetes: "True" },
  "Standard, VM scanning on": { AgentlessDiscoveryForKubernetes: "True", AgentlessVmScanning: "True" },
};

function buildEstate(arcs: readonly ArcSpec[], plans: readonly OwnPlan[]): Estate {
  const resources: Estate["resources"] = [workspace()];
  arcs.forEach((spec, i) => {
    const name = `arc-${String(i)}`;
    const id = arcClusterId(name);
    const tags: Record<string, string> = {};
    if (spec.excluded) tags["autoprotect-exclude"] = "true";
    if (spec.sensorOptOut) tags.ms_defender_container_exclude_sensors = "true";
    if (spec.policyOptOut) tags.ms_defender_container_exclude_azurepolicy = "true";
    resources.push(
      arcCluster(name, { connectivityStatus: spec.connectivity, distribution: spec.distribution, tags }),
    );
    if (spec.sensor === "Succeeded without workspace") {
      resources.push(extension(id, DEFENDER_TYPE, DEFENDER_TYPE));
    } else if (spec.sensor !== "none") {
      resources.push(defenderExtension(id, { provisioningState: spec.sensor }));
    }
    if (spec.policy !== "none") resources.push(policyExtension(id, { provisioningState: spec.policy }));
  });
  plans.forEach((plan, i) => {
    const name = `aks-${String(i)}`;
    resources.push(cluster(name, { properties: PROTECTED_PROPERTIES }));
    if (plan === "Free") resources.push(clusterPlan(clusterId(name), "Free"));
    else if (plan !== "none") resources.push(clusterPlan(clusterId(name), "Standard", PLAN_EXTENSIONS[plan]));
  });
  const subscriptionPlan = {
    pricingTier: "Standard",
    extensions: [
      { name: "ContainerSensor", isEnabled: "True" },
      { name: "AgentlessDiscoveryForKubernetes", isEnabled: "True" },
      { name: "ContainerRegistriesVulnerabilityAssessments", isEnabled: "True" },
    ],
  };
  return {
    subscriptions: [{ subscriptionId: SUB_A, pricings: { Containers: subscriptionPlan } }],
    resources,
  };
}

/** The contract's verdict for one Arc check in audit mode, from the spec alone. */
function expectedArc(spec: ArcSpec, check: "sensor" | "policy"): string {
  if (spec.excluded) return "skipped";
  if (check === "sensor" ? spec.sensorOptOut : spec.policyOptOut) return "skipped";
  const skippedDistributions = check === "sensor" ? ["aks", "aks_management", "eks", "gke"] : ["aks"];
  if (skippedDistributions.includes(spec.distribution.toLowerCase())) return "skipped";
  const state = check === "sensor" ? spec.sensor : spec.policy;
  if (state === "Succeeded") return "compliant";
  if (state === "Failed" || state === "Succeeded without workspace") return "manual";
  if (state === "Creating") return "deferred";
  return spec.connectivity === "Connected" ? "planned" : "deferred";
}

function expectedPlan(plan: OwnPlan, remove: boolean): string {
  if (plan === "none" || plan === "Standard with both") return "compliant";
  // The subscription's plan lacks AgentlessVmScanning: removing that override would turn it off.
  if (!remove || plan === "Standard, VM scanning on") return "manual";
  return "planned";
}

function statusesOf(outcomes: readonly OutcomeRecord[]): Map<string, string> {
  return new Map(outcomes.map((o) => [`${o.ResourceId.toLowerCase()} ${o.Check}`, o.Status]));
}

describe("sweeps over generated estates with Arc-enabled clusters and clusters' own plans", () => {
  it("give the contract's verdicts, converge, and never turn anything off", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arcSpec, { minLength: 1, maxLength: 5 }),
        fc.array(ownPlan, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        async (arcs, plans, remove) => {
          const estate = buildEstate(arcs, plans);
          world = await startWorld(estate, { AUTOPROTECT_REMOVE_PLAN_OVERRIDES: String(remove) });
          try {
            const sweep = [{ kind: "subscription", subscriptionId: SUB_A }] as const;
            const dry = statusesOf((await world.engine().reconcile(sweep, runInfo("audit"))).outcomes);
            expect(writes(world.sim)).toEqual([]);
            const expected = new Map<string, string>();
            arcs.forEach((spec, i) => {
              const id = arcClusterId(`arc-${String(i)}`).toLowerCase();
              expected.set(`${id} arc.defender-sensor`, expectedArc(spec, "sensor"));
              expected.set(`${id} arc.azure-policy`, expectedArc(spec, "policy"));
            });
            plans.forEach((plan, i) => {
              expected.set(
                `${clusterId(`aks-${String(i)}`).toLowerCase()} aks.containers-plan-override`,
                expectedPlan(plan, remove),
              );
            });
            for (const [key, status] of expected) expect(dry.get(key), key).toBe(status);

            const existing = new Set(estate.resources.map((r) => r.id.toLowerCase()));
            const enforce = statusesOf((await world.engine().reconcile(sweep, runInfo())).outcomes);
            for (const [key, status] of expected) {
              expect(enforce.get(key), key).toBe(status === "planned" ? "remediated" : status);
            }
            for (const request of writes(world.sim)) {
              const path = request.path.toLowerCase();
              if (path.includes("/microsoft.kubernetesconfiguration/extensions/")) {
                // Only creations: never a DELETE, never a PUT over an extension that was there.
                expect(request.method).toBe("PUT");
                expect(existing.has(path)).toBe(false);
              } else if (
                path.includes("/providers/microsoft.security/pricings/") &&
                path.includes("/resourcegroups/")
              ) {
                expect(request.method).toBe("DELETE");
                const plan = plans[Number(/aks-(\d+)\//.exec(path)?.[1])];
                expect(remove && (plan === "Free" || plan === "Standard, sensor off")).toBe(true);
              }
            }

            world.sim.clearRequests();
            const again = statusesOf((await world.engine().reconcile(sweep, runInfo())).outcomes);
            expect(writes(world.sim)).toEqual([]);
            for (const [key, status] of expected) {
              expect(again.get(key), key).toBe(status === "planned" ? "compliant" : status);
            }
          } finally {
            await world.sim.close();
            world = undefined;
          }
        },
      ),
      { numRuns: 12 },
    );
  });
});
