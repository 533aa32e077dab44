/** Check ids and statuses exactly as CONTRACT.md fixes them. */
export const CHECK_IDS = [
  "defender.containers-plan",
  "aks.defender-sensor",
  "aks.azure-policy",
  "aks.authorized-ips",
  "aks.sensor-workspace",
  "defender.apis-plan",
  "apim.api-onboarding",
  "aks.containers-plan-override",
  "arc.defender-sensor",
  "arc.azure-policy",
  "defender.agreement",
] as const;

export type CheckId = (typeof CHECK_IDS)[number];

export const STATUSES = [
  "compliant",
  "remediated",
  "planned",
  "deferred",
  "skipped",
  "manual",
  "failed",
] as const;

export type Status = (typeof STATUSES)[number];

export function isCheckId(value: string): value is CheckId {
  return (CHECK_IDS as readonly string[]).includes(value);
}

export const RESOURCE_TYPES = {
  managedCluster: "Microsoft.ContainerService/managedClusters",
  pricing: "Microsoft.Security/pricings",
  apimService: "Microsoft.ApiManagement/service",
  apimApi: "Microsoft.ApiManagement/service/apis",
  connectedCluster: "Microsoft.Kubernetes/connectedClusters",
} as const;

/**
 * What a pure planner concludes about one check on one resource. `change` means the
 * resource does not comply and `change` describes the minimal write that makes it comply;
 * the engine decides whether to apply it (enforce) or report it (audit).
 */
export type Finding<C> =
  | { readonly verdict: "compliant"; readonly reason: string; readonly details?: Record<string, unknown> }
  | {
      readonly verdict: "change";
      readonly reason: string;
      readonly action: string;
      readonly change: C;
      readonly details?: Record<string, unknown>;
    }
  | {
      readonly verdict: "skipped" | "manual";
      readonly reason: string;
      readonly details?: Record<string, unknown>;
    }
  | {
      readonly verdict: "deferred";
      readonly reason: string;
      /** When the engine should look again. */
      readonly retryAfterSeconds: number;
      readonly details?: Record<string, unknown>;
    };
