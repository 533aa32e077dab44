/**
 * What the Event Grid trigger and `autoprotect event` both run: events in, one coalesced reconcile per
 * resource they name. Parsing is in `src/events`; this module decides what to run and runs it.
 */
import { parseEvents, type EventVerdict } from "../events/parse.js";
import { inScope, type Config } from "../model/config.js";
import type { RunInfo } from "../outcomes/record.js";
import type { Coalescer } from "./coalesce.js";
import { mergeRunResults, type Engine, type RunResult } from "../engine/engine.js";
import type { RunOptions } from "../engine/run-context.js";

export interface EventDispatch {
  readonly engine: Engine;
  readonly config: Pick<Config, "subscriptions">;
  readonly coalescer: Coalescer;
}

export interface EventsResult extends RunResult {
  /** One per event, in order; events outside the subscriptions in scope become `ignored`. */
  readonly verdicts: EventVerdict[];
}

/**
 * Reconciles one resource through the coalescer, keyed by mode and resource, so every trigger's runs
 * for the same resource (an event, a queued retry, a request) share one.
 */
export function reconcileResource(
  dispatch: Pick<EventDispatch, "engine" | "coalescer">,
  resourceId: string,
  info: RunInfo,
  options: RunOptions = {},
): Promise<RunResult> {
  return dispatch.coalescer.run(`${info.mode} ${resourceId}`, () =>
    dispatch.engine.reconcile([{ kind: "resource", resourceId }], info, options),
  );
}

/** Applies the subscription allow-list: events for other subscriptions are none of our business. */
export function scopeVerdicts(
  verdicts: readonly EventVerdict[],
  subscriptions: readonly string[],
): EventVerdict[] {
  return verdicts.map((verdict) =>
    verdict.kind === "reconcile" && !inScope({ subscriptions }, verdict.subscriptionId)
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
  options: RunOptions = {},
): Promise<EventsResult> {
  return dispatchVerdicts(await parseEvents(payload), dispatch, info, options);
}

/** The second half of reconcileEvents, for callers that look at the verdicts first (the CLI). */
export async function dispatchVerdicts(
  parsed: readonly EventVerdict[],
  dispatch: EventDispatch,
  info: Omit<RunInfo, "correlationId">,
  options: RunOptions = {},
): Promise<EventsResult> {
  const verdicts = scopeVerdicts(parsed, dispatch.config.subscriptions);
  const targets = new Map<string, { resourceId: string; eventId: string }>();
  for (const verdict of verdicts) {
    if (verdict.kind !== "reconcile") continue;
    const key = verdict.resourceId.toLowerCase();
    if (!targets.has(key)) targets.set(key, { resourceId: verdict.resourceId, eventId: verdict.eventId });
  }
  const results = await Promise.all(
    [...targets.values()].map(({ resourceId, eventId }) =>
      reconcileResource(dispatch, resourceId, { ...info, correlationId: eventId }, options),
    ),
  );
  // Runs shared through the coalescer appear once.
  return { verdicts, ...mergeRunResults([...new Set(results)]) };
}
