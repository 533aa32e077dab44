/**
 * What the Event Grid trigger and `autoprotect event` both run: events in, one coalesced reconcile per
 * resource they name. Parsing is in `src/events`; this module decides what to run and runs it.
 */
import { parseEvents, type EventVerdict } from "../events/parse.js";
import type { Config } from "../model/config.js";
import type { OutcomeRecord } from "../model/outcome.js";
import type { RunInfo } from "../outcomes/record.js";
import type { Coalescer } from "./coalesce.js";
import type { Engine, RunError, RunResult } from "./engine.js";
import type { RequeueRequest } from "./requeue.js";

export interface EventDispatch {
  readonly engine: Engine;
  readonly config: Pick<Config, "subscriptions">;
  readonly coalescer: Coalescer;
}

export interface EventsResult {
  /** One per event, in order; events outside the subscriptions in scope become `ignored`. */
  readonly verdicts: EventVerdict[];
  readonly outcomes: OutcomeRecord[];
  readonly errors: RunError[];
  readonly requeue: RequeueRequest[];
}

/** Applies the subscription allow-list: events for other subscriptions are none of our business. */
export function scopeVerdicts(
  verdicts: readonly EventVerdict[],
  subscriptions: readonly string[],
): EventVerdict[] {
  if (subscriptions.length === 0) return [...verdicts];
  const inScope = new Set(subscriptions.map((s) => s.toLowerCase()));
  return verdicts.map((verdict) =>
    verdict.kind === "reconcile" && !inScope.has(verdict.subscriptionId.toLowerCase())
      ? {
          kind: "ignored",
          eventId: verdict.eventId,
          eventType: verdict.eventType,
          reason: `subscription ${verdict.subscriptionId} is not in AUTOPROTECT_SUBSCRIPTIONS`,
        }
      : verdict,
  );
}

/**
 * Reconciles every resource the events name, once per resource however many events name it (the
 * first event's id is the correlation id), each through the coalescer so concurrent deliveries for
 * the same resource share runs.
 */
export async function reconcileEvents(
  payload: unknown,
  dispatch: EventDispatch,
  info: Omit<RunInfo, "correlationId">,
): Promise<EventsResult> {
  return dispatchVerdicts(await parseEvents(payload), dispatch, info);
}

/** The second half of reconcileEvents, for callers that look at the verdicts first (the CLI). */
export async function dispatchVerdicts(
  parsed: readonly EventVerdict[],
  dispatch: EventDispatch,
  info: Omit<RunInfo, "correlationId">,
): Promise<EventsResult> {
  const verdicts = scopeVerdicts(parsed, dispatch.config.subscriptions);
  const targets = new Map<string, { resourceId: string; eventId: string }>();
  for (const verdict of verdicts) {
    if (verdict.kind !== "reconcile") continue;
    const key = verdict.resourceId.toLowerCase();
    if (!targets.has(key)) targets.set(key, { resourceId: verdict.resourceId, eventId: verdict.eventId });
  }
  const results: RunResult[] = await Promise.all(
    [...targets.values()].map(({ resourceId, eventId }) =>
      // Keyed like every trigger's runs (mode and resource), so an event and a queued retry share one.
      dispatch.coalescer.run(`${info.mode} ${resourceId}`, () =>
        dispatch.engine.reconcile([{ kind: "resource", resourceId }], { ...info, correlationId: eventId }),
      ),
    ),
  );
  // Runs shared through the coalescer appear once.
  const unique = [...new Set(results)];
  return {
    verdicts,
    outcomes: unique.flatMap((r) => r.outcomes),
    errors: unique.flatMap((r) => r.errors),
    requeue: unique.flatMap((r) => r.requeue),
  };
}
