import { RESOURCE_TYPES, type CheckId } from "../model/checks.js";
import type { OutcomeRecord } from "../model/outcome.js";
import { parseResourceId } from "../model/resource-id.js";
import { buildOutcome, type RunInfo } from "../outcomes/record.js";
import { CLUSTER_CHECKS, targetKind } from "./engine.js";

/** The checks a reconcile of `resourceId` would have written outcomes for. */
export function checksFor(resourceId: string): { checks: CheckId[]; resourceType: string } {
  const parsed = parseResourceId(resourceId);
  switch (targetKind(parsed)) {
    case "cluster":
      return { checks: [...CLUSTER_CHECKS], resourceType: RESOURCE_TYPES.managedCluster };
    case "apim-service":
    case "apim-api":
      return { checks: ["apim.api-onboarding"], resourceType: RESOURCE_TYPES.apimApi };
    case "containers-plan":
      return { checks: ["defender.containers-plan"], resourceType: RESOURCE_TYPES.pricing };
    case "apis-plan":
      return { checks: ["defender.apis-plan"], resourceType: RESOURCE_TYPES.pricing };
    case "subscription":
      return {
        checks: ["defender.containers-plan", "defender.apis-plan"],
        resourceType: RESOURCE_TYPES.pricing,
      };
  }
}

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
  const { checks, resourceType } = checksFor(resourceId);
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
