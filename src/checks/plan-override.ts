/**
 * A cluster's own Defender for Containers plan. Defender for Cloud can set the Containers plan per
 * resource (`{clusterId}/providers/Microsoft.Security/pricings/Containers`, api-version 2024-01-01,
 * azure-rest-api-specs' GetResourcePricingByNameContainers example): such a plan overrides the
 * subscription's for that one cluster, so a Free one turns Defender off there while the subscription
 * says Standard. A GET at the cluster's scope answers the plan in effect: `inherited` "True" with
 * `inheritedFrom` the subscription when the cluster has none of its own, "False" when it has
 * (SecurityCenterPricingData.Inherited: "available only for resource-level pricing"). A DELETE of it
 * (200, or 204 when there was none: DeleteResourcePricingByNameContainers) makes the cluster inherit again.
 *
 * An override is often deliberate, so it is `manual` by default. With AUTOPROTECT_REMOVE_PLAN_OVERRIDES
 * it is removed, but only when the plan the cluster would inherit is at least as strong: Standard when
 * the override is Standard, and every extension the override has on on there too. Nothing is ever
 * turned off: removing an override that is weaker than what it hides only turns protection on.
 */
import type { Finding } from "../model/checks.js";
import type { PricingSnapshot } from "../model/pricing.js";
import { planContainersPlan, REQUIRED_CONTAINERS_EXTENSIONS } from "./containers-plan.js";
import { EXCLUDED_BY_TAG, findTagExclusion } from "./exclusion.js";
import { extensionStates, isStandardTier, writableExtensions } from "./pricing-body.js";
import { fields, joinWords, nonBlankText, sameWord } from "./read.js";

/** The one write this check makes: a DELETE of the cluster's own plan. */
export interface PlanOverrideRemoval {
  readonly kind: "remove-plan-override";
  /** `{clusterId}/providers/Microsoft.Security/pricings/Containers` */
  readonly pricingId: string;
}

export interface PlanOverrideInput {
  readonly clusterId: string;
  readonly clusterTags?: Readonly<Record<string, string>>;
  readonly resourceGroupTags?: Readonly<Record<string, string>>;
  /** The plan in effect at the cluster's scope; undefined when Azure has none there (404). */
  readonly clusterPlan: PricingSnapshot | undefined;
  /**
   * The subscription's plan the cluster would inherit, as enforce mode has left it (or would); needed
   * only when `needsInheritedPlan` says so.
   */
  readonly inheritedPlan: PricingSnapshot | undefined;
  readonly config: { readonly excludeTag: string; readonly removePlanOverrides: boolean };
}

export function clusterPlanId(clusterId: string): string {
  return `${clusterId}/providers/Microsoft.Security/pricings/Containers`;
}

type Inheritance = "inherited" | "own" | "unknown";

function inheritance(plan: PricingSnapshot): Inheritance {
  const value = fields(plan.properties)?.inherited;
  if (sameWord(value, "True") || value === true) return "inherited";
  if (sameWord(value, "False") || value === false) return "own";
  return "unknown";
}

/** Whether judging the cluster's plan needs the subscription's: only an own plan that leaves Defender off does. */
export function needsInheritedPlan(clusterPlan: PricingSnapshot | undefined): boolean {
  return (
    clusterPlan !== undefined &&
    inheritance(clusterPlan) === "own" &&
    planContainersPlan(clusterPlan).verdict !== "compliant"
  );
}

/** Extension names (lower case) that are on. */
function extensionsOn(plan: PricingSnapshot): Map<string, string> {
  const on = new Map<string, string>();
  for (const e of writableExtensions(fields(plan.properties)?.extensions) ?? []) {
    if (e.isEnabled === "True") on.set(e.name.toLowerCase(), e.name);
  }
  return on;
}

function tierOf(plan: PricingSnapshot): string {
  return nonBlankText(fields(plan.properties)?.pricingTier) ?? "Free";
}

/** What removing `own` would turn off, judged against `inherited`: a lower tier, extensions it has on. */
export function weakenedByRemoval(own: PricingSnapshot, inherited: PricingSnapshot): string[] {
  const lost: string[] = [];
  if (isStandardTier(tierOf(own)) && !isStandardTier(tierOf(inherited))) {
    lost.push(`the tier (the subscription's plan is ${tierOf(inherited)})`);
  }
  const inheritedOn = extensionsOn(inherited);
  for (const [key, name] of extensionsOn(own)) if (!inheritedOn.has(key)) lost.push(name);
  return lost;
}

function describePlan(plan: PricingSnapshot): string {
  const tier = tierOf(plan);
  if (!isStandardTier(tier)) return tier;
  const on = [...extensionsOn(plan).values()];
  return on.length === 0 ? "Standard with no extension on" : `Standard with ${joinWords(on)} on`;
}

/** Why the cluster's plan leaves Defender (partly) off, in the contract's words. */
function shortfall(plan: PricingSnapshot): string {
  if (!isStandardTier(tierOf(plan))) {
    return `Defender for Containers is off for this cluster by a resource-level plan (${tierOf(plan)})`;
  }
  const on = extensionsOn(plan);
  const off = REQUIRED_CONTAINERS_EXTENSIONS.filter((name) => !on.has(name.toLowerCase()));
  return `the cluster's resource-level Containers plan is Standard with ${joinWords(off)} off`;
}

export function planPlanOverride(input: PlanOverrideInput): Finding<PlanOverrideRemoval> {
  const exclusion = findTagExclusion(input.config.excludeTag, input.clusterTags, input.resourceGroupTags);
  if (exclusion !== undefined) {
    return {
      verdict: "skipped",
      reason: EXCLUDED_BY_TAG,
      details: { tag: exclusion.tag, scope: exclusion.scope },
    };
  }
  const plan = input.clusterPlan;
  const inherits = plan === undefined ? "inherited" : inheritance(plan);
  if (plan === undefined || inherits === "inherited") {
    const from = plan === undefined ? undefined : nonBlankText(fields(plan.properties)?.inheritedFrom);
    return {
      verdict: "compliant",
      reason: "the cluster has no resource-level Containers plan: it inherits the subscription's",
      details: { inherited: true, inheritedFrom: from ?? null },
    };
  }
  const ownDetails = {
    inherited: inherits === "own" ? false : null,
    pricingTier: tierOf(plan),
    extensions: extensionStates(writableExtensions(fields(plan.properties)?.extensions)),
  };
  if (planContainersPlan(plan).verdict === "compliant") {
    return {
      verdict: "compliant",
      reason:
        inherits === "own"
          ? `the cluster's own Containers plan is ${describePlan(plan)}`
          : `the Containers plan in effect for the cluster is ${describePlan(plan)}`,
      details: ownDetails,
    };
  }
  const why = shortfall(plan);
  if (inherits === "unknown") {
    return {
      verdict: "manual",
      reason: `${why}; Azure did not say whether the cluster has a plan of its own (no 'inherited'): look at it`,
      details: ownDetails,
    };
  }
  const inherited = input.inheritedPlan;
  if (inherited === undefined)
    throw new TypeError("the subscription's Containers plan is needed to judge the cluster's own");
  const lost = weakenedByRemoval(plan, inherited);
  const inheritedDetails = { ...ownDetails, inheritedPlan: describePlan(inherited) };
  if (!input.config.removePlanOverrides) {
    return {
      verdict: "manual",
      reason:
        `${why}: remove the cluster's plan (DELETE ${clusterPlanId(input.clusterId)}?api-version=2024-01-01) ` +
        "so that it inherits the subscription's, or set AUTOPROTECT_REMOVE_PLAN_OVERRIDES=true" +
        (lost.length === 0 ? "" : ` (not removed even then: it would turn off ${joinWords(lost)})`),
      details: inheritedDetails,
    };
  }
  if (lost.length > 0) {
    return {
      verdict: "manual",
      reason:
        `${why}; not removed: the subscription's plan it would inherit (${describePlan(inherited)}) ` +
        `would turn off ${joinWords(lost)}: turn those on in the subscription's plan, or change the cluster's`,
      details: { ...inheritedDetails, wouldTurnOff: lost },
    };
  }
  return {
    verdict: "change",
    reason: why,
    action: `remove the cluster's resource-level Containers plan so that it inherits the subscription's (${describePlan(inherited)})`,
    change: { kind: "remove-plan-override", pricingId: clusterPlanId(input.clusterId) },
    details: inheritedDetails,
  };
}
