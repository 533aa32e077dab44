import type { OutcomeRecord } from "../model/outcome.js";
import type { PendingOperation } from "./run-context.js";

/** Look at `resourceId` again in `afterSeconds`: what a delayed queue message or the next CLI run carries. */
export interface RequeueRequest {
  readonly resourceId: string;
  readonly afterSeconds: number;
  /** The reason of the deferred outcome that asked soonest. */
  readonly reason: string;
  /** A write that was started and not waited for, which that look confirms. */
  readonly operation?: PendingOperation;
}

/** Deferred outcomes that carry no delay are looked at again after this long. */
export const DEFAULT_REQUEUE_SECONDS = 300;

const API_ID =
  /^(.*\/providers\/Microsoft\.ApiManagement\/service\/[^/]+)\/(?:workspaces\/[^/]+\/)?apis\/[^/]+$/i;

/**
 * The resource a deferred outcome should be reconciled through next time: an API's rollout step is
 * taken for its whole service, so APIs requeue their service; plans requeue their subscription.
 */
export function requeueTarget(outcome: Pick<OutcomeRecord, "ResourceId" | "SubscriptionId">): string {
  const api = API_ID.exec(outcome.ResourceId);
  if (api?.[1] !== undefined) return api[1];
  if (/\/providers\/Microsoft\.Security\/pricings\//i.test(outcome.ResourceId)) {
    return `/subscriptions/${outcome.SubscriptionId}`;
  }
  return outcome.ResourceId;
}

function pendingOperation(details: Readonly<Record<string, unknown>>): PendingOperation | undefined {
  const operation = details.operation as Partial<PendingOperation> | undefined;
  return typeof operation?.statusUrl === "string" && typeof operation.resourceId === "string"
    ? (operation as PendingOperation)
    : undefined;
}

/**
 * One request per resource to look at again, the soonest any of its outcomes asked for: deferred
 * outcomes, and failed ones that ask to be retried (a transient failure, a listing that failed).
 */
export function requeueRequests(outcomes: readonly OutcomeRecord[]): RequeueRequest[] {
  const byTarget = new Map<string, RequeueRequest>();
  for (const outcome of outcomes) {
    const retried = outcome.Status === "failed" && typeof outcome.Details.retryAfterSeconds === "number";
    if (outcome.Status !== "deferred" && !retried) continue;
    const delay = outcome.Details.retryAfterSeconds;
    const afterSeconds =
      typeof delay === "number" && Number.isFinite(delay) && delay >= 0 ? delay : DEFAULT_REQUEUE_SECONDS;
    const resourceId = requeueTarget(outcome);
    const key = resourceId.toLowerCase();
    const known = byTarget.get(key);
    const operation = pendingOperation(outcome.Details) ?? known?.operation;
    if (known === undefined || afterSeconds < known.afterSeconds) {
      byTarget.set(key, {
        resourceId: known?.resourceId ?? resourceId,
        afterSeconds,
        reason: outcome.Reason,
        ...(operation === undefined ? {} : { operation }),
      });
    } else if (operation !== undefined && known.operation === undefined) {
      byTarget.set(key, { ...known, operation });
    }
  }
  return [...byTarget.values()].sort((a, b) => a.afterSeconds - b.afterSeconds);
}
