/**
 * Defender for Cloud plans (Microsoft.Security/pricings), subscription scope. PUT is a strict
 * replace, as Azure's: the extensions stored become exactly the list sent.
 */
import { ArmError, badRequest, resourceNotFound } from "../arm-errors.js";
import {
  normalizeIsEnabled,
  normalizeTier,
  type EstatePricing,
  type EstatePricingExtension,
} from "../estate.js";
import { PLAN_SUBPLANS, planExtensions } from "../pricing-plans.js";
import { clone, type StoredPricing, type StoredSubscription } from "../state.js";
import { isRecord, pattern, type ProviderModule, type RouteContext } from "./types.js";

export const PRICINGS_API_VERSIONS = ["2024-01-01", "2023-01-01"] as const;
const PRICING_TYPE = "Microsoft.Security/pricings";
const PRICINGS = "/subscriptions/{subscriptionId}/providers/Microsoft.Security/pricings";

export function pricingBody(subscriptionId: string, stored: StoredPricing): Record<string, unknown> {
  const { pricing } = stored;
  const standard = pricing.pricingTier === "Standard";
  const properties: Record<string, unknown> = { pricingTier: pricing.pricingTier };
  if (pricing.subPlan !== undefined) properties.subPlan = pricing.subPlan;
  properties.freeTrialRemainingTime = "PT0S";
  if (standard && pricing.enablementTime !== undefined) properties.enablementTime = pricing.enablementTime;
  properties.enforce = "False";
  properties.resourcesCoverageStatus = standard ? "FullyCovered" : "NotCovered";
  // A plan listed without extensions shows the plan's own, on when Standard (as Azure enables them by default).
  const extensions: EstatePricingExtension[] =
    pricing.extensions ??
    planExtensions(stored.name).map((name) => ({ name, isEnabled: standard ? "True" : "False" }));
  if (pricing.extensions !== undefined || extensions.length > 0) {
    properties.extensions = extensions.map((e) => ({
      name: e.name,
      isEnabled: e.isEnabled,
      ...(e.additionalExtensionProperties === undefined
        ? {}
        : { additionalExtensionProperties: clone(e.additionalExtensionProperties) }),
      operationStatus: {
        code: "Succeeded",
        message:
          e.isEnabled === "True" ? "Successfully enabled extension" : "Successfully disabled extension",
      },
    }));
  }
  return {
    id: `/subscriptions/${subscriptionId}/providers/${PRICING_TYPE}/${stored.name}`,
    name: stored.name,
    type: PRICING_TYPE,
    properties,
  };
}

function subscriptionOf(ctx: RouteContext): StoredSubscription {
  const s = ctx.state.subscription(ctx.params.subscriptionId ?? "");
  if (s === undefined) throw new ArmError(500, "InternalError", "subscription vanished");
  return s;
}

function storedPricing(ctx: RouteContext): { subscription: StoredSubscription; stored: StoredPricing } {
  const subscription = subscriptionOf(ctx);
  const name = ctx.params.pricingName ?? "";
  const stored = subscription.pricings.get(name.toLowerCase());
  if (stored === undefined) throw resourceNotFound(`${PRICING_TYPE}/${name}`, undefined);
  return { subscription, stored };
}

function invalidInput(field: string, problem: string): ArmError {
  return badRequest("InvalidInputJson", `The JSON input is invalid: '${field}' ${problem}.`);
}

function parseExtensions(raw: unknown): EstatePricingExtension[] {
  if (!Array.isArray(raw)) throw invalidInput("properties.extensions", "must be an array");
  return raw.map((item: unknown, i) => {
    const at = `properties.extensions[${i}]`;
    if (!isRecord(item)) throw invalidInput(at, "must be an object");
    if (typeof item.name !== "string" || item.name.length === 0)
      throw invalidInput(`${at}.name`, "is required");
    const isEnabled = normalizeIsEnabled(item.isEnabled);
    if (isEnabled === undefined) {
      throw invalidInput(
        `${at}.isEnabled`,
        `must be the string "True" or "False", not ${JSON.stringify(item.isEnabled)}`,
      );
    }
    const extension: EstatePricingExtension = { name: item.name, isEnabled };
    if (item.additionalExtensionProperties !== undefined && item.additionalExtensionProperties !== null) {
      if (!isRecord(item.additionalExtensionProperties)) {
        throw invalidInput(`${at}.additionalExtensionProperties`, "must be an object");
      }
      extension.additionalExtensionProperties = clone(item.additionalExtensionProperties);
    }
    return extension;
  });
}

/** The plan after a PUT: only writable fields count (pricingTier, subPlan, extensions); read-only ones are ignored. */
export function replacement(stored: StoredPricing, body: unknown, now: Date): EstatePricing {
  if (!isRecord(body) || !isRecord(body.properties)) throw invalidInput("properties", "is required");
  const props = body.properties;
  const tierText = typeof props.pricingTier === "string" ? props.pricingTier : undefined;
  const pricingTier = tierText === undefined ? undefined : normalizeTier(tierText);
  if (pricingTier === undefined) {
    throw invalidInput(
      "properties.pricingTier",
      props.pricingTier === undefined
        ? "is required ('Free' or 'Standard')"
        : `must be 'Free' or 'Standard', not ${JSON.stringify(props.pricingTier)}`,
    );
  }
  const next: EstatePricing = { pricingTier };

  if (props.subPlan !== undefined && props.subPlan !== null) {
    if (typeof props.subPlan !== "string") throw invalidInput("properties.subPlan", "must be a string");
    const allowed = PLAN_SUBPLANS[stored.name.toLowerCase()];
    if (
      allowed !== undefined &&
      !allowed.some((p) => p.toLowerCase() === (props.subPlan as string).toLowerCase())
    ) {
      throw invalidInput(
        "properties.subPlan",
        `must be one of ${allowed.join(", ")} for plan ${stored.name}, not '${props.subPlan}'`,
      );
    }
    next.subPlan = props.subPlan;
  }

  if (pricingTier === "Standard") {
    const previous = stored.pricing;
    next.enablementTime =
      previous.pricingTier === "Standard" && previous.enablementTime !== undefined
        ? previous.enablementTime
        : now.toISOString();
  }

  if (props.extensions !== undefined && props.extensions !== null) {
    next.extensions = parseExtensions(props.extensions);
  } else if (pricingTier === "Standard") {
    // Azure's default: a plan made Standard without extensions gets all of them.
    const known = planExtensions(stored.name);
    if (known.length > 0) next.extensions = known.map((name) => ({ name, isEnabled: "True" }));
  } else {
    // Free without a list: every extension the plan had or can have is off.
    const names = new Map<string, string>();
    for (const name of planExtensions(stored.name)) names.set(name.toLowerCase(), name);
    for (const e of stored.pricing.extensions ?? []) names.set(e.name.toLowerCase(), e.name);
    if (names.size > 0) next.extensions = [...names.values()].map((name) => ({ name, isEnabled: "False" }));
  }
  return next;
}

export const securityModule: ProviderModule = {
  name: "security",
  routes: [
    {
      method: "GET",
      match: pattern(PRICINGS),
      apiVersions: PRICINGS_API_VERSIONS,
      typeName: "pricings",
      handle: (ctx) => {
        const subscription = subscriptionOf(ctx);
        const value = [...subscription.pricings.values()].map((p) =>
          pricingBody(subscription.subscriptionId, p),
        );
        return { status: 200, body: { value } };
      },
    },
    {
      method: "GET",
      match: pattern(`${PRICINGS}/{pricingName}`),
      apiVersions: PRICINGS_API_VERSIONS,
      typeName: "pricings",
      handle: (ctx) => {
        const { subscription, stored } = storedPricing(ctx);
        return { status: 200, body: pricingBody(subscription.subscriptionId, stored) };
      },
    },
    {
      method: "PUT",
      match: pattern(`${PRICINGS}/{pricingName}`),
      apiVersions: PRICINGS_API_VERSIONS,
      typeName: "pricings",
      handle: (ctx) => {
        const { subscription, stored } = storedPricing(ctx);
        stored.pricing = replacement(stored, ctx.request.body, ctx.state.now());
        stored.explicit = true;
        return { status: 200, body: pricingBody(subscription.subscriptionId, stored) };
      },
    },
  ],
};
