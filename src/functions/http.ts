import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { BadRequestError, MAX_REQUEST_BYTES, parseReconcileRequest } from "../events/reconcile-request.js";
import { reconcileResource } from "../dispatch/events.js";
import { withRunDeadline } from "../azure/call-limits.js";
import { finishRun, sharedRuntime, triggerRunOptions, TRIGGER_BUDGETS, type Runtime } from "./runtime.js";

function problem(status: number, title: string, detail: string): HttpResponseInit {
  return {
    status,
    headers: { "content-type": "application/problem+json" },
    jsonBody: { type: "about:blank", title, status, detail },
  };
}

/** A body declared larger than the limit is refused before it is read. */
async function readBody(request: HttpRequest): Promise<string> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (Number.isFinite(declared) && declared > MAX_REQUEST_BYTES) {
    throw new BadRequestError(`the body is larger than ${String(MAX_REQUEST_BYTES)} bytes`, 413);
  }
  return request.text();
}

/**
 * `POST /api/reconcile` (function key): one resource is reconciled in the request and its outcomes
 * returned (200); a subscription, which can take minutes, is queued and answered 202.
 */
export function createReconcileHttpHandler(runtime: () => Runtime) {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const started = Date.now();
    return withRunDeadline(started + TRIGGER_BUDGETS.http.totalMs, () => handle(request, context, started));
  };

  async function handle(
    request: HttpRequest,
    context: InvocationContext,
    started: number,
  ): Promise<HttpResponseInit> {
    const { config, engine, coalescer, scheduler } = runtime();
    const auditOnly = (dryRun: boolean) => (dryRun ? { mode: "audit" as const } : {});
    let parsed;
    try {
      parsed = parseReconcileRequest(await readBody(request), {
        contentType: request.headers.get("content-type"),
        subscriptions: config.subscriptions,
      });
    } catch (error) {
      if (error instanceof BadRequestError) {
        context.warn(`autoprotect: bad reconcile request: ${error.message}`);
        const title =
          error.status === 413
            ? "Payload too large"
            : error.status === 415
              ? "Unsupported media type"
              : "Bad request";
        return problem(error.status, title, error.message);
      }
      throw error;
    }
    const mode = parsed.dryRun ? "audit" : config.mode;
    if (parsed.kind === "subscription") {
      const resourceId = `/subscriptions/${parsed.subscriptionId}`;
      await scheduler.schedule(
        [{ resourceId, afterSeconds: 0, reason: "requested over HTTP" }],
        context.invocationId,
        auditOnly(parsed.dryRun),
      );
      return {
        status: 202,
        jsonBody: {
          accepted: resourceId,
          mode,
          runId: context.invocationId,
          detail:
            "a subscription can take minutes: it is reconciled through the queue; outcomes go to Log Analytics",
        },
      };
    }
    const result = await reconcileResource(
      { engine, coalescer },
      parsed.resourceId,
      { runId: context.invocationId, trigger: "http", mode, correlationId: context.invocationId },
      triggerRunOptions("http", started),
    );
    await finishRun(runtime(), context, result, context.invocationId, auditOnly(parsed.dryRun));
    return {
      status: 200,
      jsonBody: { runId: context.invocationId, mode, outcomes: result.outcomes, errors: result.errors },
    };
  }
}

app.http("reconcile", {
  methods: ["POST"],
  authLevel: "function",
  route: "reconcile",
  handler: (request, context) => createReconcileHttpHandler(sharedRuntime)(request, context),
});
