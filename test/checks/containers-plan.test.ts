import { describe, expect, it } from "vitest";
import { planContainersPlan } from "../../src/checks/index.js";
import type { PricingSnapshot, PricingUpdate } from "../../src/model/pricing.js";
import { deepFreeze, SUBSCRIPTION } from "./builders.js";

function containers(properties: Record<string, unknown> | null): PricingSnapshot {
  return {
    id: `/subscriptions/${SUBSCRIPTION}/providers/Microsoft.Security/pricings/Containers`,
    name: "Containers",
    properties,
  } as unknown as PricingSnapshot;
}

const succeeded = { code: "Succeeded", message: "Successfully enabled extension" };

describe("planContainersPlan: compliant", () => {
  const cases: [string, Record<string, unknown>][] = [
    [
      "Standard with both extensions on, as ARM returns it",
      {
        pricingTier: "Standard",
        freeTrialRemainingTime: "PT0S",
        enforce: "False",
        extensions: [
          {
            name: "ContainerRegistriesVulnerabilityAssessments",
            isEnabled: "False",
            operationStatus: succeeded,
          },
          { name: "ContainerSensor", isEnabled: "True", operationStatus: succeeded },
          { name: "AgentlessDiscoveryForKubernetes", isEnabled: "True", operationStatus: succeeded },
        ],
      },
    ],
    [
      "tier, names and values in other cases",
      {
        pricingTier: "standard",
        extensions: [
          { name: "containersensor", isEnabled: "TRUE" },
          { name: "AGENTLESSDISCOVERYFORKUBERNETES", isEnabled: "true" },
        ],
      },
    ],
  ];
  it.each(cases)("%s", (_name, properties) => {
    const finding = planContainersPlan(deepFreeze(containers(properties)));
    expect(finding.verdict).toBe("compliant");
  });
});

describe("planContainersPlan: change", () => {
  const cases: {
    name: string;
    properties: Record<string, unknown> | null;
    update: PricingUpdate;
    reason: string;
    action: string;
  }[] = [
    {
      name: "Free without extensions",
      properties: { pricingTier: "Free" },
      update: {
        pricingTier: "Standard",
        extensions: [
          { name: "ContainerSensor", isEnabled: "True" },
          { name: "AgentlessDiscoveryForKubernetes", isEnabled: "True" },
        ],
      },
      reason:
        "the Containers plan is Free, ContainerSensor is missing and AgentlessDiscoveryForKubernetes is missing",
      action:
        "set the Containers plan to Standard with ContainerSensor and AgentlessDiscoveryForKubernetes on",
    },
    {
      name: "free (lower case) with extensions: null",
      properties: { pricingTier: "free", extensions: null },
      update: {
        pricingTier: "Standard",
        extensions: [
          { name: "ContainerSensor", isEnabled: "True" },
          { name: "AgentlessDiscoveryForKubernetes", isEnabled: "True" },
        ],
      },
      reason:
        "the Containers plan is free, ContainerSensor is missing and AgentlessDiscoveryForKubernetes is missing",
      action:
        "set the Containers plan to Standard with ContainerSensor and AgentlessDiscoveryForKubernetes on",
    },
    {
      name: "Standard with ContainerSensor off, discovery missing, another extension off",
      properties: {
        pricingTier: "Standard",
        enforce: "False",
        extensions: [
          {
            name: "ContainerRegistriesVulnerabilityAssessments",
            isEnabled: "false",
            operationStatus: succeeded,
          },
          {
            name: "ContainerSensor",
            isEnabled: "False",
            additionalExtensionProperties: { ExclusionTags: "[]" },
            operationStatus: succeeded,
          },
        ],
      },
      update: {
        pricingTier: "Standard",
        // carried over as read, so the PUT does not reset enforcement on child scopes
        enforce: "False",
        extensions: [
          { name: "ContainerRegistriesVulnerabilityAssessments", isEnabled: "False" },
          {
            name: "ContainerSensor",
            isEnabled: "True",
            additionalExtensionProperties: { ExclusionTags: "[]" },
          },
          { name: "AgentlessDiscoveryForKubernetes", isEnabled: "True" },
        ],
      },
      reason: "ContainerSensor is off and AgentlessDiscoveryForKubernetes is missing",
      action: "turn on ContainerSensor and AgentlessDiscoveryForKubernetes in the Containers plan",
    },
    {
      name: "Free with both on: only the tier changes; names keep their spelling; other values kept",
      properties: {
        pricingTier: "Free",
        extensions: [
          { name: "agentlessDiscoveryForKubernetes", isEnabled: "TRUE" },
          { name: "AgentlessVmScanning", isEnabled: "TRUE" },
          { name: "containerSensor", isEnabled: "true" },
        ],
      },
      update: {
        pricingTier: "Standard",
        extensions: [
          { name: "agentlessDiscoveryForKubernetes", isEnabled: "True" },
          { name: "AgentlessVmScanning", isEnabled: "True" },
          { name: "containerSensor", isEnabled: "True" },
        ],
      },
      reason: "the Containers plan is Free",
      action:
        "set the Containers plan to Standard with ContainerSensor and AgentlessDiscoveryForKubernetes on",
    },
    {
      name: "a sub-plan is kept",
      properties: {
        pricingTier: "Standard",
        subPlan: "P1",
        extensions: [
          { name: "ContainerSensor", isEnabled: "True" },
          { name: "AgentlessDiscoveryForKubernetes", isEnabled: "False" },
        ],
      },
      update: {
        pricingTier: "Standard",
        subPlan: "P1",
        extensions: [
          { name: "ContainerSensor", isEnabled: "True" },
          { name: "AgentlessDiscoveryForKubernetes", isEnabled: "True" },
        ],
      },
      reason: "AgentlessDiscoveryForKubernetes is off",
      action: "turn on AgentlessDiscoveryForKubernetes in the Containers plan",
    },
    {
      name: "a duplicate entry left off is turned on too",
      properties: {
        pricingTier: "Standard",
        extensions: [
          { name: "ContainerSensor", isEnabled: "True" },
          { name: "CONTAINERSENSOR", isEnabled: "False" },
          { name: "AgentlessDiscoveryForKubernetes", isEnabled: "True" },
        ],
      },
      update: {
        pricingTier: "Standard",
        extensions: [
          { name: "ContainerSensor", isEnabled: "True" },
          { name: "CONTAINERSENSOR", isEnabled: "True" },
          { name: "AgentlessDiscoveryForKubernetes", isEnabled: "True" },
        ],
      },
      reason: "ContainerSensor is off",
      action: "turn on ContainerSensor in the Containers plan",
    },
    {
      name: "properties: null",
      properties: null,
      update: {
        pricingTier: "Standard",
        extensions: [
          { name: "ContainerSensor", isEnabled: "True" },
          { name: "AgentlessDiscoveryForKubernetes", isEnabled: "True" },
        ],
      },
      reason:
        "the Containers plan is not set, ContainerSensor is missing and AgentlessDiscoveryForKubernetes is missing",
      action:
        "set the Containers plan to Standard with ContainerSensor and AgentlessDiscoveryForKubernetes on",
    },
  ];
  it.each(cases)("$name", ({ properties, update, reason, action }) => {
    const finding = planContainersPlan(deepFreeze(containers(properties)));
    expect(finding).toMatchObject({ verdict: "change", reason, action });
    if (finding.verdict !== "change") return;
    expect(finding.change).toStrictEqual(update);
  });

  it("reports the tier and extension states before the change", () => {
    const finding = planContainersPlan(
      containers({
        pricingTier: "Free",
        extensions: [
          { name: "ContainerSensor", isEnabled: "true" },
          { name: "AgentlessVmScanning", isEnabled: "False" },
        ],
      }),
    );
    expect(finding.details).toEqual({
      pricingTier: "Free",
      extensions: { ContainerSensor: "True", AgentlessVmScanning: "False" },
    });
  });

  it("skips extension entries that are null or have no name instead of crashing", () => {
    const finding = planContainersPlan(
      containers({
        pricingTier: "Free",
        extensions: [null, { isEnabled: "True" }, { name: "Other", isEnabled: "True" }],
      }),
    );
    if (finding.verdict !== "change") throw new Error(`expected a change, got ${finding.verdict}`);
    expect(finding.change.extensions?.map((e) => e.name)).toEqual([
      "Other",
      "ContainerSensor",
      "AgentlessDiscoveryForKubernetes",
    ]);
  });
});
