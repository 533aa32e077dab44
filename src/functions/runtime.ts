import type { TokenCredential } from "@azure/core-auth";
import { DefaultAzureCredential } from "@azure/identity";
import { createApp, type App } from "../app.js";
import type { AzureConnection } from "../azure/index.js";
import type { ReconcileQueueOptions } from "../azure/queue.js";
import type { TableStateStoreOptions } from "../azure/table-state-store.js";
import type { RunOptions } from "../engine/run-context.js";
import { ConfigError, loadConfig } from "../model/config.js";
import type { Trigger } from "../model/outcome.js";

/** What every trigger needs, built once per Functions worker (configuration errors stop start-up). */
export type Runtime = App;

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
  return {
    deadlineAt: startedAt + TRIGGER_BUDGETS[trigger].engineMs,
    operations: "start",
    // A queued look at a subscription (a sweep's) gives each API Management service a look of its own.
    ...(trigger === "queue" ? { apimServices: "queue" as const } : {}),
  };
}

export function createRuntime(
  env: Env,
  connection: AzureConnection = { credential: new DefaultAzureCredential() },
): Runtime {
  const config = loadConfig(env);
  const storage = storageFromEnv(env, connection.credential);
  return createApp({ config, connection, storage: { kind: "table", ...storage } });
}

export { finishRun, recordOutcomes } from "../dispatch/finish.js";

let shared: Runtime | undefined;

/** The worker's runtime; in Azure the managed identity signs in through DefaultAzureCredential. */
export function sharedRuntime(): Runtime {
  shared ??= createRuntime(process.env);
  return shared;
}
