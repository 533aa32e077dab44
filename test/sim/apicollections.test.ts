import { getClient, type PathUncheckedResponse } from "@azure-rest/core-client";
import { createHttpPoller, type OperationResponse } from "@azure/core-lro";
import { readFile } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type ArmResource, type Estate, type Simulator } from "../../sim/index.js";
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

const API = "api-version=2023-11-15";
let sim: Simulator | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

interface Fixture {
  responses: {
    "200": { body: { id: string; name: string; type: string; properties: Record<string, unknown> } };
    "201": { body: { properties: { provisioningState: string } } };
    "202": { headers: { Location: string } };
  };
}

/** Azure's example APICollections_OnboardAzureApiManagementApi (azure-rest-api-specs), copied verbatim. */
const fixture = JSON.parse(
  await readFile(
    new URL("./fixtures/security.apiCollections.onboard.2023-11-15.json", import.meta.url),
    "utf8",
  ),
) as Fixture;

/** The fixture's own names: subscription, rg1, apimService1, echo-api. */
const FIXTURE_RG = "rg1";
const fixtureService: ArmResource = {
  ...apimService("apimService1", "Developer"),
  id: `/subscriptions/${SUB}/resourceGroups/${FIXTURE_RG}/providers/Microsoft.ApiManagement/service/apimService1`,
  properties: { provisioningState: "Succeeded", gatewayUrl: "https://apimservice1.azure-api.net" },
};
const echo: ArmResource = {
  ...apimApi("apimService1", "echo-api", { displayName: "Echo API", path: "echo" }),
  id: `${fixtureService.id}/apis/echo-api`,
};

const dev = apimService("apim-dev", "Developer");
const consumption = apimService("apim-cons", "Consumption");
const resources: ArmResource[] = [
  fixtureService,
  echo,
  dev,
  apimApi("apim-dev", "orders"),
  apimApi("apim-dev", "billing", { type: "soap" }),
  apimApi("apim-dev", "catalog", { type: "graphql" }),
  apimApi("apim-dev", "orders;rev=2", { isCurrent: false, apiRevision: "2" }),
  consumption,
  apimApi("apim-cons", "checkout"),
];

async function start(options: { lroPolls?: number; clock?: () => Date } = {}): Promise<Simulator> {
  const estate: Estate = { subscriptions: [{ subscriptionId: SUB }], resources };
  sim = await startSimulator({ estate, ...options });
  return sim;
}

const echoCollection = `${fixtureService.id}/providers/Microsoft.Security/apiCollections/echo-api`;

function location(answer: HttpAnswer): string {
  const value = answer.headers.location;
  if (typeof value !== "string") throw new Error(`no Location header (status ${String(answer.status)})`);
  return value;
}

/** GETs an absolute URL handed out by the simulator. */
function follow(s: Simulator, url: string): Promise<HttpAnswer> {
  const parsed = new URL(url);
  expect(parsed.origin).toBe(s.endpoint);
  return call(s, "GET", `${parsed.pathname}${parsed.search}`);
}

describe("Defender for APIs collections (2023-11-15)", () => {
  it("onboards like Azure's example: 202 + Location, 202 polls, then 200 with the collection", async () => {
    const clock = fakeClock("2025-03-01T10:00:00Z");
    const s = await start({ lroPolls: 2, clock: clock.now });
    const put = await call(s, "PUT", `${echoCollection}?${API}`);
    expect(put.status).toBe(202);
    expect(put.text).toBe("");
    const url = new URL(location(put));
    const expected = new URL(fixture.responses["202"].headers.Location);
    expect(url.pathname).toBe(expected.pathname);
    expect([...url.searchParams.keys()]).toEqual([...expected.searchParams.keys()]);
    expect(url.searchParams.get("api-version")).toBe("2023-11-15");
    // .NET ticks, an hour after the clock's time
    const ticks = BigInt(url.searchParams.get("$retryUntil") ?? "0");
    expect(ticks).toBe((BigInt(Date.parse("2025-03-01T11:00:00Z")) + 62135596800000n) * 10000n);

    // While running: a plain GET shows the collection in progress; it is listed as such.
    const running = await call(s, "GET", `${echoCollection}?${API}`);
    expect(running.status).toBe(200);
    expect(running.json).toEqual({
      id: echoCollection,
      name: "echo-api",
      type: "Microsoft.Security/apiCollections",
      properties: { provisioningState: "InProgress" },
    });

    expect((await follow(s, url.href)).status).toBe(202);
    const second = await follow(s, url.href);
    expect(second.status).toBe(202);
    expect(location(second)).toBe(url.href);
    const done = await follow(s, url.href);
    expect(done.status).toBe(200);
    expect(done.json).toEqual(fixture.responses["200"].body);
    expect((await call(s, "GET", `${echoCollection}?${API}`)).json).toEqual(fixture.responses["200"].body);
    // The operation's URL keeps answering the outcome.
    expect((await follow(s, url.href)).status).toBe(200);
  });

  it("is idempotent: re-PUT of a Succeeded collection is 200 with it, of a running one the same operation", async () => {
    const s = await start({ lroPolls: 1 });
    const path = `${collectionId("apim-dev", "orders")}?${API}`;
    const first = await call(s, "PUT", path);
    const again = await call(s, "PUT", path);
    expect(again.status).toBe(202);
    expect(location(again)).toBe(location(first));
    expect((await follow(s, location(first))).status).toBe(202);
    expect((await follow(s, location(first))).status).toBe(200);
    const settled = await call(s, "PUT", path);
    expect(settled.status).toBe(200);
    expect(settled.headers.location).toBeUndefined();
    expect(settled.json).toMatchObject({
      name: "orders",
      properties: {
        provisioningState: "Succeeded",
        displayName: "Orders",
        discoveredVia: serviceId("apim-dev"),
        baseUrl: "https://apim-dev.azure-api.net/orders",
      },
    });
    expect(s.requests.filter((r) => r.method === "PUT").map((r) => r.status)).toEqual([202, 202, 200]);
  });

  it("works with core-lro's poller (Location mode, final state from the Location URL)", async () => {
    const s = await start({ lroPolls: 2 });
    const client = getClient(s.endpoint, credential, {
      credentials: { scopes: ["https://management.azure.com/.default"] },
      tlsOptions: { ca: s.ca },
      retryOptions: { maxRetries: 0 },
    });
    const asResponse = (r: PathUncheckedResponse): OperationResponse => ({
      flatResponse: r,
      rawResponse: {
        statusCode: Number(r.status),
        headers: r.headers,
        body: r.body,
        request: { method: r.request.method, url: r.request.url },
      },
    });
    const poller = createHttpPoller<unknown, never>(
      {
        sendInitialRequest: async () =>
          asResponse(
            await client
              .pathUnchecked(collectionId("apim-dev", "orders"))
              .put({ queryParameters: { "api-version": "2023-11-15" } }),
          ),
        sendPollRequest: async (path) => asResponse(await client.pathUnchecked(path).get()),
      },
      {
        intervalInMs: 1,
        processResult: (result) => Promise.resolve((result as PathUncheckedResponse).body as unknown),
      },
    );
    const result = await poller.pollUntilDone();
    expect(result).toMatchObject({ name: "orders", properties: { provisioningState: "Succeeded" } });
  });

  it("lists collections under a service, in a resource group and in the subscription", async () => {
    const s = await start({ lroPolls: 0 });
    for (const id of [collectionId("apim-dev", "orders"), echoCollection]) {
      const put = await call(s, "PUT", `${id}?${API}`);
      expect((await follow(s, location(put))).status).toBe(200);
    }
    const names = async (path: string): Promise<string[]> => {
      const answer = await call(s, "GET", `${path}?${API}`);
      expect(answer.status).toBe(200);
      return (answer.json as { value: { name: string }[] }).value.map((c) => c.name);
    };
    expect(await names(`${serviceId("apim-dev")}/providers/Microsoft.Security/apiCollections`)).toEqual([
      "orders",
    ]);
    expect(await names(`/subscriptions/${SUB}/providers/Microsoft.Security/apiCollections`)).toEqual([
      "orders",
      "echo-api",
    ]);
    expect(
      await names(`/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.Security/apiCollections`),
    ).toEqual(["echo-api"]);
    const missing = await call(
      s,
      "GET",
      `${serviceId("nope")}/providers/Microsoft.Security/apiCollections?${API}`,
    );
    expect(missing.status).toBe(404);
  });

  it("offboards with DELETE: 200, then 204 when absent", async () => {
    const s = await start({ lroPolls: 0 });
    const path = `${collectionId("apim-dev", "orders")}?${API}`;
    await follow(s, location(await call(s, "PUT", path)));
    const deleted = await call(s, "DELETE", path);
    expect(deleted.status).toBe(200);
    expect((await call(s, "GET", path)).status).toBe(404);
    expect(armError(await call(s, "GET", path)).code).toBe("ResourceNotFound");
    expect((await call(s, "DELETE", path)).status).toBe(204);
    expect(s.exportEstate().resources.some((r) => r.type === "Microsoft.Security/apiCollections")).toBe(
      false,
    );
  });

  it("refuses what Defender for APIs cannot onboard, naming the reason (400), and uses no fault on it", async () => {
    const s = await start();
    s.injectFault({ kind: "lro-failed", path: /apiCollections/, times: 5 });
    const cases: [string, string, RegExp][] = [
      [collectionId("apim-dev", "nope"), "ApiNotFound", /no API with that id/],
      [collectionId("apim-cons", "checkout"), "UnsupportedApiManagementSku", /Consumption tier/],
      [collectionId("apim-dev", "billing"), "UnsupportedApiType", /soap API; .*REST APIs only/],
      [collectionId("apim-dev", "catalog"), "UnsupportedApiType", /graphql API/],
      [collectionId("apim-dev", "orders;rev=2"), "UnsupportedApiRevision", /not the current revision/],
    ];
    for (const [id, code, message] of cases) {
      const answer = await call(s, "PUT", `${id.replace(";", "%3B").replace("=", "%3D")}?${API}`);
      expect(answer.status, id).toBe(400);
      expect(armError(answer).code).toBe(code);
      expect(armError(answer).message).toMatch(message);
    }
    const noService = await call(s, "PUT", `${collectionId("nope", "orders")}?${API}`);
    expect(noService.status).toBe(404);
    expect(s.exportEstate().resources.filter((r) => r.type === "Microsoft.Security/apiCollections")).toEqual(
      [],
    );
    expect(s.requests.some((r) => r.fault !== undefined)).toBe(false);
    const wrongVersion = await call(
      s,
      "PUT",
      `${collectionId("apim-dev", "orders")}?api-version=2022-11-20-preview`,
    );
    expect(armError(wrongVersion).code).toBe("NoRegisteredProviderFound");
  });

  it("ends an operation with the lro-failed fault's error and leaves no collection behind", async () => {
    const s = await start({ lroPolls: 1 });
    const path = `${collectionId("apim-dev", "orders")}?${API}`;
    s.injectFault({
      kind: "lro-failed",
      path: collectionId("apim-dev", "orders"),
      code: "QuotaExceeded",
      message: "no",
    });
    const put = await call(s, "PUT", path);
    expect(put.status).toBe(202);
    expect(s.requests.at(-1)?.fault).toBe("lro-failed");
    expect((await follow(s, location(put))).status).toBe(202);
    const failed = await follow(s, location(put));
    expect(failed.status).toBe(400);
    expect(armError(failed)).toEqual({ code: "QuotaExceeded", message: "no" });
    expect((await call(s, "GET", path)).status).toBe(404);
    expect(s.exportEstate().resources.some((r) => r.type === "Microsoft.Security/apiCollections")).toBe(
      false,
    );
    // The next PUT starts afresh and succeeds.
    const retry = await call(s, "PUT", path);
    expect(retry.status).toBe(202);
    await follow(s, location(retry));
    expect((await follow(s, location(retry))).status).toBe(200);
  });
});
