/**
 * Delayed work: "look at this resource again in N seconds" becomes a queue message with a visibility
 * delay. A ledger keeps ONE pending look per resource: a request is dropped when an equal or sooner
 * look is already pending, and a message whose look has been superseded is dropped when it arrives.
 * Without it every event, sweep and retry would start its own chain of messages for a resource that
 * stays deferred for days (an instance over its capacity limit), and the chains would never merge.
 *
 * The ledger also holds a lease while a look runs: a worker claims the look before it runs it, and a
 * message for a resource whose look is running elsewhere (the next sweep's, while this one's is still
 * at work) waits until the lease ends. No resource, and so no subscription a sweep fanned out, is
 * looked at twice at once, whichever instances the queue hands its messages to.
 */
import { randomUUID } from "node:crypto";
import { parseResourceId, ResourceIdError } from "../model/resource-id.js";
import { assertReconcilable, UnsupportedTargetError } from "../model/targets.js";
import type { RequeueRequest } from "../engine/requeue.js";
import type { PendingOperation } from "../engine/run-context.js";

/** The body of a reconcile message on the queue. */
export interface ReconcileMessage {
  readonly version: 1;
  readonly resourceId: string;
  /** Matches the ledger's entry while this message is the resource's pending look. */
  readonly token: string;
  readonly dueAt: string;
  readonly reason: string;
  /** The event or request that started the chain. */
  readonly correlationId: string;
  /** `audit` for a dry run asked for over HTTP; otherwise the configured mode applies. */
  readonly mode?: "audit";
  /** A write an earlier run started and did not wait for: this look confirms it. */
  readonly operation?: PendingOperation;
}

export interface LedgerEntry {
  readonly resourceId: string;
  readonly token: string;
  readonly dueAt: string;
  /** While a look at the resource runs: who runs it, and until when at most (the trigger's budget). */
  readonly lease?: { readonly id: string; readonly until: string };
}

/** One entry per resource, replaced by compare-and-swap. */
export interface ScheduleLedger {
  get(resourceId: string): Promise<{ entry: LedgerEntry; version: string } | undefined>;
  /**
   * Throws ScheduleConflictError when the entry changed since `expectedVersion` was read. Answers the
   * version written, where the store tells it.
   */
  put(entry: LedgerEntry, expectedVersion: string | undefined): Promise<string | undefined>;
}

export class ScheduleConflictError extends Error {
  override readonly name = "ScheduleConflictError";
}

export interface ReconcileQueue {
  send(message: ReconcileMessage, visibilityTimeoutSeconds: number): Promise<void>;
}

export interface ReconcileScheduler {
  /** Schedules the looks; returns those actually enqueued (the others were already covered). */
  schedule(
    requests: readonly RequeueRequest[],
    correlationId: string,
    options?: { readonly mode?: "audit" },
  ): Promise<RequeueRequest[]>;
  /** Whether a message is still its resource's pending look (false: superseded, drop it). */
  isCurrent(message: ReconcileMessage): Promise<boolean>;
  /**
   * Claims a message's look for `leaseSeconds`: `run` (release it when done), `superseded` (drop the
   * message), or `running` (a look at the resource runs elsewhere: the message is sent again, due when
   * that lease ends).
   */
  claim(message: ReconcileMessage, leaseSeconds: number): Promise<Claim>;
  /** Ends a lease `claim` gave (the look is done, whatever became of it). */
  release(claim: Extract<Claim, { kind: "run" }>): Promise<void>;
}

export type Claim =
  | {
      readonly kind: "run";
      readonly resourceId: string;
      readonly leaseId: string;
      /** The entry as the claim wrote it, and its version: what release replaces if nothing changed since. */
      readonly claimed?: { readonly entry: LedgerEntry; readonly version: string };
    }
  | { readonly kind: "superseded" }
  | { readonly kind: "running"; readonly until: string };

/** Azure Storage queues hide a message for at most 7 days. */
export const MAX_VISIBILITY_SECONDS = 7 * 24 * 60 * 60;
/** Looks due within this of each other count as the same look. */
const SAME_LOOK_SECONDS = 30;

export function createQueueScheduler(deps: {
  readonly ledger: ScheduleLedger;
  readonly queue: ReconcileQueue;
  readonly now?: () => Date;
}): ReconcileScheduler {
  const now = deps.now ?? (() => new Date());
  return {
    async schedule(requests, correlationId, options = {}) {
      const sent: RequeueRequest[] = [];
      for (const request of requests) {
        const delay = Math.min(MAX_VISIBILITY_SECONDS, Math.max(0, Math.round(request.afterSeconds)));
        const at = now().getTime();
        const due = at + delay * 1000;
        const current = await deps.ledger.get(request.resourceId);
        const pendingDue = current === undefined ? undefined : Date.parse(current.entry.dueAt);
        if (pendingDue !== undefined && pendingDue > at && pendingDue <= due + SAME_LOOK_SECONDS * 1000)
          continue;
        // A look that runs keeps its lease: the new one waits for it (see claim).
        const entry: LedgerEntry = {
          resourceId: request.resourceId,
          token: randomUUID(),
          dueAt: new Date(due).toISOString(),
          ...(current?.entry.lease === undefined ? {} : { lease: current.entry.lease }),
        };
        try {
          await deps.ledger.put(entry, current?.version);
        } catch (error) {
          // Someone scheduled this resource in between: their look stands.
          if (error instanceof ScheduleConflictError) continue;
          throw error;
        }
        await deps.queue.send(
          {
            version: 1,
            resourceId: entry.resourceId,
            token: entry.token,
            dueAt: entry.dueAt,
            reason: request.reason,
            correlationId,
            ...(options.mode === undefined ? {} : { mode: options.mode }),
            ...(request.operation === undefined ? {} : { operation: request.operation }),
          },
          delay,
        );
        sent.push(request);
      }
      return sent;
    },
    async isCurrent(message) {
      const current = await deps.ledger.get(message.resourceId);
      return current?.entry.token === message.token;
    },
    async claim(message, leaseSeconds) {
      for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt += 1) {
        const current = await deps.ledger.get(message.resourceId);
        if (current === undefined || current.entry.token !== message.token) return { kind: "superseded" };
        const at = now().getTime();
        const held = current.entry.lease;
        if (held !== undefined && Date.parse(held.until) > at) {
          // Due again when the running look's lease ends; the ledger still names this message's token.
          const delay = Math.min(MAX_VISIBILITY_SECONDS, Math.ceil((Date.parse(held.until) - at) / 1000) + 1);
          await deps.queue.send(message, delay);
          return { kind: "running", until: held.until };
        }
        const lease = { id: randomUUID(), until: new Date(at + leaseSeconds * 1000).toISOString() };
        const entry = { ...current.entry, lease };
        try {
          const version = await deps.ledger.put(entry, current.version);
          return {
            kind: "run",
            resourceId: message.resourceId,
            leaseId: lease.id,
            ...(version === undefined || version === "" ? {} : { claimed: { entry, version } }),
          };
        } catch (error) {
          // Another worker claimed or rescheduled it in between: look again.
          if (!(error instanceof ScheduleConflictError)) throw error;
        }
      }
      return { kind: "superseded" };
    },
    async release(claim) {
      // Nothing changed since the claim (the usual case): its own write's version spares a read.
      if (claim.claimed !== undefined) {
        const { lease: _ended, ...entry } = claim.claimed.entry;
        try {
          await deps.ledger.put(entry, claim.claimed.version);
          return;
        } catch (error) {
          // Rescheduled meanwhile: read what is there now, and end only our lease.
          if (!(error instanceof ScheduleConflictError)) throw error;
        }
      }
      for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt += 1) {
        const current = await deps.ledger.get(claim.resourceId);
        if (current?.entry.lease?.id !== claim.leaseId) return;
        const { lease: _ended, ...entry } = current.entry;
        try {
          await deps.ledger.put(entry, current.version);
          return;
        } catch (error) {
          if (!(error instanceof ScheduleConflictError)) throw error;
        }
      }
    },
  };
}

/** Compare-and-swap rounds a claim or a release tries before it gives up. */
const CLAIM_ATTEMPTS = 5;

/** For the CLI and tests without a queue: nothing is scheduled (the CLI prints when to run again). */
export const noScheduler: ReconcileScheduler = {
  schedule: () => Promise.resolve([]),
  isCurrent: () => Promise.resolve(true),
  claim: (message) => Promise.resolve({ kind: "run", resourceId: message.resourceId, leaseId: "" }),
  release: () => Promise.resolve(),
};

export class ReconcileMessageError extends Error {
  override readonly name = "ReconcileMessageError";
}

/** Validates a dequeued message body (the Functions host hands it over already JSON-parsed, or as text). */
export function parseReconcileMessage(body: unknown): ReconcileMessage {
  let value = body;
  if (typeof body === "string") {
    try {
      value = JSON.parse(body) as unknown;
    } catch {
      throw new ReconcileMessageError("the message is not JSON");
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ReconcileMessageError("the message is not a JSON object");
  }
  const record = value as Record<string, unknown>;
  if (record.version !== 1)
    throw new ReconcileMessageError(`unknown message version ${JSON.stringify(record.version)}`);
  for (const field of ["resourceId", "token", "dueAt", "reason", "correlationId"] as const) {
    if (typeof record[field] !== "string" || record[field] === "") {
      throw new ReconcileMessageError(`the message has no ${field}`);
    }
  }
  if (record.mode !== undefined && record.mode !== "audit") {
    throw new ReconcileMessageError(`mode must be "audit" when given, not ${JSON.stringify(record.mode)}`);
  }
  if (record.operation !== undefined && !isOperation(record.operation)) {
    throw new ReconcileMessageError("operation must name the resource, status URL, checks, action and start");
  }
  // Anyone who can write to the queue can name a resource: it is checked like any other entry point.
  try {
    assertReconcilable(parseResourceId(record.resourceId as string));
  } catch (error) {
    if (error instanceof ResourceIdError || error instanceof UnsupportedTargetError) {
      throw new ReconcileMessageError(error.message);
    }
    throw error;
  }
  return record as unknown as ReconcileMessage;
}

function isOperation(value: unknown): value is PendingOperation {
  if (typeof value !== "object" || value === null) return false;
  const o = value as Record<string, unknown>;
  return (
    typeof o.resourceId === "string" &&
    typeof o.statusUrl === "string" &&
    /^https:\/\//i.test(o.statusUrl) &&
    Array.isArray(o.checks) &&
    o.checks.every((c) => typeof c === "string") &&
    typeof o.action === "string" &&
    typeof o.startedAt === "string"
  );
}
