import { DefaultAzureCredential } from "@azure/identity";
import { createAzureGateway, type AzureConnection, type AzureGateway } from "../azure/index.js";
import { createEngine, type Engine } from "../engine/engine.js";
import { loadConfig, type Config } from "../model/config.js";

/** What every trigger needs, built once per Functions worker (configuration errors stop start-up). */
export interface Runtime {
  readonly config: Config;
  readonly azure: AzureGateway;
  readonly engine: Engine;
}

export function createRuntime(
  env: Readonly<Record<string, string | undefined>>,
  connection: AzureConnection = { credential: new DefaultAzureCredential() },
): Runtime {
  const config = loadConfig(env);
  const azure = createAzureGateway(connection);
  return { config, azure, engine: createEngine({ azure, config }) };
}

let shared: Runtime | undefined;

/** The worker's runtime; in Azure the managed identity signs in through DefaultAzureCredential. */
export function sharedRuntime(): Runtime {
  shared ??= createRuntime(process.env);
  return shared;
}
