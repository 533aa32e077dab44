import { setMaxListeners } from "node:events";
/**
 * The local Azure control-plane simulator: a loopback HTTPS server that answers ARM's REST paths,
 * api-versions, status codes, long-running-operation headers and error bodies from an estate.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { gunzipSync } from "node:zlib";
import {
  ArmError,
  armErrorBody,
  authenticationFailed,
  invalidRequestContent,
  methodNotAllowed,
  missingApiVersion,
  routeNotFound,
  subscriptionNotFound,
  unsupportedApiVersion,
} from "./arm-errors.js";
import { simulatorCertificate } from "./cert.js";
import { assessmentLag, noteWrite, setAssessmentLag, settleAssessments } from "./defender.js";
import { EstateError, parseEstate, type Estate, type FaultSpec } from "./estate.js";
import { headerValue, resourceEvent, type SimEvent } from "./events.js";
import { pendingFaults } from "./faults.js";
import { LogsStore, StoredLogsError, type IngestedRow, type IngestionOptions } from "./logs.js";
import { apiCollectionsModule } from "./routes/apicollections.js";
import { apiManagementModule } from "./routes/apimanagement.js";
import { assessmentsModule } from "./routes/assessments.js";
import { containerServiceModule } from "./routes/containerservice.js";
import { genericModule } from "./routes/generic.js";
import { kubernetesModule } from "./routes/kubernetes.js";
import { kubernetesConfigurationModule } from "./routes/kubernetesconfiguration.js";
import { logsModule } from "./routes/logs.js";
import { metricsModule } from "./routes/metrics.js";
import { operationalInsightsModule } from "./routes/operationalinsights.js";
import { resourceGraphModule } from "./routes/resourcegraph.js";
import { resourcePricingsModule } from "./routes/resource-pricings.js";
import { resourcesModule } from "./routes/resources.js";
import { securityModule } from "./routes/security.js";
import { subscriptionsModule } from "./routes/subscriptions.js";
import {
  templateOf,
  type MetricsSettings,
  type ProviderModule,
  type Route,
  type RouteContext,
  type RouteResponse,
  type SimRequest,
} from "./routes/types.js";
import { SIM_TENANT_ID, SimState } from "./state.js";
import { ARM_SUBSCRIPTION_LIMITS, createThrottle, type ArmThrottling } from "./throttling.js";

export interface SimulatorOptions {
  estate: Estate;
  /** Delay before every answer, to model ARM's latency. Default 0. */
  latencyMs?: number;
  /** Items per page of paged lists. Default 50. */
  pageSize?: number;
  /** InProgress answers a long-running operation gives before it ends. Default 1. */
  lroPolls?: number;
  /**
   * Simulated time (the simulator's clock) a long-running operation takes before it can end, on top of
   * `lroPolls` polls: AKS updates take minutes. Default 0.
   */
  lroDurationMs?: number;
  /**
   * The simulator's clock, for metrics, `$retryUntil`, operation and plan timestamps and the history of
   * onboarded APIs. Default: from the estate's `now` at real speed, else real time. A fake clock lets
   * tests move time forward; it replaces the estate's `now`.
   */
  clock?: () => Date;
  /** Moves the clock this many milliseconds forward before the first request (the CLI's `--advance`). Default 0. */
  advanceMs?: number;
  /** Metrics data points for minute m reflect the onboarded-API count at m − this many minutes. Default 0. */
  metricsLagMinutes?: number;
  /** ± percentage points of deterministic noise on every metric value. Default 0. */
  metricsNoise?: number;
  /** Seed of the noise: the same seed gives the same values. Default 1. */
  metricsSeed?: number;
  /**
   * Called with the Event Grid event ARM would raise for every write the simulator accepts (see
   * sim/events.ts), synchronously right after the answer has been sent: a handler started from here
   * sees the write done. It gets its own copy of the event. Whatever it throws is rethrown
   * asynchronously (an uncaught exception), never turned into the request's answer.
   */
  onEvent?: (event: SimEvent) => void;
  /**
   * Awaited when a request has arrived, before it is answered: a test's other writer can act at exactly
   * that moment (a plan written between the engine's read and its write, say) through the simulator's
   * own endpoint. Requests the hook itself sends go through it too.
   */
  onRequest?: (request: { readonly method: string; readonly path: string }) => void | Promise<void>;
  /**
   * The data collection rule (and Log Analytics workspace) of the Azure Monitor Logs Ingestion and query
   * APIs (sim/logs.ts). Without it, those paths answer 404 for any rule and workspace.
   */
  ingestion?: IngestionOptions;
  /**
   * Simulated minutes Defender for Cloud takes to assess again what a write changed (sim/defender.ts):
   * a changed configuration shows in its assessments this long after the write. Default 30; null: the
   * assessments stay as the estate holds them.
   */
  assessmentLagMinutes?: number | null;
  /**
   * ARM's per-subscription throttling (sim/throttling.ts): `true` for the buckets Azure documents, or
   * buckets of one's own. A request that finds its bucket empty is answered 429 with `Retry-After`.
   * Default off.
   */
  throttling?: boolean | Partial<ArmThrottling>;
}

export interface RecordedRequest {
  method: string;
  /** Decoded, without the query. */
  path: string;
  apiVersion: string | undefined;
  query: Record<string, string>;
  ifMatch: string | undefined;
  /** Parsed JSON body; the raw text when it was not JSON; undefined when empty. */
  body: unknown;
  /** The status answered; 0 while unanswered or when the connection was dropped. */
  status: number;
  /** The kind of fault that shaped the answer, if any. */
  fault?: string;
}

export type { FaultSpec } from "./estate.js";

export interface Simulator {
  /** e.g. https://127.0.0.1:43123 */
  readonly endpoint: string;
  /** PEM of the self-signed certificate, for the SDK clients' `tlsOptions.ca`. */
  readonly ca: string;
  /** Every request so far, in arrival order (also refused and faulted ones). */
  readonly requests: readonly RecordedRequest[];
  /**
   * Path string: case-insensitive match of the whole decoded path; RegExp: tested against it; `pathRegex`:
   * a regular expression tested case-insensitively. `times` defaults to 1. RangeError for a spec it cannot use.
   */
  injectFault(fault: FaultSpec): void;
  clearFaults(): void;
  clearRequests(): void;
  /** Every Event Grid event raised so far (one per accepted write), in order. */
  readonly events: readonly SimEvent[];
  clearEvents(): void;
  /**
   * The current state in estate format; a simulator started from it continues where this one is
   * (ingested rows included, in `logs`, when there are any or the estate had `logs`; the clock, in `now`,
   * when the estate had `now` or the clock was advanced; the faults not used up, in `faults`, when there
   * are any or the estate had `faults`).
   */
  exportEstate(): Estate;
  /** The simulator's clock: what it stamps and measures with (under `--simulate`, the engine's clock too). */
  now(): Date;
  /**
   * The rows the Logs Ingestion API accepted into a stream (e.g. "Custom-X"), in order, after those the
   * estate's `logs` brought; [] for none.
   */
  ingested(stream: string): readonly IngestedRow[];
  /** Forgets every ingested row. */
  clearIngested(): void;
  /**
   * While down, every Logs Ingestion request answers 503 ServiceUnavailable with `Retry-After`
   * (`retryAfterSeconds`, default 1; 0 lets the SDK retry at once) and stores nothing.
   */
  setIngestionDown(down: boolean, options?: { retryAfterSeconds?: number }): void;
  /** Requests refused by ARM's throttling (`throttling`), 0 without it. */
  readonly throttledRequests: number;
  close(): Promise<void>;
}

/** The route table, in precedence order; the generic resource route comes last. */
const MODULES: readonly ProviderModule[] = [
  subscriptionsModule,
  resourcesModule,
  securityModule,
  containerServiceModule,
  kubernetesModule,
  kubernetesConfigurationModule,
  resourcePricingsModule,
  operationalInsightsModule,
  apiManagementModule,
  apiCollectionsModule,
  metricsModule,
  assessmentsModule,
  resourceGraphModule,
  genericModule,
];

const BODY_METHODS = new Set(["PUT", "PATCH", "POST"]);
const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      resolve(Buffer.concat(chunks));
    });
    req.on("error", reject);
  });
}

/** The body as text, gunzipped when `Content-Encoding: gzip` (at most 16 MiB); an error when it cannot be. */
function bodyText(raw: Buffer, contentEncoding: string | undefined): { text: string; error?: string } {
  if (raw.length === 0 || contentEncoding?.trim().toLowerCase() !== "gzip")
    return { text: raw.toString("utf8") };
  try {
    return { text: gunzipSync(raw, { maxOutputLength: 16 * 1024 * 1024 }).toString("utf8") };
  } catch (error) {
    return {
      text: "",
      error: `the gzip-encoded body could not be decompressed (${(error as Error).message})`,
    };
  }
}

function decodePath(pathname: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    decoded = pathname;
  }
  return decoded.length > 1 ? decoded.replace(/\/+$/, "") : decoded;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name} must be a finite number, 0 or more, not ${String(value)}`);
  }
  return value;
}

/**
 * The clock: a given one (tests' fake clocks), else the estate's `now` running at real speed, else real
 * time; moved `advanceMs` forward.
 */
function simulatedClock(
  given: (() => Date) | undefined,
  estateNow: string | undefined,
  advanceMs: number,
): () => Date {
  let base: () => Date;
  if (given !== undefined) {
    base = given;
  } else if (estateNow !== undefined) {
    const start = Date.parse(estateNow);
    const startedAt = performance.now();
    base = () => new Date(start + Math.floor(performance.now() - startedAt));
  } else {
    base = () => new Date();
  }
  if (advanceMs === 0) return base;
  return () => {
    const time = base();
    // An invalid answer goes on unchanged, for SimState to name.
    return time instanceof Date ? new Date(time.getTime() + advanceMs) : time;
  };
}

export async function startSimulator(options: SimulatorOptions): Promise<Simulator> {
  const metrics: MetricsSettings = {
    lagMinutes: nonNegative("metricsLagMinutes", options.metricsLagMinutes, 0),
    noise: nonNegative("metricsNoise", options.metricsNoise, 0),
    seed: options.metricsSeed ?? 1,
  };
  if (!Number.isFinite(metrics.seed)) throw new RangeError(`metricsSeed must be a finite number`);
  // Validate and copy: the caller's estate object is never touched.
  const estate = parseEstate(options.estate, "estate");
  const advanceMs = nonNegative("advanceMs", options.advanceMs, 0);
  const state = new SimState(estate, simulatedClock(options.clock, estate.now, advanceMs));
  if (options.assessmentLagMinutes !== undefined && options.assessmentLagMinutes !== null) {
    nonNegative("assessmentLagMinutes", options.assessmentLagMinutes, 0);
  }
  setAssessmentLag(state, options.assessmentLagMinutes);
  const faults = pendingFaults();
  for (const fault of estate.faults ?? []) faults.inject(fault);
  for (const module of MODULES) module.prepare?.(state);
  const latencyMs = Math.max(0, options.latencyMs ?? 0);
  const pageSize = Math.max(1, Math.floor(options.pageSize ?? 50));
  const lroPolls = Math.max(0, Math.floor(options.lroPolls ?? 1));
  const lroDurationMs = Math.max(0, options.lroDurationMs ?? 0);
  const logs = new LogsStore(options.ingestion, state.now);
  const throttle =
    options.throttling === undefined || options.throttling === false
      ? undefined
      : createThrottle({
          ...ARM_SUBSCRIPTION_LIMITS,
          ...(options.throttling === true ? {} : options.throttling),
        });
  if (estate.logs !== undefined) {
    try {
      logs.restore(estate.logs);
    } catch (error) {
      if (error instanceof StoredLogsError) throw new EstateError(`estate: ${error.message}`);
      throw error;
    }
  }
  // The data-plane logs paths (/dataCollectionRules/…, /v1/workspaces/…) share nothing with ARM's.
  const routes: Route[] = [...logsModule(logs).routes, ...MODULES.flatMap((m) => m.routes)];
  const requests: RecordedRequest[] = [];
  const events: SimEvent[] = [];
  const closing = new AbortController();
  // Every request in its latency delay listens for the close: hundreds at once is normal, not a leak.
  setMaxListeners(0, closing.signal);
  let endpoint = "";

  /** Holds a request unanswered until its client gives up (closes the connection) or the simulator closes. */
  const hold = (req: IncomingMessage, res: ServerResponse): Promise<void> =>
    new Promise((resolve) => {
      const release = (): void => {
        res.off("close", release);
        closing.signal.removeEventListener("abort", release);
        resolve();
      };
      if (closing.signal.aborted || req.socket.destroyed) {
        resolve();
        return;
      }
      res.once("close", release);
      closing.signal.addEventListener("abort", release, { once: true });
    });

  const send = (
    res: ServerResponse,
    record: RecordedRequest,
    answer: RouteResponse,
    correlationId: string,
  ): void => {
    record.status = answer.status;
    const headers: Record<string, string> = {
      "x-ms-request-id": randomUUID(),
      // ARM keeps the client's correlation id (and so do its events); else it makes one.
      "x-ms-correlation-request-id": correlationId,
      "cache-control": "no-cache",
      ...answer.headers,
    };
    if (answer.body === undefined || answer.status === 204) {
      res.writeHead(answer.status, headers);
      res.end();
      return;
    }
    const text = JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      ...headers,
      "content-type": JSON_CONTENT_TYPE,
      "content-length": Buffer.byteLength(text).toString(),
    });
    res.end(text);
  };

  const errorAnswer = (error: ArmError): RouteResponse => ({
    status: error.status,
    body: error.body(),
    headers: error.headers,
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", "https://127.0.0.1");
    const path = decodePath(url.pathname);
    const query = Object.fromEntries(url.searchParams.entries());
    const apiVersionValue = url.searchParams.get("api-version");
    const apiVersion = apiVersionValue === null || apiVersionValue.length === 0 ? undefined : apiVersionValue;
    const ifMatchHeader = req.headers["if-match"];
    const record: RecordedRequest = {
      method,
      path,
      apiVersion,
      query,
      ifMatch: typeof ifMatchHeader === "string" ? ifMatchHeader : undefined,
      body: undefined,
      status: 0,
    };
    requests.push(record);
    const correlationId = headerValue(req.headers, "x-ms-correlation-request-id") ?? randomUUID();

    const rawBody = await readBody(req);
    const decoded = bodyText(rawBody, headerValue(req.headers, "content-encoding"));
    const text = decoded.text;
    let body: unknown;
    let bodyError = decoded.error;
    if (text.trim().length > 0) {
      try {
        body = JSON.parse(text);
      } catch (error) {
        body = text;
        bodyError = (error as Error).message;
      }
    }
    record.body = body;

    // Another writer acting at exactly this moment (tests of races), before this request is answered.
    if (options.onRequest !== undefined) await options.onRequest({ method, path });

    if (latencyMs > 0) {
      try {
        await delay(latencyMs, undefined, { signal: closing.signal });
      } catch {
        req.socket.destroy();
        return;
      }
    }

    const authorization = req.headers.authorization ?? "";
    const bearer = /^Bearer\s+(\S.*)$/i.exec(authorization);
    if (bearer === null) {
      send(
        res,
        record,
        errorAnswer(
          authenticationFailed(
            authorization.length === 0
              ? "The 'Authorization' header is missing."
              : "The 'Authorization' header is not a bearer token.",
          ),
        ),
        correlationId,
      );
      return;
    }

    const fault = faults.take(method, path, ["status", "drop-connection", "hang"]);
    if (fault?.kind === "drop-connection") {
      record.fault = fault.kind;
      req.socket.destroy();
      return;
    }
    if (fault?.kind === "hang") {
      record.fault = fault.kind;
      await hold(req, res);
      req.socket.destroy();
      return;
    }
    if (fault?.kind === "status") {
      record.fault = fault.kind;
      send(
        res,
        record,
        {
          status: fault.status,
          body: armErrorBody(fault.code, fault.message ?? `Simulated ${String(fault.status)} ${fault.code}.`),
          headers:
            fault.retryAfterSeconds === undefined
              ? {}
              : { "retry-after": String(Math.ceil(fault.retryAfterSeconds)) },
        },
        correlationId,
      );
      return;
    }

    let accepted: { response: RouteResponse; route: Route; subscriptionId: string | undefined };
    try {
      accepted = await route(method, path, apiVersion, query, { body, bodyError, rawBody }, req, record);
    } catch (error) {
      if (error instanceof ArmError) {
        send(res, record, errorAnswer(error), correlationId);
      } else {
        const message = error instanceof Error ? error.message : String(error);
        send(
          res,
          record,
          errorAnswer(new ArmError(500, "InternalServerError", `Simulator error: ${message}`)),
          correlationId,
        );
      }
      return;
    }
    send(res, record, accepted.response, correlationId);
    // Outside the try: the answer is sent, so nothing here may turn into another answer.
    const status = accepted.response.status;
    if (status >= 200 && status < 300 && accepted.route.dataPlane !== true) {
      // When a write changed a resource: the simulated Defender's lag counts from it (sim/defender.ts).
      if (method === "PUT" || method === "PATCH") noteWrite(state, path);
      raiseEvent(method, path, req, accepted.route, accepted.subscriptionId, correlationId);
    }
  };

  /** Records (and hands to `onEvent`) the event ARM raises for an accepted write, if it raises one. */
  const raiseEvent = (
    method: string,
    path: string,
    req: IncomingMessage,
    matched: Route,
    subscriptionId: string | undefined,
    correlationId: string,
  ): void => {
    const subscription = subscriptionId === undefined ? undefined : state.subscription(subscriptionId);
    if (subscription === undefined) return;
    const event = resourceEvent({
      method,
      path,
      url: `${endpoint}${req.url ?? path}`,
      headers: req.headers,
      template: templateOf(matched),
      subscriptionId: subscription.subscriptionId,
      tenantId: subscription.tenantId ?? SIM_TENANT_ID,
      correlationId,
      now: state.now(),
    });
    if (event === undefined) return;
    events.push(event);
    if (options.onEvent === undefined) return;
    try {
      options.onEvent(structuredClone(event));
    } catch (error) {
      // The answer is gone already; surface the callback's failure instead of swallowing it.
      queueMicrotask(() => {
        throw error;
      });
    }
  };

  const route = async (
    method: string,
    path: string,
    apiVersion: string | undefined,
    query: Record<string, string>,
    content: { body: unknown; bodyError: string | undefined; rawBody: Buffer },
    req: IncomingMessage,
    record: RecordedRequest,
  ): Promise<{ response: RouteResponse; route: Route; subscriptionId: string | undefined }> => {
    const { body, bodyError, rawBody } = content;
    const segments = path === "/" ? [] : path.split("/").slice(1);
    let found: { route: Route; params: Record<string, string> } | undefined;
    let otherMethod = false;
    for (const candidate of routes) {
      const params = candidate.match(segments);
      if (params === undefined) continue;
      if (candidate.method !== method) {
        otherMethod = true;
        continue;
      }
      found = { route: candidate, params };
      break;
    }
    // Only the routes of APIs without api-versions (apiVersions "none") go without one.
    if (apiVersion === undefined && found?.route.apiVersions !== "none") throw missingApiVersion();
    if (found === undefined) throw otherMethod ? methodNotAllowed(method, path) : routeNotFound(method, path);
    const { route: matched, params } = found;

    const subscriptionId = params.subscriptionId;
    if (subscriptionId !== undefined && state.subscription(subscriptionId) === undefined) {
      throw subscriptionNotFound(subscriptionId);
    }
    // ARM throttles at its front door, before the resource provider sees the request.
    const charged =
      throttle === undefined || subscriptionId === undefined || matched.dataPlane === true
        ? undefined
        : throttle.charge(subscriptionId, method);
    if (charged?.refusal !== undefined) throw charged.refusal;
    if (
      apiVersion !== undefined &&
      matched.apiVersions !== "any" &&
      matched.apiVersions !== "none" &&
      !matched.apiVersions.includes(apiVersion)
    ) {
      const location = state.get(path)?.location;
      throw unsupportedApiVersion(
        apiVersion,
        matched.typeName,
        typeof location === "string" ? location : "global",
        matched.apiVersions,
      );
    }
    if (BODY_METHODS.has(method) && matched.ownBody !== true) {
      if (bodyError !== undefined) throw invalidRequestContent(bodyError);
      if (body === undefined && matched.bodyOptional !== true) {
        throw invalidRequestContent("the request body is empty.");
      }
    }

    const request: SimRequest = {
      method,
      path,
      query,
      apiVersion: apiVersion ?? "",
      headers: req.headers,
      body,
      rawBody,
    };
    const ctx: RouteContext = {
      state,
      request,
      params,
      endpoint,
      pageSize,
      lroPolls,
      lroDurationMs,
      metrics,
      takeLroFault: () => {
        const taken = faults.take(method, path, ["lro-failed", "lro-stuck"]);
        if (taken === undefined) return undefined;
        record.fault = taken.kind;
        if (taken.kind !== "lro-failed") return { kind: "stuck" };
        return {
          kind: "failed",
          code: taken.code ?? "InternalOperationError",
          message: taken.message ?? "Simulated failure of the long-running operation.",
        };
      },
    };
    const response = await matched.handle(ctx);
    return {
      response:
        charged === undefined
          ? response
          : { ...response, headers: { ...charged.headers, ...response.headers } },
      route: matched,
      subscriptionId,
    };
  };

  const { key, cert } = await simulatorCertificate();
  const server: Server = createServer({ key, cert, keepAlive: true }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      // Only reachable if the socket failed mid-request; nothing left to answer.
      res.destroy(error instanceof Error ? error : undefined);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port.toString()}`;

  let closed: Promise<void> | undefined;
  return {
    endpoint,
    ca: cert,
    requests,
    injectFault(fault) {
      faults.inject(fault);
    },
    clearFaults() {
      faults.clear();
    },
    clearRequests() {
      requests.length = 0;
    },
    events,
    clearEvents() {
      events.length = 0;
    },
    exportEstate: () => {
      // Assessments as Defender shows them now.
      settleAssessments(state, assessmentLag(state));
      const exported = state.toEstate();
      // Ingested rows travel with the estate; an estate without `logs` that nothing was ingested into stays without.
      const stored = logs.snapshot();
      if (estate.logs !== undefined || Object.keys(stored).length > 0) exported.logs = stored;
      // A clock of its own (not real time) travels with the estate, so the next run continues from it.
      if (estate.now !== undefined || advanceMs > 0) exported.now = state.now().toISOString();
      const remaining = faults.remaining();
      if (estate.faults !== undefined || remaining.length > 0) exported.faults = remaining;
      return exported;
    },
    now: () => state.now(),
    ingested: (stream) => logs.rows(stream),
    clearIngested() {
      logs.clear();
    },
    setIngestionDown(down, downOptions) {
      logs.setDown(down, downOptions?.retryAfterSeconds);
    },
    get throttledRequests() {
      return throttle?.throttled ?? 0;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        closing.abort();
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
