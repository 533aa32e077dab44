import { ApiManagementClient, type ApiContract } from "@azure/arm-apimanagement";
import type { ApiSnapshot, ApimServiceSnapshot } from "../model/apim.js";
import { parseResourceId } from "../model/resource-id.js";
import { perSubscription, sdkClientOptions, type AzureConnection } from "./connection.js";
import { azureCall, isNotFound } from "./errors.js";

/** API Management (Microsoft.ApiManagement): services, their APIs, self-hosted gateways and workspaces. */
export interface ApimAdapter {
  listServices(subscriptionId: string): Promise<ApimServiceSnapshot[]>;
  /** undefined when the service does not exist (deleted before we looked). */
  getService(serviceId: string): Promise<ApimServiceSnapshot | undefined>;
  /** Every API of the service, all pages. */
  listApis(serviceId: string): Promise<ApiSnapshot[]>;
  /** Every API in every APIM workspace of the service. */
  listWorkspaceApis(serviceId: string): Promise<ApiSnapshot[]>;
  /** API name (lower-case) → names of the self-hosted gateways it is assigned to. */
  listSelfHostedGatewayAssignments(serviceId: string): Promise<Map<string, string[]>>;
}

function locate(serviceId: string): { subscriptionId: string; resourceGroup: string; name: string } {
  const parsed = parseResourceId(serviceId);
  const name = parsed.names[0];
  if (
    parsed.resourceGroup === undefined ||
    name === undefined ||
    !/^microsoft\.apimanagement\/service/i.test(parsed.type)
  ) {
    throw new TypeError(`'${serviceId}' is not an API Management service id`);
  }
  return { subscriptionId: parsed.subscriptionId, resourceGroup: parsed.resourceGroup, name };
}

function asService(resource: {
  id?: string;
  name?: string;
  location: string;
  sku: { name: string; capacity: number };
  tags?: Record<string, string>;
  provisioningState?: string;
  additionalLocations?: { location: string }[];
}): ApimServiceSnapshot {
  return {
    id: resource.id ?? "",
    name: resource.name ?? "",
    location: resource.location,
    sku: { name: resource.sku.name, capacity: resource.sku.capacity },
    ...(resource.tags === undefined ? {} : { tags: resource.tags }),
    ...(resource.provisioningState === undefined ? {} : { provisioningState: resource.provisioningState }),
    additionalLocations: (resource.additionalLocations ?? []).map((l) => ({ location: l.location })),
  };
}

function asApi(api: ApiContract): ApiSnapshot {
  return {
    id: api.id ?? "",
    name: api.name ?? "",
    ...(api.displayName === undefined ? {} : { displayName: api.displayName }),
    ...(api.apiType === undefined ? {} : { apiType: api.apiType }),
    ...(api.isCurrent === undefined ? {} : { isCurrent: api.isCurrent }),
  };
}

async function collect<T, R>(pages: AsyncIterable<T>, map: (item: T) => R): Promise<R[]> {
  const items: R[] = [];
  for await (const item of pages) items.push(map(item));
  return items;
}

/** Self-hosted gateways exist on Developer and Premium; workspaces on Premium tiers. Other tiers refuse the list. */
const GATEWAY_TIERS = new Set(["developer", "premium"]);
const WORKSPACE_TIERS = new Set(["premium", "premiumv2"]);

export function createApimAdapter(connection: AzureConnection): ApimAdapter {
  const client = perSubscription(
    (subscriptionId) =>
      new ApiManagementClient(connection.credential, subscriptionId, sdkClientOptions(connection)),
  );
  const tierOf = new Map<string, string>();
  const remember = (service: ApimServiceSnapshot): ApimServiceSnapshot => {
    tierOf.set(service.id.toLowerCase(), service.sku.name.toLowerCase());
    return service;
  };
  const tier = async (serviceId: string): Promise<string | undefined> => {
    const known = tierOf.get(serviceId.toLowerCase());
    if (known !== undefined) return known;
    const { subscriptionId, resourceGroup, name } = locate(serviceId);
    const service = await azureCall(() =>
      client(subscriptionId).apiManagementService.get(resourceGroup, name),
    );
    return remember(asService(service)).sku.name.toLowerCase();
  };

  return {
    listServices: (subscriptionId) =>
      azureCall(() =>
        collect(client(subscriptionId).apiManagementService.list(), (s) => remember(asService(s))),
      ),

    async getService(serviceId) {
      const { subscriptionId, resourceGroup, name } = locate(serviceId);
      try {
        const service = await azureCall(() =>
          client(subscriptionId).apiManagementService.get(resourceGroup, name),
        );
        return remember(asService(service));
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },

    listApis: (serviceId) => {
      const { subscriptionId, resourceGroup, name } = locate(serviceId);
      return azureCall(() => collect(client(subscriptionId).api.listByService(resourceGroup, name), asApi));
    },

    async listWorkspaceApis(serviceId) {
      if (!WORKSPACE_TIERS.has((await tier(serviceId)) ?? "")) return [];
      const { subscriptionId, resourceGroup, name } = locate(serviceId);
      const apim = client(subscriptionId);
      return azureCall(async () => {
        const apis: ApiSnapshot[] = [];
        for await (const workspace of apim.workspace.listByService(resourceGroup, name)) {
          if (workspace.name === undefined) continue;
          apis.push(
            ...(await collect(apim.workspaceApi.listByService(resourceGroup, name, workspace.name), asApi)),
          );
        }
        return apis;
      });
    },

    async listSelfHostedGatewayAssignments(serviceId) {
      const assignments = new Map<string, string[]>();
      if (!GATEWAY_TIERS.has((await tier(serviceId)) ?? "")) return assignments;
      const { subscriptionId, resourceGroup, name } = locate(serviceId);
      const apim = client(subscriptionId);
      await azureCall(async () => {
        for await (const gateway of apim.gateway.listByService(resourceGroup, name)) {
          if (gateway.name === undefined) continue;
          for await (const api of apim.gatewayApi.listByService(resourceGroup, name, gateway.name)) {
            if (api.name === undefined) continue;
            const key = api.name.toLowerCase();
            assignments.set(key, [...(assignments.get(key) ?? []), gateway.name]);
          }
        }
      });
      return assignments;
    },
  };
}
