/**
 * Azure Monitor's two logs data-plane APIs, on the simulator's own endpoint:
 *
 * - Logs Ingestion (what `LogsIngestionClient.upload` calls): `POST /dataCollectionRules/{ruleId}/streams/
 *   {stream}?api-version=2023-01-01`, a JSON array, usually `Content-Encoding: gzip`; 204 when stored.
 * - Log Analytics query (what `LogsQueryClient.queryWorkspace` calls): `POST /v1/workspaces/{id}/query`
 *   with `{"query","timespan"}` and no api-version; 200 with `{"tables":[{"name":"PrimaryResult",…}]}`.
 *
 * The rule, its streams and the workspace are `SimulatorOptions.ingestion` (see sim/logs.ts); the query
 * language is the subset in sim/kql.ts.
 */
import { randomUUID } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { armErrorBody } from "../arm-errors.js";
import { headerValue } from "../events.js";
import { parseTimespan, QueryRefusal, runQuery } from "../kql.js";
import { IngestionRefusal, MAX_INGESTION_BYTES, type LogsStore } from "../logs.js";
import { isRecord, pattern, type ProviderModule, type RouteResponse, type SimRequest } from "./types.js";

/** @azure/monitor-ingestion 1.x sends 2023-01-01; the docs' REST examples still use the preview. */
export const INGESTION_API_VERSIONS = ["2023-01-01", "2021-11-01-preview"] as const;

function tooLarge(detail: string): IngestionRefusal {
  return new IngestionRefusal(
    413,
    "RequestEntityTooLarge",
    `The request body is ${detail}; the Logs Ingestion API takes at most 1 MB (${String(MAX_INGESTION_BYTES)} bytes) per call, compressed and uncompressed.`,
  );
}

function badContent(detail: string): IngestionRefusal {
  return new IngestionRefusal(400, "InvalidRequestContent", `The request content was invalid: ${detail}`);
}

/** The upload's JSON, from the raw bytes: size limits first, then gzip, then JSON. */
function uploadBody(request: SimRequest): unknown {
  const raw = request.rawBody;
  if (raw.length > MAX_INGESTION_BYTES) throw tooLarge(`${String(raw.length)} bytes as sent`);
  const encoding = headerValue(request.headers, "content-encoding")?.trim().toLowerCase();
  let bytes = raw;
  if (encoding === "gzip") {
    try {
      bytes = gunzipSync(raw, { maxOutputLength: MAX_INGESTION_BYTES });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
        throw tooLarge(`more than ${String(MAX_INGESTION_BYTES)} bytes uncompressed`);
      }
      throw badContent(`the body is not valid gzip (${(error as Error).message}).`);
    }
  } else if (encoding !== undefined && encoding !== "" && encoding !== "identity") {
    throw badContent(`Content-Encoding '${encoding}' is not supported (gzip, or none).`);
  }
  const text = bytes.toString("utf8");
  if (text.trim().length === 0) throw badContent("the request body is empty.");
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw badContent(`the body is not JSON (${(error as Error).message}).`);
  }
}

function queryError(status: number, code: string, message: string): RouteResponse {
  return { status, body: { error: { message, code, correlationId: randomUUID() } } };
}

export function logsModule(store: LogsStore): ProviderModule {
  return {
    name: "logs",
    routes: [
      {
        method: "POST",
        match: pattern("/dataCollectionRules/{ruleId}/streams/{stream}"),
        apiVersions: INGESTION_API_VERSIONS,
        typeName: "dataCollectionRules/streams",
        dataPlane: true,
        ownBody: true,
        handle: (ctx) => {
          const { ruleId = "", stream = "" } = ctx.params;
          try {
            store.ingest(ruleId, stream, () => uploadBody(ctx.request));
            if (store.takeLostAnswer()) {
              // Not an Azure answer: what the client sees when the rows were stored but the answer was lost.
              return {
                status: 500,
                body: armErrorBody(
                  "InternalServerError",
                  "The rows were stored, but the answer was lost (simulated): sending them again stores them twice.",
                ),
              };
            }
            return { status: 204 };
          } catch (error) {
            if (!(error instanceof IngestionRefusal)) throw error;
            return {
              status: error.status,
              body: armErrorBody(error.code, error.message),
              headers: error.headers,
            };
          }
        },
      },
      {
        // The client's default endpoint ends in /v1; one given `endpoint` without it lands here.
        method: "POST",
        match: pattern("/workspaces/{workspaceId}/query"),
        apiVersions: "none",
        typeName: "workspaces/query",
        dataPlane: true,
        handle: (ctx) =>
          queryError(
            404,
            "PathNotFoundError",
            `The requested path does not exist (the query API is under /v1: give LogsQueryClient the endpoint ${ctx.endpoint}/v1).`,
          ),
      },
      {
        method: "POST",
        match: pattern("/v1/workspaces/{workspaceId}/query"),
        apiVersions: "none",
        typeName: "workspaces/query",
        dataPlane: true,
        handle: (ctx) => {
          const { workspaceId = "" } = ctx.params;
          // What api.loganalytics.io answers for a workspace it does not know (or an id that is no GUID).
          if (!store.knowsWorkspace(workspaceId)) {
            return queryError(404, "PathNotFoundError", "The requested path does not exist");
          }
          const body = ctx.request.body;
          if (!isRecord(body) || typeof body.query !== "string" || body.query.trim().length === 0) {
            return queryError(
              400,
              "BadArgumentError",
              "The request had some invalid properties: 'query' is required.",
            );
          }
          if (Array.isArray(body.workspaces) && body.workspaces.length > 0) {
            return queryError(
              400,
              "BadArgumentError",
              "The request had some invalid properties: the simulator does not support additional workspaces.",
            );
          }
          const now = ctx.state.now();
          let window: { start: number; end: number } | undefined;
          if (body.timespan !== undefined && body.timespan !== null) {
            window = typeof body.timespan === "string" ? parseTimespan(body.timespan, now) : undefined;
            if (window === undefined) {
              return queryError(
                400,
                "BadArgumentError",
                `The request had some invalid properties: timespan ${JSON.stringify(body.timespan)} is not an ISO 8601 interval.`,
              );
            }
          }
          try {
            const result = runQuery(body.query, (name) => store.table(name), now, window);
            return {
              status: 200,
              body: { tables: [{ name: "PrimaryResult", columns: result.columns, rows: result.rows }] },
            };
          } catch (error) {
            if (!(error instanceof QueryRefusal)) throw error;
            return { status: 400, body: error.body(randomUUID()) };
          }
        },
      },
    ],
  };
}
