import { ContainerServiceClient } from "@azure/arm-containerservice";
import { OperationalInsightsManagementClient } from "@azure/arm-operationalinsights";
import { ResourceManagementClient } from "@azure/arm-resources";
import { SubscriptionClient } from "@azure/arm-resources-subscriptions";
import { X509Certificate } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type ArmResource, type Simulator } from "../../sim/index.js";
import {
  armError,
  baseEstate,
  call,
  cluster,
  clusterId,
  credential,
  RG,
  sdkOptions,
  SUB,
  WORKSPACE_ID,
} from "../support/sim.js";

const CLUSTER_API = "api-version=2026-04-01";
const UNKNOWN_SUB = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";
const APIM_ID = `/subscriptions/${SUB}/resourceGroups/rg-apim/providers/Microsoft.ApiManagement/service/apim1`;
const apim: ArmResource = {
  id: APIM_ID,
  name: "apim1",
  type: "Microsoft.ApiManagement/service",
  location: "northeurope",
  sku: { name: "Developer", capacity: 1 },
  properties: { gatewayUrl: "https://apim1.azure-api.net" },
};
const taggedGroup: ArmResource = {
  id: `/subscriptions/${SUB}/resourceGroups/rg-excluded`,
  name: "rg-excluded",
  type: "Microsoft.Resources/resourceGroups",
  location: "westeurope",
  tags: { "autoprotect-exclude": "true" },
  properties: { provisioningState: "Succeeded" },
};

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(extra: ArmResource[] = [], latencyMs = 0): Promise<Simulator> {
  sim = await startSimulator({ estate: baseEstate(extra), latencyMs });
  return sim;
}

describe("the simulator's HTTPS endpoint", () => {
  it("listens on loopback with a certificate for 127.0.0.1 and localhost", async () => {
    const s = await start();
    expect(s.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const cert = new X509Certificate(s.ca);
    expect(cert.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(cert.checkHost("localhost")).toBe("localhost");
    const answer = await call(s, "GET", `/subscriptions?api-version=2022-12-01`);
    expect(answer.status).toBe(200);
    expect(answer.headers["x-ms-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("requires a bearer token (401 AuthenticationFailed)", async () => {
    const s = await start();
    const none = await call(s, "GET", `/subscriptions?api-version=2022-12-01`, { auth: false });
    expect(none.status).toBe(401);
    expect(none.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(none.headers["x-ms-request-id"]).toBeDefined();
    expect(armError(none).code).toBe("AuthenticationFailed");
    const basic = await call(s, "GET", `/subscriptions?api-version=2022-12-01`, {
      auth: false,
      headers: { authorization: "Basic dXNlcjpwYXNz" },
    });
    expect(basic.status).toBe(401);
    expect(s.requests.map((r) => r.status)).toEqual([401, 401]);
  });

  it("requires a supported api-version", async () => {
    const s = await start();
    const missing = await call(s, "GET", clusterId("aks1"));
    expect(missing.status).toBe(400);
    expect(armError(missing).code).toBe("MissingApiVersionParameter");
    const wrong = await call(s, "GET", `/subscriptions/${SUB}/resourcegroups/${RG}?api-version=2015-01-01`);
    expect(wrong.status).toBe(400);
    expect(armError(wrong).code).toBe("NoRegisteredProviderFound");
    expect(armError(wrong).message).toMatch(/API version '2015-01-01' for type 'resourceGroups'/);
  });

  it("answers unknown subscriptions, resources and routes with ARM error bodies", async () => {
    const s = await start([apim]);
    const sub = await call(
      s,
      "GET",
      `/subscriptions/${UNKNOWN_SUB}/providers/Microsoft.ContainerService/managedClusters?${CLUSTER_API}`,
    );
    expect(sub.status).toBe(404);
    expect(armError(sub)).toEqual({
      code: "SubscriptionNotFound",
      message: `The subscription '${UNKNOWN_SUB}' could not be found.`,
    });
    const api = await call(s, "GET", `${APIM_ID}/apis/echo?api-version=2024-05-01`);
    expect(api.status).toBe(404);
    expect(armError(api).code).toBe("ResourceNotFound");
    expect(armError(api).message).toContain(
      "'Microsoft.ApiManagement/service/apim1/apis/echo' under resource group 'rg-apim'",
    );
    const route = await call(s, "GET", `/no/such/route?api-version=2024-01-01`);
    expect(route.status).toBe(404);
    expect(armError(route).message).toContain("/no/such/route");
    const method = await call(s, "DELETE", `${clusterId("aks1")}?${CLUSTER_API}`);
    expect(method.status).toBe(405);
  });

  it("serves any other estate resource by a GET of its id, matched without regard to case", async () => {
    const s = await start([apim]);
    const got = await call(s, "GET", `${APIM_ID.toUpperCase()}?api-version=2024-05-01`);
    expect(got.status).toBe(200);
    expect(got.json).toEqual(apim);
  });

  it("serves subscriptions, resource groups and workspaces to the real SDK clients", async () => {
    const s = await start([taggedGroup]);
    const subscriptions = new SubscriptionClient(credential, sdkOptions(s));
    const listed = [];
    for await (const sub of subscriptions.subscriptions.list()) listed.push(sub);
    expect(listed).toMatchObject([{ subscriptionId: SUB, displayName: "Contoso Dev", state: "Enabled" }]);
    expect(await subscriptions.subscriptions.get(SUB)).toMatchObject({ id: `/subscriptions/${SUB}` });

    const resources = new ResourceManagementClient(credential, SUB, sdkOptions(s));
    expect((await resources.resourceGroups.get("RG-EXCLUDED")).tags).toEqual({
      "autoprotect-exclude": "true",
    });
    const unlisted = await resources.resourceGroups.get(RG);
    expect(unlisted).toMatchObject({
      name: RG,
      location: "westeurope",
      type: "Microsoft.Resources/resourceGroups",
    });
    expect(unlisted.tags).toBeUndefined();
    expect((await resources.resourceGroups.get("rg-empty")).location).toBe("eastus");

    const insights = new OperationalInsightsManagementClient(credential, SUB, sdkOptions(s));
    const ws = await insights.workspaces.get("rg-logs", "law1");
    expect(ws.id).toBe(WORKSPACE_ID);
    expect(ws.publicNetworkAccessForIngestion).toBe("Enabled");
    await expect(insights.workspaces.get("rg-logs", "nope")).rejects.toMatchObject({
      statusCode: 404,
      code: "ResourceNotFound",
    });
    expect(s.requests.map((r) => r.apiVersion)).toEqual([
      "2022-12-01",
      "2022-12-01",
      "2025-04-01",
      "2025-04-01",
      "2025-04-01",
      "2022-10-01",
      "2022-10-01",
    ]);
  });

  it("records every request in order", async () => {
    const s = await start();
    await call(s, "GET", `${clusterId("aks1")}?${CLUSTER_API}&$top=5`, { headers: { "if-match": '"abc"' } });
    await call(
      s,
      "PUT",
      `/subscriptions/${SUB}/providers/Microsoft.Security/pricings/Api?api-version=2024-01-01`,
      {
        body: { properties: { pricingTier: "Free" } },
      },
    );
    await call(s, "GET", "/nowhere%20at%20all");
    expect(s.requests).toEqual([
      {
        method: "GET",
        path: clusterId("aks1"),
        apiVersion: "2026-04-01",
        query: { "api-version": "2026-04-01", $top: "5" },
        ifMatch: '"abc"',
        body: undefined,
        status: 200,
      },
      {
        method: "PUT",
        path: `/subscriptions/${SUB}/providers/Microsoft.Security/pricings/Api`,
        apiVersion: "2024-01-01",
        query: { "api-version": "2024-01-01" },
        ifMatch: undefined,
        body: { properties: { pricingTier: "Free" } },
        status: 200,
      },
      {
        method: "GET",
        path: "/nowhere at all",
        apiVersion: undefined,
        query: {},
        ifMatch: undefined,
        body: undefined,
        status: 400,
      },
    ]);
    s.clearRequests();
    expect(s.requests).toHaveLength(0);
  });

  it("delays every answer by latencyMs", async () => {
    const s = await start([], 60);
    const started = performance.now();
    await call(s, "GET", `/subscriptions?api-version=2022-12-01`);
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
  });
});

describe("faults", () => {
  it("answers 429 with Retry-After, counting down `times`", async () => {
    const s = await start();
    s.injectFault({
      kind: "status",
      path: clusterId("AKS1"),
      times: 2,
      status: 429,
      code: "TooManyRequests",
      retryAfterSeconds: 3,
    });
    for (let i = 0; i < 2; i += 1) {
      const throttled = await call(s, "GET", `${clusterId("aks1")}?${CLUSTER_API}`);
      expect(throttled.status).toBe(429);
      expect(throttled.headers["retry-after"]).toBe("3");
      expect(armError(throttled).code).toBe("TooManyRequests");
    }
    expect((await call(s, "GET", `${clusterId("aks1")}?${CLUSTER_API}`)).status).toBe(200);
    expect(s.requests.map((r) => [r.status, r.fault])).toEqual([
      [429, "status"],
      [429, "status"],
      [200, undefined],
    ]);
  });

  it("answers a 500 with the given code through the SDK, matching method and RegExp paths", async () => {
    const s = await start();
    const aks = new ContainerServiceClient(credential, SUB, sdkOptions(s));
    s.injectFault({
      kind: "status",
      method: "PUT",
      path: /managedClusters/i,
      status: 500,
      code: "InternalServerError",
    });
    // A GET is not matched by a PUT fault.
    const current = await aks.managedClusters.get(RG, "aks1");
    await expect(aks.managedClusters.createOrUpdate(RG, "aks1", current)).rejects.toMatchObject({
      statusCode: 500,
      code: "InternalServerError",
    });
    expect(s.requests.at(-1)?.fault).toBe("status");
  });

  it("drops the connection without an answer", async () => {
    const s = await start();
    s.injectFault({ kind: "drop-connection", path: /\/managedClusters\/aks1$/ });
    await expect(call(s, "GET", `${clusterId("aks1")}?${CLUSTER_API}`)).rejects.toMatchObject({
      code: "ECONNRESET",
    });
    expect(s.requests[0]).toMatchObject({ status: 0, fault: "drop-connection" });
    expect((await call(s, "GET", `${clusterId("aks1")}?${CLUSTER_API}`)).status).toBe(200);
  });

  it("forgets faults on clearFaults", async () => {
    const s = await start();
    s.injectFault({ kind: "status", path: /./, times: 5, status: 503, code: "ServiceUnavailable" });
    s.clearFaults();
    expect((await call(s, "GET", `/subscriptions?api-version=2022-12-01`)).status).toBe(200);
    expect(() => {
      s.injectFault({ kind: "drop-connection", path: "/", times: 0 });
    }).toThrow(RangeError);
  });
});

describe("many clusters", () => {
  it("starts fast enough for tests to start many simulators", async () => {
    const started = performance.now();
    const clusters = Array.from({ length: 200 }, (_, i) => cluster(`c${String(i)}`));
    sim = await startSimulator({ estate: { ...baseEstate(), resources: clusters } });
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
