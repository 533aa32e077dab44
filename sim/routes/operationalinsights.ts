/** Log Analytics workspaces (Microsoft.OperationalInsights/workspaces): read as stored in the estate. */
import { resourceNotFound } from "../arm-errors.js";
import { clone } from "../state.js";
import { pattern, type ProviderModule } from "./types.js";

export const WORKSPACES_API_VERSIONS = ["2025-02-01", "2023-09-01", "2022-10-01"] as const;
const WORKSPACE_TYPE = "Microsoft.OperationalInsights/workspaces";

export const operationalInsightsModule: ProviderModule = {
  name: "operationalinsights",
  routes: [
    {
      method: "GET",
      match: pattern(
        "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.OperationalInsights/workspaces/{workspaceName}",
      ),
      apiVersions: WORKSPACES_API_VERSIONS,
      typeName: "workspaces",
      handle: (ctx) => {
        const { subscriptionId = "", resourceGroupName = "", workspaceName = "" } = ctx.params;
        const stored = ctx.state.get(
          `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroupName}/providers/${WORKSPACE_TYPE}/${workspaceName}`,
        );
        if (stored === undefined)
          throw resourceNotFound(`${WORKSPACE_TYPE}/${workspaceName}`, resourceGroupName);
        return { status: 200, body: clone(stored) };
      },
    },
  ],
};
