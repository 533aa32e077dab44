/** Microsoft.Resources subscriptions: what the identity can see. */
import { SIM_TENANT_ID, type StoredSubscription } from "../state.js";
import { pattern, type ProviderModule } from "./types.js";

export const SUBSCRIPTIONS_API_VERSIONS = ["2022-12-01", "2022-01-01", "2021-01-01", "2020-01-01"] as const;

function subscriptionBody(s: StoredSubscription): Record<string, unknown> {
  return {
    id: `/subscriptions/${s.subscriptionId}`,
    authorizationSource: "RoleBased",
    managedByTenants: [],
    subscriptionId: s.subscriptionId,
    tenantId: s.tenantId ?? SIM_TENANT_ID,
    displayName: s.displayName ?? `Simulated subscription ${s.subscriptionId.slice(0, 8)}`,
    state: s.state ?? "Enabled",
    subscriptionPolicies: {
      locationPlacementId: "Public_2014-09-01",
      quotaId: "PayAsYouGo_2014-09-01",
      spendingLimit: "Off",
    },
  };
}

export const subscriptionsModule: ProviderModule = {
  name: "subscriptions",
  routes: [
    {
      method: "GET",
      match: pattern("/subscriptions"),
      apiVersions: SUBSCRIPTIONS_API_VERSIONS,
      typeName: "subscriptions",
      handle: (ctx) => ({
        status: 200,
        body: { value: [...ctx.state.subscriptions.values()].map(subscriptionBody) },
      }),
    },
    {
      method: "GET",
      match: pattern("/subscriptions/{subscriptionId}"),
      apiVersions: SUBSCRIPTIONS_API_VERSIONS,
      typeName: "subscriptions",
      handle: (ctx) => {
        // server.ts answers SubscriptionNotFound before handlers run, so the subscription exists.
        const s = ctx.state.subscription(ctx.params.subscriptionId ?? "");
        return s === undefined ? { status: 404 } : { status: 200, body: subscriptionBody(s) };
      },
    },
  ],
};
