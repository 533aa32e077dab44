import { OUTCOME_FIELDS, type OutcomeRecord } from "../model/outcome.js";

/** The custom Log Analytics table outcomes land in, and the data collection rule stream that feeds it. */
export const OUTCOME_TABLE = "AutoprotectOutcomes_CL";
export const OUTCOME_STREAM = "Custom-AutoprotectOutcomes";

/**
 * What every reader of the table does first, after its time window: rows can arrive twice (delivery is
 * at least once) and a resent row keeps its OutcomeId, so one row per OutcomeId. RunId, ResourceId and
 * Check are fixed for a given OutcomeId and keep apart rows written before the column existed (empty
 * OutcomeId; one outcome per check, resource and run). docs/queries.kql, the workbook and
 * `autoprotect report` use exactly this line.
 */
export const COLLAPSE_RESENT_ROWS =
  "| summarize arg_max(TimeGenerated, *) by OutcomeId, RunId, ResourceId, Check";

export type LogAnalyticsType = "string" | "datetime" | "real" | "long" | "int" | "boolean" | "dynamic";

/** Column for column the outcome record, with the Log Analytics type of each (infra declares the same). */
export const OUTCOME_COLUMNS: readonly {
  readonly name: keyof OutcomeRecord;
  readonly type: LogAnalyticsType;
}[] = OUTCOME_FIELDS.map((name) => ({
  name,
  type:
    name === "TimeGenerated"
      ? "datetime"
      : name === "DurationMs"
        ? "real"
        : name === "Details"
          ? "dynamic"
          : "string",
}));

function fitsType(value: unknown, type: LogAnalyticsType): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "datetime":
      return typeof value === "string" && !Number.isNaN(Date.parse(value));
    case "real":
      return typeof value === "number" && Number.isFinite(value);
    case "long":
    case "int":
      return typeof value === "number" && Number.isInteger(value);
    case "boolean":
      return typeof value === "boolean";
    case "dynamic":
      return value !== undefined;
  }
}

/**
 * Why a row does not fit the stream, or undefined when it does. Checked before sending because the
 * Logs Ingestion API may accept a batch and drop rows that do not match, without saying so.
 */
export function rowProblem(row: Readonly<Record<string, unknown>>): string | undefined {
  const known = new Set<string>(OUTCOME_COLUMNS.map((c) => c.name));
  const extra = Object.keys(row).find((key) => !known.has(key));
  if (extra !== undefined) return `column '${extra}' is not in the stream`;
  for (const column of OUTCOME_COLUMNS) {
    if (!fitsType(row[column.name], column.type)) {
      const value = row[column.name];
      return `column '${column.name}' must be ${column.type}, not ${value === undefined ? "missing" : JSON.stringify(value)}`;
    }
  }
  return undefined;
}
