/**
 * Cells of the report page: escaping, and each value as a person reads it (units from the column's
 * name: ...Percent in %, ...Seconds in s, ...Hours in h; datetimes in UTC; resource ids as name and id).
 */

const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** `2026-03-02T08:00:00.123Z` → `2026-03-02 08:00 UTC`. */
export function formatTime(iso: string): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return iso;
  const text = new Date(ms).toISOString();
  return `${text.slice(0, 10)} ${text.slice(11, 16)} UTC`;
}

export function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 10) / 10);
}

/** The unit a column's name implies, as it follows a number ("%", "s", "h"), or "". */
export function unitOf(column: string): string {
  if (/Percent$/.test(column)) return "%";
  if (/Seconds$/.test(column)) return "s";
  if (/Hours$/.test(column)) return "h";
  return "";
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z$/;
const RESOURCE_ID = /^\/subscriptions\/[^/]+\//i;

/** The last segment of an ARM id (a plan says whose subscription it is). */
export function resourceName(id: string): string {
  const parts = id.split("/");
  const name = parts.at(-1) ?? id;
  return (parts.at(-2) ?? "").toLowerCase() === "pricings" ? `${name} plan` : name;
}

/** A cell's content as HTML: the value formatted for its column, escaped. */
export function cellHtml(column: string, value: unknown): string {
  if (value === null || value === undefined || value === "")
    return '<span class="none" aria-label="none">–</span>';
  if (typeof value === "number") {
    const unit = unitOf(column);
    return escapeHtml(unit === "" ? formatNumber(value) : `${formatNumber(value)} ${unit}`);
  }
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "string") {
    if (ISO_TIME.test(value))
      return `<time datetime="${escapeHtml(value)}">${escapeHtml(formatTime(value))}</time>`;
    if (RESOURCE_ID.test(value)) {
      return `<span class="rid"><b>${escapeHtml(resourceName(value))}</b> <span class="id">${escapeHtml(value)}</span></span>`;
    }
    return escapeHtml(value);
  }
  if (Array.isArray(value) && value.every((v) => typeof v === "string" || typeof v === "number")) {
    return escapeHtml(value.join(", "));
  }
  return `<code>${escapeHtml(JSON.stringify(value))}</code>`;
}

/** A column name as a header: `CoveredPercent` → `Covered %`, `P95Seconds` → `P95 (s)`. */
export function columnLabel(column: string): string {
  const unit = unitOf(column);
  const base = unit === "" ? column : column.replace(/(Percent|Seconds|Hours)$/, "");
  const words = base.replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2");
  if (unit === "%") return `${words} %`;
  return unit === "" ? words : `${words} (${unit})`;
}
