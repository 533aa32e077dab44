/**
 * Deadlines for every Azure call. The SDK pipelines wait for ever by default: a connection that hangs
 * holds a run (and its trigger) until the platform kills it, and `Retry-After` is honoured however long
 * it is. Two pipeline policies, added to every client through `sdkClientOptions`, bound that:
 *
 * - per attempt: an attempt that has not answered within `attemptTimeoutMs` is abandoned as a
 *   transient network error (`ETIMEDOUT`), which the SDK's retry policy retries;
 * - per call: the whole call (attempts, retries and their waits) ends at the sooner of
 *   `callDeadlineMs` from its start and the run's own deadline (`withRunDeadline`), with a
 *   DeadlineExceededError;
 * - a throttled answer whose `Retry-After` is longer than `maxRetryAfterSeconds` is not waited for: it
 *   ends the call at once with a ThrottledError that carries the delay, so the engine can defer the
 *   check and look again then.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import {
  isRestError,
  RestError,
  type PipelinePolicy,
  type PipelineRequest,
  type PipelineResponse,
} from "@azure/core-rest-pipeline";
import type { AbortSignalLike } from "@azure/abort-controller";
import type { CallLimits } from "../model/config.js";
import { DeadlineExceededError, ThrottledError } from "./errors.js";

export type { CallLimits } from "../model/config.js";

export const DEFAULT_CALL_LIMITS: CallLimits = {
  attemptTimeoutMs: 30_000,
  callDeadlineMs: 120_000,
  maxRetryAfterSeconds: 60,
  operationDeadlineMs: 30 * 60_000,
};

const runDeadline = new AsyncLocalStorage<number>();

/**
 * Runs `work` with a deadline (epoch milliseconds) that every Azure call made inside it respects, on
 * top of its own: a trigger's budget, so a run never outlives the platform's patience. An enclosing
 * deadline that is sooner wins.
 */
export function withRunDeadline<T>(deadlineAt: number, work: () => Promise<T>): Promise<T> {
  const enclosing = runDeadline.getStore();
  return runDeadline.run(enclosing === undefined ? deadlineAt : Math.min(enclosing, deadlineAt), work);
}

/** The run's deadline (epoch ms) in this async context, if any. */
export function currentRunDeadline(): number | undefined {
  return runDeadline.getStore();
}

/** Milliseconds left before the run's deadline; Infinity without one. */
export function runTimeLeftMs(now: number = Date.now()): number {
  const deadline = runDeadline.getStore();
  return deadline === undefined ? Number.POSITIVE_INFINITY : deadline - now;
}

/**
 * A signal that aborts after `ms`, or when `outer` (the caller's) does; `done()` clears its timer and
 * its listener on `outer` as soon as the call has ended. (`AbortSignal.timeout` would keep every
 * call's timer, and through it the call's request and answer, alive for the whole deadline: a
 * worker making thousands of calls a minute would hold minutes of them.)
 */
function deadlineSignal(
  outer: AbortSignalLike | undefined,
  ms: number,
): { readonly signal: AbortSignalLike; readonly timedOut: () => boolean; done(): void } {
  const own = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    own.abort();
  }, ms);
  timer.unref();
  const abort = (): void => {
    own.abort();
  };
  if (outer?.aborted === true) own.abort();
  else outer?.addEventListener("abort", abort, { once: true });
  return {
    signal: own.signal,
    timedOut: () => timedOut,
    done() {
      clearTimeout(timer);
      outer?.removeEventListener("abort", abort);
    },
  };
}

function describeRequest(request: PipelineRequest): string {
  const url = new URL(request.url);
  return `${request.method} ${url.pathname}`;
}

/** Whole-call deadline: the sooner of the call's own and the run's. Runs outside the retry policy. */
export function callDeadlinePolicy(limits: CallLimits): PipelinePolicy {
  return {
    name: "autoprotectCallDeadline",
    async sendRequest(request, next): Promise<PipelineResponse> {
      const started = Date.now();
      const own = started + limits.callDeadlineMs;
      const run = runDeadline.getStore();
      const deadlineAt = run === undefined ? own : Math.min(own, run);
      const byRun = run !== undefined && run <= own;
      const what = describeRequest(request);
      const exceeded = (): DeadlineExceededError =>
        new DeadlineExceededError(
          byRun
            ? `${what}: the run's time budget ran out`
            : `${what}: no answer within ${String(Math.round(limits.callDeadlineMs / 1000))} s`,
          byRun ? "run" : "call",
        );
      const wait = deadlineAt - started;
      if (wait <= 0) throw exceeded();
      const deadline = deadlineSignal(request.abortSignal, wait);
      request.abortSignal = deadline.signal;
      try {
        return await next(request);
      } catch (error) {
        if (deadline.timedOut()) throw exceeded();
        // Every attempt the retry policy allowed timed out: the service is not answering.
        if (isRestError(error) && error.code === "ETIMEDOUT") {
          throw new DeadlineExceededError(`${what}: no answer to any attempt (${error.message})`, "call");
        }
        throw error;
      } finally {
        deadline.done();
      }
    },
  };
}

function retryAfterSeconds(response: PipelineResponse): number | undefined {
  if (response.status !== 429 && response.status !== 503) return undefined;
  const ms = response.headers.get("retry-after-ms") ?? response.headers.get("x-ms-retry-after-ms");
  if (ms !== undefined && Number.isFinite(Number(ms))) return Number(ms) / 1000;
  const header = response.headers.get("retry-after");
  if (header === undefined) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return seconds;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - Date.now()) / 1000);
}

function armCode(response: PipelineResponse): string | undefined {
  try {
    const body = JSON.parse(response.bodyAsText ?? "") as { error?: { code?: unknown } };
    return typeof body.error?.code === "string" ? body.error.code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Per attempt: a timeout the retry policy treats as a transient network error, and a cap on
 * `Retry-After`. Runs inside the retry policy, once per attempt.
 */
export function attemptLimitPolicy(limits: CallLimits): PipelinePolicy {
  return {
    name: "autoprotectAttemptLimit",
    async sendRequest(request, next): Promise<PipelineResponse> {
      const outer = request.abortSignal;
      const attempt = deadlineSignal(outer, limits.attemptTimeoutMs);
      request.abortSignal = attempt.signal;
      let response: PipelineResponse;
      try {
        response = await next(request);
      } catch (error) {
        if (attempt.timedOut() && outer?.aborted !== true) {
          // ETIMEDOUT is one of the system errors the SDK's exponential retry strategy retries.
          throw new RestError(
            `${describeRequest(request)}: no answer within ${String(limits.attemptTimeoutMs)} ms`,
            { code: "ETIMEDOUT", request },
          );
        }
        throw error;
      } finally {
        attempt.done();
        request.abortSignal = outer;
      }
      const delay = retryAfterSeconds(response);
      if (delay !== undefined && delay > limits.maxRetryAfterSeconds) {
        throw new ThrottledError(
          `${describeRequest(request)}: Azure asked to wait ${String(Math.ceil(delay))} s (Retry-After), ` +
            `longer than the ${String(limits.maxRetryAfterSeconds)} s autoprotect waits within a run`,
          armCode(response) ?? (response.status === 429 ? "TooManyRequests" : "ServiceUnavailable"),
          response.status,
          Math.ceil(delay),
        );
      }
      return response;
    },
  };
}

/** The two policies in the shape every Azure SDK client's `additionalPolicies` option takes. */
export function callLimitPolicies(
  limits: CallLimits,
): { policy: PipelinePolicy; position: "perCall" | "perRetry" }[] {
  return [
    { policy: callDeadlinePolicy(limits), position: "perCall" },
    { policy: attemptLimitPolicy(limits), position: "perRetry" },
  ];
}
