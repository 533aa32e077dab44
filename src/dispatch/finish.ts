/**
 * How every trigger ends a run: its errors logged, its outcomes recorded, and what waits scheduled
 * on the queue (a rollout's next step, a busy resource, a started update) without waiting for the
 * next sweep.
 */
import type { RunResult } from "../engine/engine.js";
import type { OutcomeRecord } from "../model/outcome.js";
import { deliverOutcomes, type OutcomeSpool, type OutcomeUploader } from "../outcomes/delivery.js";
import type { ReconcileScheduler } from "./scheduler.js";

/** Where a run's outcomes and follow-ups go (the composition root's App provides it). */
export interface RunSinks {
  readonly delivery: { readonly uploader: OutcomeUploader; readonly spool: OutcomeSpool } | undefined;
  readonly scheduler: ReconcileScheduler;
}

/** Where a trigger logs: the Functions InvocationContext, or anything with the same three methods. */
export interface RunLog {
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/**
 * Outcomes go to Log Analytics (or, without ingestion settings, one JSON log line each, so no record is
 * lost either way). A failed delivery is spooled, not thrown: the work was done, and the next delivery
 * sends the spool first.
 */
export async function recordOutcomes(
  app: Pick<RunSinks, "delivery">,
  outcomes: readonly OutcomeRecord[],
  log: RunLog,
): Promise<void> {
  if (app.delivery === undefined) {
    for (const outcome of outcomes) log.log(JSON.stringify(outcome));
    return;
  }
  const report = await deliverOutcomes(outcomes, app.delivery);
  if (report.error !== undefined) {
    log.warn(
      `outcomes: Log Analytics is not taking them (${report.error}); ${String(report.spooled)} kept to send later`,
    );
  }
  for (const { row, reason } of report.rejected) {
    log.error(`outcomes: the stream refused the ${row.Check} outcome of ${row.ResourceId}: ${reason}`);
  }
  for (const { problem, keptIn } of report.corrupt) {
    log.error(`outcomes: a damaged entry of the spool was moved to ${keptIn}: ${problem}`);
  }
}

export async function finishRun(
  app: RunSinks,
  log: RunLog,
  result: RunResult,
  correlationId: string,
  options: { readonly mode?: "audit" } = {},
): Promise<void> {
  for (const error of result.errors) log.error(`${error.scope}: ${error.code}: ${error.message}`);
  await recordOutcomes(app, result.outcomes, log);
  await app.scheduler.schedule(result.requeue, correlationId, options);
}
