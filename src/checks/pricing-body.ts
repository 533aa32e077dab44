import type { PricingUpdate } from "../model/pricing.js";
import { fields, items, nonBlankText, sameWord } from "./read.js";

export type WritableExtension = NonNullable<PricingUpdate["extensions"]>[number];

export function isStandardTier(tier: unknown): boolean {
  return sameWord(tier, "Standard");
}

/**
 * The plan's extensions as a PUT must send them: every named extension kept, in order, with its
 * value normalised to "True"/"False" and `operationStatus` dropped because ARM rejects or ignores
 * read-only fields. `undefined` when the plan has no extension list at all, so that a PUT does not
 * invent an empty one.
 */
export function writableExtensions(extensions: unknown): WritableExtension[] | undefined {
  if (!Array.isArray(extensions)) return undefined;
  const result: WritableExtension[] = [];
  for (const entry of items(extensions)) {
    const extension = fields(entry);
    const name = nonBlankText(extension?.name);
    if (extension === undefined || name === undefined) continue;
    const additional = fields(extension.additionalExtensionProperties);
    result.push({
      name,
      isEnabled: isOn(extension.isEnabled) ? "True" : "False",
      ...(additional === undefined ? {} : { additionalExtensionProperties: structuredClone(additional) }),
    });
  }
  return result;
}

function isOn(value: unknown): boolean {
  return value === true || sameWord(value, "true");
}

export function extensionStates(
  extensions: readonly WritableExtension[] | undefined,
): Record<string, string> {
  return Object.fromEntries((extensions ?? []).map((e) => [e.name, e.isEnabled]));
}
