import type { CheckId, Status } from "../model/checks.js";
import type { Mode, OutcomeRecord, Trigger } from "../model/outcome.js";

/** Identifies one run: every outcome it writes carries these. */
export interface RunInfo {
  readonly runId: string;
  readonly trigger: Trigger;
  readonly mode: Mode;
  readonly correlationId: string;
}

export interface OutcomeFields {
  readonly subscriptionId: string;
  readonly resourceId: string;
  readonly resourceType: string;
  readonly check: CheckId;
  readonly status: Status;
  readonly reason: string;
  readonly action?: string;
  readonly details?: Record<string, unknown>;
  readonly startedAt: number;
}

export function buildOutcome(run: RunInfo, fields: OutcomeFields, now: Date): OutcomeRecord {
  return {
    TimeGenerated: now.toISOString(),
    RunId: run.runId,
    Trigger: run.trigger,
    Mode: run.mode,
    SubscriptionId: fields.subscriptionId,
    ResourceId: fields.resourceId,
    ResourceType: fields.resourceType,
    Check: fields.check,
    Status: fields.status,
    Reason: fields.reason,
    Action: fields.action ?? "",
    CorrelationId: run.correlationId,
    DurationMs: Math.max(0, now.getTime() - fields.startedAt),
    Details: fields.details ?? {},
  };
}
