import { app, type InvocationContext, type Timer } from "@azure/functions";
import { forEachConcurrently } from "../engine/concurrency.js";
import type { RunResult } from "../engine/engine.js";
import { recordOutcomes, sharedRuntime, type Runtime } from "./runtime.js";

const SWEEP_CONCURRENCY = 4;

/** The timer sweep: every subscription in scope (the allow-list, else all the identity can see). */
export function createSweepHandler(runtime: () => Runtime) {
  return async (_timer: Timer, context: InvocationContext): Promise<RunResult> => {
    const { config, azure, engine, scheduler } = runtime();
    const subscriptionIds =
      config.subscriptions.length > 0 ? config.subscriptions : await azure.resources.listSubscriptionIds();
    // Subscriptions in parallel, a few at a time: each run reads its own subscription's resources.
    const results: RunResult[] = [];
    await forEachConcurrently(subscriptionIds, SWEEP_CONCURRENCY, async (subscriptionId) => {
      results.push(
        await engine.reconcile([{ kind: "subscription", subscriptionId }], {
          runId: context.invocationId,
          trigger: "timer",
          mode: config.mode,
          correlationId: context.invocationId,
        }),
      );
    });
    const requeue = results.flatMap((r) => r.requeue).sort((a, b) => a.afterSeconds - b.afterSeconds);
    const result: RunResult = {
      outcomes: results.flatMap((r) => r.outcomes),
      errors: results.flatMap((r) => r.errors),
      requeue,
      requeueAfterSeconds: requeue[0]?.afterSeconds,
    };
    await recordOutcomes(runtime(), result.outcomes, context);
    // Unfinished rollouts and busy resources get their next look without waiting for the next sweep.
    await scheduler.schedule(result.requeue, context.invocationId);
    const failed = result.outcomes.filter((o) => o.Status === "failed").length;
    context.log(
      `sweep of ${subscriptionIds.length} subscriptions: ${result.outcomes.length} outcomes, ${failed} failed, ${result.errors.length} errors`,
    );
    for (const error of result.errors) context.error(`${error.scope}: ${error.code}: ${error.message}`);
    return result;
  };
}

app.timer("sweep", {
  schedule: "%AUTOPROTECT_SWEEP_SCHEDULE%",
  runOnStartup: false,
  handler: async (timer, context) => {
    await createSweepHandler(sharedRuntime)(timer, context);
  },
});
