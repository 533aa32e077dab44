/**
 * Microsoft.Resources resource groups. The estate lists groups only for their tags: a group that is
 * not listed exists anyway (untagged), located where its first resource is, else in eastus.
 */
import type { ArmResource } from "../estate.js";
import type { SimState } from "../state.js";
import { clone } from "../state.js";
import { pattern, type ProviderModule } from "./types.js";

export const RESOURCE_GROUPS_API_VERSIONS = ["2025-04-01", "2024-03-01", "2022-09-01", "2021-04-01"] as const;
const GROUP_TYPE = "Microsoft.Resources/resourceGroups";
export const DEFAULT_LOCATION = "eastus";

/** The group's id prefix in lower case: "/subscriptions/{s}/resourcegroups/{rg}". */
function groupKey(subscriptionId: string, resourceGroup: string): string {
  return `/subscriptions/${subscriptionId}/resourcegroups/${resourceGroup}`.toLowerCase();
}

function synthesize(
  subscriptionId: string,
  resourceGroup: string,
  members: readonly ArmResource[],
): ArmResource {
  // Spell the group as the resources in it do (ARM keeps the creator's casing).
  const first = members[0];
  const name = first?.id.split("/")[4] ?? resourceGroup;
  const sub = first?.id.split("/")[2] ?? subscriptionId;
  return {
    id: `/subscriptions/${sub}/resourceGroups/${name}`,
    name,
    type: GROUP_TYPE,
    location: members.find((r) => typeof r.location === "string")?.location ?? DEFAULT_LOCATION,
    properties: { provisioningState: "Succeeded" },
  };
}

export function resourceGroupOf(state: SimState, subscriptionId: string, resourceGroup: string): ArmResource {
  const key = groupKey(subscriptionId, resourceGroup);
  const listed = state.get(key);
  if (listed !== undefined) return clone(listed);
  return synthesize(subscriptionId, resourceGroup, state.membersOf(key));
}

/** Listed groups first, then the unlisted groups that hold resources. */
function listGroups(state: SimState, subscriptionId: string): ArmResource[] {
  const scope = `/subscriptions/${subscriptionId}`;
  const groups = new Map<string, ArmResource>();
  for (const group of state.list(GROUP_TYPE, scope)) groups.set(group.name.toLowerCase(), clone(group));
  for (const key of state.groupsWithMembers(subscriptionId)) {
    const name = key.split("/")[4] ?? "";
    if (!groups.has(name)) groups.set(name, resourceGroupOf(state, subscriptionId, name));
  }
  return [...groups.values()];
}

export const resourcesModule: ProviderModule = {
  name: "resources",
  routes: [
    {
      method: "GET",
      match: pattern("/subscriptions/{subscriptionId}/resourcegroups"),
      apiVersions: RESOURCE_GROUPS_API_VERSIONS,
      typeName: "resourceGroups",
      handle: (ctx) => ({
        status: 200,
        body: { value: listGroups(ctx.state, ctx.params.subscriptionId ?? "") },
      }),
    },
    {
      method: "GET",
      match: pattern("/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}"),
      apiVersions: RESOURCE_GROUPS_API_VERSIONS,
      typeName: "resourceGroups",
      handle: (ctx) => ({
        status: 200,
        body: resourceGroupOf(ctx.state, ctx.params.subscriptionId ?? "", ctx.params.resourceGroupName ?? ""),
      }),
    },
  ],
};
