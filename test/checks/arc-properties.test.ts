/**
 * Properties of the Arc-enabled cluster checks and a cluster's own plan over any input ARM could hand
 * over: they never throw, and they never weaken or overreach. An Arc check only ever creates an
 * extension that is missing, on a connected cluster, under a name nothing else holds; a cluster's own
 * plan is only removed when asked to and when what the cluster inherits has everything it had on.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ARC_CHECKS,
  ARC_EXTENSIONS,
  arcSensorWorkspace,
  planArcCluster,
  type ArcCheckInput,
} from "../../src/checks/arc-extensions.js";
import { planPlanOverride, type PlanOverrideInput } from "../../src/checks/plan-override.js";
import type { ExtensionSnapshot } from "../../src/model/arc.js";
import type { WorkspaceSnapshot } from "../../src/model/cluster.js";
import type { PricingSnapshot } from "../../src/model/pricing.js";
import { pricingSnapshot } from "./arbitraries.js";
import { CLUSTER_ID, CONFIG_WORKSPACE, INSIGHTS_WORKSPACE } from "./builders.js";

const RUNS = { numRuns: 600 };
const lower = (value: unknown): string => (typeof value === "string" ? value.trim().toLowerCase() : "");

const anyValue = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.integer(),
  fc.string({ maxLength: 6 }),
);
const knownType = fc.mixedCase(
  fc.constantFrom(
    "microsoft.azuredefender.kubernetes",
    "microsoft.policyinsights",
    "microsoft.azuremonitor.containers",
    "microsoft.flux",
  ),
);
const knownName = fc.mixedCase(
  fc.constantFrom("microsoft.azuredefender.kubernetes", "azurepolicy", "azuremonitor-containers", "flux"),
);
const state = fc.oneof(
  fc.mixedCase(fc.constantFrom("Succeeded", "Failed", "Canceled", "Creating", "Updating", "Deleting")),
  anyValue,
);
const settings = fc.oneof(
  anyValue,
  fc.dictionary(
    fc.oneof(fc.mixedCase(fc.constant("logAnalyticsWorkspaceResourceID")), fc.string({ maxLength: 5 })),
    fc.oneof(fc.constantFrom(CONFIG_WORKSPACE, INSIGHTS_WORKSPACE, " ", ""), fc.integer()),
    { maxKeys: 2, noNullPrototype: true },
  ),
);

const extension: fc.Arbitrary<ExtensionSnapshot> = fc.record(
  {
    name: fc.oneof(knownName, fc.string({ maxLength: 6 })),
    extensionType: fc.oneof({ weight: 4, arbitrary: knownType }, { weight: 1, arbitrary: anyValue }),
    provisioningState: state,
    configurationSettings: settings,
    statuses: fc.oneof(anyValue, fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 2 })),
    errorInfo: fc.oneof(anyValue, fc.jsonValue({ maxDepth: 2 })),
  },
  { requiredKeys: ["name"], noNullPrototype: true },
);

const tagName = fc.oneof(
  fc.mixedCase(
    fc.constantFrom(
      "autoprotect-exclude",
      "ms_defender_container_exclude_sensors",
      "ms_defender_container_exclude_azurepolicy",
    ),
  ),
  fc.string({ maxLength: 5 }),
);
const tags = fc.dictionary(tagName, fc.constantFrom("true", " TRUE ", "false", "yes"), {
  maxKeys: 3,
  noNullPrototype: true,
});

const workspace: fc.Arbitrary<WorkspaceSnapshot> = fc.oneof(
  fc.constant({ state: "none" } as const),
  fc
    .constantFrom(CONFIG_WORKSPACE, INSIGHTS_WORKSPACE)
    .map((resourceId) => ({ state: "missing" as const, resourceId })),
  fc.constantFrom(CONFIG_WORKSPACE, INSIGHTS_WORKSPACE).map((resourceId) => ({
    state: "found" as const,
    resourceId,
    privateLinkScopeIds: [],
  })),
  fc.constant({ state: "invalid" as const, resourceId: "/subscriptions/x", problem: "not a workspace" }),
);

const arcInput: fc.Arbitrary<ArcCheckInput> = fc.record({
  cluster: fc.record({
    id: fc.constant(CLUSTER_ID),
    tags: fc.oneof(fc.constant(undefined), tags),
    connectivityStatus: fc.oneof(
      fc.mixedCase(fc.constantFrom("Connected", "Offline", "Expired", "Connecting", "AgentNotInstalled")),
      anyValue,
    ),
    distribution: fc.oneof(
      fc.mixedCase(fc.constantFrom("aks", "aks_management", "eks", "gke", "k3s", "openshift")),
      anyValue,
    ),
  }),
  extensions: fc.array(extension, { maxLength: 4 }),
  workspace,
  config: fc.record({
    workspaceId: fc.constantFrom(undefined, CONFIG_WORKSPACE),
    excludeTag: fc.constant("autoprotect-exclude"),
    checks: fc.subarray([...ARC_CHECKS]),
  }),
  resourceGroupTags: fc.oneof(fc.constant(undefined), tags),
});

function tagged(tagsValue: Readonly<Record<string, string>> | undefined, name: string): boolean {
  return Object.entries(tagsValue ?? {}).some(([k, v]) => lower(k) === name && lower(v) === "true");
}

describe("Arc-enabled clusters: any input", () => {
  it("reaches every verdict (so the properties below are not vacuous)", () => {
    const seen = new Set(
      fc
        .sample(arcInput, { numRuns: 2000, seed: 5 })
        .flatMap((input) => planArcCluster(input).map((f) => `${f.check} ${f.finding.verdict}`)),
    );
    for (const check of ARC_CHECKS) {
      for (const verdict of ["compliant", "change", "skipped", "manual", "deferred"]) {
        expect(seen).toContain(`${check} ${verdict}`);
      }
    }
  });

  it("plans every enabled check once, in order, without throwing", () => {
    fc.assert(
      fc.property(arcInput, (input) => {
        expect(planArcCluster(input).map((f) => f.check)).toEqual(
          ARC_CHECKS.filter((c) => input.config.checks.includes(c)),
        );
      }),
      RUNS,
    );
  });

  it("only ever creates a missing extension, on a connected cluster in scope, under a free name", () => {
    fc.assert(
      fc.property(arcInput, (input) => {
        for (const { check, finding } of planArcCluster(input)) {
          if (finding.verdict !== "change") continue;
          const rule = ARC_EXTENSIONS[check];
          const install = finding.change;
          expect(lower(input.cluster.connectivityStatus)).toBe("connected");
          expect(tagged(input.cluster.tags, "autoprotect-exclude")).toBe(false);
          expect(tagged(input.resourceGroupTags, "autoprotect-exclude")).toBe(false);
          expect(tagged(input.cluster.tags, rule.optOutTag)).toBe(false);
          expect(rule.excludedDistributions).not.toContain(lower(input.cluster.distribution));
          // A PUT under a name that exists would overwrite that extension; one of the type would reinstall it.
          expect(input.extensions.map((e) => lower(e.name))).not.toContain(lower(install.name));
          expect(input.extensions.map((e) => lower(e.extensionType))).not.toContain(rule.extensionType);
          expect(install.body.properties.extensionType).toBe(rule.extensionType);
          expect(install.body).not.toHaveProperty("properties.configurationProtectedSettings");
          if (check === "arc.defender-sensor") {
            const resolved = arcSensorWorkspace(input.extensions, input.config.workspaceId);
            expect(input.workspace.state).toBe("found");
            expect(install.body.properties.configurationSettings).toEqual({
              logAnalyticsWorkspaceResourceID: resolved?.resourceId,
            });
          } else {
            expect(install.body.properties.configurationSettings).toEqual({});
          }
        }
      }),
      RUNS,
    );
  });

  it("never installs over an extension of the check's type, whatever state it is in", () => {
    fc.assert(
      fc.property(arcInput, (input) => {
        for (const { check, finding } of planArcCluster(input)) {
          const installed = input.extensions.some(
            (e) => lower(e.extensionType) === ARC_EXTENSIONS[check].extensionType,
          );
          if (installed) expect(finding.verdict).not.toBe("change");
        }
      }),
      RUNS,
    );
  });
});

const anyPlan = fc
  .tuple(
    pricingSnapshot("Containers", ["P1"]),
    fc.oneof(fc.mixedCase(fc.constantFrom("True", "False")), anyValue),
  )
  .map(([plan, inherited]): PricingSnapshot => ({
    ...plan,
    properties: { ...plan.properties, ...(inherited === undefined ? {} : { inherited }) },
  }));

const overrideInput: fc.Arbitrary<PlanOverrideInput> = fc.record({
  clusterId: fc.constant(CLUSTER_ID),
  clusterPlan: fc.oneof(fc.constant(undefined), anyPlan),
  inheritedPlan: pricingSnapshot("Containers", ["P1"]),
  clusterTags: fc.oneof(fc.constant(undefined), tags),
  config: fc.record({ excludeTag: fc.constant("autoprotect-exclude"), removePlanOverrides: fc.boolean() }),
});

/** Extensions switched on (`True` in any case and spacing), lower-cased. */
function onIn(plan: PricingSnapshot | undefined): string[] {
  const list = (plan?.properties.extensions ?? []) as readonly { name?: unknown; isEnabled?: unknown }[];
  return list.filter((e) => lower(e.isEnabled) === "true").map((e) => lower(e.name));
}

describe("a cluster's own Containers plan: any input", () => {
  it("reaches every verdict (so the properties below are not vacuous)", () => {
    const seen = new Set(
      fc.sample(overrideInput, { numRuns: 3000, seed: 5 }).map((input) => planPlanOverride(input).verdict),
    );
    expect([...seen].sort()).toEqual(["change", "compliant", "manual", "skipped"]);
  });

  it("removes only the cluster's own plan, only when asked to, and never what it would weaken", () => {
    fc.assert(
      fc.property(overrideInput, (input) => {
        const finding = planPlanOverride(input);
        if (finding.verdict !== "change") return;
        const own = input.clusterPlan;
        expect(input.config.removePlanOverrides).toBe(true);
        expect(lower(own?.properties.inherited)).toBe("false");
        expect(finding.change.pricingId).toBe(
          `${CLUSTER_ID}/providers/Microsoft.Security/pricings/Containers`,
        );
        if (lower(own?.properties.pricingTier) === "standard") {
          expect(lower(input.inheritedPlan?.properties.pricingTier)).toBe("standard");
        }
        const inheritedOn = onIn(input.inheritedPlan);
        for (const name of onIn(own)) expect(inheritedOn).toContain(name);
      }),
      RUNS,
    );
  });

  it("never calls a cluster protected whose own plan leaves Defender off", () => {
    fc.assert(
      fc.property(overrideInput, (input) => {
        const finding = planPlanOverride(input);
        if (finding.verdict !== "compliant" || lower(input.clusterPlan?.properties.inherited) === "true")
          return;
        if (input.clusterPlan === undefined) return;
        expect(lower(input.clusterPlan.properties.pricingTier)).toBe("standard");
        expect(onIn(input.clusterPlan)).toEqual(
          expect.arrayContaining(["containersensor", "agentlessdiscoveryforkubernetes"]),
        );
      }),
      RUNS,
    );
  });
});
