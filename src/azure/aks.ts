import type { Client } from "@azure-rest/core-client";
import type { ClusterResource } from "../model/cluster.js";
import { parseResourceId } from "../model/resource-id.js";
import {
  createArmRestClient,
  expectStatus,
  listAll,
  readOperationStatus,
  runLongRunningOperation,
  type OperationStatus,
} from "./arm-rest.js";
import { callLimits, pollIntervalMs, type AzureConnection } from "./connection.js";
import { azureCall, isNotFound } from "./errors.js";

/**
 * Managed clusters are read and written as ARM's JSON at one pinned api-version, not through the SDK's
 * model: a PUT must carry every property of the cluster as read, including ones a model of an older or
 * newer shape does not know, or it would silently drop them.
 */
export const MANAGED_CLUSTERS_API_VERSION = "2026-04-01";

/** A write that was started and not waited for: where its status can be read later. */
export interface StartedOperation {
  /** The Azure-AsyncOperation (or Location) URL ARM answered the write with. */
  readonly statusUrl: string;
  /** The resource as ARM accepted it (provisioning state Updating). */
  readonly accepted: ClusterResource;
}

export type { OperationStatus } from "./arm-rest.js";

export interface AksAdapter {
  listClusters(subscriptionId: string): Promise<ClusterResource[]>;
  /** undefined when the cluster does not exist (deleted before we looked). */
  getCluster(clusterId: string): Promise<ClusterResource | undefined>;
  /** One PUT of the whole cluster, guarded by If-Match, awaited to the end of its long-running operation. */
  putCluster(clusterId: string, body: ClusterResource, eTag: string | undefined): Promise<ClusterResource>;
  /** The same PUT, answered as soon as ARM has accepted it; its end is read later with `operationStatus`. */
  startPutCluster(
    clusterId: string,
    body: ClusterResource,
    eTag: string | undefined,
  ): Promise<StartedOperation>;
  /** Where an operation started earlier stands. */
  operationStatus(statusUrl: string): Promise<OperationStatus>;
}

const CLUSTER_TYPE = "microsoft.containerservice/managedclusters";

function clusterPath(clusterId: string): string {
  const parsed = parseResourceId(clusterId);
  if (
    parsed.type.toLowerCase() !== CLUSTER_TYPE ||
    parsed.resourceGroup === undefined ||
    parsed.names.length !== 1
  ) {
    throw new TypeError(`'${clusterId}' is not a managed cluster id`);
  }
  return parsed.id;
}

function asCluster(body: unknown, what: string): ClusterResource {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new TypeError(`${what}: ARM returned no managed cluster`);
  }
  return body as ClusterResource;
}

export function createAksAdapter(
  connection: AzureConnection,
  client: Client = createArmRestClient(connection),
): AksAdapter {
  const query = { queryParameters: { "api-version": MANAGED_CLUSTERS_API_VERSION } };
  const put = (clusterId: string, body: ClusterResource, eTag: string | undefined) =>
    client.pathUnchecked(clusterPath(clusterId)).put({
      ...query,
      contentType: "application/json",
      body,
      ...(eTag === undefined ? {} : { headers: { "if-match": eTag } }),
    });

  return {
    listClusters: (subscriptionId) =>
      azureCall(async () => {
        const items = await listAll(client, () =>
          client
            .pathUnchecked(
              "/subscriptions/{subscriptionId}/providers/Microsoft.ContainerService/managedClusters",
              subscriptionId,
            )
            .get(query),
        );
        return items.map((item) => asCluster(item, `listing clusters of ${subscriptionId}`));
      }),

    async getCluster(clusterId) {
      try {
        return await azureCall(async () => {
          const response = await client.pathUnchecked(clusterPath(clusterId)).get(query);
          return asCluster(expectStatus(response, "200"), clusterId);
        });
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },

    putCluster: (clusterId, body, eTag) =>
      azureCall(async () =>
        asCluster(
          await runLongRunningOperation(
            client,
            () => put(clusterId, body, eTag),
            ["200", "201", "202"],
            pollIntervalMs(connection),
            callLimits(connection).operationDeadlineMs,
          ),
          clusterId,
        ),
      ),

    startPutCluster: (clusterId, body, eTag) =>
      azureCall(async () => {
        const response = await put(clusterId, body, eTag);
        const accepted = asCluster(expectStatus(response, "200", "201", "202"), clusterId);
        const statusUrl = response.headers["azure-asyncoperation"] ?? response.headers.location;
        // No operation to follow: ARM finished the write in the answer itself.
        return { statusUrl: statusUrl ?? "", accepted };
      }),

    operationStatus: (statusUrl) => azureCall(() => readOperationStatus(client, connection, statusUrl)),
  };
}
