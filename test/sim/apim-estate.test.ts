import { MetricsClient } from "@azure/monitor-query-metrics";
import { afterEach, describe, expect, it } from "vitest";
import {
  EstateError,
  parseEstate,
  startSimulator,
  type ArmResource,
  type Estate,
  type Simulator,
} from "../../sim/index.js";
import {
  apimApi,
  apimChild,
  apimService,
  call,
  collectionId,
  credential,
  fakeClock,
  serviceId,
  SUB,
} from "../support/sim.js";

const sims: Simulator[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

const dev = apimService("apim-dev", "Developer");
const orders = apimApi("apim-dev", "orders");
const customers = apimApi("apim-dev", "customers");
const gateway = apimChild("apim-dev", "gateways", "edge", {});
const link = apimApi("apim-dev", "orders", {}, { gateway: "edge" });
const workspace = apimChild("apim-dev", "workspaces", "team", {});
const workspaceApi = apimApi("apim-dev", "campaigns", {}, { workspace: "team" });
const onboarded: ArmResource = {
  id: collectionId("apim-dev", "customers"),
  name: "customers",
  type: "Microsoft.Security/apiCollections",
  properties: { provisioningState: "Succeeded", displayName: "Customers", discoveredVia: dev.id },
};

function estate(resources: ArmResource[], capacity?: Estate["capacity"]): Estate {
  return {
    subscriptions: [{ subscriptionId: SUB }],
    resources,
    ...(capacity === undefined ? {} : { capacity }),
  };
}

function parseError(resources: ArmResource[], capacity?: Estate["capacity"]): string {
  try {
    parseEstate(estate(resources, capacity), "estate.json");
  } catch (error) {
    if (error instanceof EstateError) return error.message;
    throw error;
  }
  throw new Error("parsed");
}

describe("API Management resources in the estate", () => {
  it("accepts services, APIs, gateways and their links, workspaces and their APIs, and collections", () => {
    const all = [dev, orders, customers, gateway, link, workspace, workspaceApi, onboarded];
    expect(parseEstate(estate(all, { [dev.id]: { base: 20, perApi: 1.5 } }), "e").resources).toEqual(all);
  });

  it("names what is wrong: tiers, API types, and parents that are missing", () => {
    expect(parseError([{ ...dev, sku: { name: "Gold", capacity: 1 } }])).toBe(
      'estate.json: resources[0].sku.name must be one of Developer, Basic, Standard, Premium, Consumption, BasicV2, StandardV2, PremiumV2, not "Gold"',
    );
    expect(parseError([{ ...dev, sku: undefined }])).toMatch(/resources\[0\]\.sku is missing/);
    expect(parseError([{ ...dev, sku: { name: "Premium", capacity: -1 } }])).toMatch(
      /resources\[0\]\.sku\.capacity must be a whole number of units/,
    );
    expect(parseError([{ ...dev, properties: { additionalLocations: [{ sku: {} }] } }])).toBe(
      "estate.json: resources[0].properties.additionalLocations[0].location is missing",
    );
    expect(parseError([dev, apimApi("apim-dev", "x", { type: "rest" })])).toBe(
      'estate.json: resources[1].properties.type must be one of http, soap, websocket, graphql, grpc, odata, not "rest"',
    );
    expect(parseError([dev, apimApi("apim-dev", "x", { type: "soap", apiType: "graphql" })])).toMatch(
      /resources\[1\]\.properties\.apiType "graphql" contradicts/,
    );
    expect(parseError([dev, apimApi("apim-dev", "x", { isCurrent: "yes" })])).toMatch(
      /isCurrent must be true or false/,
    );
    expect(parseError([orders])).toBe(
      `estate.json: resources[0].id needs its parent '${dev.id}' (Microsoft.ApiManagement/service) in resources, which does not list it`,
    );
    expect(parseError([dev, link])).toMatch(/resources\[1\]\.id needs its parent '.*\/gateways\/edge'/);
    expect(parseError([dev, gateway, link])).toBe(
      `estate.json: resources[2].id links API '${orders.id}', which is not in resources`,
    );
    expect(parseError([dev, workspaceApi])).toMatch(/needs its parent '.*\/workspaces\/team'/);
    expect(parseError([onboarded])).toMatch(/resources\[0\]\.id needs its parent '.*apim-dev'/);
    expect(parseError([dev], { [dev.id]: { base: 20, perApi: Number.NaN } })).toMatch(
      /capacity\[".*"\]\.perApi must be a number of percent/,
    );
  });

  it("round-trips collections: PUT-created ones export, deleted ones disappear, counts continue", async () => {
    const clock = fakeClock("2025-03-01T10:00:00Z");
    const input = estate([dev, orders, customers, onboarded], { [dev.id]: { base: 20, perApi: 5 } });
    const first = await startSimulator({ estate: input, clock: clock.now, lroPolls: 0 });
    sims.push(first);
    expect(first.exportEstate()).toEqual(parseEstate(input, "e"));

    const put = await call(first, "PUT", `${collectionId("apim-dev", "orders")}?api-version=2023-11-15`);
    const mid = first
      .exportEstate()
      .resources.find((r) => r.name === "orders" && r.type.includes("Security"));
    expect(mid?.properties).toEqual({ provisioningState: "InProgress" });
    const url = new URL(String(put.headers.location));
    await call(first, "GET", `${url.pathname}${url.search}`);
    await call(first, "DELETE", `${collectionId("apim-dev", "customers")}?api-version=2023-11-15`);
    const exported = first.exportEstate();
    expect(exported.resources.filter((r) => r.type === "Microsoft.Security/apiCollections")).toMatchObject([
      { id: collectionId("apim-dev", "orders"), properties: { provisioningState: "Succeeded" } },
    ]);
    expect(exported.capacity).toEqual(input.capacity);

    // A second simulator starts from the export: one onboarded API, 25 %.
    const second = await startSimulator({ estate: exported, clock: clock.now });
    sims.push(second);
    const metrics = new MetricsClient(second.endpoint, credential, { tlsOptions: { ca: second.ca } });
    const [result] = await metrics.queryResources(
      [serviceId("apim-dev")],
      ["Capacity"],
      "Microsoft.ApiManagement/service",
      {
        startTime: new Date(Date.parse("2025-03-01T09:58:00Z")),
        endTime: clock.now(),
      },
    );
    expect(result?.metrics[0]?.timeseries[0]?.data?.map((p) => p.average)).toEqual([25, 25]);
    const got = await call(second, "GET", `${collectionId("apim-dev", "orders")}?api-version=2023-11-15`);
    expect(got.json).toMatchObject({ properties: { provisioningState: "Succeeded", displayName: "Orders" } });
  });

  it("keeps serving every estate resource by a GET of its id", async () => {
    const site: ArmResource = {
      id: `/subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.Web/sites/shop`,
      name: "shop",
      type: "Microsoft.Web/sites",
      location: "westeurope",
    };
    const s = await startSimulator({ estate: estate([dev, gateway, workspace, site]) });
    sims.push(s);
    for (const resource of [dev, gateway, workspace]) {
      const got = await call(s, "GET", `${resource.id}?api-version=2022-08-01`);
      expect(got.status).toBe(200);
      expect(got.json).toEqual(resource);
    }
    expect((await call(s, "GET", `${site.id}?api-version=2099-01-01`)).json).toEqual(site);
  });
});
