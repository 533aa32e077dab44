import { app, type InvocationContext } from "@azure/functions";
import { RECONCILE_POISON_QUEUE, RECONCILE_QUEUE } from "../azure/queue.js";
import type { RunResult } from "../engine/engine.js";
import { poisonOutcomes } from "../dispatch/poison.js";
import { parseReconcileMessage, ReconcileMessageError } from "../dispatch/scheduler.js";
import type { OutcomeRecord } from "../model/outcome.js";
import { reconcileResource } from "../dispatch/events.js";
import { withRunDeadline } from "../azure/call-limits.js";
import {
  finishRun,
  recordOutcomes,
  sharedRuntime,
  triggerRunOptions,
  TRIGGER_BUDGETS,
  type Runtime,
} from "./runtime.js";

/**
 * Delayed work: a rollout's next step, a busy cluster's retry, the confirmation of a write that was
 * started and not waited for. A message whose look was superseded by a sooner one is dropped. A failed
 * check does not throw the message back to the host: the run has already scheduled its retry (with a
 * growing delay) when the failure is transient, and a retry cannot help when it is not. Only a run
 * that could not finish at all (the handler itself failed) goes back to the host and, after its
 * retries, to the poison queue.
 */
export function createReconcileQueueHandler(runtime: () => Runtime) {
  return async (body: unknown, context: InvocationContext): Promise<RunResult | undefined> => {
    const started = Date.now();
    return withRunDeadline(started + TRIGGER_BUDGETS.queue.totalMs, () => handle(body, context, started));
  };

  async function handle(
    body: unknown,
    context: InvocationContext,
    started: number,
  ): Promise<RunResult | undefined> {
    const { engine, coalescer, scheduler, config } = runtime();
    let message;
    try {
      message = parseReconcileMessage(body);
    } catch (error) {
      // A retry cannot repair a message; say so once and let it go.
      if (error instanceof ReconcileMessageError) {
        context.error(`autoprotect: dropped a reconcile message: ${error.message}`);
        return undefined;
      }
      throw error;
    }
    // The look is this worker's until it ends or the trigger's budget does: no other instance runs it meanwhile.
    const claim = await scheduler.claim(message, Math.ceil(TRIGGER_BUDGETS.queue.totalMs / 1000));
    if (claim.kind === "superseded") {
      context.debug(`superseded look at ${message.resourceId} dropped`);
      return undefined;
    }
    if (claim.kind === "running") {
      context.log(
        `${message.resourceId} is being looked at elsewhere; this look is due again at ${claim.until}`,
      );
      return undefined;
    }
    const mode = message.mode ?? config.mode;
    let result;
    try {
      result = await reconcileResource(
        { engine, coalescer },
        message.resourceId,
        { runId: context.invocationId, trigger: "queue", mode, correlationId: message.correlationId },
        {
          ...triggerRunOptions("queue", started),
          ...(message.operation === undefined ? {} : { pendingOperations: [message.operation] }),
        },
      );
    } finally {
      // Released before the run's follow-ups are scheduled: they are new looks, not this one.
      await scheduler.release(claim);
    }
    await finishRun(runtime(), context, result, message.correlationId, mode === "audit" ? { mode } : {});
    const failed = result.outcomes.filter((o) => o.Status === "failed");
    context.log(
      `${message.resourceId}: ${String(result.outcomes.length)} outcomes, ${String(failed.length)} failed`,
    );
    return result;
  }
}

/** What the host gave up on becomes `failed` outcomes, visible beside every other outcome. */
export function createPoisonHandler(runtime: () => Runtime) {
  return async (body: unknown, context: InvocationContext): Promise<OutcomeRecord[]> => {
    let message;
    try {
      message = parseReconcileMessage(body);
    } catch (error) {
      context.error(
        `autoprotect: unreadable message in ${RECONCILE_POISON_QUEUE}: ${(error as Error).message}`,
      );
      return [];
    }
    const dequeueCount = context.triggerMetadata?.dequeueCount;
    const outcomes = poisonOutcomes(
      message.resourceId,
      {
        runId: context.invocationId,
        trigger: "queue",
        mode: message.mode ?? "enforce",
        correlationId: message.correlationId,
      },
      {
        queue: RECONCILE_POISON_QUEUE,
        ...(typeof dequeueCount === "number" ? { dequeueCount } : {}),
        reason: message.reason,
      },
      new Date(),
    );
    context.error(
      `autoprotect: gave up on ${message.resourceId} after the queue's retries; ${String(outcomes.length)} failed outcomes recorded`,
    );
    await recordOutcomes(runtime(), outcomes, context);
    return outcomes;
  };
}

app.storageQueue("reconcileQueue", {
  queueName: RECONCILE_QUEUE,
  connection: "AzureWebJobsStorage",
  handler: async (message, context) => {
    await createReconcileQueueHandler(sharedRuntime)(message, context);
  },
});

app.storageQueue("reconcilePoison", {
  queueName: RECONCILE_POISON_QUEUE,
  connection: "AzureWebJobsStorage",
  handler: async (message, context) => {
    await createPoisonHandler(sharedRuntime)(message, context);
  },
});
