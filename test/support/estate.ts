import type { Estate } from "../../sim/index.js";

export const SUB_A = "0a1b2c3d-0000-4000-8000-00000000000a";
export const SUB_B = "0a1b2c3d-0000-4000-8000-00000000000b";

export const workspaceId = (sub = SUB_A, name = "law-main"): string =>
  `/subscriptions/${sub}/resourceGroups/rg-monitor/providers/Microsoft.OperationalInsights/workspaces/${name}`;

export const clusterId = (name: string, sub = SUB_A, group = "rg-aks"): string =>
  `/subscriptions/${sub}/resourceGroups/${group}/providers/Microsoft.ContainerService/managedClusters/${name}`;

export function workspace(id = workspaceId(), ingestion = "Enabled"): Estate["resources"][number] {
  const name = id.split("/").at(-1) ?? "law";
  return {
    id,
    name,
    type: "Microsoft.OperationalInsights/workspaces",
    location: "westeurope",
    properties: {
      provisioningState: "Succeeded",
      publicNetworkAccessForIngestion: ingestion,
      publicNetworkAccessForQuery: "Enabled",
    },
  };
}

interface ClusterOptions {
  sub?: string;
  group?: string;
  tags?: Record<string, string>;
  properties?: Record<string, unknown>;
}

/** A managed cluster as ARM returns it, with nothing protected unless `properties` says so. */
export function cluster(name: string, options: ClusterOptions = {}): Estate["resources"][number] {
  return {
    id: clusterId(name, options.sub, options.group),
    name,
    type: "Microsoft.ContainerService/ManagedClusters",
    location: "westeurope",
    tags: options.tags ?? {},
    sku: { name: "Base", tier: "Free" },
    identity: { type: "SystemAssigned" },
    properties: {
      provisioningState: "Succeeded",
      powerState: { code: "Running" },
      kubernetesVersion: "1.33",
      dnsPrefix: `${name}-dns`,
      enableRBAC: true,
      disableLocalAccounts: true,
      nodeResourceGroup: `MC_rg-aks_${name}_westeurope`,
      agentPoolProfiles: [
        {
          name: "system",
          count: 3,
          vmSize: "Standard_D4ds_v5",
          mode: "System",
          osType: "Linux",
          type: "VirtualMachineScaleSets",
          enableNodePublicIP: false,
        },
      ],
      networkProfile: { networkPlugin: "azure", loadBalancerSku: "standard", outboundType: "loadBalancer" },
      autoUpgradeProfile: { upgradeChannel: "patch", nodeOSUpgradeChannel: "NodeImage" },
      oidcIssuerProfile: { enabled: true },
      addonProfiles: {},
      ...options.properties,
    },
  };
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
