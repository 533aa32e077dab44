import type { PricingSnapshot, PricingUpdate } from "../model/pricing.js";
import { writableExtensions, type WritableExtension } from "./pricing-body.js";
import { fields, nonBlankText, sameWord } from "./read.js";

/**
 * Plans have no ETag, so a write can land on a change another writer made a moment before. After a
 * plan write autoprotect reads the plan again: everything the write meant to leave on (its own
 * extensions, and every extension that was on when it read the plan just before writing) must still
 * be on, and a sub-plan it read must not have changed. Anything missing or lower was lost to a race;
 * `restoreAfterRace` says what one follow-up write puts back, and nothing else: extensions another
 * writer added or switched on meanwhile are kept as they are.
 */
export interface RaceRepair {
  readonly update: PricingUpdate;
  /** What was lost, for the outcome's Details: `Extension: True → False`, `subPlan: P3 → P1`. */
  readonly lost: readonly string[];
}

function state(
  extensions: readonly WritableExtension[] | undefined,
  name: string,
): "True" | "False" | "missing" {
  const match = (extensions ?? []).find((e) => sameWord(e.name, name));
  return match === undefined ? "missing" : match.isEnabled;
}

export function restoreAfterRace(
  intended: PricingUpdate,
  after: PricingSnapshot,
  before: PricingSnapshot,
): RaceRepair | undefined {
  const afterProperties = fields(after.properties);
  const afterExtensions = writableExtensions(afterProperties?.extensions) ?? [];
  const lost: string[] = [];
  for (const extension of intended.extensions ?? []) {
    if (extension.isEnabled !== "True") continue;
    const now = state(afterExtensions, extension.name);
    if (now !== "True") lost.push(`${extension.name}: True → ${now}`);
  }
  const subPlanBefore = nonBlankText(fields(before.properties)?.subPlan);
  const subPlanAfter = nonBlankText(afterProperties?.subPlan);
  const subPlanLost =
    subPlanBefore !== undefined && !sameWord(subPlanAfter, subPlanBefore)
      ? `subPlan: ${subPlanBefore} → ${subPlanAfter ?? "none"}`
      : undefined;
  if (subPlanLost !== undefined) lost.push(subPlanLost);
  const tierLost = !sameWord(afterProperties?.pricingTier, "Standard");
  if (tierLost) lost.push(`pricingTier: Standard → ${nonBlankText(afterProperties?.pricingTier) ?? "none"}`);
  if (lost.length === 0) return undefined;

  // The union: every extension on in either, additional properties as the plan has them now.
  const extensions: WritableExtension[] = afterExtensions.map((e) =>
    state(intended.extensions, e.name) === "True" ? { ...e, isEnabled: "True" as const } : e,
  );
  for (const extension of intended.extensions ?? []) {
    if (state(afterExtensions, extension.name) === "missing") extensions.push(extension);
  }
  const subPlan = subPlanLost === undefined ? (subPlanAfter ?? intended.subPlan) : subPlanBefore;
  const enforce = nonBlankText(afterProperties?.enforce) ?? intended.enforce;
  return {
    lost,
    update: {
      pricingTier: "Standard",
      ...(subPlan === undefined ? {} : { subPlan }),
      ...(enforce === undefined ? {} : { enforce }),
      extensions,
    },
  };
}
