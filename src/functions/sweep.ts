import { app, type InvocationContext, type Timer } from "@azure/functions";
import { withRunDeadline } from "../azure/call-limits.js";
import type { RequeueRequest } from "../engine/requeue.js";
import { forEachConcurrently } from "../engine/concurrency.js";
import { describeError } from "../engine/errors.js";
import { sharedRuntime, TRIGGER_BUDGETS, type Runtime } from "./runtime.js";

/** Looks scheduled at once: each is a ledger read, a ledger write and a queue message. */
const SCHEDULE_CONCURRENCY = 16;

export interface SweepResult {
  /** The subscriptions in scope the sweep found. */
  readonly subscriptions: readonly string[];
  /** Those given a look of their own on the queue (the others had one pending already, or hold nothing). */
  readonly scheduled: readonly string[];
  /** With Resource Graph discovery: the subscriptions left out because they hold nothing to reconcile. */
  readonly empty: readonly string[];
}

/**
 * The timer sweep fans out: one look per subscription in scope goes on the queue (through the
 * scheduler's ledger, so a subscription is never looked at twice at once), and the queue trigger
 * runs them on as many instances as the queue's length asks for, each within its own budget. A
 * subscription's look gives each of its API Management services a look of its own in turn.
 */
export function createSweepHandler(runtime: () => Runtime) {
  return async (timer: Timer, context: InvocationContext): Promise<SweepResult> => {
    const started = Date.now();
    return withRunDeadline(started + TRIGGER_BUDGETS.timer.totalMs, () => handle(timer, context));
  };

  async function handle(_timer: Timer, context: InvocationContext): Promise<SweepResult> {
    const { config, azure, scheduler } = runtime();
    const subscriptions =
      config.subscriptions.length > 0 ? config.subscriptions : await azure.resources.listSubscriptionIds();
    let toLook = subscriptions;
    if (config.discovery === "resource-graph") {
      // One query instead of listing clusters and services in every subscription; each look still
      // reads ARM itself before it writes anything. Discovery that fails loses no sweep: every
      // subscription in scope is looked at, as without it.
      try {
        const counts = await azure.resourceGraph.countTargets(subscriptions);
        toLook = subscriptions.filter((s) => counts.has(s.toLowerCase()));
      } catch (error) {
        const { code, message } = describeError(error);
        context.warn(
          `sweep: Resource Graph discovery failed (${code}: ${message}); looking at every subscription`,
        );
      }
    }
    const empty = subscriptions.filter((s) => !toLook.includes(s));
    const scheduled: string[] = [];
    await forEachConcurrently(toLook, SCHEDULE_CONCURRENCY, async (subscriptionId) => {
      const look: RequeueRequest = {
        resourceId: `/subscriptions/${subscriptionId}`,
        afterSeconds: 0,
        reason: "the timer sweep",
      };
      const sent = await scheduler.schedule([look], context.invocationId);
      if (sent.length > 0) scheduled.push(subscriptionId);
    });
    context.log(
      `sweep of ${String(subscriptions.length)} subscriptions: ${String(scheduled.length)} looks queued` +
        (config.discovery === "resource-graph" ? `, ${String(empty.length)} hold nothing to reconcile` : "") +
        `, ${String(toLook.length - scheduled.length)} already pending`,
    );
    return { subscriptions, scheduled, empty };
  }
}

app.timer("sweep", {
  schedule: "%AUTOPROTECT_SWEEP_SCHEDULE%",
  runOnStartup: false,
  handler: async (timer, context) => {
    await createSweepHandler(sharedRuntime)(timer, context);
  },
});
