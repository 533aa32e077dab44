/**
 * Azure Resource Graph's query API, for the two tables autoprotect reads, queried with the simulator's
 * KQL subset (sim/kql.ts): `securityresources`, holding the estate's Defender for Cloud assessments as
 * Resource Graph shows them (sim/defender.ts), and `resources`, the estate's resources (discovery counts
 * them by subscription and type). Anything the subset does not implement, and any other table, is
 * refused: never a silently wrong answer.
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

const RESOURCES: readonly StreamColumn[] = [
  { name: "id", type: "string" },
  { name: "name", type: "string" },
  { name: "type", type: "string" },
  { name: "location", type: "string" },
  { name: "resourceGroup", type: "string" },
  { name: "subscriptionId", type: "string" },
  { name: "properties", type: "dynamic" },
  { name: "tags", type: "dynamic" },
];

/** The estate's resources in scope as Resource Graph's `resources` table has them (types in lower case). */
function resourcesTable(state: SimState, scope: ReadonlySet<string>): LogTable {
  const rows = state.all().flatMap((r) => {
    const match = /^\/subscriptions\/([^/]+)(?:\/resourcegroups\/([^/]+))?/i.exec(r.id);
    const subscriptionId = match?.[1];
    if (subscriptionId === undefined || !scope.has(subscriptionId.toLowerCase())) return [];
    return [
      {
        id: r.id,
        name: r.name,
        type: r.type.toLowerCase(),
        location: typeof r.location === "string" ? r.location : "",
        resourceGroup: (match?.[2] ?? "").toLowerCase(),
        subscriptionId,
        properties: structuredClone(r.properties ?? null),
        tags: structuredClone(r.tags ?? null),
      },
    ];
  });
  return { name: "resources", columns: RESOURCES, rows };
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
  const scope = scopeOf(state, body.subscriptions);
  const tableOf = (name: string): LogTable | undefined => {
    // Resource Graph's table names are not case-sensitive (SecurityResources, securityresources).
    switch (name.toLowerCase()) {
      case "securityresources": {
        const lag = assessmentLag(state);
        return {
          name: "securityresources",
          columns: SECURITY_RESOURCES,
          rows: assessmentsIn(state, scope).map((a) => graphRow(state, a, lag)),
        };
      }
      case "resources":
        return resourcesTable(state, scope);
      default:
        return undefined;
    }
  };
  let result;
  try {
    result = runQuery(query, tableOf, state.now());
  } catch (error) {
    if (error instanceof QueryRefusal) throw invalidQuery(refusalCode(error), error.message);
    throw error;
  }
  const offset = offsetOf(options);
  const top = topOf(options);
  const rows = result.rows.slice(offset, offset + top);
  const more = offset + top < result.rows.length;
  // Resource Graph cannot page a query that limits itself (limit, take, sample) or whose columns are all
  // dynamic: the rest is then cut off, with no $skipToken (Resource Graph's "paging results" guidance).
  const paged =
    !/\|\s*(?:limit|take|sample)\b/i.test(query) && result.columns.some((c) => c.type !== "dynamic");
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
