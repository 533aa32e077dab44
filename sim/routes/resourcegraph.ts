/**
 * Azure Resource Graph's query API, for the table autoprotect reads: `securityresources`, holding the
 * estate's Defender for Cloud assessments as Resource Graph shows them (sim/defender.ts), queried with
 * the simulator's KQL subset (sim/kql.ts). Anything the subset does not implement, and any other
 * table, is refused: never a silently wrong answer.
 *
 * `POST /providers/Microsoft.ResourceGraph/resources` (2024-04-01, 2022-10-01, 2021-03-01) with
 * `{ subscriptions, query, options: { $top, $skip, $skipToken, resultFormat } }`, answered
 * `{ totalRecords, count, resultTruncated, $skipToken?, facets: [], data }` (azure-rest-api-specs'
 * ResourcesFirstPageQuery / ResourcesNextPageQuery). A query reads; ARM raises no event for it.
 */
import { randomUUID } from "node:crypto";
import { assessmentLag, assessmentsIn, graphRow } from "../defender.js";
import { QueryRefusal, runQuery } from "../kql.js";
import type { LogTable, StreamColumn } from "../logs.js";
import type { SimState } from "../state.js";
import { isRecord, pattern, type ProviderModule, type RouteResponse } from "./types.js";

export const RESOURCE_GRAPH_API_VERSIONS = ["2024-04-01", "2022-10-01", "2021-03-01"] as const;
const DEFAULT_TOP = 100;
const MAX_TOP = 1000;

const SECURITY_RESOURCES: readonly StreamColumn[] = [
  { name: "id", type: "string" },
  { name: "name", type: "string" },
  { name: "type", type: "string" },
  { name: "tenantId", type: "string" },
  { name: "kind", type: "string" },
  { name: "location", type: "string" },
  { name: "resourceGroup", type: "string" },
  { name: "subscriptionId", type: "string" },
  { name: "managedBy", type: "string" },
  { name: "sku", type: "dynamic" },
  { name: "plan", type: "dynamic" },
  { name: "properties", type: "dynamic" },
  { name: "tags", type: "dynamic" },
  { name: "identity", type: "dynamic" },
  { name: "zones", type: "dynamic" },
  { name: "extendedLocation", type: "dynamic" },
];

/** Resource Graph's answer to a query it cannot run: `BadRequest`, `InvalidQuery` and the reason in the details. */
class GraphRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  response(): RouteResponse {
    return {
      status: 400,
      body: {
        error: {
          code: "BadRequest",
          message: `Please provide below info when asking for support: correlationId = ${randomUUID()}.`,
          details: [
            {
              code: "InvalidQuery",
              message:
                "Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the error before retrying.",
            },
            { code: this.code, message: this.message },
          ],
        },
      },
    };
  }
}

function invalidQuery(code: string, message: string): GraphRefusal {
  return new GraphRefusal(code, message);
}

function refusalCode(refusal: QueryRefusal): string {
  switch (refusal.kind) {
    case "unsupported":
      return "NotSupportedBySimulator";
    case "syntax":
      return "ParserFailure";
    case "semantic":
      return "UnknownColumnOrTable";
  }
}

/** The subscriptions a query reads: those named that the estate holds, or every one (tenant scope). */
function scopeOf(state: SimState, subscriptions: unknown): Set<string> {
  if (subscriptions === undefined || subscriptions === null) {
    return new Set([...state.subscriptions.keys()]);
  }
  if (!Array.isArray(subscriptions) || subscriptions.some((s) => typeof s !== "string")) {
    throw invalidQuery("InvalidSubscriptions", "'subscriptions' must be an array of subscription ids.");
  }
  return new Set(
    (subscriptions as string[]).map((s) => s.toLowerCase()).filter((s) => state.subscriptions.has(s)),
  );
}

/** `$skipToken` is the simulator's own: the offset of the next page, base64. */
function offsetOf(options: Readonly<Record<string, unknown>>): number {
  const token = options.$skipToken;
  if (typeof token === "string") {
    const offset = Number(Buffer.from(token, "base64").toString("utf8"));
    if (!Number.isInteger(offset) || offset < 0)
      throw invalidQuery("InvalidSkipToken", "The $skipToken is not valid.");
    return offset;
  }
  const skip = options.$skip ?? 0;
  if (typeof skip !== "number" || !Number.isInteger(skip) || skip < 0) {
    throw invalidQuery("InvalidSkip", "$skip must be a whole number, 0 or more.");
  }
  return skip;
}

function topOf(options: Readonly<Record<string, unknown>>): number {
  const top = options.$top ?? DEFAULT_TOP;
  if (typeof top !== "number" || !Number.isInteger(top) || top < 1 || top > MAX_TOP) {
    throw invalidQuery("InvalidTop", `$top must be a whole number from 1 to ${String(MAX_TOP)}.`);
  }
  return top;
}

function answer(state: SimState, body: Readonly<Record<string, unknown>>): RouteResponse {
  const query = body.query;
  if (typeof query !== "string" || query.trim() === "") {
    throw invalidQuery("MissingQuery", "'query' is required.");
  }
  for (const key of ["managementGroups", "facets"]) {
    if (Array.isArray(body[key]) && (body[key] as unknown[]).length > 0) {
      throw invalidQuery("NotSupportedBySimulator", `the simulator does not support '${key}'.`);
    }
  }
  const options = isRecord(body.options) ? body.options : {};
  const format = options.resultFormat ?? "objectArray";
  if (format !== "objectArray" && format !== "table") {
    throw invalidQuery("InvalidResultFormat", "resultFormat must be 'objectArray' or 'table'.");
  }
  const lag = assessmentLag(state);
  const table: LogTable = {
    name: "securityresources",
    columns: SECURITY_RESOURCES,
    rows: assessmentsIn(state, scopeOf(state, body.subscriptions)).map((a) => graphRow(state, a, lag)),
  };
  let result;
  try {
    // Resource Graph's table names are not case-sensitive (SecurityResources, securityresources).
    result = runQuery(
      query,
      (name) => (name.toLowerCase() === "securityresources" ? table : undefined),
      state.now(),
    );
  } catch (error) {
    if (error instanceof QueryRefusal) throw invalidQuery(refusalCode(error), error.message);
    throw error;
  }
  const offset = offsetOf(options);
  const top = topOf(options);
  const rows = result.rows.slice(offset, offset + top);
  const more = offset + top < result.rows.length;
  const paged = result.columns.some((c) => c.name === "id");
  const dynamic = new Set(result.columns.filter((c) => c.type === "dynamic").map((c) => c.name));
  const cell = (name: string, value: unknown): unknown =>
    dynamic.has(name) && typeof value === "string" ? (JSON.parse(value) as unknown) : value;
  const data =
    format === "table"
      ? {
          columns: result.columns.map((c) => ({
            name: c.name,
            type: c.type === "dynamic" ? "object" : c.type,
          })),
          rows: rows.map((row) => row.map((value, i) => cell(result.columns[i]?.name ?? "", value))),
        }
      : rows.map((row) => Object.fromEntries(result.columns.map((c, i) => [c.name, cell(c.name, row[i])])));
  return {
    status: 200,
    body: {
      totalRecords: result.rows.length,
      count: rows.length,
      // Resource Graph pages only results that carry `id`; without it the rest is cut off.
      resultTruncated: more && !paged ? "true" : "false",
      ...(more && paged ? { $skipToken: Buffer.from(String(offset + top), "utf8").toString("base64") } : {}),
      facets: [],
      data,
    },
  };
}

export const resourceGraphModule: ProviderModule = {
  name: "resourcegraph",
  routes: [
    {
      method: "POST",
      match: pattern("/providers/Microsoft.ResourceGraph/resources"),
      apiVersions: RESOURCE_GRAPH_API_VERSIONS,
      typeName: "resources",
      dataPlane: true,
      handle: (ctx) => {
        try {
          return answer(ctx.state, isRecord(ctx.request.body) ? ctx.request.body : {});
        } catch (error) {
          if (error instanceof GraphRefusal) return error.response();
          throw error;
        }
      },
    },
  ],
};
