import { app, type InvocationContext, type Timer } from "@azure/functions";
import { forEachConcurrently } from "../engine/concurrency.js";
import { mergeRunResults, type RunResult } from "../engine/engine.js";
import { withRunDeadline } from "../azure/call-limits.js";
import { finishRun, sharedRuntime, triggerRunOptions, TRIGGER_BUDGETS, type Runtime } from "./runtime.js";

const SWEEP_CONCURRENCY = 4;

/** The timer sweep: every subscription in scope (the allow-list, else all the identity can see). */
export function createSweepHandler(runtime: () => Runtime) {
  return async (timer: Timer, context: InvocationContext): Promise<RunResult> => {
    const started = Date.now();
    return withRunDeadline(started + TRIGGER_BUDGETS.timer.totalMs, () => handle(timer, context, started));
  };

  async function handle(_timer: Timer, context: InvocationContext, started: number): Promise<RunResult> {
    const { config, azure, engine } = runtime();
    const subscriptionIds =
      config.subscriptions.length > 0 ? config.subscriptions : await azure.resources.listSubscriptionIds();
    // Subscriptions in parallel, a few at a time: each run reads its own subscription's resources.
    const results: RunResult[] = [];
    await forEachConcurrently(subscriptionIds, SWEEP_CONCURRENCY, async (subscriptionId) => {
      results.push(
        await engine.reconcile(
          [{ kind: "subscription", subscriptionId }],
          {
            runId: context.invocationId,
            trigger: "timer",
            mode: config.mode,
            correlationId: context.invocationId,
          },
          triggerRunOptions("timer", started),
        ),
      );
    });
    const result = mergeRunResults(results);
    // Unfinished rollouts and busy resources get their next look without waiting for the next sweep.
    await finishRun(runtime(), context, result, context.invocationId);
    const failed = result.outcomes.filter((o) => o.Status === "failed").length;
    context.log(
      `sweep of ${subscriptionIds.length} subscriptions: ${result.outcomes.length} outcomes, ${failed} failed, ${result.errors.length} errors`,
    );
    return result;
  }
}

app.timer("sweep", {
  schedule: "%AUTOPROTECT_SWEEP_SCHEDULE%",
  runOnStartup: false,
  handler: async (timer, context) => {
    await createSweepHandler(sharedRuntime)(timer, context);
  },
});
