import type { TokenCredential } from "@azure/core-auth";
import { DefaultAzureCredential } from "@azure/identity";
import { createAzureGateway, type AzureConnection, type AzureGateway } from "../azure/index.js";
import { createTableStateStore } from "../azure/table-state-store.js";
import { createEngine, type Engine } from "../engine/engine.js";
import { ConfigError, loadConfig, type Config } from "../model/config.js";
import type { RolloutStateStore } from "../rollout/state-store.js";

/** What every trigger needs, built once per Functions worker (configuration errors stop start-up). */
export interface Runtime {
  readonly config: Config;
  readonly azure: AzureGateway;
  readonly engine: Engine;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Rollout state lives in the Functions host's own storage account. In Azure that is an identity-based
 * connection (`AzureWebJobsStorage__accountName` or `__tableServiceUri`, no keys); a connection string
 * (`UseDevelopmentStorage=true` for Azurite) is accepted for local runs.
 */
export function rolloutStoreFromEnv(env: Env, credential: TokenCredential): RolloutStateStore {
  const tableServiceUri = env.AzureWebJobsStorage__tableServiceUri?.trim();
  const accountName = env.AzureWebJobsStorage__accountName?.trim();
  if (tableServiceUri) return createTableStateStore({ endpoint: tableServiceUri, credential });
  if (accountName) {
    return createTableStateStore({ endpoint: `https://${accountName}.table.core.windows.net`, credential });
  }
  const connectionString = env.AzureWebJobsStorage?.trim();
  if (connectionString) return createTableStateStore({ connectionString });
  throw new ConfigError(
    "AzureWebJobsStorage",
    "set AzureWebJobsStorage__accountName (identity-based, in Azure) or a connection " +
      "string (UseDevelopmentStorage=true with Azurite) so API rollout progress can be stored",
  );
}

export function createRuntime(
  env: Env,
  connection: AzureConnection = { credential: new DefaultAzureCredential() },
): Runtime {
  const config = loadConfig(env);
  const azure = createAzureGateway(connection);
  const rolloutStore = rolloutStoreFromEnv(env, connection.credential);
  return { config, azure, engine: createEngine({ azure, config, rolloutStore }) };
}

let shared: Runtime | undefined;

/** The worker's runtime; in Azure the managed identity signs in through DefaultAzureCredential. */
export function sharedRuntime(): Runtime {
  shared ??= createRuntime(process.env);
  return shared;
}
