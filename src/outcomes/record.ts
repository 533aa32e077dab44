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

/**
 * The error code a failed outcome carries in `Details.code`, so failures group by code in Log
 * Analytics however they arose: the code given, the ARM error's code, the code the reason starts
 * with, or what kind of failure the reason names.
 */
export function failureCode(reason: string, details: Readonly<Record<string, unknown>>): string {
  if (typeof details.code === "string" && details.code !== "") return details.code;
  const nested = details.error as { code?: unknown } | undefined;
  if (typeof nested?.code === "string" && nested.code !== "") return nested.code;
  const leading = /^(?:[a-z]+: )?([A-Z][A-Za-z0-9]+(?:\.[A-Za-z0-9]+)*):/.exec(reason);
  if (leading?.[1] !== undefined) return leading[1];
  if (/not confirmed/i.test(reason)) return "NotConfirmed";
  return "Failed";
}

export function buildOutcome(run: RunInfo, fields: OutcomeFields, now: Date): OutcomeRecord {
  const given = fields.details ?? {};
  const details = fields.status === "failed" ? { ...given, code: failureCode(fields.reason, given) } : given;
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
    Details: details,
  };
}
