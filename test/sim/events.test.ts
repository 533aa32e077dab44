import { ContainerServiceClient } from "@azure/arm-containerservice";
import { readFile } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { SIM_CALLER, startSimulator, type SimEvent, type Simulator } from "../../sim/index.js";
import { resourceEvent } from "../../sim/events.js";
import { SIM_TENANT_ID } from "../../sim/state.js";
import {
  apimApi,
  apimService,
  armError,
  baseEstate,
  call,
  cluster,
  clusterId,
  collectionId,
  credential,
  fakeClock,
  RG,
  sdkOptions,
  serviceId,
  SUB,
  type HttpAnswer,
} from "../support/sim.js";

const AKS = "api-version=2026-04-01";
const SECURITY = "api-version=2024-01-01";
const COLLECTIONS = "api-version=2023-11-15";
const T0 = "2025-06-01T08:30:00.000Z";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const WRITE = "Microsoft.Resources.ResourceWriteSuccess";
const DELETE = "Microsoft.Resources.ResourceDeleteSuccess";

/** Azure's documented ResourceWriteSuccess sample (event-schema-subscriptions), copied verbatim. */
const fixture = (
  JSON.parse(
    await readFile(
      new URL("./fixtures/resources.ResourceWriteSuccess.docs-sample.json", import.meta.url),
      "utf8",
    ),
  ) as [{ data: Record<string, unknown> } & Record<string, unknown>]
)[0];

let sim: Simulator | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

const dev = apimService("apim-dev", "Developer");
const apim = [dev, apimApi("apim-dev", "orders"), apimApi("apim-dev", "billing", { type: "soap" })];

async function start(
  options: { onEvent?: (event: SimEvent) => void; lroPolls?: number } = {},
): Promise<{ sim: Simulator; clock: ReturnType<typeof fakeClock> }> {
  const clock = fakeClock(T0);
  sim = await startSimulator({ estate: baseEstate(apim), clock: clock.now, ...options });
  return { sim, clock };
}

/** The cluster as stored, with a changed tag: a PUT body AKS accepts. */
function changedCluster(tag: string): Record<string, unknown> {
  return { ...cluster("aks1"), tags: { env: tag } };
}

function putCluster(s: Simulator, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return call(s, "PUT", `${clusterId("aks1")}?${AKS}`, { body: changedCluster("prod"), headers });
}

function only(s: Simulator): SimEvent {
  expect(s.events).toHaveLength(1);
  const [event] = s.events;
  if (event === undefined) throw new Error("no event");
  return event;
}

describe("Event Grid events for accepted writes", () => {
  it("raises one ResourceWriteSuccess for a managed cluster PUT, at the simulator's clock", async () => {
    const { sim: s, clock } = await start();
    clock.advance(90_000);
    const correlationId = "6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";
    const answer = await putCluster(s, {
      "x-ms-correlation-request-id": correlationId,
      "x-ms-client-request-id": "client-req-1",
    });
    expect(answer.status).toBe(200);
    expect(answer.headers["azure-asyncoperation"]).toBeDefined();
    expect(answer.headers["x-ms-correlation-request-id"]).toBe(correlationId);

    const event = only(s);
    const id = clusterId("aks1");
    expect(event).toMatchObject({
      topic: `/subscriptions/${SUB}`,
      subject: id,
      eventType: WRITE,
      eventTime: "2025-06-01T08:31:30.000Z",
      dataVersion: "2",
      metadataVersion: "1",
      data: {
        authorization: {
          scope: id,
          action: "Microsoft.ContainerService/managedClusters/write",
          evidence: { role: "Contributor", principalType: "ServicePrincipal" },
        },
        claims: {
          appid: SIM_CALLER.appId,
          "http://schemas.microsoft.com/identity/claims/objectidentifier": SIM_CALLER.objectId,
          "http://schemas.microsoft.com/identity/claims/tenantid": SIM_TENANT_ID,
        },
        correlationId,
        httpRequest: {
          clientRequestId: "client-req-1",
          clientIpAddress: "127.0.0.1",
          method: "PUT",
          url: `${s.endpoint}${id}?${AKS}`,
        },
        resourceProvider: "Microsoft.ContainerService",
        resourceUri: id,
        operationName: "Microsoft.ContainerService/managedClusters/write",
        status: "Succeeded",
        subscriptionId: SUB,
        tenantId: SIM_TENANT_ID,
      },
    });
    expect(event.id).toMatch(UUID);

    // A second write is a second event, with its own id and (no header sent) a fresh correlation id.
    // (The cluster is Updating until its operation is polled, so write a plan.)
    const plan = `/subscriptions/${SUB}/providers/Microsoft.Security/pricings/Api`;
    const planPut = await call(s, "PUT", `${plan}?${SECURITY}`, {
      body: { properties: { pricingTier: "Free" } },
    });
    expect(planPut.status).toBe(200);
    expect(s.events).toHaveLength(2);
    const second = s.events[1];
    expect(second?.id).not.toBe(event.id);
    expect(second?.data.correlationId).toMatch(UUID);
    expect(second?.data.correlationId).not.toBe(correlationId);
    s.clearEvents();
    expect(s.events).toHaveLength(0);
  });

  it("raises the event when the long-running PUT is accepted, and nothing for its polls (real SDK client)", async () => {
    const { sim: s } = await start();
    const aks = new ContainerServiceClient(credential, SUB, sdkOptions(s));
    const before = await aks.managedClusters.get(RG, "aks1");
    const done = await aks.managedClusters.createOrUpdate(
      RG,
      "aks1",
      { ...before, tags: { env: "sdk" } },
      { updateIntervalInMs: 1 },
    );
    expect(done.provisioningState).toBe("Succeeded");
    expect(s.requests.filter((r) => r.method === "GET").length).toBeGreaterThan(1);
    const event = only(s);
    expect(event.data.operationName).toBe("Microsoft.ContainerService/managedClusters/write");
    expect(event.subject).toBe(clusterId("aks1"));
    expect(event.data.httpRequest.clientRequestId).toMatch(UUID); // the SDK's x-ms-client-request-id
  });

  it("hands onEvent a copy right after the answer, when the write is already visible", async () => {
    const seen: { event: SimEvent; status: number | undefined; read: Promise<HttpAnswer> }[] = [];
    const { sim: s } = await start({
      onEvent: (event) => {
        const last = s.requests.at(-1);
        // A handler reading the resource from here sees the write.
        seen.push({ event, status: last?.status, read: call(s, "GET", `${event.subject}?${AKS}`) });
        (event.data as { status: string }).status = "tampered";
      },
    });
    await putCluster(s);
    expect(seen).toHaveLength(1);
    const [first] = seen;
    expect(first?.status).toBe(200);
    const read = await first?.read;
    expect((read?.json as { tags?: unknown } | undefined)?.tags).toEqual({ env: "prod" });
    expect(first?.event.id).toBe(s.events[0]?.id);
    expect(s.events[0]?.data.status).toBe("Succeeded");
  });

  it("raises nothing for refused writes: stale If-Match (412), a busy cluster (409), faults, dropped connections", async () => {
    const { sim: s } = await start();
    const stale = await putCluster(s, { "if-match": "not-the-etag" });
    expect(stale.status).toBe(412);
    expect(armError(stale).code).toBe("PreconditionFailed");

    s.injectFault({
      kind: "status",
      method: "PUT",
      path: clusterId("aks1"),
      status: 500,
      code: "InternalServerError",
    });
    expect((await putCluster(s)).status).toBe(500);
    s.injectFault({ kind: "status", method: "PUT", path: /pricings/, status: 429, code: "TooManyRequests" });
    const throttled = await call(
      s,
      "PUT",
      `/subscriptions/${SUB}/providers/Microsoft.Security/pricings/Api?${SECURITY}`,
      {
        body: { properties: { pricingTier: "Standard", subPlan: "P1" } },
      },
    );
    expect(throttled.status).toBe(429);
    s.injectFault({ kind: "drop-connection", method: "PUT", path: clusterId("aks1") });
    await expect(putCluster(s)).rejects.toThrow();

    const noAuth = await call(s, "PUT", `${clusterId("aks1")}?${AKS}`, {
      body: changedCluster("x"),
      auth: false,
    });
    expect(noAuth.status).toBe(401);
    const badBody = await call(s, "PUT", `${clusterId("aks1")}?${AKS}`, {
      body: { ...changedCluster("x"), location: "eastus" },
    });
    expect(armError(badBody).code).toBe("InvalidResourceLocation");
    expect(s.events).toHaveLength(0);

    // Accepted now, then busy until its operation is polled: the 409 raises nothing.
    expect((await putCluster(s)).status).toBe(200);
    expect((await putCluster(s)).status).toBe(409);
    expect(s.events).toHaveLength(1);
  });

  it("raises Microsoft.Security/pricings/write for a plan PUT, canonical however the path is cased", async () => {
    const { sim: s } = await start();
    const id = `/subscriptions/${SUB}/providers/Microsoft.Security/pricings/Containers`;
    const put = await call(s, "PUT", `${id}?${SECURITY}`, {
      body: { properties: { pricingTier: "Standard" } },
    });
    expect(put.status).toBe(200);
    expect(only(s)).toMatchObject({
      topic: `/subscriptions/${SUB}`,
      subject: id,
      eventType: WRITE,
      data: {
        operationName: "Microsoft.Security/pricings/write",
        resourceProvider: "Microsoft.Security",
        resourceUri: id,
        authorization: { scope: id, action: "Microsoft.Security/pricings/write" },
        subscriptionId: SUB,
      },
    });

    s.clearEvents();
    const lower = `/subscriptions/${SUB}/providers/microsoft.security/PRICINGS/containers`;
    await call(s, "PUT", `${lower}?${SECURITY}`, { body: { properties: { pricingTier: "Free" } } });
    // resourceUri as the client wrote it; the operation name as ARM spells the type.
    expect(only(s).data).toMatchObject({
      resourceUri: lower,
      operationName: "Microsoft.Security/pricings/write",
      resourceProvider: "Microsoft.Security",
    });

    s.clearEvents();
    const invalid = await call(s, "PUT", `${id}?${SECURITY}`, {
      body: { properties: { pricingTier: "Gold" } },
    });
    expect(invalid.status).toBe(400);
    expect(s.events).toHaveLength(0);
  });

  it("raises write and delete events for an API collection, under the APIM service id", async () => {
    const { sim: s } = await start({ lroPolls: 1 });
    const id = collectionId("apim-dev", "orders");
    const put = await call(s, "PUT", `${id}?${COLLECTIONS}`);
    expect(put.status).toBe(202);
    // Raised on acceptance, before the operation has ended.
    const written = only(s);
    expect(written).toMatchObject({
      subject: id,
      eventType: WRITE,
      data: {
        resourceUri: id,
        operationName: "Microsoft.Security/apiCollections/write",
        resourceProvider: "Microsoft.Security",
        subscriptionId: SUB,
        httpRequest: { method: "PUT" },
      },
    });
    expect(written.data.resourceUri.startsWith(`${serviceId("apim-dev")}/providers/`)).toBe(true);

    // Polls of the Location URL are GETs: nothing more.
    const location = put.headers.location;
    if (typeof location !== "string") throw new Error("no Location");
    const poll = new URL(location);
    expect((await call(s, "GET", `${poll.pathname}${poll.search}`)).status).toBe(202);
    expect((await call(s, "GET", `${poll.pathname}${poll.search}`)).status).toBe(200);
    expect(s.events).toHaveLength(1);

    // A PUT of the onboarded collection changes nothing but is a successful request: one more event.
    expect((await call(s, "PUT", `${id}?${COLLECTIONS}`)).status).toBe(200);
    expect(s.events).toHaveLength(2);
    s.clearEvents();

    const refused = await call(s, "PUT", `${collectionId("apim-dev", "billing")}?${COLLECTIONS}`);
    expect(armError(refused).code).toBe("UnsupportedApiType");
    expect(s.events).toHaveLength(0);

    const deleted = await call(s, "DELETE", `${id}?${COLLECTIONS}`);
    expect(deleted.status).toBe(200);
    expect(s.events).toHaveLength(1);
    expect(s.events[0]).toMatchObject({
      subject: id,
      eventType: DELETE,
      data: {
        resourceUri: id,
        operationName: "Microsoft.Security/apiCollections/delete",
        authorization: { action: "Microsoft.Security/apiCollections/delete" },
        httpRequest: { method: "DELETE" },
      },
    });
    // Deleting what is gone answers 204, still a success.
    expect((await call(s, "DELETE", `${id}?${COLLECTIONS}`)).status).toBe(204);
    expect(s.events.map((e) => e.eventType)).toEqual([DELETE, DELETE]);
  });

  it("raises nothing for GETs, lists and the metrics getBatch POST", async () => {
    const { sim: s } = await start();
    const reads: [string, string, unknown?][] = [
      ["GET", `${clusterId("aks1")}?${AKS}`],
      ["GET", `/subscriptions/${SUB}/providers/Microsoft.ContainerService/managedClusters?${AKS}`],
      ["GET", `/subscriptions/${SUB}/providers/Microsoft.Security/pricings?${SECURITY}`],
      ["GET", `${serviceId("apim-dev")}/providers/Microsoft.Security/apiCollections?${COLLECTIONS}`],
      ["GET", `${serviceId("apim-dev")}?api-version=2024-05-01`],
      [
        "POST",
        `/subscriptions/${SUB}/metrics:getBatch?api-version=2024-02-01&metricnamespace=${encodeURIComponent("Microsoft.ApiManagement/service")}&metricnames=Capacity`,
        { resourceids: [serviceId("apim-dev")] },
      ],
    ];
    for (const [method, path, body] of reads) {
      const answer = await call(s, method, path, body === undefined ? {} : { body });
      expect(answer.status, `${method} ${path}`).toBe(200);
    }
    expect(s.events).toEqual([]);
  });

  it("has the documented sample's keys, with objects where the sample shows placeholders", async () => {
    const { sim: s } = await start();
    await putCluster(s);
    const event = only(s) as unknown as Record<string, unknown> & { data: Record<string, unknown> };
    // Event Grid schema: the sample's keys plus dataVersion/metadataVersion (which delivered events carry).
    expect(Object.keys(event).sort()).toEqual(
      [...Object.keys(fixture), "dataVersion", "metadataVersion"].sort(),
    );
    expect(Object.keys(event.data).sort()).toEqual(Object.keys(fixture.data).sort());
    for (const key of Object.keys(fixture)) {
      if (key !== "data") expect(typeof event[key], key).toBe(typeof fixture[key]);
    }
    for (const key of [
      "correlationId",
      "resourceProvider",
      "resourceUri",
      "operationName",
      "status",
      "subscriptionId",
      "tenantId",
    ]) {
      expect(typeof event.data[key], key).toBe("string");
    }
    for (const key of ["authorization", "claims", "httpRequest"]) {
      expect(event.data[key], key).toBeTypeOf("object");
    }
    expect(event.data.status).toBe(fixture.data.status);
    expect(JSON.parse(JSON.stringify(event))).toEqual(event);
  });

  it("takes the caller's claims from a JWT bearer token, and the tenant from the estate", async () => {
    const tenantId = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const estate = baseEstate();
    estate.subscriptions = [{ subscriptionId: SUB, tenantId }];
    sim = await startSimulator({ estate });
    const payload = {
      aud: "https://management.azure.com/",
      appid: "11111111-2222-4333-8444-555555555555",
      oid: "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
      tid: tenantId,
      idtyp: "app",
      roles: ["a", "b"],
    };
    const segment = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");
    const token = `${segment({ alg: "RS256", typ: "JWT" })}.${segment(payload)}.c2ln`;
    await putCluster(sim, { authorization: `Bearer ${token}` });
    const { data } = only(sim);
    expect(data.tenantId).toBe(tenantId);
    expect(data.claims).toMatchObject({
      appid: payload.appid,
      "http://schemas.microsoft.com/identity/claims/objectidentifier": payload.oid,
      "http://schemas.microsoft.com/identity/claims/tenantid": tenantId,
      roles: "a b",
    });
    expect(data.claims.oid).toBeUndefined();
    expect(data.authorization.evidence.principalId).toBe(payload.oid.replace(/-/g, ""));
  });

  it("names a POST action {type}/{action}/action on the resource (no route serves one yet)", () => {
    const id = clusterId("aks1");
    const write = {
      path: `${id}/stop`,
      url: `https://127.0.0.1:1${id}/stop?${AKS}`,
      headers: {},
      template:
        "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerService/managedClusters/{resourceName}/stop",
      subscriptionId: SUB,
      tenantId: SIM_TENANT_ID,
      correlationId: "c",
      now: new Date(T0),
    };
    expect(resourceEvent({ ...write, method: "POST" })).toMatchObject({
      subject: id,
      eventType: "Microsoft.Resources.ResourceActionSuccess",
      data: {
        resourceUri: id,
        operationName: "Microsoft.ContainerService/managedClusters/stop/action",
        httpRequest: { method: "POST" },
      },
    });
    expect(resourceEvent({ ...write, method: "GET" })).toBeUndefined();
  });
});
