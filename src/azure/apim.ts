import type { Client } from "@azure-rest/core-client";
import type { ApiSnapshot, ApimServiceSnapshot } from "../model/apim.js";
import { parseResourceId } from "../model/resource-id.js";
import { createArmRestClient, expectStatus, listAll } from "./arm-rest.js";
import type { AzureConnection } from "./connection.js";
import { azureCall, isNotFound } from "./errors.js";

/**
 * API Management (Microsoft.ApiManagement): services, their APIs, self-hosted gateways and workspaces,
 * read as ARM's JSON through Azure Core at the api-version @azure/arm-apimanagement 10 pins. Every
 * call here is a GET of a service or a list; the generated SDK, 0.8 MiB of the deployment bundle's
 * 3 MiB (its every operation and model), was loaded at each cold start for these six.
 */
export const APIM_API_VERSION = "2024-05-01";

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

/** The service's id as ARM spells its path, checked: anything else is refused before a request. */
function servicePath(serviceId: string): string {
  const parsed = parseResourceId(serviceId);
  const name = parsed.names[0];
  if (
    parsed.resourceGroup === undefined ||
    name === undefined ||
    !/^microsoft\.apimanagement\/service/i.test(parsed.type)
  ) {
    throw new TypeError(`'${serviceId}' is not an API Management service id`);
  }
  return `/subscriptions/${parsed.subscriptionId}/resourceGroups/${parsed.resourceGroup}/providers/Microsoft.ApiManagement/service/${name}`;
}

function record(value: unknown): Readonly<Record<string, unknown>> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

/** ARM's service resource (ApiManagementServiceResource) as the engine sees it. */
export function asService(resource: unknown): ApimServiceSnapshot {
  const { id, name, location, sku, tags, properties } = record(resource);
  const props = record(properties);
  const { name: tier, capacity } = record(sku);
  const additional = Array.isArray(props.additionalLocations) ? (props.additionalLocations as unknown[]) : [];
  const provisioningState = text(props.provisioningState);
  return {
    id: text(id) ?? "",
    name: text(name) ?? "",
    location: text(location) ?? "",
    sku: { name: text(tier) ?? "", capacity: typeof capacity === "number" ? capacity : 0 },
    ...(tags === undefined || tags === null ? {} : { tags: record(tags) as Record<string, string> }),
    ...(provisioningState === undefined ? {} : { provisioningState }),
    additionalLocations: additional.map((l) => ({ location: text(record(l).location) ?? "" })),
  };
}

/** ARM's API resource (ApiContract): its id and name, and what decides whether it can be onboarded. */
export function asApi(resource: unknown): ApiSnapshot {
  const { id, name, properties } = record(resource);
  const { displayName, type, isCurrent } = record(properties);
  // ARM answers the API's type as `properties.type` (soap, websocket, graphql…; none for REST);
  // `apiType` is only what a create takes.
  const kind = text(type);
  return {
    id: text(id) ?? "",
    name: text(name) ?? "",
    ...(text(displayName) === undefined ? {} : { displayName: text(displayName) }),
    ...(kind === undefined ? {} : { apiType: kind }),
    ...(typeof isCurrent === "boolean" ? { isCurrent } : {}),
  };
}

/** Self-hosted gateways exist on Developer and Premium; workspaces on Premium tiers. Other tiers refuse the list. */
const GATEWAY_TIERS = new Set(["developer", "premium"]);
const WORKSPACE_TIERS = new Set(["premium", "premiumv2"]);

export function createApimAdapter(
  connection: AzureConnection,
  client: Client = createArmRestClient(connection),
): ApimAdapter {
  const query = { queryParameters: { "api-version": APIM_API_VERSION } };
  const list = (path: string): Promise<unknown[]> =>
    listAll(client, () => client.pathUnchecked(path).get(query));
  const get = async (serviceId: string): Promise<ApimServiceSnapshot> =>
    asService(expectStatus(await client.pathUnchecked(servicePath(serviceId)).get(query), "200"));

  const tierOf = new Map<string, string>();
  const remember = (service: ApimServiceSnapshot): ApimServiceSnapshot => {
    tierOf.set(service.id.toLowerCase(), service.sku.name.toLowerCase());
    return service;
  };
  const tier = async (serviceId: string): Promise<string> =>
    tierOf.get(serviceId.toLowerCase()) ??
    remember(await azureCall(() => get(serviceId))).sku.name.toLowerCase();
  /** The names of a service's children of one kind (workspaces, gateways). */
  const childNames = async (serviceId: string, kind: string): Promise<string[]> =>
    (await list(`${servicePath(serviceId)}/${kind}`)).flatMap((item) => text(record(item).name) ?? []);

  return {
    listServices: (subscriptionId) =>
      azureCall(async () =>
        (await list(`/subscriptions/${subscriptionId}/providers/Microsoft.ApiManagement/service`)).map((s) =>
          remember(asService(s)),
        ),
      ),

    async getService(serviceId) {
      try {
        return remember(await azureCall(() => get(serviceId)));
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },

    listApis: (serviceId) => azureCall(async () => (await list(`${servicePath(serviceId)}/apis`)).map(asApi)),

    async listWorkspaceApis(serviceId) {
      if (!WORKSPACE_TIERS.has(await tier(serviceId))) return [];
      return azureCall(async () => {
        const apis: ApiSnapshot[] = [];
        for (const workspace of await childNames(serviceId, "workspaces")) {
          apis.push(...(await list(`${servicePath(serviceId)}/workspaces/${workspace}/apis`)).map(asApi));
        }
        return apis;
      });
    },

    async listSelfHostedGatewayAssignments(serviceId) {
      const assignments = new Map<string, string[]>();
      if (!GATEWAY_TIERS.has(await tier(serviceId))) return assignments;
      await azureCall(async () => {
        for (const gateway of await childNames(serviceId, "gateways")) {
          for (const api of await list(`${servicePath(serviceId)}/gateways/${gateway}/apis`)) {
            const name = text(record(api).name);
            if (name === undefined) continue;
            const key = name.toLowerCase();
            assignments.set(key, [...(assignments.get(key) ?? []), gateway]);
          }
        }
      });
      return assignments;
    },
  };
}
