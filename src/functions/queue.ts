import { app, type InvocationContext } from "@azure/functions";
import { RECONCILE_POISON_QUEUE, RECONCILE_QUEUE } from "../azure/queue.js";
import type { RunResult } from "../engine/engine.js";
import { poisonOutcomes } from "../engine/poison.js";
import { parseReconcileMessage, ReconcileMessageError } from "../engine/scheduler.js";
import type { OutcomeRecord } from "../model/outcome.js";
import { reconcileResource } from "../engine/events.js";
import { finishRun, recordOutcomes, sharedRuntime, type Runtime } from "./runtime.js";

/** Thrown so the host retries the message (and, after its retries, moves it to the poison queue). */
export class ReconcileRetryError extends Error {
  override readonly name = "ReconcileRetryError";
}

/**
 * Delayed work: a rollout's next step, a busy cluster's retry. A message whose look was superseded by
 * a sooner one is dropped; a run that failed is thrown back to the host for its retries.
 */
export function createReconcileQueueHandler(runtime: () => Runtime) {
  return async (body: unknown, context: InvocationContext): Promise<RunResult | undefined> => {
    const { config, engine, coalescer, scheduler } = runtime();
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
    if (!(await scheduler.isCurrent(message))) {
      context.debug(`superseded look at ${message.resourceId} dropped`);
      return undefined;
    }
    const mode = message.mode ?? config.mode;
    const result = await reconcileResource({ engine, coalescer }, message.resourceId, {
      runId: context.invocationId,
      trigger: "queue",
      mode,
      correlationId: message.correlationId,
    });
    await finishRun(runtime(), context, result, message.correlationId, mode === "audit" ? { mode } : {});
    const failed = result.outcomes.filter((o) => o.Status === "failed");
    context.log(
      `${message.resourceId}: ${String(result.outcomes.length)} outcomes, ${String(failed.length)} failed`,
    );
    if (failed.length > 0 || result.errors.length > 0) {
      const first = failed[0]?.Reason ?? result.errors[0]?.message ?? "";
      throw new ReconcileRetryError(`${message.resourceId}: ${first}`);
    }
    return result;
  };
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
