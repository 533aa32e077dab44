import { app, type InvocationContext, type Timer } from "@azure/functions";
import type { ReconcileTarget, RunResult } from "../engine/engine.js";
import { sharedRuntime, type Runtime } from "./runtime.js";

/** The timer sweep: every subscription in scope (the allow-list, else all the identity can see). */
export function createSweepHandler(runtime: () => Runtime) {
  return async (_timer: Timer, context: InvocationContext): Promise<RunResult> => {
    const { config, azure, engine } = runtime();
    const subscriptionIds =
      config.subscriptions.length > 0 ? config.subscriptions : await azure.resources.listSubscriptionIds();
    const targets: ReconcileTarget[] = subscriptionIds.map((subscriptionId) => ({
      kind: "subscription",
      subscriptionId,
    }));
    const result = await engine.reconcile(targets, {
      runId: context.invocationId,
      trigger: "timer",
      mode: config.mode,
      correlationId: context.invocationId,
    });
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
