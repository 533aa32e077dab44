import { describe, expect, it } from "vitest";
import {
  EXCLUDED_BY_TAG,
  exclusionReason,
  findTagExclusion,
  type TagExclusion,
} from "../../src/checks/index.js";

type Tags = Record<string, string> | undefined;

describe("findTagExclusion", () => {
  const cases: [string, string, Tags, Tags, TagExclusion | undefined][] = [
    [
      "exact name and value on the resource",
      "autoprotect-exclude",
      { "autoprotect-exclude": "true" },
      undefined,
      { tag: "autoprotect-exclude", scope: "resource" },
    ],
    [
      "name and value in another case",
      "autoprotect-exclude",
      { "AutoProtect-Exclude": "TRUE" },
      undefined,
      { tag: "AutoProtect-Exclude", scope: "resource" },
    ],
    [
      "configured name in another case",
      "AUTOPROTECT-EXCLUDE",
      { "autoprotect-exclude": "True" },
      undefined,
      { tag: "autoprotect-exclude", scope: "resource" },
    ],
    [
      "value with blanks around it",
      "autoprotect-exclude",
      { "autoprotect-exclude": "  true " },
      undefined,
      { tag: "autoprotect-exclude", scope: "resource" },
    ],
    [
      "only on the resource group",
      "autoprotect-exclude",
      { env: "prod" },
      { "autoprotect-exclude": "true" },
      { tag: "autoprotect-exclude", scope: "resourceGroup" },
    ],
    [
      "on both: the resource's own tag wins",
      "autoprotect-exclude",
      { "autoprotect-exclude": "true" },
      { "AUTOPROTECT-EXCLUDE": "true" },
      { tag: "autoprotect-exclude", scope: "resource" },
    ],
    [
      "resource says false, group says true",
      "autoprotect-exclude",
      { "autoprotect-exclude": "false" },
      { "autoprotect-exclude": "true" },
      { tag: "autoprotect-exclude", scope: "resourceGroup" },
    ],
    [
      "custom tag name",
      "skip-defender",
      { "Skip-Defender": "true" },
      undefined,
      { tag: "Skip-Defender", scope: "resource" },
    ],
    ["value false", "autoprotect-exclude", { "autoprotect-exclude": "false" }, undefined, undefined],
    ["value yes", "autoprotect-exclude", { "autoprotect-exclude": "yes" }, undefined, undefined],
    ["empty value", "autoprotect-exclude", { "autoprotect-exclude": "" }, undefined, undefined],
    [
      "a longer tag name",
      "autoprotect-exclude",
      { "autoprotect-exclude-later": "true" },
      undefined,
      undefined,
    ],
    [
      "the default tag when another is configured",
      "skip-defender",
      { "autoprotect-exclude": "true" },
      undefined,
      undefined,
    ],
    ["no tags at all", "autoprotect-exclude", undefined, undefined, undefined],
    ["blank configured name against a blank key", " ", { "": "true" }, undefined, undefined],
  ];
  it.each(cases)("%s", (_name, tagName, resourceTags, groupTags, expected) => {
    expect(findTagExclusion(tagName, resourceTags, groupTags)).toEqual(expected);
    expect(exclusionReason(tagName, resourceTags, groupTags)).toBe(
      expected === undefined ? undefined : "excluded by tag",
    );
  });

  it("tolerates null tags as ARM sends them", () => {
    const nullTags = null as unknown as Record<string, string>;
    expect(findTagExclusion("autoprotect-exclude", nullTags, nullTags)).toBeUndefined();
    expect(findTagExclusion("autoprotect-exclude", nullTags, { "autoprotect-exclude": "true" })?.scope).toBe(
      "resourceGroup",
    );
  });

  it("ignores a tag value that is not a string", () => {
    const odd = { "autoprotect-exclude": true } as unknown as Record<string, string>;
    expect(exclusionReason("autoprotect-exclude", odd)).toBeUndefined();
  });

  it("uses the contract's exact reason", () => {
    expect(EXCLUDED_BY_TAG).toBe("excluded by tag");
  });
});
