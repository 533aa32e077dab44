/**
 * ARM's request throttling, as Azure documents it since its 2024 move to regional throttling with a
 * token bucket ("Understand how Azure Resource Manager throttles requests",
 * learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling): per
 * subscription, per principal and per operation type, reads have a bucket of 250 tokens refilled at 25
 * a second, writes and deletes 200 refilled at 10; a global limit per subscription, across principals,
 * is 15 times that. A request that finds its bucket empty is answered 429 with `Retry-After` and ARM's
 * `SubscriptionRequestsThrottled` error; every answer says what is left in
 * `x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}` (and `-global-…`).
 *
 * The simulator has one principal (every caller's token), so the per-principal buckets are the ones
 * that bind; the global ones are reported beside them. Off unless the simulator is given `throttling`.
 * Time here is real time: throttling is about how fast requests arrive, whatever the simulated clock says.
 */
import { ArmError } from "./arm-errors.js";

export type OperationType = "reads" | "writes" | "deletes";

export interface TokenBucketShape {
  /** Tokens the bucket holds when full: the most requests at once. */
  readonly size: number;
  /** Tokens added back per second. */
  readonly refillPerSecond: number;
}

export type ArmThrottling = Readonly<Record<OperationType, TokenBucketShape>>;

/** ARM's documented per-principal subscription limits. */
export const ARM_SUBSCRIPTION_LIMITS: ArmThrottling = {
  reads: { size: 250, refillPerSecond: 25 },
  writes: { size: 200, refillPerSecond: 10 },
  deletes: { size: 200, refillPerSecond: 10 },
};

/** ARM's global subscription limit is this many times the per-principal one. */
const GLOBAL_FACTOR = 15;

/** The one principal the simulator knows (the object id ARM names in its throttling message). */
const SIM_PRINCIPAL = "00000000-0000-4000-8000-0000000051a0";

export function operationType(method: string): OperationType {
  const upper = method.toUpperCase();
  if (upper === "GET" || upper === "HEAD") return "reads";
  if (upper === "DELETE") return "deletes";
  return "writes";
}

class TokenBucket {
  private tokens: number;
  private at: number;
  constructor(
    private readonly shape: TokenBucketShape,
    now: number,
  ) {
    this.tokens = shape.size;
    this.at = now;
  }

  private refill(now: number): void {
    this.tokens = Math.min(
      this.shape.size,
      this.tokens + ((now - this.at) / 1000) * this.shape.refillPerSecond,
    );
    this.at = now;
  }

  /** Takes a token; otherwise the seconds until one is there. */
  take(now: number): { readonly taken: true } | { readonly taken: false; readonly waitSeconds: number } {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { taken: true };
    }
    return { taken: false, waitSeconds: (1 - this.tokens) / this.shape.refillPerSecond };
  }

  remaining(): number {
    return Math.floor(this.tokens);
  }
}

export interface ThrottleDecision {
  /** The answer's `x-ms-ratelimit-remaining-*` headers. */
  readonly headers: Record<string, string>;
  /** Set when the request is refused: ARM's 429. */
  readonly refusal?: ArmError;
}

/** Per-subscription buckets, created on a subscription's first request. */
export function createThrottle(
  limits: ArmThrottling,
  clock: () => number = () => performance.timeOrigin + performance.now(),
) {
  const buckets = new Map<string, { own: TokenBucket; global: TokenBucket }>();
  let throttled = 0;
  return {
    /** Charges one request of `method` against the subscription's buckets. */
    charge(subscriptionId: string, method: string): ThrottleDecision {
      const type = operationType(method);
      const key = `${subscriptionId.toLowerCase()} ${type}`;
      const now = clock();
      let pair = buckets.get(key);
      if (pair === undefined) {
        const shape = limits[type];
        const global = {
          size: shape.size * GLOBAL_FACTOR,
          refillPerSecond: shape.refillPerSecond * GLOBAL_FACTOR,
        };
        pair = { own: new TokenBucket(shape, now), global: new TokenBucket(global, now) };
        buckets.set(key, pair);
      }
      const own = pair.own.take(now);
      const global = own.taken ? pair.global.take(now) : own;
      const headers = {
        [`x-ms-ratelimit-remaining-subscription-${type}`]: String(pair.own.remaining()),
        [`x-ms-ratelimit-remaining-subscription-global-${type}`]: String(pair.global.remaining()),
      };
      if (global.taken) return { headers };
      throttled += 1;
      const seconds = Math.max(1, Math.ceil(global.waitSeconds));
      const operation = type === "reads" ? "read" : type === "writes" ? "write" : "delete";
      return {
        headers,
        refusal: new ArmError(
          429,
          "SubscriptionRequestsThrottled",
          `Number of '${operation}' requests for subscription '${subscriptionId}' actor '${SIM_PRINCIPAL}' exceeded. ` +
            `Please try again after '${String(seconds)}' seconds after additional tokens are available. ` +
            "Refer to https://aka.ms/arm-throttling",
          { ...headers, "retry-after": String(seconds) },
        ),
      };
    },
    /** Requests refused so far. */
    get throttled(): number {
      return throttled;
    },
  };
}

export type Throttle = ReturnType<typeof createThrottle>;
