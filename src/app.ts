/**
 * The one composition root: everything a trigger or the CLI needs, built the same way from the
 * configuration, a connection to Azure, and where durable state lives. The Functions app keeps it in
 * the host's storage account (Table Storage and a queue); the CLI in a local folder.
 */
import { createAzureGateway, type AzureConnection, type AzureGateway } from "./azure/index.js";
import { createOutcomeUploader } from "./azure/ingestion.js";
import { createTableSpool } from "./azure/outcome-spool.js";
import { createReconcileQueue, type ReconcileQueueOptions } from "./azure/queue.js";
import { createTableScheduleLedger } from "./azure/schedule-ledger.js";
import { createTableStateStore, type TableStateStoreOptions } from "./azure/table-state-store.js";
import { createTableWaitLedger } from "./azure/wait-ledger.js";
import { createCoalescer, type Coalescer } from "./dispatch/coalesce.js";
import { createQueueScheduler, noScheduler, type ReconcileScheduler } from "./dispatch/scheduler.js";
import { createEngine, type Engine, type EngineOptions } from "./engine/engine.js";
import { createFileWaitLedger } from "./engine/file-wait-ledger.js";
import type { Config, IngestionConfig } from "./model/config.js";
import type { OutcomeSpool, OutcomeUploader } from "./outcomes/delivery.js";
import { createFileSpool } from "./outcomes/file-spool.js";
import { createFileStateStore } from "./rollout/file-state-store.js";

export type AppStorage =
  | { readonly kind: "table"; readonly tables: TableStateStoreOptions; readonly queue: ReconcileQueueOptions }
  | { readonly kind: "file"; readonly dir: string };

export interface AppOptions {
  readonly config: Config;
  readonly connection: AzureConnection;
  readonly storage: AppStorage;
  /** Where outcomes are delivered, when not `config.ingestion` (under --simulate, the simulator's). */
  readonly ingestion?: IngestionConfig | undefined;
  /** The engine's clock, progress and streaming hooks. */
  readonly engine?: Pick<EngineOptions, "now" | "onOutcome" | "onDiscovered" | "onSettled" | "concurrency">;
}

export interface App {
  readonly config: Config;
  readonly azure: AzureGateway;
  readonly engine: Engine;
  /** Shares runs for the same resource between concurrent invocations in this process. */
  readonly coalescer: Coalescer;
  /** Turns "look again later" into delayed queue messages (none for the CLI, which says when). */
  readonly scheduler: ReconcileScheduler;
  /** How outcomes reach Log Analytics, with a durable spool; undefined without ingestion settings. */
  readonly delivery: { readonly uploader: OutcomeUploader; readonly spool: OutcomeSpool } | undefined;
}

export function createApp(options: AppOptions): App {
  const { config, storage } = options;
  // Every Azure call of the app has the configured deadlines (a connection's own limits win: tests).
  const connection: AzureConnection = {
    ...options.connection,
    limits: { ...config.callLimits, ...options.connection.limits },
  };
  const azure = createAzureGateway(connection);
  const table = storage.kind === "table" ? storage : undefined;
  const dir = storage.kind === "file" ? storage.dir : undefined;
  const ingestion = options.ingestion ?? config.ingestion;
  const engine = createEngine({
    ...options.engine,
    azure,
    config,
    rolloutStore:
      table === undefined
        ? createFileStateStore(dir ?? config.stateDir)
        : createTableStateStore(table.tables),
    waits:
      table === undefined
        ? createFileWaitLedger(dir ?? config.stateDir)
        : createTableWaitLedger(table.tables),
  });
  return {
    config,
    azure,
    engine,
    coalescer: createCoalescer(),
    scheduler:
      table === undefined
        ? noScheduler
        : createQueueScheduler({
            ledger: createTableScheduleLedger(table.tables),
            queue: createReconcileQueue(table.queue),
          }),
    delivery:
      ingestion === undefined
        ? undefined
        : {
            uploader: createOutcomeUploader(connection, ingestion),
            spool:
              table === undefined ? createFileSpool(dir ?? config.stateDir) : createTableSpool(table.tables),
          },
  };
}
