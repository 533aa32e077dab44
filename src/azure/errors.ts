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

/** Normalise whatever an SDK threw into an AzureApiError; anything that is not an Azure error passes through. */
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
    return new AzureApiError(arm?.message ?? error.message, code, error.statusCode);
  }
  // core-lro reports an operation that ended Failed as "The long-running operation has failed. CODE. message".
  if (error instanceof Error && error.message.startsWith("The long-running operation has failed")) {
    const match = /^The long-running operation has failed\. ([^.\s]+)\. ?(.*)$/s.exec(error.message);
    return new AzureApiError(match?.[2] || error.message, match?.[1] ?? "OperationFailed", undefined);
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
  return error instanceof AzureApiError && error.statusCode === 404;
}
