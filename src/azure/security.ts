import type { Client } from "@azure-rest/core-client";
import type { PricingSnapshot, PricingUpdate } from "../model/pricing.js";
import { createArmRestClient, expectStatus } from "./arm-rest.js";
import type { AzureConnection } from "./connection.js";
import { azureCall } from "./errors.js";

/** Defender for Cloud (Microsoft.Security). Plans at 2024-01-01: the first version with per-plan extensions and `enforce`. */
export const PRICINGS_API_VERSION = "2024-01-01";

export interface SecurityAdapter {
  getPricing(subscriptionId: string, plan: string): Promise<PricingSnapshot>;
  putPricing(subscriptionId: string, plan: string, update: PricingUpdate): Promise<PricingSnapshot>;
}

const PRICING_PATH = "/subscriptions/{subscriptionId}/providers/Microsoft.Security/pricings/{pricingName}";

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
  };
}
