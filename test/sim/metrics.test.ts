import { MetricsClient, type MetricsQueryResult } from "@azure/monitor-query-metrics";
import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type ArmResource, type Simulator, type SimulatorOptions } from "../../sim/index.js";
import {
  apimApi,
  apimService,
  armError,
  call,
  collectionId,
  credential,
  fakeClock,
  serviceId,
  SUB,
  type HttpAnswer,
} from "../support/sim.js";

const NAMESPACE = "Microsoft.ApiManagement/service";
const T0 = "2025-03-01T10:00:00Z";
const MINUTE = 60_000;
let sim: Simulator | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

const premium = apimService("apim-prod", "Premium", { additionalLocations: ["northeurope", "East US 2"] });
const standard = apimService("apim-std", "Standard", { location: "westeurope" });
const v2 = apimService("apim-v2", "StandardV2");
const consumption = apimService("apim-cons", "Consumption");
const apis: ArmResource[] = ["a", "b", "c"].flatMap((n) => [apimApi("apim-std", n), apimApi("apim-v2", n)]);

async function start(
  options: Partial<SimulatorOptions> = {},
): Promise<{ sim: Simulator; metrics: MetricsClient; clock: ReturnType<typeof fakeClock> }> {
  const clock = fakeClock(T0);
  sim = await startSimulator({
    estate: {
      subscriptions: [{ subscriptionId: SUB }],
      resources: [premium, standard, v2, consumption, ...apis],
      capacity: {
        [premium.id]: { base: 40, perApi: 2 },
        [standard.id]: { base: 20, perApi: 5 },
        [v2.id.toUpperCase()]: { base: 30, perApi: 10 },
      },
    },
    clock: clock.now,
    lroPolls: 0,
    ...options,
  });
  const metrics = new MetricsClient(sim.endpoint, credential, {
    tlsOptions: { ca: sim.ca },
    retryOptions: { maxRetries: 0 },
  });
  return { sim, metrics, clock };
}

/** The last `minutes` minutes before the clock's time. */
function window(clock: ReturnType<typeof fakeClock>, minutes = 15): { startTime: Date; endTime: Date } {
  const endTime = clock.now();
  return { startTime: new Date(endTime.getTime() - minutes * MINUTE), endTime };
}

function series(result: MetricsQueryResult | undefined, metric: string) {
  const found = result?.metrics.find((m) => m.name === metric);
  if (found === undefined) throw new Error(`no metric ${metric}`);
  return found.timeseries;
}

async function onboard(s: Simulator, service: string, api: string): Promise<void> {
  const put = await call(s, "PUT", `${collectionId(service, api)}?api-version=2023-11-15`);
  const url = new URL(String(put.headers.location));
  const done = await call(s, "GET", `${url.pathname}${url.search}`);
  expect(done.status).toBe(200);
}

describe("Azure Monitor metrics batch through the real MetricsClient", () => {
  it("reports Capacity per region with the Location display names; Maximum is 0 below Premium", async () => {
    const { metrics, clock } = await start();
    const results = await metrics.queryResources([premium.id, standard.id], ["Capacity"], NAMESPACE, {
      aggregation: "Average,Maximum",
      interval: "PT1M",
      filter: "Location eq '*'",
      ...window(clock),
    });
    expect(results.map((r) => r.resourceId)).toEqual([premium.id, standard.id]);
    expect(results[0]).toMatchObject({
      granularity: "PT1M",
      namespace: "microsoft.apimanagement/service",
      resourceRegion: "westeurope",
    });

    const prem = series(results[0], "Capacity");
    expect(prem.map((t) => t.metadatavalues?.map((m) => [m.name, m.value]))).toEqual([
      [["location", "West Europe"]],
      [["location", "North Europe"]],
      [["location", "East US 2"]],
    ]);
    for (const element of prem) {
      expect(element.data).toHaveLength(15);
      expect(element.data?.[0]?.timeStamp).toEqual(new Date(Date.parse(T0) - 15 * MINUTE));
      for (const point of element.data ?? []) expect(point).toMatchObject({ average: 40, maximum: 40 });
      expect(element.data?.[0]?.minimum).toBeUndefined();
    }
    const std = series(results[1], "Capacity");
    expect(std).toHaveLength(1);
    expect(std[0]?.metadatavalues?.[0]?.value).toBe("West Europe");
    for (const point of std[0]?.data ?? []) expect(point).toMatchObject({ average: 20, maximum: 0 });

    // Without the Location split: one series without metadata; the default aggregation is Average.
    const [whole] = await metrics.queryResources([premium.id], ["Capacity"], NAMESPACE, {
      interval: "PT5M",
      ...window(clock),
    });
    const single = series(whole, "Capacity");
    expect(single).toHaveLength(1);
    expect(single[0]?.metadatavalues).toEqual([]);
    expect(single[0]?.data?.map((p) => p.average)).toEqual([40, 40, 40]);
    expect(single[0]?.data?.[0]?.maximum).toBeUndefined();
  });

  it("serves v2 tiers gateway CPU and memory, no Capacity, and nothing on Consumption", async () => {
    const { metrics, clock } = await start();
    const [result] = await metrics.queryResources(
      [v2.id],
      ["CpuPercent_Gateway", "MemoryPercent_Gateway", "Capacity"],
      NAMESPACE,
      { aggregation: "Average,Maximum,Minimum,Total,Count", interval: "PT1M", ...window(clock, 3) },
    );
    expect(series(result, "CpuPercent_Gateway")[0]?.data?.[0]).toMatchObject({
      average: 30,
      maximum: 30,
      minimum: 30,
      total: 30,
      count: 1,
    });
    expect(series(result, "MemoryPercent_Gateway")[0]?.data?.[0]?.average).toBeCloseTo(24);
    expect(series(result, "Capacity")).toEqual([]);

    const [classic] = await metrics.queryResources(
      [standard.id],
      ["CpuPercent_Gateway"],
      NAMESPACE,
      window(clock),
    );
    expect(series(classic, "CpuPercent_Gateway")).toEqual([]);
    const [cons] = await metrics.queryResources(
      [consumption.id],
      ["Capacity", "CpuPercent_Gateway"],
      NAMESPACE,
      window(clock),
    );
    expect(cons?.metrics.map((m) => [m.name, m.timeseries.length])).toEqual([
      ["Capacity", 0],
      ["CpuPercent_Gateway", 0],
    ]);
  });

  it("rises after onboarding, only once the configured lag has passed on the simulator's clock", async () => {
    const { sim: s, metrics, clock } = await start({ metricsLagMinutes: 5 });
    const read = async (): Promise<(number | undefined)[]> => {
      const [result] = await metrics.queryResources([standard.id], ["Capacity"], NAMESPACE, {
        aggregation: "Average",
        interval: "PT1M",
        ...window(clock, 10),
      });
      return series(result, "Capacity")[0]?.data?.map((p) => p.average) ?? [];
    };
    clock.advance(30_000); // 10:00:30
    await onboard(s, "apim-std", "a");
    await onboard(s, "apim-std", "b");
    // Windows start mid-minute: the first point is the minute the window starts in.
    expect(await read()).toEqual(new Array<number>(11).fill(20));
    clock.set("2025-03-01T10:06:00Z"); // minute 10:05 reflects 10:00:00, before the change
    expect(await read()).toEqual(new Array<number>(10).fill(20));
    clock.set("2025-03-01T10:06:30Z"); // minute 10:06 reflects 10:01:00, after it
    expect(await read()).toEqual([20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 30]);
    await call(s, "DELETE", `${collectionId("apim-std", "a")}?api-version=2023-11-15`);
    clock.set("2025-03-01T10:15:30Z");
    // 10:05 reflects 10:00 (none); 10:06–10:11 reflect 10:01–10:06 (two); 10:12– reflect the DELETE at 10:06:30
    expect(await read()).toEqual([20, 30, 30, 30, 30, 30, 30, 25, 25, 25, 25]);

    // The window may reach past the clock: those minutes have timestamps but no values yet.
    const [ahead] = await metrics.queryResources([standard.id], ["Capacity"], NAMESPACE, {
      startTime: new Date(Date.parse("2025-03-01T10:14:00Z")),
      endTime: new Date(Date.parse("2025-03-01T10:18:00Z")),
    });
    expect(series(ahead, "Capacity")[0]?.data?.map((p) => p.average)).toEqual([25, 25, undefined, undefined]);
  });

  it("adds bounded noise, the same for the same seed and minute", async () => {
    const readAll = async (seed: number): Promise<number[]> => {
      const { metrics, clock } = await start({ metricsNoise: 3, metricsSeed: seed });
      const [result] = await metrics.queryResources([premium.id], ["Capacity"], NAMESPACE, {
        filter: "Location eq '*'",
        ...window(clock, 60),
      });
      await sim?.close();
      return series(result, "Capacity").flatMap((t) => t.data?.map((p) => p.average ?? Number.NaN) ?? []);
    };
    const first = await readAll(7);
    expect(first).toHaveLength(180);
    for (const value of first) {
      expect(value).toBeGreaterThanOrEqual(37);
      expect(value).toBeLessThanOrEqual(43);
    }
    expect(new Set(first).size).toBeGreaterThan(100);
    expect(Math.max(...first) - Math.min(...first)).toBeGreaterThan(4);
    expect(await readAll(7)).toEqual(first);
    expect(await readAll(8)).not.toEqual(first);
  });

  it("answers bad parameters with 400 and the metrics error shape", async () => {
    const { sim: s, metrics, clock } = await start();
    const path = (query: string): string =>
      `/subscriptions/${SUB}/metrics:getBatch?api-version=2024-02-01&metricnamespace=${encodeURIComponent(NAMESPACE)}&${query}`;
    const body = { resourceids: [standard.id] };
    const cases: [string, unknown, RegExp][] = [
      ["metricnames=Foo", body, /Failed to find metric configuration .* metric: Foo/],
      ["metricnames=Capacity&interval=PT2M", body, /Invalid time grain/],
      ["metricnames=Capacity&aggregation=median", body, /Invalid aggregation 'median'/],
      ["metricnames=Capacity&starttime=yesterday&endtime=2025-03-01T10:00:00Z", body, /starttime/],
      ["metricnames=Capacity&endtime=2025-03-01T10:00:00Z", body, /'starttime' is required/],
      ["metricnames=Capacity&starttime=2025-03-01T10:00:00Z&endtime=2025-03-01T09:00:00Z", body, /before/],
      ["metricnames=Capacity&filter=ApiId eq 'x'", body, /dimension 'ApiId'/],
      ["metricnames=Capacity", { resourceids: [] }, /resourceids/],
      ["metricnames=Capacity", { resourceids: [serviceId("nope")] }, /was not found/],
      ["", body, /'metricnames' is required/],
    ];
    for (const [query, payload, message] of cases) {
      const answer: HttpAnswer = await call(s, "POST", path(query), { body: payload });
      expect(answer.status, query).toBe(400);
      expect(armError(answer).code).toBe("BadRequest");
      expect(armError(answer).message).toMatch(message);
    }
    await expect(
      metrics.queryResources([standard.id], ["Capacity"], "Microsoft.Storage/storageAccounts", window(clock)),
    ).rejects.toMatchObject({ statusCode: 400, code: "BadRequest" });
  });
});
