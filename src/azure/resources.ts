import { ResourceManagementClient } from "@azure/arm-resources";
import { SubscriptionClient } from "@azure/arm-resources-subscriptions";
import { perSubscription, sdkClientOptions, type AzureConnection } from "./connection.js";
import { azureCall, isNotFound } from "./errors.js";

/** A subscription the identity can see, as people name it. */
export interface SubscriptionInfo {
  readonly subscriptionId: string;
  readonly displayName: string;
  readonly state: string;
  readonly tenantId?: string;
}

/** Azure Resource Manager itself: subscriptions the identity can see, resource groups (for their tags). */
export interface ResourcesAdapter {
  /** Ids of the subscriptions the identity can see that are not disabled. */
  listSubscriptionIds(): Promise<string[]>;
  /** Every subscription the identity can see, with its display name and state (names resolve to ids). */
  listSubscriptions(): Promise<SubscriptionInfo[]>;
  /** The group's tags; undefined when the group does not exist. */
  getResourceGroupTags(
    subscriptionId: string,
    resourceGroup: string,
  ): Promise<Record<string, string> | undefined>;
}

export function createResourcesAdapter(connection: AzureConnection): ResourcesAdapter {
  const options = sdkClientOptions(connection);
  const subscriptionClient = new SubscriptionClient(connection.credential, options);
  const groups = perSubscription(
    (subscriptionId) => new ResourceManagementClient(connection.credential, subscriptionId, options),
  );
  return {
    listSubscriptions: () =>
      azureCall(async () => {
        const found: SubscriptionInfo[] = [];
        for await (const subscription of subscriptionClient.subscriptions.list()) {
          if (subscription.subscriptionId === undefined) continue;
          found.push({
            subscriptionId: subscription.subscriptionId,
            displayName: subscription.displayName ?? "",
            state: subscription.state ?? "Enabled",
            ...(subscription.tenantId === undefined ? {} : { tenantId: subscription.tenantId }),
          });
        }
        return found;
      }),
    listSubscriptionIds: () =>
      azureCall(async () => {
        const ids: string[] = [];
        for await (const subscription of subscriptionClient.subscriptions.list()) {
          if (subscription.subscriptionId !== undefined && subscription.state !== "Disabled") {
            ids.push(subscription.subscriptionId);
          }
        }
        return ids;
      }),
    async getResourceGroupTags(subscriptionId, resourceGroup) {
      try {
        const group = await azureCall(() => groups(subscriptionId).resourceGroups.get(resourceGroup));
        return group.tags ?? {};
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
  };
}
