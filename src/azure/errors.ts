import { isRestError } from "@azure/core-rest-pipeline";

/** An Azure call that failed after the SDK's retries, with ARM's error code preserved. */
export class AzureApiError extends Error {
  override readonly name: string = "AzureApiError";
  constructor(
    message: string,
    /** ARM's `error.code` (e.g. `OperationNotAllowed`), or the network error code (`ECONNRESET`). */
    readonly code: string,
    readonly statusCode: number | undefined,
  ) {
    super(message);
  }
}

/**
 * A call that did not finish in time: its own deadline (`scope` "call": the service hung or kept
 * failing), the run's budget (`scope` "run": the trigger must answer before the platform gives up),
 * or a long-running operation that was accepted and is still running (`scope` "operation").
 */
export class DeadlineExceededError extends AzureApiError {
  override readonly name = "DeadlineExceededError";
  constructor(
    message: string,
    readonly scope: "call" | "run" | "operation",
  ) {
    super(message, "DeadlineExceeded", undefined);
  }
}

/** Azure asked to wait longer than autoprotect waits within a run: look again after `retryAfterSeconds`. */
export class ThrottledError extends AzureApiError {
  override readonly name = "ThrottledError";
  constructor(
    message: string,
    code: string,
    statusCode: number,
    readonly retryAfterSeconds: number,
  ) {
    super(message, code, statusCode);
  }
}

function armErrorBody(body: unknown): { code?: string; message?: string } | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const error = (body as { error?: unknown }).error;
  if (typeof error !== "object" || error === null) return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return {
    ...(typeof code === "string" ? { code } : {}),
    ...(typeof message === "string" ? { message } : {}),
  };
}

/*
 * Domain errors: what adapters throw, so the engine decides on meaning, never on status codes.
 */

/** The resource (or the operation asked about) does not exist. */
export class NotFoundError extends AzureApiError {
  override readonly name = "NotFoundError";
}

/** The resource is busy with another operation and refuses the write for now (409, OperationNotAllowed). */
export class BusyError extends AzureApiError {
  override readonly name = "BusyError";
}

/** The resource changed since it was read (412 on If-Match): read again and decide again. */
export class ConflictError extends AzureApiError {
  override readonly name = "ConflictError";
}

/** Azure could not answer now (5xx, 408, throttling past the retries, the network): it may pass. */
export class UnavailableError extends AzureApiError {
  override readonly name = "UnavailableError";
}

/** A long-running operation Azure accepted ended Failed or Canceled: its code says why. */
export class OperationFailedError extends AzureApiError {
  override readonly name = "OperationFailedError";
}

/** Throttled after the SDK's own retries: look again when Azure said, else in a minute. */
const THROTTLED_RETRY_SECONDS = 60;

/** The domain error for an answer's status and ARM code. */
function domainError(
  message: string,
  code: string,
  statusCode: number | undefined,
  retryAfter: string | undefined,
): AzureApiError {
  if (statusCode === 429) {
    const seconds = Number(retryAfter);
    const wait = Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : THROTTLED_RETRY_SECONDS;
    return new ThrottledError(message, code, statusCode, wait);
  }
  if (statusCode === 404) return new NotFoundError(message, code, statusCode);
  if (statusCode === 412) return new ConflictError(message, code, statusCode);
  if (statusCode === 409 || code === "OperationNotAllowed") return new BusyError(message, code, statusCode);
  if (statusCode === undefined || statusCode === 408 || statusCode >= 500) {
    return new UnavailableError(message, code, statusCode);
  }
  return new AzureApiError(message, code, statusCode);
}

/** Normalise whatever an SDK threw into a domain error; anything that is not an Azure error passes through. */
export function toAzureApiError(error: unknown): unknown {
  if (error instanceof AzureApiError) return error;
  if (isRestError(error)) {
    let body: unknown = error.details;
    if (body === undefined && error.response?.bodyAsText) {
      try {
        body = JSON.parse(error.response.bodyAsText);
      } catch {
        body = undefined;
      }
    }
    const arm = armErrorBody(body) ?? armErrorBody({ error: body });
    const code =
      arm?.code ??
      error.code ??
      (error.statusCode === undefined ? "RequestSendError" : `HTTP${error.statusCode}`);
    return domainError(
      arm?.message ?? error.message,
      code,
      error.statusCode,
      error.response?.headers.get("retry-after"),
    );
  }
  // core-lro reports an operation that ended Failed as "The long-running operation has failed. CODE. message".
  if (error instanceof Error && error.message.startsWith("The long-running operation has failed")) {
    const match = /^The long-running operation has failed\. ([^.\s]+)\. ?(.*)$/s.exec(error.message);
    return new OperationFailedError(match?.[2] || error.message, match?.[1] ?? "OperationFailed", undefined);
  }
  return error;
}

export async function azureCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toAzureApiError(error);
  }
}

export function isNotFound(error: unknown): boolean {
  return error instanceof NotFoundError;
}
