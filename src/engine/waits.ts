/**
 * Every wait ends. A check that keeps coming back `deferred` (a cluster that stays busy, a throttled
 * read, a plan waiting for a cluster) is tracked from the first deferral: past the cap (24 h by
 * default) it turns `manual` with the last reason, because whatever it waits for is not going to
 * happen by itself. A check that keeps failing on a transient error is looked at again with a growing
 * delay (the time it has been failing, between 1 minute and 1 hour) instead of a fixed one.
 *
 * The ledger remembers, per mode, subscription, check and resource, since when it has been waiting;
 * the CLI keeps it in its state folder, the Functions app in Table Storage.
 */
import type { CheckId } from "../model/checks.js";
import type { Mode, OutcomeRecord } from "../model/outcome.js";
import type { OutcomeFields } from "../outcomes/record.js";

const MIN_BACKOFF_SECONDS = 60;
const MAX_BACKOFF_SECONDS = 3600;

/**
 * Checks whose planner bounds its own waits and escalates them itself: the API rollout waits for days
 * by design on a large instance (queued for a later step), and turns `manual` on its own terms
 * (capacity, stuck operations, failing steps); the agreement with Defender waits for Defender's own
 * refresh lag (AUTOPROTECT_DEFENDER_LAG_HOURS), counted from since when it has been waiting.
 */
const BOUNDS_OWN_WAITS: ReadonlySet<CheckId> = new Set(["apim.api-onboarding", "defender.agreement"]);

export interface WaitEntry {
  readonly check: CheckId;
  readonly resourceId: string;
  /** When the check first came back deferred (or failing) in this chain (ISO 8601). */
  readonly since: string;
}

/** Since when each check on each resource has been waiting, one subscription and mode at a time. */
export interface WaitLedger {
  load(mode: Mode, subscriptionId: string): Promise<WaitEntry[]>;
  /** Starts the waits in `start` (no-op when already waiting) and ends those in `end`. */
  update(
    mode: Mode,
    subscriptionId: string,
    change: { readonly start: readonly WaitEntry[]; readonly end: readonly WaitEntry[] },
  ): Promise<void>;
}

export function waitKey(check: string, resourceId: string): string {
  return `${check} ${resourceId.toLowerCase()}`;
}

/** An outcome that keeps its chain of looks going: deferred, or failed and asked to be looked at again. */
export function isWaiting(status: string, details: Readonly<Record<string, unknown>>): boolean {
  return status === "deferred" || (status === "failed" && typeof details.retryAfterSeconds === "number");
}

function hoursText(hours: number): string {
  return hours % 24 === 0 ? `${String(hours / 24)} day(s)` : `${String(hours)} h`;
}

/**
 * What an outcome becomes given since when its check has been waiting: past the cap a deferral is
 * `manual`; a failure that asks to be retried gets a delay that grows with how long it has failed.
 */
export function boundWait(
  fields: OutcomeFields,
  since: string | undefined,
  now: Date,
  capHours: number,
): OutcomeFields {
  const details = fields.details ?? {};
  if (!isWaiting(fields.status, details)) return fields;
  const start = since === undefined ? now.getTime() : Date.parse(since);
  const waitedSeconds = Math.max(0, (now.getTime() - start) / 1000);
  if (fields.status === "failed") {
    const retryAfterSeconds = Math.round(
      Math.min(MAX_BACKOFF_SECONDS, Math.max(MIN_BACKOFF_SECONDS, waitedSeconds)),
    );
    return {
      ...fields,
      details: { ...details, retryAfterSeconds, failingSince: since ?? now.toISOString() },
    };
  }
  if (BOUNDS_OWN_WAITS.has(fields.check) || since === undefined || waitedSeconds < capHours * 3600)
    return fields;
  const { retryAfterSeconds: _dropped, ...rest } = details;
  return {
    ...fields,
    status: "manual",
    reason:
      `still waiting after ${hoursText(capHours)} (since ${since}): ${fields.reason}; ` +
      "whatever it waits for is not happening by itself: look at the resource",
    details: { ...rest, waitingSince: since, deferralCapHours: capHours },
  };
}

/** The ledger changes a run's outcomes call for: waits that start, and waits that end. */
export function waitChanges(
  outcomes: readonly OutcomeRecord[],
  known: ReadonlyMap<string, string>,
): { start: WaitEntry[]; end: WaitEntry[] } {
  const start: WaitEntry[] = [];
  const end: WaitEntry[] = [];
  for (const outcome of outcomes) {
    const key = waitKey(outcome.Check, outcome.ResourceId);
    const entry = { check: outcome.Check, resourceId: outcome.ResourceId, since: outcome.TimeGenerated };
    // A wait the cap turned manual stays on the books, so the check stays manual until it resolves.
    const capped = outcome.Status === "manual" && outcome.Details.waitingSince !== undefined;
    if (isWaiting(outcome.Status, outcome.Details)) {
      if (!known.has(key)) start.push(entry);
    } else if (known.has(key) && !capped) {
      end.push(entry);
    }
  }
  return { start, end };
}
