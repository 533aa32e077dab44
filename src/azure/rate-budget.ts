/**
 * ARM's request budget, spent carefully: a token bucket per subscription and operation type, shaped
 * like the one ARM throttles with since 2024 (per subscription and principal: reads 250 tokens
 * refilled at 25 a second, writes and deletes 200 at 10; learn.microsoft.com/azure/azure-resource-manager/
 * management/request-limits-and-throttling), so that a burst of events or a sweep slows itself down
 * instead of being answered 429. Every ARM answer says how many tokens its bucket has left
 * (`x-ms-ratelimit-remaining-subscription-reads`, `-writes`, `-deletes`); other callers of the same
 * identity (another worker, another instance) spend the same bucket, so the local count never stays
 * above what ARM last said.
 *
 * A request that finds its bucket empty waits for a token, within the call's deadline and the run's.
 * When the wait would be longer than a run waits for Azure (`maxRetryAfterSeconds`) or than the run has
 * left, it is not sent: a ThrottledError says when to look again, and the check is deferred.
 */
import { type PipelinePolicy, type PipelineRequest, type PipelineResponse } from "@azure/core-rest-pipeline";
import type { AbortSignalLike } from "@azure/abort-controller";
import { setTimeout as sleep } from "node:timers/promises";
import { runTimeLeftMs } from "./call-limits.js";
import { ThrottledError } from "./errors.js";

export type OperationType = "reads" | "writes" | "deletes";

export interface BucketShape {
  readonly size: number;
  readonly refillPerSecond: number;
}

/** ARM's documented per-principal subscription buckets. */
export const ARM_SUBSCRIPTION_BUDGET: Readonly<Record<OperationType, BucketShape>> = {
  reads: { size: 250, refillPerSecond: 25 },
  writes: { size: 200, refillPerSecond: 10 },
  deletes: { size: 200, refillPerSecond: 10 },
};

export function operationType(method: string): OperationType {
  const upper = method.toUpperCase();
  if (upper === "GET" || upper === "HEAD") return "reads";
  return upper === "DELETE" ? "deletes" : "writes";
}

/**
 * ARM's bucket starts refilling when ARM first sees a request, a little after ours does; requests also
 * reach ARM later than we send them, by varying delays. Leaving this much of a second's refill unspent
 * keeps such jitter from ever taking ARM's bucket below empty.
 */
const HEADROOM_SECONDS = 0.5;

class Bucket {
  private tokens: number;
  private at: number;
  private readonly size: number;
  constructor(
    private readonly shape: BucketShape,
    now: number,
  ) {
    this.size = shape.size - Math.ceil(shape.refillPerSecond * HEADROOM_SECONDS);
    this.tokens = this.size;
    this.at = now;
  }

  private refill(now: number): void {
    this.tokens = Math.min(
      this.size,
      this.tokens + (Math.max(0, now - this.at) / 1000) * this.shape.refillPerSecond,
    );
    this.at = now;
  }

  /** Takes a token now, or says how many milliseconds until one is there (the token is then promised). */
  reserve(now: number): number {
    this.refill(now);
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.shape.refillPerSecond) * 1000;
  }

  /** Gives back a promised token that will not be used. */
  release(): void {
    this.tokens += 1;
  }

  /** What ARM said is left: the local count never stays above it (less the headroom). */
  observe(remaining: number, now: number): void {
    this.refill(now);
    this.tokens = Math.min(this.tokens, remaining - (this.shape.size - this.size));
  }

  /** How many tokens are left (negative: promised to waiting requests). */
  level(now: number): number {
    this.refill(now);
    return this.tokens;
  }
}

export interface RateBudget {
  /** Milliseconds the request must wait for its token (0: go now); the token is then the caller's. */
  reserve(subscriptionId: string, type: OperationType): number;
  release(subscriptionId: string, type: OperationType): void;
  observe(subscriptionId: string, type: OperationType, remaining: number): void;
  level(subscriptionId: string, type: OperationType): number;
}

export function createRateBudget(
  shapes: Readonly<Record<OperationType, BucketShape>> = ARM_SUBSCRIPTION_BUDGET,
  now: () => number = () => performance.now(),
): RateBudget {
  const buckets = new Map<string, Bucket>();
  const bucket = (subscriptionId: string, type: OperationType): Bucket => {
    const key = `${subscriptionId.toLowerCase()} ${type}`;
    let found = buckets.get(key);
    if (found === undefined) {
      found = new Bucket(shapes[type], now());
      buckets.set(key, found);
    }
    return found;
  };
  return {
    reserve: (subscriptionId, type) => bucket(subscriptionId, type).reserve(now()),
    release: (subscriptionId, type) => {
      bucket(subscriptionId, type).release();
    },
    observe: (subscriptionId, type, remaining) => {
      bucket(subscriptionId, type).observe(remaining, now());
    },
    level: (subscriptionId, type) => bucket(subscriptionId, type).level(now()),
  };
}

/** One budget per ARM endpoint in the process: every client of a worker spends the same tokens. */
const budgets = new Map<string, RateBudget>();

export function processRateBudget(armEndpoint: string): RateBudget {
  const key = new URL(armEndpoint).origin;
  let budget = budgets.get(key);
  if (budget === undefined) {
    budget = createRateBudget();
    budgets.set(key, budget);
  }
  return budget;
}

const SUBSCRIPTION_PATH = /^\/subscriptions\/([^/]+)(?:\/|$)/i;

function subscriptionOf(request: PipelineRequest, origin: string): string | undefined {
  const url = new URL(request.url);
  if (url.origin !== origin) return undefined;
  return SUBSCRIPTION_PATH.exec(url.pathname)?.[1];
}

async function waitFor(ms: number, signal: AbortSignalLike | undefined): Promise<void> {
  if (ms <= 0) return;
  await sleep(ms, undefined, signal === undefined ? {} : { signal: signal as AbortSignal });
}

/**
 * The pipeline policy that spends the budget: per attempt (a retry is another request to ARM), before
 * the attempt's own timeout starts. Requests to other hosts (Monitor's metrics, Logs Ingestion) and
 * tenant-level ARM requests pass untouched.
 */
export function rateBudgetPolicy(
  budget: RateBudget,
  armEndpoint: string,
  maxWaitSeconds: number,
): PipelinePolicy {
  const origin = new URL(armEndpoint).origin;
  return {
    name: "autoprotectArmRateBudget",
    async sendRequest(request, next): Promise<PipelineResponse> {
      const subscriptionId = subscriptionOf(request, origin);
      if (subscriptionId === undefined) return next(request);
      const type = operationType(request.method);
      const waitMs = budget.reserve(subscriptionId, type);
      if (waitMs > Math.min(maxWaitSeconds * 1000, runTimeLeftMs())) {
        budget.release(subscriptionId, type);
        const seconds = Math.max(1, Math.ceil(waitMs / 1000));
        const url = new URL(request.url);
        throw new ThrottledError(
          `${request.method} ${url.pathname}: autoprotect's budget of ARM ${type} in subscription ` +
            `${subscriptionId} is spent (ARM allows ${String(ARM_SUBSCRIPTION_BUDGET[type].refillPerSecond)} a second); ` +
            `the next one is ${String(seconds)} s away`,
          "ArmRateBudgetSpent",
          429,
          seconds,
        );
      }
      try {
        await waitFor(waitMs, request.abortSignal);
      } catch (error) {
        budget.release(subscriptionId, type);
        throw error;
      }
      const response = await next(request);
      const remaining = Number(response.headers.get(`x-ms-ratelimit-remaining-subscription-${type}`));
      if (
        response.headers.has(`x-ms-ratelimit-remaining-subscription-${type}`) &&
        Number.isFinite(remaining)
      ) {
        budget.observe(subscriptionId, type, remaining);
      }
      return response;
    },
  };
}
