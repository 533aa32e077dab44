import type { ClusterSnapshot, WorkspaceSnapshot } from "../../src/model/cluster.js";
import { CHECK_IDS } from "../../src/model/checks.js";
import type { ClusterCheckInput } from "../../src/checks/index.js";
import { DEFAULT_MIN_AUTHORIZED_PREFIX } from "../../src/model/ip-range.js";
import { parseWorkspaceId, ResourceIdError } from "../../src/model/resource-id.js";

export const SUBSCRIPTION = "0b1f6471-1bf0-4dda-aec3-cb9272f09590";
const monitoring = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-monitoring/providers/Microsoft.OperationalInsights/workspaces`;
export const CLUSTER_WORKSPACE = `${monitoring}/ws-cluster`;
export const CONFIG_WORKSPACE = `${monitoring}/ws-config`;
export const INSIGHTS_WORKSPACE = `${monitoring}/ws-insights`;
export const PRIVATE_LINK_SCOPE = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-net/providers/microsoft.insights/privateLinkScopes/ampls`;
export const CLUSTER_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/aks-1`;

/** ARM-shaped values the declared types forbid (nulls, wrong case) go through here on purpose. */
export function cluster(fields: Record<string, unknown> = {}): ClusterSnapshot {
  return { id: CLUSTER_ID, name: "aks-1", location: "westeurope", ...fields };
}

export function found(
  resourceId: string,
  extra: Partial<Extract<WorkspaceSnapshot, { state: "found" }>> = {},
): WorkspaceSnapshot {
  return { state: "found", resourceId, privateLinkScopeIds: [], ...extra };
}

export const NO_WORKSPACE: WorkspaceSnapshot = { state: "none" };

/** azure-rest-api-specs' ManagedClustersCreate_SecurityProfile example's workspace id: placeholders, not a valid id. */
export const SPEC_EXAMPLE_WORKSPACE =
  "/subscriptions/SUB_ID/resourcegroups/RG_NAME/providers/microsoft.operationalinsights/workspaces/WORKSPACE_NAME";

/** What the Log Analytics adapter reports for an id it will not send to ARM. */
export function invalid(resourceId: string): WorkspaceSnapshot {
  try {
    parseWorkspaceId(resourceId);
  } catch (error) {
    if (error instanceof ResourceIdError) return { state: "invalid", resourceId, problem: error.reason };
    throw error;
  }
  throw new Error(`${resourceId} is a valid workspace id`);
}

export function input(
  clusterFields: Record<string, unknown>,
  options: {
    workspace?: WorkspaceSnapshot;
    config?: Partial<ClusterCheckInput["config"]>;
    resourceGroupTags?: Record<string, string>;
  } = {},
): ClusterCheckInput {
  return {
    cluster: cluster(clusterFields),
    workspace: options.workspace ?? found(CONFIG_WORKSPACE),
    config: {
      workspaceId: CONFIG_WORKSPACE,
      authorizedIpRanges: ["203.0.113.0/24"],
      minAuthorizedPrefix: DEFAULT_MIN_AUTHORIZED_PREFIX,
      excludeTag: "autoprotect-exclude",
      checks: [...CHECK_IDS],
      ...options.config,
    },
    ...(options.resourceGroupTags === undefined ? {} : { resourceGroupTags: options.resourceGroupTags }),
  };
}

/** A cluster that meets every check, for tests that vary one thing. */
export const COMPLIANT: Record<string, unknown> = {
  provisioningState: "Succeeded",
  powerState: { code: "Running" },
  addonProfiles: { azurepolicy: { enabled: true } },
  securityProfile: {
    defender: { logAnalyticsWorkspaceResourceId: CONFIG_WORKSPACE, securityMonitoring: { enabled: true } },
  },
  apiServerAccessProfile: { authorizedIPRanges: ["198.51.100.0/24"] },
  networkProfile: { loadBalancerSku: "standard" },
  agentPoolProfiles: [{ name: "system", enableNodePublicIP: false }],
};

/** Throws on any write, so a test fails if a pure function mutates its input. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
