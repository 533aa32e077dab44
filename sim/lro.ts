/**
 * Long-running operations the Azure-AsyncOperation way: the accepted request names an operation
 * URL; each poll of it answers InProgress until `lroPolls` polls have been answered, then the
 * operation ends (Succeeded, or Failed when an `lro-failed` fault was taken) and the provider's
 * callback applies the outcome to the resource. An `lro-stuck` fault keeps it InProgress for ever.
 */
import { randomUUID } from "node:crypto";
import type { LroFault, RouteContext } from "./routes/types.js";
import type { LongRunningOperation } from "./state.js";

export interface StartOperation {
  readonly provider: string;
  readonly location: string;
  readonly fault: LroFault | undefined;
  readonly onSucceeded: () => void;
  readonly onFailed: () => void;
}

/** How a taken fault shapes an operation: the error it ends with, or whether it never ends. */
export function faultEffect(fault: LroFault | undefined): {
  failure: { code: string; message: string } | undefined;
  stuck: boolean;
} {
  return {
    failure: fault?.kind === "failed" ? { code: fault.code, message: fault.message } : undefined,
    stuck: fault?.kind === "stuck",
  };
}

/** ARM spells operation locations without spaces, in lower case ("East US" → "eastus"). */
export function normalizeLocation(location: string): string {
  return location.replace(/\s+/g, "").toLowerCase();
}

/** Registers the operation and returns the headers of the accepted answer (no Retry-After: clients choose). */
export function startOperation(ctx: RouteContext, start: StartOperation): Record<string, string> {
  const subscriptionId = ctx.params.subscriptionId ?? "";
  const operationId = randomUUID();
  const location = normalizeLocation(start.location);
  const operation: LongRunningOperation = {
    operationId,
    subscriptionId,
    provider: start.provider,
    location,
    startTime: ctx.state.now().toISOString(),
    status: "InProgress",
    pollsLeft: ctx.lroPolls,
    ...faultEffect(start.fault),
    onSucceeded: start.onSucceeded,
    onFailed: start.onFailed,
  };
  ctx.state.operations.set(operationId, operation);
  const base = `${ctx.endpoint}/subscriptions/${subscriptionId}/providers/${start.provider}/locations/${location}`;
  const query = `?api-version=${encodeURIComponent(ctx.request.apiVersion)}`;
  return {
    "azure-asyncoperation": `${base}/operations/${operationId}${query}`,
    location: `${base}/operationresults/${operationId}${query}`,
  };
}

/** One poll: counts down, and ends the operation when no InProgress answers are left. */
export function pollOperation(
  ctx: RouteContext,
  provider: string,
  operationId: string,
): LongRunningOperation | undefined {
  const operation = ctx.state.operations.get(operationId.toLowerCase());
  if (
    operation === undefined ||
    operation.provider.toLowerCase() !== provider.toLowerCase() ||
    operation.subscriptionId.toLowerCase() !== (ctx.params.subscriptionId ?? "").toLowerCase()
  ) {
    return undefined;
  }
  if (operation.status !== "InProgress" || operation.stuck) return operation;
  if (operation.pollsLeft > 0) {
    operation.pollsLeft -= 1;
    return operation;
  }
  // An operation that takes time (AKS updates take minutes) runs until the clock has moved that far.
  if (ctx.state.now().getTime() - Date.parse(operation.startTime) < ctx.lroDurationMs) return operation;
  operation.endTime = ctx.state.now().toISOString();
  if (operation.failure === undefined) {
    operation.status = "Succeeded";
    operation.onSucceeded();
  } else {
    operation.status = "Failed";
    operation.onFailed();
  }
  return operation;
}

/** The Azure-AsyncOperation status body. */
export function operationStatusBody(operation: LongRunningOperation): Record<string, unknown> {
  return {
    id: `/subscriptions/${operation.subscriptionId}/providers/${operation.provider}/locations/${operation.location}/operations/${operation.operationId}`,
    name: operation.operationId,
    status: operation.status,
    startTime: operation.startTime,
    ...(operation.endTime === undefined ? {} : { endTime: operation.endTime }),
    ...(operation.status === "Failed" && operation.failure !== undefined
      ? { error: { ...operation.failure } }
      : {}),
  };
}
