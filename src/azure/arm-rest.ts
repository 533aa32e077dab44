import { createRestError, getClient, type Client, type PathUncheckedResponse } from "@azure-rest/core-client";
import { createHttpPoller, type OperationResponse, type OperationState } from "@azure/core-lro";
import { ARM_ENDPOINT, ARM_SCOPE, sdkClientOptions, type AzureConnection } from "./connection.js";
import { DEFAULT_CALL_LIMITS } from "./call-limits.js";
import { AzureApiError, DeadlineExceededError, toAzureApiError, UnavailableError } from "./errors.js";

/**
 * An Azure Core REST client for the ARM operations whose published SDK is stale
 * (@azure/arm-security 5.0.0 has neither plan extensions nor API collections). It is the same
 * pipeline the generated SDKs build: bearer auth, retry, throttling with Retry-After, TLS.
 */
export function createArmRestClient(connection: AzureConnection): Client {
  const { endpoint, ...options } = sdkClientOptions(connection);
  return getClient(endpoint, connection.credential, { ...options, credentials: { scopes: [ARM_SCOPE] } });
}

/** The body of a successful answer; any other status becomes an AzureApiError with ARM's code. */
export function expectStatus(response: PathUncheckedResponse, ...ok: string[]): unknown {
  if (!ok.includes(response.status)) throw toAzureApiError(createRestError(response));
  return response.body;
}

function asLroResponse(response: PathUncheckedResponse, ok: readonly string[]): OperationResponse {
  if (!ok.includes(response.status)) throw toAzureApiError(createRestError(response));
  return {
    flatResponse: response,
    rawResponse: {
      statusCode: Number.parseInt(response.status, 10),
      headers: response.headers,
      body: response.body,
      request: { method: response.request.method, url: response.request.url },
    },
  };
}

/**
 * A poll of an accepted operation that failed: the write's own answer was fine, so whatever the poll
 * got (a 412 or 409 on a GET of a status means nothing about the write) is "status unavailable".
 */
function unreadableStatus(error: unknown): unknown {
  const cause = toAzureApiError(error);
  if (!(cause instanceof AzureApiError) || cause instanceof DeadlineExceededError) return cause;
  return new UnavailableError(
    `the write was accepted but its operation's status could not be read: ${cause.message}`,
    cause.code,
    cause.statusCode,
  );
}

/**
 * Drives an ARM long-running operation with core-lro's own poller (Azure-AsyncOperation,
 * Location or body polling, Retry-After), and returns the final body. Each poll is a call with its
 * own deadline; the whole wait ends after `deadlineMs` with a DeadlineExceededError (scope
 * "operation"): the write was accepted and may still finish, but nobody waits for ever.
 */
export async function runLongRunningOperation(
  client: Client,
  start: () => PromiseLike<PathUncheckedResponse>,
  ok: readonly string[],
  intervalInMs: number,
  deadlineMs: number = DEFAULT_CALL_LIMITS.operationDeadlineMs,
): Promise<unknown> {
  const poller = createHttpPoller<unknown, OperationState<unknown>>(
    {
      sendInitialRequest: async () => asLroResponse(await start(), ok),
      sendPollRequest: async (path) => {
        try {
          return asLroResponse(await client.pathUnchecked(path).get(), ok);
        } catch (error) {
          throw unreadableStatus(error);
        }
      },
    },
    {
      intervalInMs,
      processResult: (result) => Promise.resolve((result as PathUncheckedResponse).body as unknown),
    },
  );
  // A timer of our own, cleared when the wait ends: AbortSignal.timeout would keep the operation's
  // objects alive for the whole deadline.
  const waited = new AbortController();
  const timer = setTimeout(() => {
    waited.abort();
  }, deadlineMs);
  timer.unref();
  try {
    return await poller.pollUntilDone({ abortSignal: waited.signal });
  } catch (error) {
    if (waited.signal.aborted) {
      throw new DeadlineExceededError(
        `the operation was accepted and is still running after ${String(Math.round(deadlineMs / 1000))} s`,
        "operation",
      );
    }
    throw toAzureApiError(error);
  } finally {
    clearTimeout(timer);
  }
}

/** Every item of an ARM list, following `nextLink` (absolute URLs) page by page. */
export async function listAll(
  client: Client,
  firstPage: () => PromiseLike<PathUncheckedResponse>,
): Promise<unknown[]> {
  const items: unknown[] = [];
  let response = await firstPage();
  for (;;) {
    const body = expectStatus(response, "200") as { value?: unknown; nextLink?: unknown } | undefined;
    if (Array.isArray(body?.value)) items.push(...(body.value as unknown[]));
    if (typeof body?.nextLink !== "string" || body.nextLink === "") return items;
    response = await client.pathUnchecked(body.nextLink).get();
  }
}

/** Where an ARM long-running operation started earlier stands (its Azure-AsyncOperation status). */
export type OperationStatus =
  | { readonly status: "InProgress" }
  | { readonly status: "Succeeded" }
  | { readonly status: "Failed" | "Canceled"; readonly code: string; readonly message: string };

function asOperationStatus(body: unknown): OperationStatus {
  const { status, error } = (typeof body === "object" && body !== null ? body : {}) as {
    status?: unknown;
    error?: { code?: unknown; message?: unknown };
  };
  const text = typeof status === "string" ? status.toLowerCase() : "";
  if (text === "succeeded") return { status: "Succeeded" };
  if (text === "failed" || text === "canceled" || text === "cancelled") {
    return {
      status: text === "failed" ? "Failed" : "Canceled",
      code: typeof error?.code === "string" ? error.code : text === "failed" ? "OperationFailed" : "Canceled",
      message: typeof error?.message === "string" ? error.message : `the operation ended ${String(status)}`,
    };
  }
  return { status: "InProgress" };
}

/**
 * Reads an operation's status URL (Azure-AsyncOperation, or Location: 202 running, 204 done). The URL
 * comes back through a queue message, so it is read only on ARM's own origin: the token goes to ARM only.
 */
export async function readOperationStatus(
  client: Client,
  connection: AzureConnection,
  statusUrl: string,
): Promise<OperationStatus> {
  const origin = new URL(connection.endpoint ?? ARM_ENDPOINT).origin;
  if (new URL(statusUrl).origin !== origin) {
    throw new TypeError(`operation status URL '${statusUrl}' is not on ${origin}`);
  }
  const response = await client.pathUnchecked(statusUrl).get();
  if (response.status === "202") return { status: "InProgress" };
  if (response.status === "204") return { status: "Succeeded" };
  return asOperationStatus(expectStatus(response, "200"));
}
