import { describe, expect, it } from "vitest";
import { planApisPlan } from "../../src/checks/index.js";
import type { PricingSnapshot, PricingUpdate } from "../../src/model/pricing.js";
import { deepFreeze } from "./builders.js";

function api(properties: Record<string, unknown> | null): PricingSnapshot {
  return { name: "Api", properties } as unknown as PricingSnapshot;
}

describe("planApisPlan", () => {
  const compliant: [string, Record<string, unknown>][] = [
    ["Standard with another sub-plan than configured", { pricingTier: "Standard", subPlan: "P3" }],
    ["STANDARD without a sub-plan", { pricingTier: "STANDARD" }],
    ["standard with blanks", { pricingTier: " standard " }],
  ];
  it.each(compliant)("compliant: %s", (_name, properties) => {
    expect(planApisPlan(deepFreeze(api(properties)), "P1").verdict).toBe("compliant");
  });

  it("leaves a Free plan off where no API Management service could use it (it is billed per subscription)", () => {
    const finding = planApisPlan(api({ pricingTier: "Free" }), "P1", 0);
    expect(finding.verdict).toBe("skipped");
    expect(finding.reason).toMatch(/no API Management service here that Defender for APIs supports/);
    expect(planApisPlan(api({ pricingTier: "Free" }), "P1", 1).verdict).toBe("change");
    expect(planApisPlan(api({ pricingTier: "Standard" }), "P1", 0).verdict).toBe("compliant");
  });

  const changes: [string, Record<string, unknown> | null, string, PricingUpdate][] = [
    ["Free", { pricingTier: "Free" }, "P1", { pricingTier: "Standard", subPlan: "P1" }],
    [
      "free with a stale sub-plan",
      { pricingTier: "free", subPlan: "P4" },
      "P2",
      { pricingTier: "Standard", subPlan: "P2" },
    ],
    ["properties: null", null, "P1", { pricingTier: "Standard", subPlan: "P1" }],
    [
      "extensions kept as they are, read-only status dropped",
      {
        pricingTier: "Free",
        extensions: [
          { name: "Sample", isEnabled: "true", operationStatus: { code: "Succeeded" } },
          { name: "Other", isEnabled: "FALSE", additionalExtensionProperties: { a: 1 } },
        ],
      },
      "P1",
      {
        pricingTier: "Standard",
        subPlan: "P1",
        extensions: [
          { name: "Sample", isEnabled: "True" },
          { name: "Other", isEnabled: "False", additionalExtensionProperties: { a: 1 } },
        ],
      },
    ],
    [
      "extensions: null are not invented",
      { pricingTier: "Free", extensions: null },
      "P1",
      { pricingTier: "Standard", subPlan: "P1" },
    ],
  ];
  it.each(changes)("change: %s", (_name, properties, subPlan, update) => {
    const finding = planApisPlan(deepFreeze(api(properties)), subPlan);
    if (finding.verdict !== "change") throw new Error(`expected a change, got ${finding.verdict}`);
    expect(finding.change).toStrictEqual(update);
    expect(finding.action).toBe(`set the Defender for APIs plan to Standard with sub-plan ${subPlan}`);
  });

  it("names the current tier in the reason", () => {
    expect(planApisPlan(api({ pricingTier: "Free" }), "P1").reason).toBe(
      "the Defender for APIs plan is Free",
    );
  });
});
