/**
 * Azure Table Storage, the way every store of the Functions app uses it (rollout state, the schedule
 * ledger, the waits, the outcome spool): one client per table, made with the same deadlines as every
 * other Azure call, and the table created once per process on first use.
 */
import type { TokenCredential } from "@azure/core-auth";
import { TableClient } from "@azure/data-tables";
import { callLimitPolicies, DEFAULT_CALL_LIMITS } from "./call-limits.js";

/**
 * In Azure: the storage account's table endpoint and the managed identity (DefaultAzureCredential), which
 * needs the "Storage Table Data Contributor" role. Connection strings are for Azurite and development only.
 */
export type TableOptions =
  | { readonly tableClient: TableClient }
  | { readonly endpoint: string; readonly credential: TokenCredential; readonly tableName?: string }
  | { readonly connectionString: string; readonly tableName?: string };

/** Storage calls get the same per-attempt and per-call deadlines as ARM calls. */
const limits = { additionalPolicies: callLimitPolicies(DEFAULT_CALL_LIMITS) };

/**
 * Creates the client's table if it is missing, once per client; a failed attempt is tried again on the
 * next call. (createTable answers success for a table that exists.)
 */
export function createTableOnce(client: TableClient): () => Promise<void> {
  let ready: Promise<void> | undefined;
  return () => {
    ready ??= client.createTable().catch((error: unknown) => {
      ready = undefined;
      throw error;
    });
    return ready;
  };
}

/**
 * A table client for the options, with `defaultTable` when the options name none (the rollout state,
 * the schedule ledger and the outcome spool each have their own table).
 */
export function tableClientFor(options: TableOptions, defaultTable: string): TableClient {
  if ("tableClient" in options) return options.tableClient;
  const tableName = options.tableName ?? defaultTable;
  if ("connectionString" in options) {
    // Azurite speaks plain HTTP on loopback; shared-key signing over HTTP needs explicit consent.
    const insecure = /UseDevelopmentStorage=true|Endpoint=http:\/\/|DefaultEndpointsProtocol=http(;|$)/i.test(
      options.connectionString,
    );
    return TableClient.fromConnectionString(options.connectionString, tableName, {
      ...limits,
      allowInsecureConnection: insecure,
    });
  }
  return new TableClient(options.endpoint, tableName, options.credential, limits);
}
