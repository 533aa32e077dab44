/**
 * Null-tolerant readers. ARM sends `null` where a section is absent (`addonProfiles`,
 * `apiServerAccessProfile`, `extensions`, ...) and the SDK passes it through, so the
 * planners read the declared types through these instead of trusting them.
 */

export type Fields = Readonly<Record<string, unknown>>;

export function fields(value: unknown): Fields | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Fields) : undefined;
}

export function items(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? (value as readonly unknown[]) : [];
}

/** The string itself (untrimmed, as ARM spells it) when it has any non-blank character. */
export function nonBlankText(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value : undefined;
}

/** ARM is inconsistent about the case of enum-like values (`Standard`/`standard`, `True`/`true`). */
export function sameWord(value: unknown, expected: string): boolean {
  return typeof value === "string" && value.trim().toLowerCase() === expected.toLowerCase();
}

/** Keys of `record` equal to `key` regardless of case, in the record's order and spelling. */
export function keysLike(record: Fields | undefined, key: string): string[] {
  const wanted = key.toLowerCase();
  return Object.keys(record ?? {}).filter((k) => k.toLowerCase() === wanted);
}

/** "a", "a and b", "a, b and c". */
export function joinWords(words: readonly string[]): string {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} and ${words[words.length - 1] ?? ""}`;
}
