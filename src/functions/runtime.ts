import type { TokenCredential } from "@azure/core-auth";
import { DefaultAzureCredential } from "@azure/identity";
import { createAzureGateway, type AzureConnection, type AzureGateway } from "../azure/index.js";
import { createReconcileQueue, type ReconcileQueueOptions } from "../azure/queue.js";
import { createTableScheduleLedger } from "../azure/schedule-ledger.js";
import { createOutcomeUploader } from "../azure/ingestion.js";
import { createTableSpool } from "../azure/outcome-spool.js";
import { createTableStateStore, type TableStateStoreOptions } from "../azure/table-state-store.js";
import { createTableWaitLedger } from "../azure/wait-ledger.js";
import type { RunOptions } from "../engine/run-context.js";
import type { Trigger } from "../model/outcome.js";
import type { InvocationContext } from "@azure/functions";
import type { OutcomeRecord } from "../model/outcome.js";
import { deliverOutcomes, type DeliveryReport } from "../outcomes/delivery.js";
import { createCoalescer, type Coalescer } from "../engine/coalesce.js";
import { createEngine, type Engine, type RunResult } from "../engine/engine.js";
import { createQueueScheduler, type ReconcileScheduler } from "../engine/scheduler.js";
import { ConfigError, loadConfig, type Config } from "../model/config.js";

/** What every trigger needs, built once per Functions worker (configuration errors stop start-up). */
export interface Runtime {
  readonly config: Config;
  readonly azure: AzureGateway;
  readonly engine: Engine;
  /** Shares runs for the same resource between concurrent invocations in this worker. */
  readonly coalescer: Coalescer;
  /** Turns "look again later" into delayed queue messages, one pending look per resource. */
  readonly scheduler: ReconcileScheduler;
  /** Sends outcomes to Log Analytics, spooling what cannot go now; undefined without ingestion settings. */
  readonly outcomeSink: ((outcomes: readonly OutcomeRecord[]) => Promise<DeliveryReport>) | undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

export interface StorageOptions {
  readonly tables: TableStateStoreOptions;
  readonly queue: ReconcileQueueOptions;
}

/**
 * The Functions host's own storage account holds rollout state, the schedule ledger and the delayed
 * queue. In Azure that is an identity-based connection (`AzureWebJobsStorage__accountName`, or the
 * `__tableServiceUri`/`__queueServiceUri` pair; no keys); a connection string
 * (`UseDevelopmentStorage=true` for Azurite) is accepted for local runs.
 */
export function storageFromEnv(env: Env, credential: TokenCredential): StorageOptions {
  const accountName = env.AzureWebJobsStorage__accountName?.trim();
  const tableServiceUri =
    env.AzureWebJobsStorage__tableServiceUri?.trim() ||
    (accountName ? `https://${accountName}.table.core.windows.net` : undefined);
  const queueServiceUri =
    env.AzureWebJobsStorage__queueServiceUri?.trim() ||
    (accountName ? `https://${accountName}.queue.core.windows.net` : undefined);
  if (tableServiceUri && queueServiceUri) {
    return {
      tables: { endpoint: tableServiceUri, credential },
      queue: { endpoint: queueServiceUri, credential },
    };
  }
  const connectionString = env.AzureWebJobsStorage?.trim();
  if (connectionString) return { tables: { connectionString }, queue: { connectionString } };
  throw new ConfigError(
    "AzureWebJobsStorage",
    "set AzureWebJobsStorage__accountName (identity-based, in Azure) or a connection string " +
      "(UseDevelopmentStorage=true with Azurite): rollout progress and delayed work are stored there",
  );
}

/**
 * How long each trigger may take, and how much of it the engine may use (the rest delivers outcomes
 * and schedules follow-ups). Event Grid redelivers an event it has had no answer to within 30 s; an
 * HTTP request is cut at 230 s by the front end; timer and queue functions end at the host's
 * `functionTimeout` (30 minutes in host.json).
 */
export const TRIGGER_BUDGETS: Readonly<
  Record<Exclude<Trigger, "cli">, { totalMs: number; engineMs: number }>
> = {
  eventgrid: { totalMs: 25_000, engineMs: 15_000 },
  http: { totalMs: 200_000, engineMs: 170_000 },
  queue: { totalMs: 27 * 60_000, engineMs: 25 * 60_000 },
  timer: { totalMs: 27 * 60_000, engineMs: 25 * 60_000 },
};

/**
 * A trigger's run options: the engine's share of its budget, from when the invocation started, and
 * long-running writes started, not awaited: their completion is confirmed by a queued look, so no
 * invocation holds an instance for the minutes an AKS update takes.
 */
export function triggerRunOptions(trigger: Exclude<Trigger, "cli">, startedAt: number): RunOptions {
  return { deadlineAt: startedAt + TRIGGER_BUDGETS[trigger].engineMs, operations: "start" };
}

export function createRuntime(
  env: Env,
  given: AzureConnection = { credential: new DefaultAzureCredential() },
): Runtime {
  const config = loadConfig(env);
  const connection: AzureConnection = { ...given, limits: { ...config.callLimits, ...given.limits } };
  const azure = createAzureGateway(connection);
  const storage = storageFromEnv(env, connection.credential);
  const rolloutStore = createTableStateStore(storage.tables);
  const scheduler = createQueueScheduler({
    ledger: createTableScheduleLedger(storage.tables),
    queue: createReconcileQueue(storage.queue),
  });
  const ingestion = config.ingestion;
  let outcomeSink: Runtime["outcomeSink"];
  if (ingestion !== undefined) {
    const deps = {
      uploader: createOutcomeUploader(connection, ingestion),
      spool: createTableSpool(storage.tables),
    };
    outcomeSink = (outcomes) => deliverOutcomes(outcomes, deps);
  }
  return {
    config,
    azure,
    engine: createEngine({ azure, config, rolloutStore, waits: createTableWaitLedger(storage.tables) }),
    coalescer: createCoalescer(),
    scheduler,
    outcomeSink,
  };
}

/**
 * Every trigger ends here: outcomes go to Log Analytics (or, without ingestion settings, one JSON log
 * line each, so no record is lost either way). A failed delivery is spooled, not thrown: the work was
 * done, and the next delivery sends the spool first.
 */
export async function recordOutcomes(
  runtime: Runtime,
  outcomes: readonly OutcomeRecord[],
  context: InvocationContext,
): Promise<void> {
  if (runtime.outcomeSink === undefined) {
    for (const outcome of outcomes) context.log(JSON.stringify(outcome));
    return;
  }
  const report = await runtime.outcomeSink(outcomes);
  if (report.error !== undefined) {
    context.warn(
      `outcomes: Log Analytics is not taking them (${report.error}); ${String(report.spooled)} kept to send later`,
    );
  }
  for (const { row, reason } of report.rejected) {
    context.error(`outcomes: the stream refused the ${row.Check} outcome of ${row.ResourceId}: ${reason}`);
  }
  for (const { problem, keptIn } of report.corrupt) {
    context.error(`outcomes: a damaged entry of the spool was moved to ${keptIn}: ${problem}`);
  }
}

/**
 * How every trigger ends a run: its errors logged, its outcomes recorded, and what waits scheduled
 * on the queue (a rollout's next step, a busy resource) without waiting for the next sweep.
 */
export async function finishRun(
  runtime: Runtime,
  context: InvocationContext,
  result: RunResult,
  correlationId: string,
  options: { readonly mode?: "audit" } = {},
): Promise<void> {
  for (const error of result.errors) context.error(`${error.scope}: ${error.code}: ${error.message}`);
  await recordOutcomes(runtime, result.outcomes, context);
  await runtime.scheduler.schedule(result.requeue, correlationId, options);
}

let shared: Runtime | undefined;

/** The worker's runtime; in Azure the managed identity signs in through DefaultAzureCredential. */
export function sharedRuntime(): Runtime {
  shared ??= createRuntime(process.env);
  return shared;
}
