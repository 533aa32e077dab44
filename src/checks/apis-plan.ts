import type { Finding } from "../model/checks.js";
import type { PricingSnapshot, PricingUpdate } from "../model/pricing.js";
import { extensionStates, isStandardTier, writableExtensions } from "./pricing-body.js";
import { fields, nonBlankText } from "./read.js";

/**
 * Only the tier counts: the sub-plan of a plan already on Standard is the owner's choice and never changed.
 * `supportedServices` is how many API Management services in the subscription Defender for APIs could
 * protect (undefined: not counted). The plan is billed per subscription whatever it protects, so with
 * none it is not turned on: the first supported service that appears turns it on.
 */
export function planApisPlan(
  pricing: PricingSnapshot,
  subPlan: string,
  supportedServices?: number,
): Finding<PricingUpdate> {
  const properties = fields(pricing.properties);
  const tier = nonBlankText(properties?.pricingTier);
  const currentSubPlan = nonBlankText(properties?.subPlan);
  const extensions = writableExtensions(properties?.extensions);
  const enforce = nonBlankText(properties?.enforce);
  const details = {
    pricingTier: tier ?? null,
    ...(currentSubPlan === undefined ? {} : { subPlan: currentSubPlan }),
    ...(extensions === undefined ? {} : { extensions: extensionStates(extensions) }),
  };

  if (isStandardTier(tier)) {
    const suffix = currentSubPlan === undefined ? "" : ` (sub-plan ${currentSubPlan})`;
    return { verdict: "compliant", reason: `the Defender for APIs plan is Standard${suffix}`, details };
  }

  if (supportedServices === 0) {
    return {
      verdict: "skipped",
      reason:
        "no API Management service here that Defender for APIs supports; the plan is billed per " +
        "subscription, so it is turned on when one appears",
      details,
    };
  }

  const wantedSubPlan = subPlan.trim();
  const change: PricingUpdate = {
    pricingTier: "Standard",
    ...(wantedSubPlan === "" ? {} : { subPlan: wantedSubPlan }),
    ...(enforce === undefined ? {} : { enforce }),
    ...(extensions === undefined ? {} : { extensions }),
  };
  return {
    verdict: "change",
    reason: `the Defender for APIs plan is ${tier ?? "not set"}`,
    action:
      wantedSubPlan === ""
        ? "set the Defender for APIs plan to Standard"
        : `set the Defender for APIs plan to Standard with sub-plan ${wantedSubPlan}`,
    change,
    details,
  };
}
