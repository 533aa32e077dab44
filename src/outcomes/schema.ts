import { OUTCOME_FIELDS, type OutcomeRecord } from "../model/outcome.js";

/** The custom Log Analytics table outcomes land in, and the data collection rule stream that feeds it. */
export const OUTCOME_TABLE = "AutoprotectOutcomes_CL";
export const OUTCOME_STREAM = "Custom-AutoprotectOutcomes";

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
