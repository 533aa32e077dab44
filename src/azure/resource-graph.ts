import type { Client } from "@azure-rest/core-client";
import { createArmRestClient, expectStatus } from "./arm-rest.js";
import type { AzureConnection } from "./connection.js";
import { azureCall } from "./errors.js";

/**
 * Azure Resource Graph, for discovery only: which subscriptions hold anything autoprotect reconciles,
 * in one query instead of two listings per subscription. Nothing is ever planned from it: every write
 * is planned from ARM's own read of the resource. Called through ARM's REST endpoint with Azure Core
 * (`@azure/arm-resourcegraph` would add a package for one POST).
 */
export const RESOURCE_GRAPH_API_VERSION = "2022-10-01";

/** The types a sweep reconciles, as Resource Graph spells them (lower case). */
export const DISCOVERED_TYPES = [
  "microsoft.containerservice/managedclusters",
  "microsoft.apimanagement/service",
] as const;

export const DISCOVERY_QUERY =
  "resources" +
  ` | where type in~ (${DISCOVERED_TYPES.map((t) => `'${t}'`).join(", ")})` +
  " | summarize count() by subscriptionId, type";

/** Resource Graph takes at most this many subscriptions in one request. */
const SUBSCRIPTIONS_PER_QUERY = 1000;
const ROWS_PER_PAGE = 1000;

export interface ResourceGraphAdapter {
  /**
   * Subscription (lower case) → how many resources of each reconciled type it holds; subscriptions
   * with none are absent. `subscriptionIds`: the scope (default: every subscription the identity sees).
   */
  countTargets(subscriptionIds?: readonly string[]): Promise<Map<string, Record<string, number>>>;
}

interface QueryResponse {
  readonly data?: unknown;
  readonly $skipToken?: unknown;
}

export function createResourceGraphAdapter(
  connection: AzureConnection,
  client: Client = createArmRestClient(connection),
): ResourceGraphAdapter {
  const query = async (
    subscriptions: readonly string[] | undefined,
    counts: Map<string, Record<string, number>>,
  ): Promise<void> => {
    let skipToken: string | undefined;
    do {
      const response = await client.pathUnchecked("/providers/Microsoft.ResourceGraph/resources").post({
        queryParameters: { "api-version": RESOURCE_GRAPH_API_VERSION },
        contentType: "application/json",
        body: {
          ...(subscriptions === undefined ? {} : { subscriptions }),
          query: DISCOVERY_QUERY,
          options: {
            resultFormat: "objectArray",
            $top: ROWS_PER_PAGE,
            ...(skipToken === undefined ? {} : { $skipToken: skipToken }),
          },
        },
      });
      const body = expectStatus(response, "200") as QueryResponse | undefined;
      for (const row of Array.isArray(body?.data) ? (body.data as unknown[]) : []) {
        const { subscriptionId, type, count_ } = (row ?? {}) as Record<string, unknown>;
        if (typeof subscriptionId !== "string" || typeof type !== "string" || typeof count_ !== "number")
          continue;
        const key = subscriptionId.toLowerCase();
        const known = counts.get(key) ?? {};
        known[type.toLowerCase()] = (known[type.toLowerCase()] ?? 0) + count_;
        counts.set(key, known);
      }
      skipToken =
        typeof body?.$skipToken === "string" && body.$skipToken !== "" ? body.$skipToken : undefined;
    } while (skipToken !== undefined);
  };

  return {
    countTargets: (subscriptionIds) =>
      azureCall(async () => {
        const counts = new Map<string, Record<string, number>>();
        if (subscriptionIds === undefined) {
          await query(undefined, counts);
          return counts;
        }
        for (let i = 0; i < subscriptionIds.length; i += SUBSCRIPTIONS_PER_QUERY) {
          await query(subscriptionIds.slice(i, i + SUBSCRIPTIONS_PER_QUERY), counts);
        }
        return counts;
      }),
  };
}
