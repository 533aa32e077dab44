import type { TokenCredential } from "@azure/core-auth";
import { InvocationContext } from "@azure/functions";
import { QueueClient } from "@azure/storage-queue";
import {
  startSimulator,
  type Estate,
  type IngestionOptions,
  type SimEvent,
  type SimulatorOptions,
  type Simulator,
} from "../../sim/index.js";
import { RECONCILE_QUEUE } from "../../src/azure/queue.js";
import { simulatorCredential } from "../../src/cli/simulate.js";
import type { RunResult } from "../../src/engine/engine.js";
import { createReconcileQueueHandler } from "../../src/functions/queue.js";
import { createRuntime, type Runtime } from "../../src/functions/runtime.js";
import type { Azurite } from "./azurite.js";
import { BASE_ENV } from "./azure.js";

export interface FunctionsWorld {
  readonly sim: Simulator;
  readonly runtime: Runtime;
  /** Every line the handlers logged, with its level. */
  readonly logs: { level: string; text: string }[];
  context(name?: string): InvocationContext;
  /**
   * Runs every look visible on the reconcile queue through the queue trigger, as the Functions host
   * would, until none is left (looks due later stay); the runs' results, in order.
   */
  drainQueue(): Promise<RunResult[]>;
  close(): Promise<void>;
}

let invocations = 0;

/**
 * The Functions runtime exactly as production builds it (real SDK clients, Table and Queue storage),
 * pointed at the simulator and at Azurite, with handlers' InvocationContexts capturing their logs.
 */
export async function startFunctionsWorld(
  estate: Estate,
  azurite: Azurite,
  env: Record<string, string> = {},
  onEvent?: (event: SimEvent) => void,
  credential: TokenCredential = simulatorCredential,
  options: {
    ingestion?: IngestionOptions;
    ingestionToSimulator?: boolean;
    sim?: Pick<SimulatorOptions, "clock" | "lroDurationMs">;
  } = {},
): Promise<FunctionsWorld> {
  const sim = await startSimulator({
    ...options.sim,
    estate,
    ...(onEvent === undefined ? {} : { onEvent }),
    ...(options.ingestion === undefined ? {} : { ingestion: options.ingestion }),
  });
  // The Logs Ingestion endpoint must be https in configuration; in tests it is the simulator's own.
  if (options.ingestionToSimulator === true) env = { ...env, AUTOPROTECT_INGESTION_ENDPOINT: sim.endpoint };
  const runtime = createRuntime(
    { ...BASE_ENV, AzureWebJobsStorage: azurite.connectionString, ...env },
    {
      credential,
      endpoint: sim.endpoint,
      tlsCa: sim.ca,
      pollIntervalMs: 5,
      retry: { retryDelayInMs: 5, maxRetryDelayInMs: 20 },
      metricsEndpoint: () => sim.endpoint,
    },
  );
  const logs: { level: string; text: string }[] = [];
  // The queue is shared by the tests of a file (one Azurite): each world starts with it empty.
  const queue = new QueueClient(azurite.connectionString, RECONCILE_QUEUE);
  await queue.createIfNotExists();
  await queue.clearMessages();
  const context = (name = "test"): InvocationContext => {
    invocations += 1;
    return new InvocationContext({
      invocationId: `inv-${String(invocations)}`,
      functionName: name,
      logHandler: (level, ...args) => logs.push({ level, text: args.map(String).join(" ") }),
    });
  };
  return {
    sim,
    runtime,
    logs,
    context,
    async drainQueue() {
      const handler = createReconcileQueueHandler(() => runtime);
      const results: RunResult[] = [];
      for (;;) {
        const { receivedMessageItems } = await queue.receiveMessages({
          numberOfMessages: 32,
          visibilityTimeout: 60,
        });
        if (receivedMessageItems.length === 0) return results;
        for (const item of receivedMessageItems) {
          const body = Buffer.from(item.messageText, "base64").toString("utf8");
          const result = await handler(body, context("reconcileQueue"));
          if (result !== undefined) results.push(result);
          await queue.deleteMessage(item.messageId, item.popReceipt);
        }
      }
    },
    close: () => sim.close(),
  };
}
