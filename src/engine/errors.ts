import { AzureApiError, DeadlineExceededError, ThrottledError, UnavailableError } from "../azure/errors.js";
import type { OutcomeFields } from "../outcomes/record.js";

export function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof AzureApiError) return { code: error.code, message: error.message };
  if (error instanceof Error) return { code: error.name, message: error.message };
  return { code: "Error", message: String(error) };
}

/** The outcome's Reason for a failure: ARM's error code first, as the contract asks. */
export function failureReason(error: unknown): string {
  const { code, message } = describeError(error);
  return `${code}: ${message}`;
}

/** A failure that may well pass by itself: the service hung, was unavailable, or the network failed. */
export function isTransient(error: unknown): boolean {
  return error instanceof DeadlineExceededError || error instanceof UnavailableError;
}

/** A first retry of a transient failure; waits.ts stretches it the longer the failure lasts. */
const TRANSIENT_RETRY_SECONDS = 60;
/** An operation still running when we stopped waiting is looked at again after this long. */
const OPERATION_RETRY_SECONDS = 300;
/** After the run's budget ran out the check continues in a queued look, as soon as the queue takes it. */
const BUDGET_RETRY_SECONDS = 5;

export type ErrorOutcome = Pick<OutcomeFields, "status" | "reason" | "details">;

/**
 * What a check's outcome says when an Azure call it needed failed: `deferred` when Azure asked us to
 * come back later (throttling) or the run's own time ran out, `failed` otherwise, with ARM's code in
 * `Details.code`, and a retry when the failure is transient.
 */
export function outcomeOfError(error: unknown, what?: string): ErrorOutcome {
  const described = describeError(error);
  const prefix = what === undefined ? "" : `${what}: `;
  if (error instanceof ThrottledError) {
    return {
      status: "deferred",
      reason: `${prefix}Azure is throttling (${described.code}) and asked to wait ${String(error.retryAfterSeconds)} s; looking again then`,
      details: { error: described, retryAfterSeconds: error.retryAfterSeconds },
    };
  }
  if (error instanceof DeadlineExceededError && error.scope === "operation") {
    return {
      status: "deferred",
      reason: `${prefix}${error.message}; looking again later`,
      details: { error: described, retryAfterSeconds: OPERATION_RETRY_SECONDS },
    };
  }
  if (error instanceof DeadlineExceededError && error.scope === "run") {
    return {
      status: "deferred",
      reason: `${prefix}the run's time budget ran out before this check finished; it continues in a queued look`,
      details: { error: described, retryAfterSeconds: BUDGET_RETRY_SECONDS },
    };
  }
  return {
    status: "failed",
    reason: `${prefix}${failureReason(error)}`,
    details: {
      ...described,
      ...(isTransient(error) ? { retryAfterSeconds: TRANSIENT_RETRY_SECONDS } : {}),
    },
  };
}

/**
 * The outcome of a check that never started because the run's budget had run out, or because the run
 * was asked to stop (`interrupted`: the CLI's Ctrl-C).
 */
export function budgetExhausted(interrupted = false): ErrorOutcome {
  if (interrupted) {
    return {
      status: "deferred",
      reason: "the run was interrupted before this check started; run again to continue",
      details: { code: "RunInterrupted", retryAfterSeconds: BUDGET_RETRY_SECONDS },
    };
  }
  return {
    status: "deferred",
    reason: "the run's time budget ran out before this check started; it continues in a queued look",
    details: { code: "RunBudgetExhausted", retryAfterSeconds: BUDGET_RETRY_SECONDS },
  };
}
