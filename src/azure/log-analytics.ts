import { OperationalInsightsManagementClient } from "@azure/arm-operationalinsights";
import type { WorkspaceSnapshot } from "../model/cluster.js";
import { parseWorkspaceId, ResourceIdError } from "../model/resource-id.js";
import { perSubscription, sdkClientOptions, type AzureConnection } from "./connection.js";
import { azureCall, isNotFound } from "./errors.js";

/** Log Analytics workspaces (Microsoft.OperationalInsights), read to know whether the Defender sensor can send to them. */
export interface LogAnalyticsAdapter {
  getWorkspace(workspaceId: string): Promise<WorkspaceSnapshot>;
}

export function createLogAnalyticsAdapter(connection: AzureConnection): LogAnalyticsAdapter {
  const client = perSubscription(
    (subscriptionId) =>
      new OperationalInsightsManagementClient(
        connection.credential,
        subscriptionId,
        sdkClientOptions(connection),
      ),
  );
  return {
    async getWorkspace(workspaceId) {
      let parsed;
      try {
        parsed = parseWorkspaceId(workspaceId);
      } catch (error) {
        // A cluster can carry an id ARM would refuse (azure-rest-api-specs' own examples do); only
        // the checks that read the workspace are concerned, and no request is sent for it.
        if (error instanceof ResourceIdError) {
          return { state: "invalid", resourceId: workspaceId, problem: error.reason };
        }
        throw error;
      }
      const { resourceGroup, name } = parsed;
      try {
        const workspace = await azureCall(() =>
          client(parsed.subscriptionId).workspaces.get(resourceGroup, name),
        );
        return {
          state: "found",
          resourceId: workspace.id ?? workspaceId,
          ...(workspace.publicNetworkAccessForIngestion === undefined
            ? {}
            : { publicNetworkAccessForIngestion: workspace.publicNetworkAccessForIngestion }),
          privateLinkScopeIds: (workspace.privateLinkScopedResources ?? [])
            .map((r) => r.scopeId ?? r.resourceId)
            .filter((s): s is string => typeof s === "string"),
        };
      } catch (error) {
        if (isNotFound(error)) return { state: "missing", resourceId: workspaceId };
        throw error;
      }
    },
  };
}
