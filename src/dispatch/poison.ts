import type { OutcomeRecord } from "../model/outcome.js";
import { parseResourceId } from "../model/resource-id.js";
import { targetKindInfo } from "../model/targets.js";
import { buildOutcome, type RunInfo } from "../outcomes/record.js";

/**
 * Work the queue gave up on (the host moved its message to the poison queue after its retries) becomes
 * `failed` outcomes, one per check the work was for, so it shows where operators look for failures.
 */
export function poisonOutcomes(
  resourceId: string,
  info: RunInfo,
  detail: { readonly queue: string; readonly dequeueCount?: number; readonly reason?: string },
  now: Date,
): OutcomeRecord[] {
  const parsed = parseResourceId(resourceId);
  const { checks, resourceType } = targetKindInfo(parsed);
  return checks.map((check) =>
    buildOutcome(
      info,
      {
        subscriptionId: parsed.subscriptionId,
        resourceId: parsed.id,
        resourceType,
        check,
        status: "failed",
        reason: `Retries exhausted: delayed work for this resource kept failing and was moved to ${detail.queue}`,
        details: { code: "RetriesExhausted", ...detail },
        startedAt: now.getTime(),
      },
      now,
    ),
  );
}
