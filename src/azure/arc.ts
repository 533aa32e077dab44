import type { Client } from "@azure-rest/core-client";
import type { ConnectedClusterResource, ExtensionInstall, ExtensionResource } from "../model/arc.js";
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
import { AzureApiError, azureCall, isNotFound } from "./errors.js";

/**
 * Azure Arc-enabled Kubernetes: connected clusters (Microsoft.Kubernetes) and their cluster extensions
 * (Microsoft.KubernetesConfiguration), as ARM's JSON through Azure Core, not an SDK model:
 * @azure/arm-kubernetesconfiguration 6.1.0 (the registry's newest) pins api-version 2023-05-01, and a
 * model would drop the properties it does not know.
 *
 * Connected clusters at 2024-01-01, a stable version of the REST reference whose `connectivityStatus`
 * (Connecting, Connected, Offline, Expired, AgentNotInstalled) and `distribution` the checks read.
 * Extensions at 2024-11-01, the newest stable version the Bicep/ARM template reference documents
 * (azure-rest-api-specs has 2025-03-01 too; Azure's own policy still writes 2023-05-01). Creating an
 * extension is a long-running operation: 201 with `Azure-AsyncOperation` at
 * `{extension}/operations/{id}` (CreateExtension and GetExtensionAsyncOperationStatus examples).
 */
export const CONNECTED_CLUSTERS_API_VERSION = "2024-01-01";
export const EXTENSIONS_API_VERSION = "2024-11-01";

/** An install that was started and not waited for: where its status can be read later. */
export interface StartedInstall {
  /** The Azure-AsyncOperation (or Location) URL; "" when ARM finished the write in its answer. */
  readonly statusUrl: string;
  /** The extension as ARM accepted it (provisioning state Creating). */
  readonly accepted: ExtensionResource;
}

export interface ArcAdapter {
  listConnectedClusters(subscriptionId: string): Promise<ConnectedClusterResource[]>;
  /** undefined when the connected cluster does not exist. */
  getConnectedCluster(clusterId: string): Promise<ConnectedClusterResource | undefined>;
  /** Every extension installed on a cluster, every page. */
  listExtensions(clusterId: string): Promise<ExtensionResource[]>;
  /** Creates one extension and waits for its long-running operation to end (the operation deadline bounds it). */
  installExtension(clusterId: string, install: ExtensionInstall): Promise<ExtensionResource>;
  /** The same PUT, answered as soon as ARM has accepted it; its end is read later with `operationStatus`. */
  startInstallExtension(clusterId: string, install: ExtensionInstall): Promise<StartedInstall>;
  operationStatus(statusUrl: string): Promise<OperationStatus>;
}

const CONNECTED_CLUSTER_TYPE = "microsoft.kubernetes/connectedclusters";
const NOT_REGISTERED = "MissingSubscriptionRegistration";

function connectedClusterPath(clusterId: string): string {
  const parsed = parseResourceId(clusterId);
  if (
    parsed.type.toLowerCase() !== CONNECTED_CLUSTER_TYPE ||
    parsed.resourceGroup === undefined ||
    parsed.names.length !== 1
  ) {
    throw new TypeError(`'${clusterId}' is not a connected cluster id`);
  }
  return parsed.id;
}

function extensionPath(clusterId: string, name: string): string {
  return `${connectedClusterPath(clusterId)}/providers/Microsoft.KubernetesConfiguration/extensions/${encodeURIComponent(name)}`;
}

/** ARM's JSON for one resource, every property kept (connected clusters and extensions alike). */
function asObject(body: unknown, what: string): Readonly<Record<string, unknown>> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new TypeError(`${what}: ARM returned no resource`);
  }
  return body as Readonly<Record<string, unknown>>;
}

export function createArcAdapter(
  connection: AzureConnection,
  client: Client = createArmRestClient(connection),
): ArcAdapter {
  const clusters = { queryParameters: { "api-version": CONNECTED_CLUSTERS_API_VERSION } };
  const extensions = { queryParameters: { "api-version": EXTENSIONS_API_VERSION } };
  const put = (clusterId: string, install: ExtensionInstall) =>
    client
      .pathUnchecked(extensionPath(clusterId, install.name))
      .put({ ...extensions, contentType: "application/json", body: install.body });

  return {
    async listConnectedClusters(subscriptionId) {
      try {
        return await azureCall(async () => {
          const items = await listAll(client, () =>
            client
              .pathUnchecked(
                "/subscriptions/{subscriptionId}/providers/Microsoft.Kubernetes/connectedClusters",
                subscriptionId,
              )
              .get(clusters),
          );
          return items.map((item) => asObject(item, `listing connected clusters of ${subscriptionId}`));
        });
      } catch (error) {
        // A subscription that never used Arc is not registered for Microsoft.Kubernetes, and ARM answers
        // MissingSubscriptionRegistration ("Resolve errors for resource provider registration"): it
        // holds no connected cluster.
        if (error instanceof AzureApiError && error.code === NOT_REGISTERED) return [];
        throw error;
      }
    },

    async getConnectedCluster(clusterId) {
      try {
        return await azureCall(async () => {
          const response = await client.pathUnchecked(connectedClusterPath(clusterId)).get(clusters);
          return asObject(expectStatus(response, "200"), clusterId);
        });
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },

    listExtensions: (clusterId) =>
      azureCall(async () => {
        const path = `${connectedClusterPath(clusterId)}/providers/Microsoft.KubernetesConfiguration/extensions`;
        const items = await listAll(client, () => client.pathUnchecked(path).get(extensions));
        return items.map((item) => asObject(item, `listing the extensions of ${clusterId}`));
      }),

    installExtension: (clusterId, install) =>
      azureCall(async () =>
        asObject(
          await runLongRunningOperation(
            client,
            () => put(clusterId, install),
            ["200", "201", "202"],
            pollIntervalMs(connection),
            callLimits(connection).operationDeadlineMs,
          ),
          `${clusterId} extension ${install.name}`,
        ),
      ),

    startInstallExtension: (clusterId, install) =>
      azureCall(async () => {
        const response = await put(clusterId, install);
        const accepted = asObject(
          expectStatus(response, "200", "201", "202"),
          `${clusterId} extension ${install.name}`,
        );
        const statusUrl = response.headers["azure-asyncoperation"] ?? response.headers.location;
        return { statusUrl: statusUrl ?? "", accepted };
      }),

    operationStatus: (statusUrl) => azureCall(() => readOperationStatus(client, connection, statusUrl)),
  };
}
