import type { CheckId, Status } from "./checks.js";

export type Trigger = "eventgrid" | "timer" | "http" | "queue" | "cli";
export type Mode = "enforce" | "audit";

/** One record per check and resource, column for column as CONTRACT.md's outcome record. */
export interface OutcomeRecord {
  TimeGenerated: string;
  RunId: string;
  Trigger: Trigger;
  Mode: Mode;
  SubscriptionId: string;
  ResourceId: string;
  ResourceType: string;
  Check: CheckId;
  Status: Status;
  Reason: string;
  Action: string;
  CorrelationId: string;
  DurationMs: number;
  Details: Record<string, unknown>;
  /**
   * Unique per outcome and kept when the row is sent again (a lost ingestion response, two deliveries
   * of one spool), so readers collapse duplicates on it. Added after the first release of the record.
   */
  OutcomeId: string;
}

export const OUTCOME_FIELDS: readonly (keyof OutcomeRecord)[] = [
  "TimeGenerated",
  "RunId",
  "Trigger",
  "Mode",
  "SubscriptionId",
  "ResourceId",
  "ResourceType",
  "Check",
  "Status",
  "Reason",
  "Action",
  "CorrelationId",
  "DurationMs",
  "Details",
  "OutcomeId",
];
