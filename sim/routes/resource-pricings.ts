/**
 * Defender plans set on one resource (`{resourceId}/providers/Microsoft.Security/pricings/{plan}`,
 * api-version 2024-01-01 only: earlier versions have no resource scope), shaped as azure-rest-api-specs'
 * GetResourcePricingByNameContainers / PutResourcePricingByNameContainers /
 * DeleteResourcePricingByNameContainers examples. A GET answers the plan in effect at the resource:
 * its own (`inherited` "False", `inheritedFrom` null) when the estate holds one, else the subscription's
 * (`inherited` "True", `inheritedFrom` the subscription). PUT sets the resource's own plan (the rules of
 * a subscription plan's PUT), DELETE removes it: 200, or 204 when there was none.
 */
import { ArmError, resourceNotFound } from "../arm-errors.js";
import { PRICING_TYPE } from "../arc.js";
import { normalizeIsEnabled, normalizeTier, type ArmResource, type EstatePricing } from "../estate.js";
import type { StoredPricing } from "../state.js";
import { pricingBody, replacement } from "./security.js";
import { isRecord, pattern, type ProviderModule, type RouteContext } from "./types.js";

const API_VERSIONS = ["2024-01-01"] as const;
const SCOPE =
  "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/{resourceProvider}/{resourceType}/{resourceName}";
const PRICING = `${SCOPE}/providers/Microsoft.Security/pricings/{pricingName}`;

function scopeId(ctx: RouteContext): string {
  const {
    subscriptionId = "",
    resourceGroupName = "",
    resourceProvider = "",
    resourceType = "",
    resourceName = "",
  } = ctx.params;
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroupName}/providers/${resourceProvider}/${resourceType}/${resourceName}`;
}

function scopeResource(ctx: RouteContext): ArmResource {
  const scope = ctx.state.get(scopeId(ctx));
  if (scope === undefined) {
    throw resourceNotFound(
      `${ctx.params.resourceProvider ?? ""}/${ctx.params.resourceType ?? ""}/${ctx.params.resourceName ?? ""}`,
      ctx.params.resourceGroupName,
    );
  }
  return scope;
}

/** The resource's own plan as the estate spells it (`properties` in a subscription plan's shape). */
function ownPlan(stored: ArmResource): EstatePricing {
  const props = isRecord(stored.properties) ? stored.properties : {};
  const plan: EstatePricing = {
    pricingTier: normalizeTier(typeof props.pricingTier === "string" ? props.pricingTier : "") ?? "Free",
  };
  if (typeof props.subPlan === "string") plan.subPlan = props.subPlan;
  if (typeof props.enablementTime === "string") plan.enablementTime = props.enablementTime;
  if (Array.isArray(props.extensions)) {
    plan.extensions = (props.extensions as unknown[]).filter(isRecord).map((e) => ({
      name: typeof e.name === "string" ? e.name : "",
      isEnabled: normalizeIsEnabled(e.isEnabled) ?? "False",
      ...(isRecord(e.additionalExtensionProperties)
        ? { additionalExtensionProperties: e.additionalExtensionProperties }
        : {}),
    }));
  }
  return plan;
}

/** A subscription plan's body, moved to the resource's scope with the resource-level fields. */
function served(
  ctx: RouteContext,
  stored: StoredPricing,
  inheritedFrom: string | undefined,
): Record<string, unknown> {
  const subscriptionId = ctx.params.subscriptionId ?? "";
  const body = pricingBody(subscriptionId, stored);
  const properties = { ...(body.properties as Record<string, unknown>) };
  // Subscription-level only (PricingProperties at 2024-01-01).
  Reflect.deleteProperty(properties, "enforce");
  Reflect.deleteProperty(properties, "resourcesCoverageStatus");
  properties.inherited = inheritedFrom === undefined ? "False" : "True";
  properties.inheritedFrom = inheritedFrom ?? null;
  return { ...body, id: `${scopeId(ctx)}/providers/${PRICING_TYPE}/${stored.name}`, properties };
}

function subscriptionPlan(ctx: RouteContext): StoredPricing {
  const subscription = ctx.state.subscription(ctx.params.subscriptionId ?? "");
  const stored = subscription?.pricings.get((ctx.params.pricingName ?? "").toLowerCase());
  if (stored === undefined) {
    throw resourceNotFound(`${PRICING_TYPE}/${ctx.params.pricingName ?? ""}`, undefined);
  }
  return stored;
}

function ownId(ctx: RouteContext): string {
  return `${scopeId(ctx)}/providers/${PRICING_TYPE}/${subscriptionPlan(ctx).name}`;
}

export const resourcePricingsModule: ProviderModule = {
  name: "resource-pricings",
  routes: [
    {
      method: "GET",
      match: pattern(PRICING),
      apiVersions: API_VERSIONS,
      typeName: "pricings",
      handle: (ctx) => {
        scopeResource(ctx);
        const inherited = subscriptionPlan(ctx);
        const own = ctx.state.get(ownId(ctx));
        return {
          status: 200,
          body:
            own === undefined
              ? served(ctx, inherited, `/subscriptions/${ctx.params.subscriptionId ?? ""}`)
              : served(ctx, { name: inherited.name, pricing: ownPlan(own), explicit: true }, undefined),
        };
      },
    },
    {
      method: "PUT",
      match: pattern(PRICING),
      apiVersions: API_VERSIONS,
      typeName: "pricings",
      handle: (ctx) => {
        scopeResource(ctx);
        const name = subscriptionPlan(ctx).name;
        const id = ownId(ctx);
        const existing = ctx.state.get(id);
        const previous: StoredPricing = {
          name,
          pricing: existing === undefined ? { pricingTier: "Free" } : ownPlan(existing),
          explicit: true,
        };
        const next = replacement(previous, ctx.request.body, ctx.state.now());
        ctx.state.put({ id, name, type: PRICING_TYPE, properties: { ...next } });
        return {
          status: existing === undefined ? 201 : 200,
          body: served(ctx, { name, pricing: next, explicit: true }, undefined),
        };
      },
    },
    {
      method: "DELETE",
      match: pattern(PRICING),
      apiVersions: API_VERSIONS,
      typeName: "pricings",
      bodyOptional: true,
      handle: (ctx) => {
        scopeResource(ctx);
        if (ctx.state.get(ownId(ctx)) === undefined) return { status: 204 };
        if (!ctx.state.delete(ownId(ctx))) throw new ArmError(500, "InternalError", "the plan vanished");
        return { status: 200 };
      },
    },
  ],
};
