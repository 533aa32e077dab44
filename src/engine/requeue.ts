import type { OutcomeRecord } from "../model/outcome.js";

/** Look at `resourceId` again in `afterSeconds`: what a delayed queue message or the next CLI run carries. */
export interface RequeueRequest {
  readonly resourceId: string;
  readonly afterSeconds: number;
  /** The reason of the deferred outcome that asked soonest. */
  readonly reason: string;
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

/** One request per resource to look at again, the soonest any of its deferred outcomes asked for. */
export function requeueRequests(outcomes: readonly OutcomeRecord[]): RequeueRequest[] {
  const byTarget = new Map<string, RequeueRequest>();
  for (const outcome of outcomes) {
    if (outcome.Status !== "deferred") continue;
    const delay = outcome.Details.retryAfterSeconds;
    const afterSeconds =
      typeof delay === "number" && Number.isFinite(delay) && delay >= 0 ? delay : DEFAULT_REQUEUE_SECONDS;
    const resourceId = requeueTarget(outcome);
    const key = resourceId.toLowerCase();
    const known = byTarget.get(key);
    if (known === undefined || afterSeconds < known.afterSeconds) {
      byTarget.set(key, {
        resourceId: known?.resourceId ?? resourceId,
        afterSeconds,
        reason: outcome.Reason,
      });
    }
  }
  return [...byTarget.values()].sort((a, b) => a.afterSeconds - b.afterSeconds);
}
