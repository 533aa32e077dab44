import { ResourceManagementClient } from "@azure/arm-resources";
import { SubscriptionClient } from "@azure/arm-resources-subscriptions";
import { perSubscription, sdkClientOptions, type AzureConnection } from "./connection.js";
import { azureCall, isNotFound } from "./errors.js";

/** Azure Resource Manager itself: subscriptions the identity can see, resource groups (for their tags). */
export interface ResourcesAdapter {
  listSubscriptionIds(): Promise<string[]>;
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
