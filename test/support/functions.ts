import type { TokenCredential } from "@azure/core-auth";
import { InvocationContext } from "@azure/functions";
import {
  startSimulator,
  type Estate,
  type IngestionOptions,
  type SimEvent,
  type SimulatorOptions,
  type Simulator,
} from "../../sim/index.js";
import { simulatorCredential } from "../../src/cli/simulate.js";
import { createRuntime, type Runtime } from "../../src/functions/runtime.js";
import type { Azurite } from "./azurite.js";
import { BASE_ENV } from "./azure.js";

export interface FunctionsWorld {
  readonly sim: Simulator;
  readonly runtime: Runtime;
  /** Every line the handlers logged, with its level. */
  readonly logs: { level: string; text: string }[];
  context(name?: string): InvocationContext;
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
  return {
    sim,
    runtime,
    logs,
    context: (name = "test") => {
      invocations += 1;
      return new InvocationContext({
        invocationId: `inv-${String(invocations)}`,
        functionName: name,
        logHandler: (level, ...args) => logs.push({ level, text: args.map(String).join(" ") }),
      });
    },
    close: () => sim.close(),
  };
}
