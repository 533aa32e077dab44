import type { Estate } from "../sim/index.js";

/** A deterministic estate of `count` clusters spread over subscriptions and resource groups, in a realistic mix of states. */
export function generateClusterEstate(
  count: number,
  subscriptionCount = 4,
  groupsPerSubscription = 10,
): Estate {
  const subscriptionIds = Array.from(
    { length: subscriptionCount },
    (_, i) => `5e1f0000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`,
  );
  const firstSub = subscriptionIds[0] ?? "";
  const workspaceId = `/subscriptions/${firstSub}/resourceGroups/rg-monitor/providers/Microsoft.OperationalInsights/workspaces/law-bench`;
  const resources: Estate["resources"] = [
    {
      id: workspaceId,
      name: "law-bench",
      type: "Microsoft.OperationalInsights/workspaces",
      location: "westeurope",
      properties: { provisioningState: "Succeeded", publicNetworkAccessForIngestion: "Enabled" },
    },
  ];
  for (let i = 0; i < count; i += 1) {
    const sub = subscriptionIds[i % subscriptionCount] ?? firstSub;
    const group = `rg-team-${Math.floor(i / subscriptionCount) % groupsPerSubscription}`;
    const name = `aks-${i.toString().padStart(5, "0")}`;
    const variant = i % 5;
    resources.push({
      id: `/subscriptions/${sub}/resourceGroups/${group}/providers/Microsoft.ContainerService/managedClusters/${name}`,
      name,
      type: "Microsoft.ContainerService/ManagedClusters",
      location: "westeurope",
      tags: variant === 4 ? { "autoprotect-exclude": "true" } : { team: group },
      sku: { name: "Base", tier: "Standard" },
      identity: { type: "SystemAssigned" },
      properties: {
        provisioningState: "Succeeded",
        powerState: { code: "Running" },
        kubernetesVersion: "1.33",
        dnsPrefix: `${name}-dns`,
        enableRBAC: true,
        agentPoolProfiles: [
          {
            name: "system",
            count: 3,
            vmSize: "Standard_D4ds_v5",
            mode: "System",
            osType: "Linux",
            type: "VirtualMachineScaleSets",
          },
        ],
        networkProfile: { networkPlugin: "azure", loadBalancerSku: "standard", outboundType: "loadBalancer" },
        addonProfiles: variant >= 2 ? { azurepolicy: { enabled: true } } : {},
        securityProfile:
          variant >= 3
            ? {
                defender: {
                  logAnalyticsWorkspaceResourceId: workspaceId,
                  securityMonitoring: { enabled: true },
                },
              }
            : {},
        apiServerAccessProfile: variant === 1 ? { enablePrivateCluster: true } : {},
      },
    });
  }
  return {
    subscriptions: subscriptionIds.map((subscriptionId) => ({
      subscriptionId,
      pricings: { Containers: { pricingTier: "Free" } },
    })),
    resources,
  };
}
