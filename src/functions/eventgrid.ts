import { app, type InvocationContext } from "@azure/functions";
import { reconcileEvents, type EventsResult } from "../dispatch/events.js";
import { EventPayloadError } from "../events/parse.js";
import { withRunDeadline } from "../azure/call-limits.js";
import { finishRun, sharedRuntime, triggerRunOptions, TRIGGER_BUDGETS, type Runtime } from "./runtime.js";

/**
 * The Event Grid trigger: resource writes (subscription system topic, Resource Notifications) and APIM
 * API events, one event per invocation. A bad event is logged in one line and completed: throwing
 * would make Event Grid redeliver it for a day, and a retry cannot make it well-formed.
 */
export function createEventGridHandler(runtime: () => Runtime) {
  return async (event: unknown, context: InvocationContext): Promise<EventsResult | undefined> => {
    const started = Date.now();
    // Event Grid redelivers what it has had no answer to within 30 s: everything fits in its budget.
    return withRunDeadline(started + TRIGGER_BUDGETS.eventgrid.totalMs, () =>
      handle(event, context, started),
    );
  };

  async function handle(
    event: unknown,
    context: InvocationContext,
    started: number,
  ): Promise<EventsResult | undefined> {
    const { config, engine, coalescer } = runtime();
    let result: EventsResult;
    try {
      result = await reconcileEvents(
        event,
        { engine, config, coalescer },
        { runId: context.invocationId, trigger: "eventgrid", mode: config.mode },
        triggerRunOptions("eventgrid", started),
      );
    } catch (error) {
      if (error instanceof EventPayloadError) {
        context.error(`autoprotect: rejected event delivery: ${error.message}`);
        return undefined;
      }
      throw error;
    }
    for (const verdict of result.verdicts) {
      if (verdict.kind === "malformed") context.error(`autoprotect: rejected event: ${verdict.problem}`);
      if (verdict.kind === "ignored")
        context.debug(`ignored ${verdict.eventType} ${verdict.eventId}: ${verdict.reason}`);
      if (verdict.kind === "reconcile")
        context.log(`${verdict.eventType} ${verdict.eventId}: reconciling ${verdict.resourceId}`);
    }
    const failed = result.outcomes.filter((o) => o.Status === "failed").length;
    if (result.outcomes.length > 0) {
      context.log(`${String(result.outcomes.length)} outcomes, ${String(failed)} failed`);
    }
    await finishRun(runtime(), context, result, context.invocationId);
    return result;
  }
}

app.eventGrid("resourceEvents", {
  handler: async (event, context) => {
    await createEventGridHandler(sharedRuntime)(event, context);
  },
});
