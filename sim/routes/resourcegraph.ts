/**
 * Azure Resource Graph's query API (POST /providers/Microsoft.ResourceGraph/resources), for the one
 * query shape autoprotect sends: counts of resources of some types per subscription,
 * `resources | where type in~ ('t1', 't2') | summarize count() by subscriptionId, type`. Any other query
 * is refused as Resource Graph refuses one it cannot run (400 BadRequest with an InvalidQuery detail).
 * Paged with `$top` and `$skipToken` as the service pages; answers `objectArray` rows.
 */
import { ArmError, badRequest } from "../arm-errors.js";
import { isRecord, pattern, type ProviderModule, type RouteContext, type RouteResponse } from "./types.js";

export const RESOURCE_GRAPH_API_VERSIONS = ["2024-04-01", "2022-10-01", "2021-03-01"] as const;

const COUNT_QUERY =
  /^resources\s*\|\s*where\s+type\s+in~\s*\(([^)]*)\)\s*\|\s*summarize\s+count\(\)\s+by\s+subscriptionId\s*,\s*type\s*$/i;

/** Resource Graph's refusal of a query: a generic BadRequest that names the query's problem in its details. */
class InvalidQueryError extends ArmError {
  constructor(private readonly detail: string) {
    super(
      400,
      "BadRequest",
      "Please provide below info when asking for support: timestamp = simulated, correlationId = simulated.",
    );
  }
  override body(): {
    error: { code: string; message: string; details: { code: string; message: string }[] };
  } {
    return { error: { ...super.body().error, details: [{ code: "InvalidQuery", message: this.detail }] } };
  }
}

function invalidQuery(message: string): ArmError {
  return new InvalidQueryError(message);
}

function requestedTypes(query: unknown): string[] {
  if (typeof query !== "string") throw invalidQuery("The request has no query.");
  const match = COUNT_QUERY.exec(query.trim());
  if (match === null) {
    throw invalidQuery(
      "The simulator runs only the count of resources by subscription and type autoprotect sends for discovery.",
    );
  }
  return (match[1] ?? "")
    .split(",")
    .map((t) =>
      t
        .trim()
        .replace(/^'(.*)'$/, "$1")
        .toLowerCase(),
    )
    .filter((t) => t !== "");
}

function answer(ctx: RouteContext): RouteResponse {
  const body = ctx.request.body;
  if (!isRecord(body)) throw invalidQuery("The request body is not a query request.");
  const types = requestedTypes(body.query);
  const options = isRecord(body.options) ? body.options : {};
  const scope = Array.isArray(body.subscriptions)
    ? body.subscriptions.filter((s): s is string => typeof s === "string")
    : [...ctx.state.subscriptions.values()].map((s) => s.subscriptionId);
  const rows: { subscriptionId: string; type: string; count_: number }[] = [];
  for (const subscriptionId of scope) {
    const stored = ctx.state.subscription(subscriptionId);
    if (stored === undefined) continue;
    for (const type of types) {
      const count = ctx.state.list(type, `/subscriptions/${stored.subscriptionId}`).length;
      if (count > 0) rows.push({ subscriptionId: stored.subscriptionId, type, count_: count });
    }
  }
  const top = typeof options.$top === "number" && options.$top >= 1 ? Math.min(1000, options.$top) : 100;
  const token = options.$skipToken;
  const offset = typeof token === "string" ? Number(Buffer.from(token, "base64").toString("utf8")) : 0;
  if (!Number.isInteger(offset) || offset < 0) throw badRequest("BadRequest", "The $skipToken is not valid.");
  const page = rows.slice(offset, offset + top);
  const next = offset + top < rows.length ? Buffer.from(String(offset + top)).toString("base64") : undefined;
  return {
    status: 200,
    body: {
      totalRecords: rows.length,
      count: page.length,
      resultTruncated: "false",
      ...(next === undefined ? {} : { $skipToken: next }),
      data: page,
      facets: [],
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
      handle: answer,
    },
  ],
};
