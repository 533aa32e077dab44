import { createHash, randomUUID } from "node:crypto";
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
    OutcomeId: randomUUID(),
  };
}

/** Any fixed UUID: the namespace of the name-based ids below (RFC 9562 version 5). */
const LEGACY_NAMESPACE = Buffer.from("5b0a4e0c9d1f4c1e8a7e2d3f4b5c6d7e", "hex");

/**
 * A row without an OutcomeId (spooled by a version before the column existed) gets one derived from
 * its content: the same row read again, or sent again, gets the same id, so readers still collapse it.
 */
export function withOutcomeId(row: OutcomeRecord): OutcomeRecord {
  if (typeof row.OutcomeId === "string" && row.OutcomeId !== "") return row;
  const hash = createHash("sha1").update(LEGACY_NAMESPACE).update(JSON.stringify(row)).digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString("hex");
  const id = [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join(
    "-",
  );
  return { ...row, OutcomeId: id };
}
