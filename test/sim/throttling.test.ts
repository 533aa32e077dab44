import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../sim/index.js";
import { createThrottle } from "../../sim/throttling.js";
import { armError, baseEstate, call, clusterId, SUB, SUB2 } from "../support/sim.js";

const CLUSTER_API = "api-version=2026-04-01";

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe("ARM's per-subscription throttling in the simulator", () => {
  it("is off by default: no rate headers, nothing refused", async () => {
    sim = await startSimulator({ estate: baseEstate() });
    const answers = [];
    for (let i = 0; i < 5; i += 1)
      answers.push(await call(sim, "GET", `${clusterId("aks1")}?${CLUSTER_API}`));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers[0]?.headers["x-ms-ratelimit-remaining-subscription-reads"]).toBeUndefined();
    expect(sim.throttledRequests).toBe(0);
  });

  it("answers 429 with Retry-After when a subscription's read bucket is empty, and says what is left", async () => {
    const estate = baseEstate();
    estate.subscriptions.push({ subscriptionId: SUB2 });
    sim = await startSimulator({ estate, throttling: { reads: { size: 2, refillPerSecond: 0.01 } } });
    const path = `${clusterId("aks1")}?${CLUSTER_API}`;
    const first = await call(sim, "GET", path);
    const second = await call(sim, "GET", path);
    const third = await call(sim, "GET", path);
    expect([first.status, second.status, third.status]).toEqual([200, 200, 429]);
    expect(first.headers["x-ms-ratelimit-remaining-subscription-reads"]).toBe("1");
    expect(second.headers["x-ms-ratelimit-remaining-subscription-reads"]).toBe("0");
    expect(third.headers["retry-after"]).toBe("100");
    expect(armError(third)).toMatchObject({
      code: "SubscriptionRequestsThrottled",
      message: expect.stringMatching(/^Number of 'read' requests for subscription '[^']+' actor/) as string,
    });
    // Another subscription has buckets of its own; writes are counted apart from reads.
    expect(
      (await call(sim, "GET", `/subscriptions/${SUB2}/resourcegroups/rg1?api-version=2021-04-01`)).status,
    ).toBe(200);
    const write = await call(
      sim,
      "PUT",
      `/subscriptions/${SUB}/providers/Microsoft.Security/pricings/Containers?api-version=2024-01-01`,
      {
        body: { properties: { pricingTier: "Standard" } },
      },
    );
    expect(write.status).toBe(200);
    expect(write.headers["x-ms-ratelimit-remaining-subscription-writes"]).toBe("199");
    expect(sim.throttledRequests).toBe(1);
    expect(sim.requests.map((r) => r.status)).toEqual([200, 200, 429, 200, 200]);
  });

  it("refills a bucket at its rate, as ARM documents it (250 reads, 25 a second)", () => {
    let now = 0;
    const throttle = createThrottle(
      {
        reads: { size: 250, refillPerSecond: 25 },
        writes: { size: 200, refillPerSecond: 10 },
        deletes: { size: 200, refillPerSecond: 10 },
      },
      () => now,
    );
    for (let i = 0; i < 250; i += 1) expect(throttle.charge(SUB, "GET").refusal).toBeUndefined();
    expect(throttle.charge(SUB, "GET").refusal?.headers["retry-after"]).toBe("1");
    now += 1000;
    for (let i = 0; i < 25; i += 1) expect(throttle.charge(SUB, "GET").refusal).toBeUndefined();
    expect(throttle.charge(SUB, "GET").refusal?.status).toBe(429);
    expect(throttle.charge(SUB, "DELETE").headers).toMatchObject({
      "x-ms-ratelimit-remaining-subscription-deletes": "199",
      "x-ms-ratelimit-remaining-subscription-global-deletes": "2999",
    });
  });
});
