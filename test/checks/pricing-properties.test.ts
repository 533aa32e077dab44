import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { planApisPlan, planContainersPlan } from "../../src/checks/index.js";
import type { PricingExtension, PricingSnapshot, PricingUpdate } from "../../src/model/pricing.js";
import { pricingSnapshot } from "./arbitraries.js";

const RUNS = { numRuns: 500 };
const REQUIRED = ["containersensor", "agentlessdiscoveryforkubernetes"];

type Obj = Record<string, unknown>;
const obj = (value: unknown): Obj =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Obj) : {};
const word = (value: unknown) => (typeof value === "string" ? value.trim().toLowerCase() : "");
const asWritten = (value: unknown) => (word(value) === "true" ? "True" : "False");
const extensionsOf = (pricing: PricingSnapshot): readonly PricingExtension[] =>
  (obj(pricing.properties).extensions as readonly PricingExtension[] | null | undefined) ?? [];
const isStandard = (pricing: PricingSnapshot) => word(pricing.properties.pricingTier) === "standard";

/** What ARM holds after the PUT: the writable fields replaced, the read-only ones kept. */
function put(pricing: PricingSnapshot, update: PricingUpdate): PricingSnapshot {
  return { ...pricing, properties: { ...pricing.properties, ...update } };
}

/** The update keeps every extension in place; only the required ones may turn on. */
function expectExtensionsKept(before: PricingSnapshot, update: PricingUpdate, turnOn: readonly string[]) {
  const existing = extensionsOf(before);
  const written = update.extensions ?? [];
  expect(written.length).toBeGreaterThanOrEqual(existing.length);
  existing.forEach((extension, i) => {
    const now = written[i];
    expect(now?.name).toBe(extension.name);
    expect(now?.isEnabled).toBe(
      turnOn.includes(extension.name.toLowerCase()) ? "True" : asWritten(extension.isEnabled),
    );
    expect(now?.additionalExtensionProperties).toStrictEqual(extension.additionalExtensionProperties);
    expect(now !== undefined && "operationStatus" in now).toBe(false);
  });
  for (const appended of written.slice(existing.length)) {
    expect(turnOn).toContain(appended.name.toLowerCase());
    expect(appended.isEnabled).toBe("True");
  }
}

describe("planContainersPlan, for any plan", () => {
  const containers = pricingSnapshot("Containers", ["P1", "P2"]);
  const compliantOracle = (pricing: PricingSnapshot) =>
    isStandard(pricing) &&
    REQUIRED.every((name) => {
      const matching = extensionsOf(pricing).filter((e) => e.name.toLowerCase() === name);
      return matching.length > 0 && matching.every((e) => word(e.isEnabled) === "true");
    });

  it("is compliant exactly when Standard with both extensions on", () => {
    fc.assert(
      fc.property(containers, (pricing) => {
        const finding = planContainersPlan(pricing);
        expect(finding.verdict).toBe(compliantOracle(pricing) ? "compliant" : "change");
      }),
      RUNS,
    );
  });

  it("never lowers the tier, changes another extension, drops one, or loses the sub-plan", () => {
    fc.assert(
      fc.property(containers, (pricing) => {
        const finding = planContainersPlan(pricing);
        if (finding.verdict !== "change") return;
        expect(finding.change.pricingTier).toBe("Standard");
        expect(finding.change.subPlan).toBe(pricing.properties.subPlan);
        expectExtensionsKept(pricing, finding.change, REQUIRED);
        for (const name of REQUIRED) {
          expect(
            finding.change.extensions?.some((e) => e.name.toLowerCase() === name && e.isEnabled === "True"),
          ).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it("converges: after the PUT there is nothing left to change", () => {
    fc.assert(
      fc.property(containers, (pricing) => {
        const finding = planContainersPlan(pricing);
        if (finding.verdict !== "change") return;
        expect(planContainersPlan(put(pricing, finding.change)).verdict).toBe("compliant");
      }),
      RUNS,
    );
  });
});

describe("planApisPlan, for any plan", () => {
  const apis = pricingSnapshot("Api", ["P1", "P2", "P3", "P4", "P5"]);
  const subPlan = fc.constantFrom("P1", "P2", "P3", "P4", "P5");

  it("never touches a Standard plan, so never changes its sub-plan", () => {
    fc.assert(
      fc.property(apis, subPlan, (pricing, wanted) => {
        const finding = planApisPlan(pricing, wanted);
        expect(finding.verdict).toBe(isStandard(pricing) ? "compliant" : "change");
      }),
      RUNS,
    );
  });

  it("raises any other plan to Standard with the configured sub-plan and keeps its extensions as they are", () => {
    fc.assert(
      fc.property(apis, subPlan, (pricing, wanted) => {
        const finding = planApisPlan(pricing, wanted);
        if (finding.verdict !== "change") return;
        expect(finding.change.pricingTier).toBe("Standard");
        expect(finding.change.subPlan).toBe(wanted);
        expectExtensionsKept(pricing, finding.change, []);
        expect(finding.change.extensions?.length ?? 0).toBe(extensionsOf(pricing).length);
        expect("extensions" in finding.change).toBe(Array.isArray(obj(pricing.properties).extensions));
      }),
      RUNS,
    );
  });

  it("converges: after the PUT there is nothing left to change", () => {
    fc.assert(
      fc.property(apis, subPlan, (pricing, wanted) => {
        const finding = planApisPlan(pricing, wanted);
        if (finding.verdict !== "change") return;
        expect(planApisPlan(put(pricing, finding.change), wanted).verdict).toBe("compliant");
      }),
      RUNS,
    );
  });
});

describe("the plan generator", () => {
  it("reaches both verdicts of both planners (so the properties above are not vacuous)", () => {
    const seen = new Set<string>();
    for (const pricing of fc.sample(pricingSnapshot("Containers", ["P1"]), { numRuns: 2000, seed: 11 })) {
      seen.add(`containers ${planContainersPlan(pricing).verdict}`);
      seen.add(`apis ${planApisPlan(pricing, "P1").verdict}`);
    }
    expect([...seen].sort()).toEqual([
      "apis change",
      "apis compliant",
      "containers change",
      "containers compliant",
    ]);
  });
});
