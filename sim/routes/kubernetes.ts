/**
 * Arc-enabled Kubernetes clusters (Microsoft.Kubernetes/connectedClusters): paged lists and GET, as
 * the estate holds them. A connected cluster is created by its agents (`az connectedk8s connect`), not
 * by autoprotect, so no write is served. A cluster the estate gives no `connectivityStatus` is served
 * `Connected` (ARM always reports one), and exported as it was loaded.
 */
import { resourceNotFound } from "../arm-errors.js";
import { CONNECTED_CLUSTER_TYPE } from "../arc.js";
import type { ArmResource } from "../estate.js";
import { clone } from "../state.js";
import { isRecord, page, pattern, type ProviderModule, type RouteContext } from "./types.js";

/** The stable api-versions of azure-rest-api-specs' Microsoft.Kubernetes, newest first. */
export const CONNECTED_CLUSTERS_API_VERSIONS = [
  "2026-05-01",
  "2026-03-01",
  "2024-01-01",
  "2021-10-01",
  "2021-03-01",
] as const;
const IN_GROUP =
  "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Kubernetes/connectedClusters";

/** The cluster as GET answers it. */
export function servedConnectedCluster(stored: ArmResource): ArmResource {
  const served = clone(stored);
  const properties = isRecord(served.properties) ? served.properties : {};
  served.properties = {
    provisioningState: "Succeeded",
    ...properties,
    connectivityStatus: properties.connectivityStatus ?? "Connected",
  };
  return served;
}

function listIn(ctx: RouteContext, scope: string) {
  return page(
    ctx,
    ctx.state.list(CONNECTED_CLUSTER_TYPE, scope).map((r) => servedConnectedCluster(r)),
  );
}

export const kubernetesModule: ProviderModule = {
  name: "kubernetes",
  routes: [
    {
      method: "GET",
      match: pattern("/subscriptions/{subscriptionId}/providers/Microsoft.Kubernetes/connectedClusters"),
      apiVersions: CONNECTED_CLUSTERS_API_VERSIONS,
      typeName: "connectedClusters",
      handle: (ctx) => listIn(ctx, `/subscriptions/${ctx.params.subscriptionId ?? ""}`),
    },
    {
      method: "GET",
      match: pattern(IN_GROUP),
      apiVersions: CONNECTED_CLUSTERS_API_VERSIONS,
      typeName: "connectedClusters",
      handle: (ctx) => {
        const { subscriptionId = "", resourceGroupName = "" } = ctx.params;
        return listIn(ctx, `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroupName}`);
      },
    },
    {
      method: "GET",
      match: pattern(`${IN_GROUP}/{clusterName}`),
      apiVersions: CONNECTED_CLUSTERS_API_VERSIONS,
      typeName: "connectedClusters",
      handle: (ctx) => {
        const stored = ctx.state.get(ctx.request.path);
        if (stored === undefined || stored.type.toLowerCase() !== CONNECTED_CLUSTER_TYPE.toLowerCase()) {
          throw resourceNotFound(
            `${CONNECTED_CLUSTER_TYPE}/${ctx.params.clusterName ?? ""}`,
            ctx.params.resourceGroupName,
          );
        }
        return { status: 200, body: servedConnectedCluster(stored) };
      },
    },
  ],
};
