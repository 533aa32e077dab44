import { ContainerServiceClient, type ManagedCluster } from "@azure/arm-containerservice";
import { parseResourceId } from "../model/resource-id.js";
import { perSubscription, pollIntervalMs, sdkClientOptions, type AzureConnection } from "./connection.js";
import { azureCall, isNotFound, toAzureApiError } from "./errors.js";

/** The SDK's managed cluster model (ARM's `properties` flattened); structurally a ClusterSnapshot. */
export type ManagedClusterModel = ManagedCluster;

export interface AksAdapter {
  listClusters(subscriptionId: string): AsyncIterable<ManagedClusterModel>;
  /** undefined when the cluster does not exist (deleted before we looked). */
  getCluster(clusterId: string): Promise<ManagedClusterModel | undefined>;
  /** One PUT of the whole cluster, guarded by If-Match, awaited to the end of its long-running operation. */
  putCluster(
    clusterId: string,
    body: ManagedClusterModel,
    eTag: string | undefined,
  ): Promise<ManagedClusterModel>;
}

export function createAksAdapter(connection: AzureConnection): AksAdapter {
  const client = perSubscription(
    (subscriptionId) =>
      new ContainerServiceClient(connection.credential, subscriptionId, sdkClientOptions(connection)),
  );
  const locate = (clusterId: string): { subscriptionId: string; resourceGroup: string; name: string } => {
    const parsed = parseResourceId(clusterId);
    const name = parsed.names[0];
    if (
      parsed.type.toLowerCase() !== "microsoft.containerservice/managedclusters" ||
      parsed.resourceGroup === undefined ||
      name === undefined
    ) {
      throw new TypeError(`'${clusterId}' is not a managed cluster id`);
    }
    return { subscriptionId: parsed.subscriptionId, resourceGroup: parsed.resourceGroup, name };
  };

  return {
    async *listClusters(subscriptionId) {
      const pages = client(subscriptionId).managedClusters.list();
      try {
        for await (const cluster of pages) yield cluster;
      } catch (error) {
        throw toAzureApiError(error);
      }
    },

    async getCluster(clusterId) {
      const { subscriptionId, resourceGroup, name } = locate(clusterId);
      try {
        return await azureCall(() => client(subscriptionId).managedClusters.get(resourceGroup, name));
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },

    async putCluster(clusterId, body, eTag) {
      const { subscriptionId, resourceGroup, name } = locate(clusterId);
      return azureCall(async () =>
        client(subscriptionId).managedClusters.createOrUpdate(resourceGroup, name, body, {
          ...(eTag === undefined ? {} : { ifMatch: eTag }),
          updateIntervalInMs: pollIntervalMs(connection),
        }),
      );
    },
  };
}
