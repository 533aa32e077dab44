/** What the simulator knows about Defender for Cloud plans (Microsoft.Security/pricings). */
import type { EstatePricing } from "./estate.js";

/**
 * Extensions per plan (lower-case plan name). A PUT that makes a plan Standard without sending
 * `extensions` turns all of these on, as Azure does.
 */
const PLAN_EXTENSIONS: Readonly<Record<string, readonly string[]>> = {
  containers: [
    "ContainerRegistriesVulnerabilityAssessments",
    "AgentlessDiscoveryForKubernetes",
    "ContainerSensor",
  ],
  cloudposture: [
    "AgentlessVmScanning",
    "AgentlessDiscoveryForKubernetes",
    "SensitiveDataDiscovery",
    "ContainerRegistriesVulnerabilityAssessments",
  ],
};

/** Sub-plans a plan accepts (lower-case plan name); plans not listed take any sub-plan. */
export const PLAN_SUBPLANS: Readonly<Record<string, readonly string[]>> = {
  api: ["P1", "P2", "P3", "P4", "P5"],
};

export function planExtensions(plan: string): readonly string[] {
  return PLAN_EXTENSIONS[plan.toLowerCase()] ?? [];
}

/** Plans every subscription has unless the estate lists them: all Free, extensions off. */
export function defaultPricings(): Record<string, EstatePricing> {
  return {
    Containers: {
      pricingTier: "Free",
      extensions: planExtensions("Containers").map((name) => ({ name, isEnabled: "False" })),
    },
    Api: { pricingTier: "Free" },
    VirtualMachines: { pricingTier: "Free" },
  };
}
