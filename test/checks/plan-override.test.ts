import { describe, expect, it } from "vitest";
import { planPlanOverride, type PlanOverrideInput } from "../../src/checks/plan-override.js";
import type { PricingSnapshot } from "../../src/model/pricing.js";
import { CLUSTER_ID, SUBSCRIPTION } from "./builders.js";

function plan(
  pricingTier: string,
  extensions: Record<string, string> = {},
  inherited?: string | null,
): PricingSnapshot {
  return {
    name: "Containers",
    properties: {
      pricingTier,
      extensions: Object.entries(extensions).map(([name, isEnabled]) => ({ name, isEnabled })),
      ...(inherited === undefined
        ? {}
        : { inherited, inheritedFrom: inherited === "True" ? `/subscriptions/${SUBSCRIPTION}` : null }),
    },
  };
}

const ON = { ContainerSensor: "True", AgentlessDiscoveryForKubernetes: "True" };
const FULL = { ...ON, ContainerRegistriesVulnerabilityAssessments: "True" };

function input(
  clusterPlan: PricingSnapshot | undefined,
  inheritedPlan: PricingSnapshot | undefined = plan("Standard", FULL),
  removePlanOverrides = false,
  clusterTags?: Record<string, string>,
): PlanOverrideInput {
  return {
    clusterId: CLUSTER_ID,
    clusterPlan,
    inheritedPlan,
    config: { excludeTag: "autoprotect-exclude", removePlanOverrides },
    ...(clusterTags === undefined ? {} : { clusterTags }),
  };
}

describe("a cluster's own Containers plan (aks.containers-plan-override)", () => {
  it.each<[string, PlanOverrideInput, string]>([
    ["no plan at the cluster's scope", input(undefined), "compliant"],
    [
      "the subscription's plan, inherited (even Free: the plan check judges that)",
      input(plan("Free", {}, "True")),
      "compliant",
    ],
    [
      "its own Standard plan with the sensor and discovery on",
      input(plan("Standard", ON, "False")),
      "compliant",
    ],
    ["its own Free plan", input(plan("Free", {}, "False")), "manual"],
    [
      "its own Standard plan with the sensor off",
      input(plan("Standard", { ...ON, ContainerSensor: "False" }, "False")),
      "manual",
    ],
    [
      "its own Standard plan without discovery",
      input(plan("Standard", { ContainerSensor: "True" }, "False")),
      "manual",
    ],
    [
      "excluded by tag",
      input(plan("Free", {}, "False"), undefined, true, { "autoprotect-exclude": "True" }),
      "skipped",
    ],
    [
      "removal on, the subscription's plan at least as strong",
      input(plan("Free", {}, "False"), plan("Standard", ON), true),
      "change",
    ],
    [
      "removal on, a Standard override with the sensor off, the subscription's Standard with it on",
      input(
        plan("Standard", { AgentlessDiscoveryForKubernetes: "True" }, "False"),
        plan("Standard", ON),
        true,
      ),
      "change",
    ],
    [
      "removal on, the subscription's plan Free under a Standard override",
      input(plan("Standard", { AgentlessDiscoveryForKubernetes: "True" }, "False"), plan("Free"), true),
      "manual",
    ],
    [
      "removal on, an extension the override has on is off in the subscription's",
      input(
        plan("Standard", { ContainerRegistriesVulnerabilityAssessments: "True" }, "False"),
        plan("Standard", ON),
        true,
      ),
      "manual",
    ],
    [
      "removal on, but Azure did not say whether the plan is the cluster's own",
      input(plan("Free"), plan("Standard", ON), true),
      "manual",
    ],
  ])("%s: %s", (_name, i, verdict) => {
    expect(planPlanOverride(i).verdict).toBe(verdict);
  });

  it("says Defender is off for the cluster, and how to remove the plan, by default", () => {
    const finding = planPlanOverride(input(plan("Free", {}, "False")));
    expect(finding.reason).toBe(
      "Defender for Containers is off for this cluster by a resource-level plan (Free): remove the cluster's plan " +
        `(DELETE ${CLUSTER_ID}/providers/Microsoft.Security/pricings/Containers?api-version=2024-01-01) so that it ` +
        "inherits the subscription's, or set AUTOPROTECT_REMOVE_PLAN_OVERRIDES=true",
    );
    expect(finding.details).toMatchObject({ inherited: false, pricingTier: "Free" });
  });

  it("warns by default when even removal would not be made", () => {
    const finding = planPlanOverride(
      input(
        plan(
          "Standard",
          { ContainerRegistriesVulnerabilityAssessments: "True", AgentlessDiscoveryForKubernetes: "True" },
          "False",
        ),
        plan("Standard", ON),
      ),
    );
    expect(finding.reason).toMatch(
      /is Standard with ContainerSensor off: remove .*\(not removed even then: it would turn off ContainerRegistriesVulnerabilityAssessments\)$/,
    );
  });

  it("removes only the cluster's own plan, and says what it will inherit", () => {
    const finding = planPlanOverride(input(plan("Free", {}, "False"), plan("Standard", ON), true));
    expect(finding).toMatchObject({
      verdict: "change",
      reason: "Defender for Containers is off for this cluster by a resource-level plan (Free)",
      action:
        "remove the cluster's resource-level Containers plan so that it inherits the subscription's " +
        "(Standard with ContainerSensor and AgentlessDiscoveryForKubernetes on)",
      change: {
        kind: "remove-plan-override",
        pricingId: `${CLUSTER_ID}/providers/Microsoft.Security/pricings/Containers`,
      },
    });
  });

  it("keeps a stronger override and says what removing it would turn off", () => {
    const finding = planPlanOverride(
      input(
        plan("Standard", { AgentlessDiscoveryForKubernetes: "True", AgentlessVmScanning: "True" }, "False"),
        plan("Free"),
        true,
      ),
    );
    expect(finding.verdict).toBe("manual");
    expect(finding.reason).toMatch(
      /not removed: the subscription's plan it would inherit \(Free\) would turn off the tier \(the subscription's plan is Free\), AgentlessDiscoveryForKubernetes and AgentlessVmScanning: turn those on/,
    );
  });
});
