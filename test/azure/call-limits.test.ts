import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type Simulator, type SimulatorOptions } from "../../sim/index.js";
import { createAzureGateway, type AzureGateway } from "../../src/azure/index.js";
import { withRunDeadline } from "../../src/azure/call-limits.js";
import type { CallLimits } from "../../src/azure/call-limits.js";
import { DeadlineExceededError, ThrottledError } from "../../src/azure/errors.js";
import { simulatorCredential } from "../../src/cli/simulate.js";
import { estate, SUB_A } from "../support/estate.js";

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function gateway(
  limits: Partial<CallLimits>,
  options: Omit<SimulatorOptions, "estate"> = {},
): Promise<AzureGateway> {
  sim = await startSimulator({ estate: estate([]), ...options });
  return createAzureGateway({
    credential: simulatorCredential,
    endpoint: sim.endpoint,
    tlsCa: sim.ca,
    pollIntervalMs: 5,
    retry: { retryDelayInMs: 5, maxRetryDelayInMs: 20 },
    limits,
  });
}

/** How long `work` took to settle, and how. */
async function timed(work: () => Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = Date.now();
  try {
    await work();
    return { ms: Date.now() - started, error: undefined };
  } catch (error) {
    return { ms: Date.now() - started, error };
  }
}

describe("every Azure call has a deadline", () => {
  it("gives up on a service that does not answer, after retrying attempts that timed out", async () => {
    const azure = await gateway({ attemptTimeoutMs: 100, callDeadlineMs: 600 }, { latencyMs: 2_000 });
    const { ms, error } = await timed(() => azure.security.getPricing(SUB_A, "Containers"));
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect((error as DeadlineExceededError).code).toBe("DeadlineExceeded");
    expect((error as DeadlineExceededError).scope).toBe("call");
    // More than one attempt went out before the call's deadline ended it.
    const attempts = sim?.requests.filter((r) => r.path.toLowerCase().endsWith("/pricings/containers"));
    expect(attempts?.length).toBeGreaterThan(1);
    expect(ms).toBeLessThan(1_500);
  });

  it("answers within the attempt timeout when the service is only slow, not hung", async () => {
    const azure = await gateway({ attemptTimeoutMs: 1_000, callDeadlineMs: 5_000 }, { latencyMs: 50 });
    const pricing = await azure.security.getPricing(SUB_A, "Containers");
    expect(pricing.properties.pricingTier).toBe("Free");
  });

  it("ends a call at the run's deadline, sooner than the call's own", async () => {
    const azure = await gateway({ attemptTimeoutMs: 10_000, callDeadlineMs: 10_000 }, { latencyMs: 2_000 });
    const { ms, error } = await timed(() =>
      withRunDeadline(Date.now() + 300, () => azure.security.getPricing(SUB_A, "Containers")),
    );
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect((error as DeadlineExceededError).scope).toBe("run");
    expect(ms).toBeLessThan(1_500);
  });

  it("does not start a call once the run's deadline has passed", async () => {
    const azure = await gateway({});
    const { error } = await timed(() =>
      withRunDeadline(Date.now() - 1, () => azure.security.getPricing(SUB_A, "Containers")),
    );
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect(sim?.requests.filter((r) => r.path.includes("pricings"))).toHaveLength(0);
  });

  it("does not wait out a Retry-After longer than the cap, and says how long Azure asked for", async () => {
    const azure = await gateway({ maxRetryAfterSeconds: 60 });
    sim?.injectFault({
      kind: "status",
      path: `/subscriptions/${SUB_A}/providers/Microsoft.Security/pricings/Containers`,
      status: 429,
      code: "TooManyRequests",
      retryAfterSeconds: 120,
    });
    const { ms, error } = await timed(() => azure.security.getPricing(SUB_A, "Containers"));
    expect(error).toBeInstanceOf(ThrottledError);
    expect((error as ThrottledError).retryAfterSeconds).toBe(120);
    expect((error as ThrottledError).code).toBe("TooManyRequests");
    expect(ms).toBeLessThan(2_000);
  });

  it("waits out a short Retry-After and succeeds", async () => {
    const azure = await gateway({ maxRetryAfterSeconds: 60 });
    sim?.injectFault({
      kind: "status",
      path: `/subscriptions/${SUB_A}/providers/Microsoft.Security/pricings/Containers`,
      status: 429,
      code: "TooManyRequests",
      retryAfterSeconds: 0,
    });
    const pricing = await azure.security.getPricing(SUB_A, "Containers");
    expect(pricing.properties.pricingTier).toBe("Free");
  });
});
