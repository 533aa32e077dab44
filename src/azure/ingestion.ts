import { isRestError } from "@azure/core-rest-pipeline";
import { AggregateLogsUploadError, LogsIngestionClient } from "@azure/monitor-ingestion";
import type { IngestionConfig } from "../model/config.js";
import type { OutcomeRecord } from "../model/outcome.js";
import type { OutcomeUploader, UploadResult } from "../outcomes/delivery.js";
import { rowProblem } from "../outcomes/schema.js";
import type { AzureConnection } from "./connection.js";

/** Under the API's 1 MB request limit before compression, with room for the JSON array's punctuation. */
const MAX_CHUNK_BYTES = 900_000;

function chunksOf(rows: readonly OutcomeRecord[]): OutcomeRecord[][] {
  const chunks: OutcomeRecord[][] = [];
  let current: OutcomeRecord[] = [];
  let bytes = 0;
  for (const row of rows) {
    const size = Buffer.byteLength(JSON.stringify(row), "utf8") + 1;
    if (current.length > 0 && bytes + size > MAX_CHUNK_BYTES) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(row);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

function causeOf(error: unknown): unknown {
  return error instanceof AggregateLogsUploadError ? (error.errors[0]?.cause ?? error) : error;
}

function describe(cause: unknown): string {
  if (isRestError(cause))
    return `${String(cause.statusCode ?? "no status")} ${cause.code ?? ""} ${cause.message}`.trim();
  return cause instanceof Error ? cause.message : String(cause);
}

/**
 * The Logs Ingestion adapter over `@azure/monitor-ingestion`. Chunks are sent one at a time, in order,
 * and sending stops at the first chunk that fails for a reason a retry may cure (the rest would
 * otherwise arrive before it). A chunk refused as a bad request is sent again row by row, so one row
 * that does not fit the stream does not hold back the others.
 */
export function createOutcomeUploader(
  connection: AzureConnection,
  ingestion: IngestionConfig,
): OutcomeUploader {
  const client = new LogsIngestionClient(ingestion.endpoint, connection.credential, {
    ...(connection.tlsCa === undefined ? {} : { tlsOptions: { ca: connection.tlsCa } }),
    ...(connection.retry === undefined ? {} : { retryOptions: { ...connection.retry } }),
    userAgentOptions: { userAgentPrefix: "autoprotect/0.1" },
  });
  const send = async (rows: readonly OutcomeRecord[]): Promise<unknown> => {
    try {
      const logs: Record<string, unknown>[] = rows.map((row) => ({ ...row }));
      await client.upload(ingestion.ruleId, ingestion.stream, logs, { maxConcurrency: 1 });
      return undefined;
    } catch (error) {
      return causeOf(error);
    }
  };
  const refused = (cause: unknown): boolean => isRestError(cause) && cause.statusCode === 400;

  return {
    async upload(rows): Promise<UploadResult> {
      const rejected: { row: OutcomeRecord; reason: string }[] = [];
      const fitting: OutcomeRecord[] = [];
      for (const row of rows) {
        const problem = rowProblem(row as unknown as Record<string, unknown>);
        if (problem === undefined) fitting.push(row);
        else rejected.push({ row, reason: `not sent: ${problem}` });
      }
      const chunks = chunksOf(fitting);
      for (const [index, chunk] of chunks.entries()) {
        const cause = await send(chunk);
        if (cause === undefined) continue;
        if (!refused(cause)) {
          return { rejected, unsent: chunks.slice(index).flat(), error: describe(cause) };
        }
        for (const [rowIndex, row] of chunk.entries()) {
          const rowCause = await send([row]);
          if (rowCause === undefined) continue;
          if (refused(rowCause)) {
            rejected.push({ row, reason: describe(rowCause) });
            continue;
          }
          const rest = [...chunk.slice(rowIndex), ...chunks.slice(index + 1).flat()];
          return { rejected, unsent: rest, error: describe(rowCause) };
        }
      }
      return { rejected, unsent: [] };
    },
  };
}
