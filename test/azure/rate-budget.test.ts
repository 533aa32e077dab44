import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../sim/index.js";
import { withRunDeadline } from "../../src/azure/call-limits.js";
import { ThrottledError } from "../../src/azure/errors.js";
import { createAzureGateway, type AzureGateway } from "../../src/azure/index.js";
import { simulatorCredential } from "../../src/cli/simulate.js";
import { call } from "../support/sim.js";
import { estate, SUB_A } from "../support/estate.js";

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

/** The simulator with ARM's documented throttling, and the gateway every trigger uses. */
async function throttledWorld(): Promise<{ sim: Simulator; azure: AzureGateway }> {
  sim = await startSimulator({ estate: estate([]), throttling: true });
  const azure = createAzureGateway({
    credential: simulatorCredential,
    endpoint: sim.endpoint,
    tlsCa: sim.ca,
  });
  return { sim, azure };
}

const pricingReads = (s: Simulator) =>
  s.requests.filter((r) => r.method === "GET" && /\/pricings\//i.test(r.path));

describe("ARM's rate budget, spent by every ARM client of a worker", () => {
  it("a burst past a subscription's read bucket slows down to ARM's refill rate and is never throttled", async () => {
    const { sim, azure } = await throttledWorld();
    const started = performance.now();
    await Promise.all(Array.from({ length: 300 }, () => azure.security.getPricing(SUB_A, "Containers")));
    const seconds = (performance.now() - started) / 1000;
    expect(pricingReads(sim)).toHaveLength(300);
    expect(sim.throttledRequests).toBe(0);
    // 250 at once, then 25 a second: the last 50 took about two seconds.
    expect(seconds).toBeGreaterThan(1.5);
  });

  it("learns from ARM's answers what others spent of the same bucket", async () => {
    const { sim, azure } = await throttledWorld();
    // Another worker of the same identity has spent nearly all of the subscription's reads.
    for (let i = 0; i < 245; i += 1) {
      await call(
        sim,
        "GET",
        `/subscriptions/${SUB_A}/providers/Microsoft.Security/pricings/Api?api-version=2024-01-01`,
      );
    }
    await azure.security.getPricing(SUB_A, "Containers");
    await Promise.all(Array.from({ length: 30 }, () => azure.security.getPricing(SUB_A, "Containers")));
    expect(sim.throttledRequests).toBe(0);
    expect(pricingReads(sim)).toHaveLength(276);
  });

  it("does not send a request whose token is further away than the run has left: the check is deferred", async () => {
    const { sim, azure } = await throttledWorld();
    const burst = Promise.all(
      Array.from({ length: 320 }, () => azure.security.getPricing(SUB_A, "Containers")),
    );
    const error = await withRunDeadline(Date.now() + 500, () => azure.security.getPricing(SUB_A, "Api")).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ThrottledError);
    expect((error as ThrottledError).code).toBe("ArmRateBudgetSpent");
    expect((error as ThrottledError).retryAfterSeconds).toBeGreaterThanOrEqual(2);
    await burst;
    expect(sim.requests.some((r) => /\/pricings\/Api$/i.test(r.path))).toBe(false);
    expect(sim.throttledRequests).toBe(0);
  });
});
