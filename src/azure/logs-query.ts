import { isRestError } from "@azure/core-rest-pipeline";
import { LogsQueryClient, LogsQueryResultStatus, type LogsTable } from "@azure/monitor-query-logs";
import { sdkClientOptions, type AzureConnection } from "./connection.js";
import { AzureApiError, toAzureApiError } from "./errors.js";

/** The Log Analytics query API (api.loganalytics.io) with its version; the simulator serves it at `${endpoint}/v1`. */
export const LOGS_QUERY_ENDPOINT = "https://api.loganalytics.io/v1";

/** One result row, column name → value: datetimes as ISO 8601 strings, dynamic values parsed, the rest as sent. */
export type LogsQueryRow = Readonly<Record<string, unknown>>;

/** Reads Log Analytics workspaces with KQL (`@azure/monitor-query-logs`); the only module that imports LogsQueryClient. */
export interface LogsQueryAdapter {
  /**
   * Runs `query` on the workspace (its customer id, a GUID) over the last `duration` (ISO 8601, e.g. `P7D`)
   * and returns the first table's rows. A failure, also a partial result, throws an AzureApiError with
   * the service's error code (`PathNotFoundError` for an unknown workspace, `BadArgumentError` for a bad
   * query, whose message carries the inner codes).
   */
  query(workspaceId: string, query: string, duration: string): Promise<LogsQueryRow[]>;
}

interface ErrorInfo {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly innererror?: unknown;
}

/** The inner errors' codes and the innermost message: "SemanticError/SEM0100: 'where' operator: …". */
function innerDetail(error: unknown): string | undefined {
  const codes: string[] = [];
  let message: string | undefined;
  let current = (error as ErrorInfo | undefined)?.innererror;
  for (let depth = 0; depth < 10 && typeof current === "object" && current !== null; depth += 1) {
    const info = current as ErrorInfo;
    if (typeof info.code === "string") codes.push(info.code);
    if (typeof info.message === "string") message = info.message;
    current = info.innererror;
  }
  if (codes.length === 0 && message === undefined) return undefined;
  return [codes.join("/"), message].filter((part) => part !== undefined && part !== "").join(": ");
}

function queryError(error: unknown): unknown {
  const normalised = toAzureApiError(error);
  if (!(normalised instanceof AzureApiError) || !isRestError(error)) return normalised;
  const details = error.details as { error?: unknown } | undefined;
  const inner = innerDetail(details?.error);
  if (inner === undefined) return normalised;
  return new AzureApiError(`${normalised.message} (${inner})`, normalised.code, normalised.statusCode);
}

function rowsOf(table: LogsTable | undefined): LogsQueryRow[] {
  if (table === undefined) return [];
  const names = table.columnDescriptors.map((column) => column.name);
  return table.rows.map((cells) =>
    Object.fromEntries(
      names.map((name, index) => {
        const value: unknown = cells[index];
        return [name, value instanceof Date ? value.toISOString() : value];
      }),
    ),
  );
}

export function createLogsQueryAdapter(
  connection: AzureConnection,
  endpoint: string = LOGS_QUERY_ENDPOINT,
): LogsQueryAdapter {
  const client = new LogsQueryClient(connection.credential, { ...sdkClientOptions(connection), endpoint });
  return {
    async query(workspaceId, query, duration) {
      let result;
      try {
        result = await client.queryWorkspace(workspaceId, query, { duration });
      } catch (error) {
        throw queryError(error);
      }
      if (result.status === LogsQueryResultStatus.PartialFailure) {
        // Some of the data is missing: a report over it would mislead.
        const { code, message } = result.partialError;
        const inner = innerDetail(result.partialError);
        throw new AzureApiError(
          `partial result: ${message}${inner === undefined ? "" : ` (${inner})`}`,
          code,
          200,
        );
      }
      return rowsOf(result.tables[0]);
    },
  };
}
