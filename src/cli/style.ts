/** What the CLI's tables share: terminal colours (only on a terminal, never with NO_COLOR) and names. */

export const ANSI = {
  green: "\u001b[32m",
  cyan: "\u001b[36m",
  yellow: "\u001b[33m",
  boldYellow: "\u001b[33;1m",
  magenta: "\u001b[35m",
  red: "\u001b[31;1m",
  grey: "\u001b[90m",
  bold: "\u001b[1m",
  reset: "\u001b[0m",
} as const;

/** `value` in `code`'s colour when colour is on. */
export function painter(colour: boolean): (code: string, value: string) => string {
  return (code, value) => (colour ? `${code}${value}${ANSI.reset}` : value);
}

/** A resource's name for a table heading; plans, whose names repeat per subscription, say whose. */
export function resourceLabel(resourceId: string): string {
  const parts = resourceId.split("/");
  const name = parts.at(-1) ?? resourceId;
  const type = parts.at(-2) ?? "";
  return type.toLowerCase() === "pricings" ? `Defender plan ${name} (subscription ${parts[2] ?? "?"})` : name;
}
