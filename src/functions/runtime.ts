import type { TokenCredential } from "@azure/core-auth";
import { DefaultAzureCredential } from "@azure/identity";
import { createAzureGateway, type AzureConnection, type AzureGateway } from "../azure/index.js";
import { createReconcileQueue, type ReconcileQueueOptions } from "../azure/queue.js";
import { createTableScheduleLedger } from "../azure/schedule-ledger.js";
import { createTableStateStore, type TableStateStoreOptions } from "../azure/table-state-store.js";
import { createCoalescer, type Coalescer } from "../engine/coalesce.js";
import { createEngine, type Engine } from "../engine/engine.js";
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

export function createRuntime(
  env: Env,
  connection: AzureConnection = { credential: new DefaultAzureCredential() },
): Runtime {
  const config = loadConfig(env);
  const azure = createAzureGateway(connection);
  const storage = storageFromEnv(env, connection.credential);
  const rolloutStore = createTableStateStore(storage.tables);
  const scheduler = createQueueScheduler({
    ledger: createTableScheduleLedger(storage.tables),
    queue: createReconcileQueue(storage.queue),
  });
  return {
    config,
    azure,
    engine: createEngine({ azure, config, rolloutStore }),
    coalescer: createCoalescer(),
    scheduler,
  };
}

let shared: Runtime | undefined;

/** The worker's runtime; in Azure the managed identity signs in through DefaultAzureCredential. */
export function sharedRuntime(): Runtime {
  shared ??= createRuntime(process.env);
  return shared;
}
