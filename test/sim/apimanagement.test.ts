import { ApiManagementClient, type ApiContract } from "@azure/arm-apimanagement";
import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type ArmResource, type Estate, type Simulator } from "../../sim/index.js";
import {
  APIM_RG,
  apimApi,
  apimChild,
  apimService,
  armError,
  call,
  credential,
  sdkOptions,
  serviceId,
  SUB,
} from "../support/sim.js";

const API = "api-version=2024-05-01";
let sim: Simulator | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(resources: ArmResource[], pageSize?: number): Promise<ApiManagementClient> {
  const estate: Estate = { subscriptions: [{ subscriptionId: SUB }], resources };
  sim = await startSimulator({ estate, ...(pageSize === undefined ? {} : { pageSize }) });
  return new ApiManagementClient(credential, SUB, sdkOptions(sim));
}

function running(): Simulator {
  if (sim === undefined) throw new Error("no simulator");
  return sim;
}

async function all<T>(pages: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of pages) items.push(item);
  return items;
}

const premium = apimService("apim-prod", "Premium", { additionalLocations: ["North Europe"], capacity: 2 });
const developer = apimService("apim-dev", "Developer");
const otherGroup: ArmResource = {
  ...apimService("apim-other", "StandardV2"),
  id: serviceId("apim-other", "rg-other"),
};

describe("API Management through the real ApiManagementClient (2024-05-01)", () => {
  it("lists services by subscription and resource group, and gets one as stored", async () => {
    const apim = await start([premium, developer, otherGroup]);
    const services = await all(apim.apiManagementService.list());
    expect(services.map((s) => s.name)).toEqual(["apim-prod", "apim-dev", "apim-other"]);
    expect(services[0]).toMatchObject({
      id: premium.id,
      location: "West Europe",
      sku: { name: "Premium", capacity: 2 },
      provisioningState: "Succeeded",
      additionalLocations: [{ location: "North Europe", sku: { name: "Premium", capacity: 1 } }],
    });
    const inGroup = await all(apim.apiManagementService.listByResourceGroup(APIM_RG));
    expect(inGroup.map((s) => s.name)).toEqual(["apim-prod", "apim-dev"]);
    const got = await apim.apiManagementService.get(APIM_RG, "APIM-DEV");
    expect(got).toMatchObject({
      id: developer.id,
      sku: { name: "Developer", capacity: 1 },
      etag: "AAAAAAAWN/4=",
    });
    await expect(apim.apiManagementService.get(APIM_RG, "nope")).rejects.toMatchObject({
      statusCode: 404,
      code: "ResourceNotFound",
    });
  });

  it("lists 120 APIs across pages of 50 with APIM's $skip nextLinks and count", async () => {
    const apis = Array.from({ length: 120 }, (_, i) =>
      apimApi("apim-prod", `api-${String(i).padStart(3, "0")}`),
    );
    const apim = await start([premium, ...apis], 50);
    const listed = await all(apim.api.listByService(APIM_RG, "apim-prod"));
    expect(listed.map((a) => a.name)).toEqual(apis.map((a) => a.name));
    expect(listed[7]).toMatchObject({
      displayName: "Api-007",
      path: "api-007",
      isCurrent: true,
      apiRevision: "1",
    });
    expect(listed[7]?.apiType).toBeUndefined();
    const calls = sim?.requests.filter((r) => r.path.endsWith("/apis")) ?? [];
    expect(calls.map((r) => r.query.$skip)).toEqual([undefined, "50", "100"]);

    const first = await call(running(), "GET", `${premium.id}/apis?${API}&$top=10&$skip=5`);
    const body = first.json as { value: { name: string }[]; count: number; nextLink: string };
    expect(body.value.map((a) => a.name)).toEqual(apis.slice(5, 15).map((a) => a.name));
    expect(body.count).toBe(120);
    const next = new URL(body.nextLink);
    expect(next.origin).toBe(sim?.endpoint);
    expect(Object.fromEntries(next.searchParams)).toEqual({
      "api-version": "2024-05-01",
      $top: "10",
      $skip: "15",
    });
    const last = await call(running(), "GET", `${premium.id}/apis?${API}&$skip=110`);
    expect((last.json as { value: unknown[]; nextLink?: string }).value).toHaveLength(10);
    expect((last.json as { nextLink?: string }).nextLink).toBeUndefined();

    const bad = await call(running(), "GET", `${premium.id}/apis?${API}&$top=0`);
    expect(bad.status).toBe(400);
    expect(armError(bad).code).toBe("ValidationError");
    const filter = await call(running(), "GET", `${premium.id}/apis?${API}&$filter=name eq 'x'`);
    expect(filter.status).toBe(400);
  });

  it("serves API types as ARM spells them (properties.type; none for REST) and revisions as stored", async () => {
    const soap = apimApi("apim-dev", "billing", { type: "soap" });
    const graph = apimApi("apim-dev", "catalog", { apiType: "graphql" });
    const rest = apimApi("apim-dev", "orders");
    const revision = apimApi("apim-dev", "orders;rev=2", { apiRevision: "2", isCurrent: false });
    const apim = await start([developer, rest, soap, graph, revision]);
    const listed = await all(apim.api.listByService(APIM_RG, "apim-dev"));
    const byName = new Map<string, ApiContract>(listed.map((a) => [a.name ?? "", a]));
    expect(byName.get("orders")?.apiType).toBeUndefined();
    expect(byName.get("billing")?.apiType).toBe("soap");
    // Only the create-time spelling in the estate: served with ARM's `type` too, so the SDK sees it.
    expect(byName.get("catalog")?.apiType).toBe("graphql");
    expect(byName.get("orders;rev=2")).toMatchObject({ isCurrent: false, apiRevision: "2" });

    const one = await apim.api.get(APIM_RG, "apim-dev", "orders;rev=2");
    expect(one.id).toBe(revision.id);
    expect((await apim.api.get(APIM_RG, "apim-dev", "billing")).apiType).toBe("soap");
    await expect(apim.api.get(APIM_RG, "apim-dev", "nope")).rejects.toMatchObject({
      statusCode: 404,
      code: "ResourceNotFound",
    });
    await expect(all(apim.api.listByService(APIM_RG, "missing"))).rejects.toMatchObject({ statusCode: 404 });
  });

  it("lists self-hosted gateways and the APIs linked to each", async () => {
    const telemetry = apimApi("apim-dev", "telemetry");
    const orders = apimApi("apim-dev", "orders");
    const floor = apimChild("apim-dev", "gateways", "factory-floor", {
      locationData: { name: "Plant 7" },
      description: "self-hosted gateway",
    });
    const branch = apimChild("apim-dev", "gateways", "branch", { locationData: { name: "Branch" } });
    const link: ArmResource = {
      ...apimApi("apim-dev", "telemetry", {}, { gateway: "factory-floor" }),
      properties: {},
    };
    const link2 = apimApi("apim-dev", "orders", {}, { gateway: "factory-floor" });
    const apim = await start([developer, telemetry, orders, floor, branch, link, link2]);

    const gateways = await all(apim.gateway.listByService(APIM_RG, "apim-dev"));
    expect(gateways.map((g) => [g.name, g.locationData?.name])).toEqual([
      ["factory-floor", "Plant 7"],
      ["branch", "Branch"],
    ]);
    const linked = await all(apim.gatewayApi.listByService(APIM_RG, "apim-dev", "factory-floor"));
    expect(linked.map((a) => a.name)).toEqual(["telemetry", "orders"]);
    expect(linked[0]).toMatchObject({
      id: link.id,
      type: "Microsoft.ApiManagement/service/gateways/apis",
      displayName: "Telemetry",
      path: "telemetry",
    });
    expect(await all(apim.gatewayApi.listByService(APIM_RG, "apim-dev", "branch"))).toEqual([]);
    await expect(all(apim.gatewayApi.listByService(APIM_RG, "apim-dev", "nope"))).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it("lists workspaces and their APIs, apart from the service's own APIs", async () => {
    const payments = apimApi("apim-prod", "payments");
    const marketing = apimChild("apim-prod", "workspaces", "team-marketing", { displayName: "Marketing" });
    const finance = apimChild("apim-prod", "workspaces", "team-finance", { displayName: "Finance" });
    const campaigns = apimApi("apim-prod", "campaigns", {}, { workspace: "team-marketing" });
    const apim = await start([premium, payments, marketing, finance, campaigns]);

    const workspaces = await all(apim.workspace.listByService(APIM_RG, "apim-prod"));
    expect(workspaces.map((w) => [w.name, w.displayName])).toEqual([
      ["team-marketing", "Marketing"],
      ["team-finance", "Finance"],
    ]);
    const inMarketing = await all(apim.workspaceApi.listByService(APIM_RG, "apim-prod", "team-marketing"));
    expect(inMarketing.map((a) => a.id)).toEqual([campaigns.id]);
    expect(await all(apim.workspaceApi.listByService(APIM_RG, "apim-prod", "team-finance"))).toEqual([]);
    expect((await all(apim.api.listByService(APIM_RG, "apim-prod"))).map((a) => a.name)).toEqual([
      "payments",
    ]);
    expect((await apim.workspaceApi.get(APIM_RG, "apim-prod", "team-marketing", "campaigns")).id).toBe(
      campaigns.id,
    );
  });

  it("accepts APIM's api-versions only, and keeps the generic GET for other estate resources", async () => {
    const gateway = apimChild("apim-dev", "gateways", "gw1", {});
    await start([developer, gateway]);
    for (const version of ["2024-06-01-preview", "2024-05-01", "2023-05-01-preview", "2022-08-01"]) {
      expect((await call(running(), "GET", `${developer.id}/apis?api-version=${version}`)).status).toBe(200);
    }
    const old = await call(running(), "GET", `${developer.id}/apis?api-version=2019-12-01`);
    expect(old.status).toBe(400);
    expect(armError(old).code).toBe("NoRegisteredProviderFound");
    const generic = await call(
      running(),
      "GET",
      `${gateway.id}/hostnameConfigurations/x?api-version=2099-01-01`,
    );
    expect(generic.status).toBe(404);
    expect(armError(generic).code).toBe("ResourceNotFound");
    expect((await call(running(), "GET", `${gateway.id}?${API}`)).json).toEqual(gateway);
  });
});
