import { fields, sameWord } from "./read.js";

/** The contract's exact reason for a resource excluded by tag. */
export const EXCLUDED_BY_TAG = "excluded by tag";

export interface TagExclusion {
  /** The tag name as the resource or resource group spells it. */
  readonly tag: string;
  readonly scope: "resource" | "resourceGroup";
}

/** Which tag excludes the resource, and where it sits; the resource's own tag wins over its group's. */
export function findTagExclusion(
  tagName: string,
  resourceTags?: Readonly<Record<string, string>>,
  resourceGroupTags?: Readonly<Record<string, string>>,
): TagExclusion | undefined {
  const onResource = excludingTag(tagName, resourceTags);
  if (onResource !== undefined) return { tag: onResource, scope: "resource" };
  const onGroup = excludingTag(tagName, resourceGroupTags);
  if (onGroup !== undefined) return { tag: onGroup, scope: "resourceGroup" };
  return undefined;
}

export function exclusionReason(
  tagName: string,
  resourceTags?: Readonly<Record<string, string>>,
  resourceGroupTags?: Readonly<Record<string, string>>,
): string | undefined {
  return findTagExclusion(tagName, resourceTags, resourceGroupTags) === undefined
    ? undefined
    : EXCLUDED_BY_TAG;
}

function excludingTag(tagName: string, tags: unknown): string | undefined {
  const wanted = tagName.trim().toLowerCase();
  // A blank tag name would otherwise match a stray "" key and exclude resources nobody meant to.
  if (wanted === "") return undefined;
  return Object.entries(fields(tags) ?? {}).find(
    ([name, value]) => name.toLowerCase() === wanted && sameWord(value, "true"),
  )?.[0];
}
