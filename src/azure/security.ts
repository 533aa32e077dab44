import type { Client } from "@azure-rest/core-client";
import type { ApiCollectionSnapshot } from "../model/apim.js";
import type { PricingSnapshot, PricingUpdate } from "../model/pricing.js";
import { parseResourceId } from "../model/resource-id.js";
import { createArmRestClient, expectStatus, listAll, runLongRunningOperation } from "./arm-rest.js";
import { pollIntervalMs, type AzureConnection } from "./connection.js";
import { azureCall, isNotFound } from "./errors.js";

/** Defender for Cloud (Microsoft.Security). Plans at 2024-01-01: the first version with per-plan extensions and `enforce`. */
export const PRICINGS_API_VERSION = "2024-01-01";

/** Defender for APIs collections, at the api-version Azure documents for onboarding APIM APIs. */
export const API_COLLECTIONS_API_VERSION = "2023-11-15";

export interface SecurityAdapter {
  getPricing(subscriptionId: string, plan: string): Promise<PricingSnapshot>;
  putPricing(subscriptionId: string, plan: string, update: PricingUpdate): Promise<PricingSnapshot>;
  /** The Defender for APIs collections under an APIM service, every page. */
  listApiCollections(serviceId: string): Promise<ApiCollectionSnapshot[]>;
  /** Onboards one API (a long-running PUT, safe to repeat) and returns the collection as it ended. */
  onboardApi(serviceId: string, apiName: string): Promise<ApiCollectionSnapshot>;
  /** Offboards one API; absent is fine. */
  offboardApi(serviceId: string, apiName: string): Promise<void>;
  /**
   * The Containers plan in effect at a cluster's scope (2024-01-01): its own (`inherited` "False") or the
   * subscription's (`inherited` "True"); undefined when Azure has none there.
   */
  getClusterPlan(clusterId: string): Promise<PricingSnapshot | undefined>;
  /** Removes a cluster's own Containers plan, so that it inherits the subscription's; absent is fine. */
  deleteClusterPlan(clusterId: string): Promise<void>;
}

const PRICING_PATH = "/subscriptions/{subscriptionId}/providers/Microsoft.Security/pricings/{pricingName}";

/** A resource-level plan's path: the scope must be a resource (a cluster), never a subscription's plan. */
function clusterPlanPath(clusterId: string): string {
  const parsed = parseResourceId(clusterId);
  if (parsed.resourceGroup === undefined || parsed.names.length !== 1) {
    throw new TypeError(`'${clusterId}' is not a cluster id`);
  }
  return `${parsed.id}/providers/Microsoft.Security/pricings/Containers`;
}

function asPricing(body: unknown, plan: string): PricingSnapshot {
  if (typeof body !== "object" || body === null)
    throw new TypeError(`pricing '${plan}': ARM returned no body`);
  const { id, name, properties } = body as { id?: unknown; name?: unknown; properties?: unknown };
  const props = (typeof properties === "object" && properties !== null ? properties : {}) as Record<
    string,
    unknown
  >;
  return {
    ...(typeof id === "string" ? { id } : {}),
    name: typeof name === "string" ? name : plan,
    properties: { ...props, pricingTier: typeof props.pricingTier === "string" ? props.pricingTier : "Free" },
  };
}

function asCollection(body: unknown, fallbackName: string): ApiCollectionSnapshot {
  const { name, properties } = (typeof body === "object" && body !== null ? body : {}) as {
    name?: unknown;
    properties?: { provisioningState?: unknown };
  };
  const state = properties?.provisioningState;
  return {
    apiName: typeof name === "string" ? name : fallbackName,
    provisioningState: typeof state === "string" ? state : "Unknown",
  };
}

export function createSecurityAdapter(
  connection: AzureConnection,
  client: Client = createArmRestClient(connection),
): SecurityAdapter {
  const query = { queryParameters: { "api-version": PRICINGS_API_VERSION } };
  return {
    getPricing: (subscriptionId, plan) =>
      azureCall(async () => {
        const response = await client.pathUnchecked(PRICING_PATH, subscriptionId, plan).get(query);
        return asPricing(expectStatus(response, "200"), plan);
      }),
    putPricing: (subscriptionId, plan, update) =>
      azureCall(async () => {
        const response = await client
          .pathUnchecked(PRICING_PATH, subscriptionId, plan)
          .put({ ...query, contentType: "application/json", body: { properties: update } });
        return asPricing(expectStatus(response, "200", "201"), plan);
      }),

    listApiCollections: (serviceId) =>
      azureCall(async () => {
        const query = { queryParameters: { "api-version": API_COLLECTIONS_API_VERSION } };
        const items = await listAll(client, () =>
          client.pathUnchecked(`${serviceId}/providers/Microsoft.Security/apiCollections`).get(query),
        );
        return items.map((item) => asCollection(item, ""));
      }),

    onboardApi: (serviceId, apiName) =>
      azureCall(async () => {
        const path = `${serviceId}/providers/Microsoft.Security/apiCollections/${encodeURIComponent(apiName)}`;
        const body = await runLongRunningOperation(
          client,
          () =>
            client
              .pathUnchecked(path)
              .put({ queryParameters: { "api-version": API_COLLECTIONS_API_VERSION } }),
          ["200", "201", "202"],
          pollIntervalMs(connection),
        );
        return asCollection(body, apiName);
      }),

    offboardApi: (serviceId, apiName) =>
      azureCall(async () => {
        const path = `${serviceId}/providers/Microsoft.Security/apiCollections/${encodeURIComponent(apiName)}`;
        const response = await client
          .pathUnchecked(path)
          .delete({ queryParameters: { "api-version": API_COLLECTIONS_API_VERSION } });
        expectStatus(response, "200", "202", "204");
      }),

    async getClusterPlan(clusterId) {
      try {
        return await azureCall(async () => {
          const response = await client.pathUnchecked(clusterPlanPath(clusterId)).get(query);
          return asPricing(expectStatus(response, "200"), "Containers");
        });
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },

    deleteClusterPlan: (clusterId) =>
      azureCall(async () => {
        const response = await client.pathUnchecked(clusterPlanPath(clusterId)).delete(query);
        expectStatus(response, "200", "204");
      }),
  };
}
