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
];
