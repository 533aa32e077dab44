import {
  logAnalyticsWorkspace,
  managedCluster,
  managedClusterId,
  workspaceResourceId,
} from "../sim/builders.js";
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
  const workspaceId = workspaceResourceId(firstSub, "rg-monitor", "law-bench");
  const resources: Estate["resources"] = [logAnalyticsWorkspace(workspaceId)];
  for (let i = 0; i < count; i += 1) {
    const sub = subscriptionIds[i % subscriptionCount] ?? firstSub;
    const group = `rg-team-${Math.floor(i / subscriptionCount) % groupsPerSubscription}`;
    const variant = i % 5;
    resources.push(
      managedCluster(managedClusterId(sub, group, `aks-${i.toString().padStart(5, "0")}`), {
        tags: variant === 4 ? { "autoprotect-exclude": "true" } : { team: group },
        sku: { name: "Base", tier: "Standard" },
        properties: {
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
      }),
    );
  }
  return {
    subscriptions: subscriptionIds.map((subscriptionId) => ({
      subscriptionId,
      pricings: { Containers: { pricingTier: "Free" } },
    })),
    resources,
  };
}
