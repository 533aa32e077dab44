import { MetricsClient } from "@azure/monitor-query-metrics";
import { request } from "node:https";
import { afterEach, describe, expect, it } from "vitest";
import {
  EstateError,
  parseEstate,
  startSimulator,
  type Estate,
  type EstateFault,
  type Simulator,
} from "../../sim/index.js";
import {
  apimApi,
  apimService,
  armError,
  baseEstate,
  call,
  clusterId,
  collectionId,
  credential,
  SUB,
  type HttpAnswer,
} from "../support/sim.js";

const CLUSTER_API = "api-version=2026-04-01";
const SUBSCRIPTIONS = "/subscriptions?api-version=2022-12-01";
const MINUTE = 60_000;
const sims: Simulator[] = [];

afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function start(estate: Estate, options: { advanceMs?: number; lroPolls?: number } = {}) {
  const sim = await startSimulator({ estate, ...options });
  sims.push(sim);
  return sim;
}

function parseError(json: unknown): string {
  try {
    parseEstate(json, "estate.json");
  } catch (error) {
    expect(error).toBeInstanceOf(EstateError);
    return (error as Error).message;
  }
  throw new Error("parseEstate accepted it");
}

/** A raw GET that gives up (destroys its request) after `timeoutMs` without an answer. */
function getWithTimeout(sim: Simulator, path: string, timeoutMs?: number): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, sim.endpoint),
      {
        ca: sim.ca,
        agent: false,
        headers: { authorization: "Bearer sim" },
        ...(timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) }),
      },
      (res) => {
        res.resume();
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: "", json: undefined });
        });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("the estate's clock (`now`)", () => {
  it("starts the clock at the estate's now, runs it at real speed, and saves it as it is at export", async () => {
    const sim = await start({ ...baseEstate(), now: "2026-03-01T09:00:00Z" });
    const start_ = Date.parse("2026-03-01T09:00:00Z");
    const first = sim.now().getTime();
    expect(first).toBeGreaterThanOrEqual(start_);
    expect(first).toBeLessThan(start_ + 5_000);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(sim.now().getTime()).toBeGreaterThanOrEqual(first + 25);

    // The operation it starts is stamped with that clock.
    const current = (await call(sim, "GET", `${clusterId("aks1")}?${CLUSTER_API}`)).json;
    const put = await call(sim, "PUT", `${clusterId("aks1")}?${CLUSTER_API}`, { body: current });
    const status = await call(sim, "GET", String(put.headers["azure-asyncoperation"]));
    expect(Date.parse((status.json as { startTime: string }).startTime)).toBeGreaterThanOrEqual(start_);
    expect(Date.parse((status.json as { startTime: string }).startTime)).toBeLessThan(start_ + 5_000);

    const saved = sim.exportEstate().now ?? "";
    expect(saved).toMatch(/^2026-03-01T09:00:\d\d\.\d{3}Z$/);
    expect(Date.parse(saved)).toBeGreaterThanOrEqual(first);
  });

  it("moves the clock forward by advanceMs, from the estate's now or from real time", async () => {
    const advanced = await start(
      { ...baseEstate(), now: "2026-03-01T09:00:00+01:00" },
      { advanceMs: 10 * MINUTE },
    );
    const expected = Date.parse("2026-03-01T08:10:00Z");
    expect(advanced.now().getTime()).toBeGreaterThanOrEqual(expected);
    expect(advanced.now().getTime()).toBeLessThan(expected + 5_000);

    const realNow = Date.now();
    const fromReal = await start(baseEstate(), { advanceMs: 24 * 60 * MINUTE });
    expect(fromReal.now().getTime()).toBeGreaterThanOrEqual(realNow + 24 * 60 * MINUTE);
    // Its own clock now: the saved estate carries it.
    expect(Date.parse(fromReal.exportEstate().now ?? "")).toBeGreaterThanOrEqual(realNow + 24 * 60 * MINUTE);

    // Real time, not advanced: nothing to carry.
    const real = await start(baseEstate());
    expect(real.exportEstate().now).toBeUndefined();
    await expect(startSimulator({ estate: baseEstate(), advanceMs: -1 })).rejects.toThrow(RangeError);
  });

  it("serves metrics up to the moved clock, and none past it", async () => {
    const service = apimService("apim1", "Developer");
    const sim = await start(
      {
        subscriptions: [{ subscriptionId: SUB }],
        resources: [service, apimApi("apim1", "orders")],
        capacity: { [service.id]: { base: 20, perApi: 5 } },
        now: "2026-03-01T09:00:00Z",
      },
      { advanceMs: 60 * MINUTE },
    );
    const metrics = new MetricsClient(sim.endpoint, credential, {
      tlsOptions: { ca: sim.ca },
      retryOptions: { maxRetries: 0 },
    });
    const [result] = await metrics.queryResources(
      [service.id],
      ["Capacity"],
      "Microsoft.ApiManagement/service",
      {
        aggregation: "Average",
        interval: "PT1M",
        startTime: new Date("2026-03-01T09:57:00Z"),
        endTime: new Date("2026-03-01T10:03:00Z"),
      },
    );
    const points = result?.metrics[0]?.timeseries[0]?.data?.map((p) => p.average);
    // 09:57 to 10:00 have happened on the moved clock (10:00:0x); 10:01 and later have not.
    expect(points).toEqual([20, 20, 20, 20, undefined, undefined]);
  });
});

describe("faults from the estate", () => {
  const putPlan = `/subscriptions/${SUB}/providers/Microsoft.Security/pricings/Containers`;

  it("injects them at start, and exports those not used up with their remaining times", async () => {
    const faults: EstateFault[] = [
      // The whole path, compared without regard to case.
      { kind: "status", path: clusterId("AKS1"), status: 429, code: "TooManyRequests", retryAfterSeconds: 2 },
      {
        kind: "status",
        method: "put",
        pathRegex: "/pricings/containers$",
        status: 409,
        code: "Conflict",
        times: 3,
      },
      { kind: "drop-connection", method: "DELETE", pathRegex: "^/subscriptions/" },
    ];
    const estate: Estate = { ...baseEstate(), faults };
    const sim = await start(estate);
    // An untouched estate's faults export as they were loaded, field for field and in order.
    expect(JSON.stringify(sim.exportEstate().faults)).toBe(JSON.stringify(faults));

    const throttled = await call(sim, "GET", `${clusterId("aks1")}?${CLUSTER_API}`);
    expect(throttled.status).toBe(429);
    expect(throttled.headers["retry-after"]).toBe("2");
    expect((await call(sim, "GET", `${clusterId("aks1")}?${CLUSTER_API}`)).status).toBe(200);

    const body = { properties: { pricingTier: "Standard" } };
    const conflict = await call(sim, "PUT", `${putPlan}?api-version=2024-01-01`, { body });
    expect(armError(conflict).code).toBe("Conflict");
    // A GET of the plan is not a PUT.
    expect((await call(sim, "GET", `${putPlan}?api-version=2024-01-01`)).status).toBe(200);
    expect(sim.requests.map((r) => r.fault)).toEqual(["status", undefined, "status", undefined]);

    expect(sim.exportEstate().faults).toEqual([
      {
        kind: "status",
        method: "put",
        pathRegex: "/pricings/containers$",
        status: 409,
        code: "Conflict",
        times: 2,
      },
      { kind: "drop-connection", method: "DELETE", pathRegex: "^/subscriptions/" },
    ]);
    // A simulator started from the export continues with them.
    const next = await start(sim.exportEstate());
    expect((await call(next, "PUT", `${putPlan}?api-version=2024-01-01`, { body })).status).toBe(409);
    expect((await call(next, "PUT", `${putPlan}?api-version=2024-01-01`, { body })).status).toBe(409);
    expect((await call(next, "PUT", `${putPlan}?api-version=2024-01-01`, { body })).status).toBe(200);
    expect(next.exportEstate().faults).toEqual([faults[2]]);
  });

  it("tests pathRegex case-insensitively, matching anywhere unless anchored", async () => {
    const sim = await start({
      ...baseEstate(),
      faults: [
        { kind: "status", pathRegex: "^/SUBSCRIPTIONS$", status: 503, code: "ServiceUnavailable" },
        { kind: "status", pathRegex: "MANAGEDCLUSTERS/aks", status: 500, code: "InternalServerError" },
      ],
    });
    // Not the whole path: the anchored one does not match, the other does (anywhere in it).
    const cluster = await call(sim, "GET", `${clusterId("aks1")}?${CLUSTER_API}`);
    expect(armError(cluster).code).toBe("InternalServerError");
    expect(armError(await call(sim, "GET", SUBSCRIPTIONS)).code).toBe("ServiceUnavailable");
    expect(sim.exportEstate().faults).toEqual([]);
  });

  it("exports a fault injected with a RegExp path as pathRegex, and an estate without faults without any", async () => {
    const sim = await start(baseEstate());
    expect(sim.exportEstate().faults).toBeUndefined();
    sim.injectFault({ kind: "hang", path: /\/managedClusters\//, times: 2 });
    expect(sim.exportEstate().faults).toEqual([
      { kind: "hang", pathRegex: "\\/managedClusters\\/", times: 2 },
    ]);
    expect(() => {
      sim.injectFault({ kind: "hang", pathRegex: "(" });
    }).toThrow(/fault pathRegex '\(' is not a valid regular expression/);
    expect(() => {
      sim.injectFault({ kind: "hang", path: "/x", pathRegex: "x" });
    }).toThrow(RangeError);
    expect(() => {
      sim.injectFault({ kind: "hang" });
    }).toThrow(/needs a path/);
  });

  it("names the field and index of a fault the estate gets wrong", () => {
    const sub = { subscriptionId: SUB };
    const withFaults = (faults: unknown): unknown => ({ subscriptions: [sub], faults });
    const target = { path: "/subscriptions" };
    expect(parseError(withFaults({}))).toBe("estate.json: faults must be an array, not an object");
    expect(
      parseError(withFaults([{ ...target, kind: "status", status: 500, code: "X" }, { ...target }])),
    ).toBe("estate.json: faults[1].kind is missing");
    expect(parseError(withFaults([{ ...target, kind: "timeout" }]))).toBe(
      'estate.json: faults[0].kind must be one of status, drop-connection, lro-failed, lro-stuck, hang, not "timeout"',
    );
    expect(parseError(withFaults([{ ...target, kind: "hang", status: 500 }]))).toBe(
      'estate.json: faults[0].status is not a field of a "hang" fault (expected one of: kind, method, path, pathRegex, times)',
    );
    expect(parseError(withFaults([{ kind: "hang" }]))).toBe(
      "estate.json: faults[0] needs path (the whole path) or pathRegex (a regular expression)",
    );
    expect(parseError(withFaults([{ kind: "hang", path: "/a", pathRegex: "a" }]))).toBe(
      "estate.json: faults[0] has both path and pathRegex: give one",
    );
    expect(parseError(withFaults([{ kind: "hang", path: "subscriptions" }]))).toBe(
      'estate.json: faults[0].path must start with "/", not "subscriptions"',
    );
    expect(parseError(withFaults([{ kind: "hang", pathRegex: "managedClusters/(" }]))).toMatch(
      /^estate\.json: faults\[0\]\.pathRegex is not a valid JavaScript regular expression \(.+\)$/,
    );
    expect(parseError(withFaults([{ ...target, kind: "hang", times: 0 }]))).toBe(
      "estate.json: faults[0].times must be a whole number, 1 or more, not the number 0",
    );
    expect(parseError(withFaults([{ ...target, kind: "hang", method: "FETCH" }]))).toBe(
      'estate.json: faults[0].method must be one of GET, PUT, PATCH, POST, DELETE, not "FETCH"',
    );
    expect(parseError(withFaults([{ ...target, kind: "status", status: 200, code: "OK" }]))).toBe(
      "estate.json: faults[0].status must be an HTTP error status from 400 to 599, not the number 200",
    );
    expect(parseError(withFaults([{ ...target, kind: "status", status: 429 }]))).toBe(
      "estate.json: faults[0].code is missing",
    );
    expect(
      parseError(withFaults([{ ...target, kind: "status", status: 429, code: "T", retryAfterSeconds: "5" }])),
    ).toBe(
      'estate.json: faults[0].retryAfterSeconds must be a number of seconds, 0 or more, not the string "5"',
    );
    expect(parseError(withFaults([{ ...target, kind: "lro-failed", message: 5 }]))).toBe(
      "estate.json: faults[0].message must be a string, not the number 5",
    );
  });

  it("refuses a now that is not an ISO 8601 date-time with a zone", () => {
    const sub = { subscriptionId: SUB };
    for (const now of ["2026-03-01T09:00:00", "yesterday", "2026-13-01T09:00:00Z", 1767225600000]) {
      expect(parseError({ subscriptions: [sub], now })).toMatch(
        /^estate\.json: now must be an ISO 8601 date-time with a zone, such as "2026-03-01T09:00:00Z", not /,
      );
    }
    expect(parseEstate({ subscriptions: [sub], now: "2026-03-01T09:00:00.250+02:00" }, "e").now).toBe(
      "2026-03-01T09:00:00.250+02:00",
    );
  });
});

describe("hang", () => {
  it("holds the request unanswered until the client's deadline passes, then answers the next one", async () => {
    const sim = await start({
      ...baseEstate(),
      faults: [{ kind: "hang", path: clusterId("aks1") }],
    });
    const started = performance.now();
    await expect(getWithTimeout(sim, `${clusterId("aks1")}?${CLUSTER_API}`, 150)).rejects.toMatchObject({
      name: expect.stringMatching(/AbortError|TimeoutError/) as unknown,
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect(sim.requests[0]).toMatchObject({ status: 0, fault: "hang" });
    expect(sim.exportEstate().faults).toEqual([]);
    expect((await getWithTimeout(sim, `${clusterId("aks1")}?${CLUSTER_API}`, 5_000)).status).toBe(200);
  });

  it("lets close() end requests it holds, leaving no socket open", async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r.includes("TCP")).length;
    const sim = await startSimulator({
      estate: { ...baseEstate(), faults: [{ kind: "hang", pathRegex: "^/subscriptions$", times: 2 }] },
    });
    // Clients without a deadline: only the simulator's close ends them.
    const held = [getWithTimeout(sim, SUBSCRIPTIONS), getWithTimeout(sim, SUBSCRIPTIONS)];
    const outcomes = Promise.allSettled(held);
    while (sim.requests.filter((r) => r.fault === "hang").length < 2) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await sim.close();
    for (const outcome of await outcomes) {
      expect(outcome).toMatchObject({ status: "rejected", reason: { code: "ECONNRESET" } });
    }
    // Sockets are released a few ticks after they are destroyed; nothing may stay open.
    const tcp = (): number => process.getActiveResourcesInfo().filter((r) => r.includes("TCP")).length;
    for (let i = 0; i < 200 && tcp() > before; i += 1)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(tcp()).toBeLessThanOrEqual(before);
  });
});

describe("lro-stuck", () => {
  it("keeps a cluster's operation InProgress and the cluster Updating, refusing the next PUT", async () => {
    const sim = await start(
      { ...baseEstate(), faults: [{ kind: "lro-stuck", method: "PUT", path: clusterId("aks1") }] },
      { lroPolls: 0 },
    );
    const path = `${clusterId("aks1")}?${CLUSTER_API}`;
    const current = (await call(sim, "GET", path)).json;
    const put = await call(sim, "PUT", path, { body: current });
    expect(put.status).toBe(200);
    expect(sim.requests.at(-1)?.fault).toBe("lro-stuck");
    for (let i = 0; i < 5; i += 1) {
      const poll = await call(sim, "GET", String(put.headers["azure-asyncoperation"]));
      expect(poll.json).toMatchObject({ status: "InProgress" });
      expect((await call(sim, "GET", String(put.headers.location))).status).toBe(202);
    }
    const again = await call(sim, "PUT", path, { body: current });
    expect(again.status).toBe(409);
    expect(armError(again).code).toBe("OperationNotAllowed");
    const saved = sim.exportEstate();
    expect(saved.resources[0]?.properties).toMatchObject({ provisioningState: "Updating" });
    expect(saved.faults).toEqual([]);
  });

  it("keeps an API collection's onboarding answering 202 on every poll", async () => {
    const service = apimService("apim1", "Developer");
    const sim = await start(
      {
        subscriptions: [{ subscriptionId: SUB }],
        resources: [service, apimApi("apim1", "orders")],
        faults: [{ kind: "lro-stuck", pathRegex: "/apiCollections/orders$" }],
      },
      { lroPolls: 0 },
    );
    const put = await call(sim, "PUT", `${collectionId("apim1", "orders")}?api-version=2023-11-15`);
    expect(put.status).toBe(202);
    const poll = new URL(String(put.headers.location));
    for (let i = 0; i < 3; i += 1) {
      expect((await call(sim, "GET", `${poll.pathname}${poll.search}`)).status).toBe(202);
    }
    const collection = await call(sim, "GET", `${collectionId("apim1", "orders")}?api-version=2023-11-15`);
    expect(collection.json).toMatchObject({ properties: { provisioningState: "InProgress" } });
  });
});
