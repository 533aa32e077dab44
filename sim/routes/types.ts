/**
 * The route table's vocabulary. A provider module is a list of routes (method, path pattern,
 * api-versions, handler) plus an optional hook that prepares the loaded estate; server.ts does
 * everything else (TLS, auth, faults, api-version checks, subscription lookup, recording).
 */
import type { IncomingHttpHeaders } from "node:http";
import { badRequest } from "../arm-errors.js";
import type { SimState } from "../state.js";

export type HttpMethod = "GET" | "PUT" | "POST" | "PATCH" | "DELETE";

export interface SimRequest {
  readonly method: string;
  /** Decoded, without query or trailing slash. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly apiVersion: string;
  readonly headers: IncomingHttpHeaders;
  /** Parsed JSON body; undefined when the request had none. */
  readonly body: unknown;
  /** The body's bytes as received (still gzip-compressed when the client sent `Content-Encoding: gzip`). */
  readonly rawBody: Buffer;
}

export interface RouteContext {
  readonly state: SimState;
  readonly request: SimRequest;
  /** Values of the pattern's `{placeholders}`, as the request spelled them. */
  readonly params: Readonly<Record<string, string>>;
  /** The simulator's base URL, for nextLink and operation URLs. */
  readonly endpoint: string;
  readonly pageSize: number;
  readonly lroPolls: number;
  /** Simulated time a long-running operation takes, on top of `lroPolls` polls. */
  readonly lroDurationMs: number;
  /** How the metrics API serves the capacity model (see capacity.ts). */
  readonly metrics: MetricsSettings;
  /** Takes (counts down) a pending `lro-failed` or `lro-stuck` fault that matches this request, if any. */
  takeLroFault(): LroFault | undefined;
}

/** What an injected fault makes of a long-running operation: it ends Failed with this error, or never ends. */
export type LroFault =
  { readonly kind: "failed"; readonly code: string; readonly message: string } | { readonly kind: "stuck" };

export interface MetricsSettings {
  /** A data point for minute m reflects the onboarded count at m − lag. */
  readonly lagMinutes: number;
  /** ± percentage points of deterministic noise. */
  readonly noise: number;
  readonly seed: number;
}

export interface RouteResponse {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface Route {
  readonly method: HttpMethod;
  /**
   * Returns the placeholders when the (decoded) path segments belong to this route. Made by
   * `pattern()` for fixed paths; the generic resource route supplies its own.
   */
  readonly match: (segments: readonly string[]) => Record<string, string> | undefined;
  /**
   * Accepted api-versions, newest first; "any" accepts every version (it must still be present); "none":
   * the API takes no api-version parameter (the Log Analytics query API, versioned by its `/v1` path) and
   * ignores one if sent.
   */
  readonly apiVersions: readonly string[] | "any" | "none";
  /** The type named by NoRegisteredProviderFound, e.g. "managedClusters". */
  readonly typeName: string;
  /** A PUT/POST that Azure accepts without a body (e.g. onboarding an API collection). Default false. */
  readonly bodyOptional?: boolean;
  /**
   * A data-plane call that ARM does not see (e.g. the metrics batch POST): it emits no Event Grid event.
   * Every other accepted PUT, PATCH, DELETE and POST does (see sim/events.ts). Default false.
   */
  readonly dataPlane?: boolean;
  /**
   * The handler reads `request.rawBody` itself (e.g. a gzip-compressed upload with its own size limit): the
   * server's JSON body checks (InvalidRequestContent) are skipped for this route. Default false.
   */
  readonly ownBody?: boolean;
  readonly handle: (ctx: RouteContext) => RouteResponse | Promise<RouteResponse>;
}

export interface ProviderModule {
  readonly name: string;
  readonly routes: readonly Route[];
  /** Runs once on the freshly loaded state (e.g. to give resources the server-owned fields ARM always returns). */
  readonly prepare?: (state: SimState) => void;
}

/** The template each `pattern()` matcher was made from (its literal segments spell types as Azure does). */
const TEMPLATES = new WeakMap<Route["match"], string>();

/** The path template of a route made by `pattern()`; undefined for routes that match their own way. */
export function templateOf(route: Route): string | undefined {
  return TEMPLATES.get(route.match);
}

/**
 * A matcher for a path template such as
 * "/subscriptions/{subscriptionId}/providers/Microsoft.Security/pricings/{pricingName}".
 * Literal segments compare without regard to case, as ARM's do.
 */
export function pattern(template: string): Route["match"] {
  const parts = template.split("/").slice(1);
  const match: Route["match"] = (segments) => {
    if (segments.length !== parts.length) return undefined;
    const params: Record<string, string> = {};
    for (let i = 0; i < parts.length; i += 1) {
      const part = parts[i] ?? "";
      const segment = segments[i] ?? "";
      if (part.startsWith("{") && part.endsWith("}")) {
        if (segment.length === 0) return undefined;
        params[part.slice(1, -1)] = segment;
      } else if (part.toLowerCase() !== segment.toLowerCase()) {
        return undefined;
      }
    }
    return params;
  };
  TEMPLATES.set(match, template);
  return match;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * `{ value, nextLink }` pages of `pageSize` items; `$skipToken` is the offset of the page. `view` (a
 * copy, say) is applied to the items of the page served only.
 */
export function page<T>(
  ctx: RouteContext,
  items: readonly T[],
  view: (item: T) => unknown = (item) => item,
): RouteResponse {
  const token = ctx.request.query.$skipToken;
  const offset = token === undefined ? 0 : Number(token);
  if (!Number.isInteger(offset) || offset < 0) {
    throw badRequest("InvalidSkipToken", `The skip token '${token ?? ""}' is not valid.`);
  }
  const end = offset + ctx.pageSize;
  const body: { value: unknown[]; nextLink?: string } = { value: items.slice(offset, end).map(view) };
  if (end < items.length) {
    const path = ctx.request.path.split("/").map(encodeURIComponent).join("/");
    body.nextLink = `${ctx.endpoint}${path}?api-version=${encodeURIComponent(ctx.request.apiVersion)}&$skipToken=${end}`;
  }
  return { status: 200, body };
}
