import {
  logAnalyticsWorkspace,
  managedCluster,
  managedClusterId,
  workspaceResourceId,
} from "../../sim/builders.js";
import type { Estate } from "../../sim/index.js";

export const SUB_A = "0a1b2c3d-0000-4000-8000-00000000000a";
export const SUB_B = "0a1b2c3d-0000-4000-8000-00000000000b";

export const workspaceId = (sub = SUB_A, name = "law-main"): string =>
  workspaceResourceId(sub, "rg-monitor", name);

export const clusterId = (name: string, sub = SUB_A, group = "rg-aks"): string =>
  managedClusterId(sub, group, name);

export function workspace(id = workspaceId(), ingestion = "Enabled"): Estate["resources"][number] {
  return logAnalyticsWorkspace(id, { properties: { publicNetworkAccessForIngestion: ingestion } });
}

interface ClusterOptions {
  sub?: string;
  group?: string;
  tags?: Record<string, string>;
  properties?: Record<string, unknown>;
}

/** A managed cluster as ARM returns it, with nothing protected unless `properties` says so. */
export function cluster(name: string, options: ClusterOptions = {}): Estate["resources"][number] {
  return managedCluster(clusterId(name, options.sub, options.group), {
    ...(options.tags === undefined ? {} : { tags: options.tags }),
    properties: {
      disableLocalAccounts: true,
      nodeResourceGroup: `MC_rg-aks_${name}_westeurope`,
      autoUpgradeProfile: { upgradeChannel: "patch", nodeOSUpgradeChannel: "NodeImage" },
      oidcIssuerProfile: { enabled: true },
      ...options.properties,
    },
  });
}

export const PROTECTED_PROPERTIES = {
  addonProfiles: { azurepolicy: { enabled: true } },
  securityProfile: {
    defender: { logAnalyticsWorkspaceResourceId: workspaceId(), securityMonitoring: { enabled: true } },
  },
  apiServerAccessProfile: { authorizedIPRanges: ["198.51.100.0/24"] },
};

export function estate(
  resources: Estate["resources"],
  containers: Record<string, unknown> = { pricingTier: "Free" },
): Estate {
  return {
    subscriptions: [{ subscriptionId: SUB_A, pricings: { Containers: containers as never } }],
    resources: [workspace(), ...resources],
  };
}
