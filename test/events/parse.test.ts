import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseEvent, parseEvents, reconcileTargetOf, EventPayloadError } from "../../src/events/parse.js";

const SUB = "0a1b2c3d-0000-4000-8000-00000000000a";
const CLUSTER = `/subscriptions/${SUB}/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/aks-1`;
const SERVICE = `/subscriptions/${SUB}/resourceGroups/rg-apis/providers/Microsoft.ApiManagement/service/apim-1`;

/** The documented ResourceWriteSuccess sample, from ../shared/fixtures (strings for authorization, claims). */
const docsSample = (
  JSON.parse(
    readFileSync(
      new URL("../sim/fixtures/resources.ResourceWriteSuccess.docs-sample.json", import.meta.url),
      "utf8",
    ),
  ) as Record<string, unknown>[]
)[0] as Record<string, unknown>;

/** The docs sample, re-aimed at a resource of ours. */
function writeSuccess(resourceUri: string, operationName: string, extra: Record<string, unknown> = {}) {
  return {
    ...docsSample,
    topic: `/subscriptions/${SUB}`,
    subject: resourceUri,
    data: {
      ...(docsSample.data as Record<string, unknown>),
      resourceUri,
      operationName,
      subscriptionId: SUB,
      resourceProvider: operationName.split("/")[0],
    },
    ...extra,
  };
}

function apimEvent(type: string, resourceUri: string, schema: "eventgrid" | "cloudevents" = "eventgrid") {
  const subject = resourceUri.slice(resourceUri.indexOf("/apis/"));
  return schema === "eventgrid"
    ? {
        id: "95015754-aa51-4eb6-98d9-9ee322b82ad7",
        topic: SERVICE,
        subject,
        data: { resourceUri },
        eventType: type,
        dataVersion: "1",
        metadataVersion: "1",
        eventTime: "2026-11-25T10:00:00.0000000Z",
      }
    : // As Azure's documentation prints it: capitalised attributes and a numeric specversion.
      {
        id: "81dac958",
        source: SERVICE,
        subject,
        data: { resourceUri },
        Type: type,
        Time: "2026-11-25T10:00:00Z",
        specversion: 1.0,
      };
}

function createdOrUpdated(id: string, type: string) {
  return {
    id: "4eef929a-a65c-47dd-93e2-46b8c17c6c17",
    source: `/subscriptions/${SUB}`,
    subject: id,
    data: {
      resourceInfo: {
        tags: {},
        id,
        name: id.split("/").at(-1),
        type,
        location: "westeurope",
        properties: {},
      },
      apiVersion: "2024-05-01",
      operationalInfo: { resourceEventTime: "2026-11-25T10:00:00Z" },
    },
    type: "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated",
    specversion: "1.0",
    time: "2026-11-25T10:00:00Z",
  };
}

describe("parseEvent", () => {
  it("ignores the documented sample itself: an event subscription write is none of ours", async () => {
    const verdict = await parseEvent(docsSample);
    expect(verdict).toMatchObject({ kind: "ignored", eventId: "25b3b0d0-d79b-44d5-9963-440d4e6a9bba" });
    if (verdict.kind === "ignored")
      expect(verdict.reason).toMatch(/Microsoft.EventGrid\/eventSubscriptions\/write/);
  });

  it.each([
    ["a cluster write", CLUSTER, "Microsoft.ContainerService/managedClusters/write", CLUSTER],
    [
      "an agent pool write (child → cluster)",
      `${CLUSTER}/agentPools/np1`,
      "Microsoft.ContainerService/managedClusters/agentPools/write",
      CLUSTER,
    ],
    ["a service write", SERVICE, "Microsoft.ApiManagement/service/write", SERVICE],
    [
      "an API write",
      `${SERVICE}/apis/orders`,
      "Microsoft.ApiManagement/service/apis/write",
      `${SERVICE}/apis/orders`,
    ],
    [
      "an API operation write (child → API)",
      `${SERVICE}/apis/orders/operations/get`,
      "Microsoft.ApiManagement/service/apis/operations/write",
      `${SERVICE}/apis/orders`,
    ],
    [
      "a gateway-API link",
      `${SERVICE}/gateways/edge/apis/orders`,
      "Microsoft.ApiManagement/service/gateways/apis/write",
      `${SERVICE}/apis/orders`,
    ],
    [
      "a Defender plan write",
      `/subscriptions/${SUB}/providers/Microsoft.Security/pricings/Containers`,
      "Microsoft.Security/pricings/write",
      `/subscriptions/${SUB}/providers/Microsoft.Security/pricings/Containers`,
    ],
    ["an upper-cased operation", CLUSTER, "MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/WRITE", CLUSTER],
  ])("ResourceWriteSuccess: %s", async (_name, resourceUri, operationName, expected) => {
    expect(await parseEvent(writeSuccess(resourceUri, operationName))).toMatchObject({
      kind: "reconcile",
      resourceId: expected,
      subscriptionId: SUB,
      eventType: "Microsoft.Resources.ResourceWriteSuccess",
    });
  });

  it.each([
    [
      "our own onboarding write",
      `${SERVICE}/providers/Microsoft.Security/apiCollections/orders`,
      "Microsoft.Security/apiCollections/write",
    ],
    ["a product write", `${SERVICE}/products/starter`, "Microsoft.ApiManagement/service/products/write"],
    [
      "a storage account",
      `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1`,
      "Microsoft.Storage/storageAccounts/write",
    ],
    [
      "a pricing of another plan",
      `/subscriptions/${SUB}/providers/Microsoft.Security/pricings/VirtualMachines`,
      "Microsoft.Security/pricings/write",
    ],
  ])("ResourceWriteSuccess: ignores %s", async (_name, resourceUri, operationName) => {
    expect((await parseEvent(writeSuccess(resourceUri, operationName))).kind).toBe("ignored");
  });

  it("ignores writes that did not succeed", async () => {
    const failed = writeSuccess(CLUSTER, "Microsoft.ContainerService/managedClusters/write");
    (failed.data as Record<string, unknown>).status = "Failed";
    expect(await parseEvent(failed)).toMatchObject({ kind: "ignored", reason: "the write ended Failed" });
  });

  it.each(["eventgrid", "cloudevents"] as const)(
    "APIM API events (%s schema): the API, without its revision",
    async (schema) => {
      for (const type of ["Microsoft.ApiManagement.APICreated", "Microsoft.ApiManagement.APIUpdated"]) {
        expect(await parseEvent(apimEvent(type, `${SERVICE}/apis/orders;Rev=1`, schema))).toMatchObject({
          kind: "reconcile",
          resourceId: `${SERVICE}/apis/orders`,
        });
      }
      expect(
        (await parseEvent(apimEvent("Microsoft.ApiManagement.APIDeleted", `${SERVICE}/apis/orders`, schema)))
          .kind,
      ).toBe("ignored");
    },
  );

  it("puts back the /providers/ segment APIM's documented resourceUri format leaves out", () => {
    const bare = `/subscriptions/${SUB}/resourceGroups/rg-apis/Microsoft.ApiManagement/service/apim-1/apis/orders;Rev=2`;
    expect(reconcileTargetOf(bare)).toEqual({ resourceId: `${SERVICE}/apis/orders`, subscriptionId: SUB });
  });

  it("Resource Notifications CreatedOrUpdated (CloudEvents) names clusters and services; other types are ignored", async () => {
    expect(
      await parseEvent(createdOrUpdated(CLUSTER, "Microsoft.ContainerService/managedClusters")),
    ).toMatchObject({
      kind: "reconcile",
      resourceId: CLUSTER,
    });
    const storage = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1`;
    expect((await parseEvent(createdOrUpdated(storage, "Microsoft.Storage/storageAccounts"))).kind).toBe(
      "ignored",
    );
  });

  it.each([
    ["a string", "hello", /event 0 is a string, not an object/],
    [
      "no eventType",
      { id: "e1", topic: "/x", subject: "/y", eventTime: "2026-01-01T00:00:00Z", data: {} },
      /eventType/,
    ],
    [
      "no id",
      {
        eventType: "Microsoft.Resources.ResourceWriteSuccess",
        topic: "/x",
        subject: "/y",
        eventTime: "t",
        data: {},
      },
      /'id'/,
    ],
    ["data that is not an object", { ...writeSuccess(CLUSTER, "x"), data: "oops" }, /has no data object/],
    ["no operation name", writeSuccess(CLUSTER, ""), /operationName is missing/],
    [
      "a resource id without a GUID",
      writeSuccess(
        "/subscriptions/abc/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/a",
        "Microsoft.ContainerService/managedClusters/write",
      ),
      /not a GUID/,
    ],
    [
      "a CloudEvent of another spec version",
      { ...createdOrUpdated(CLUSTER, "t"), specversion: "0.3" },
      /Cloud Event 1.0/,
    ],
  ])("names the problem with %s", async (_name, raw, problem) => {
    const verdict = await parseEvent(raw);
    expect(verdict.kind).toBe("malformed");
    if (verdict.kind === "malformed") expect(verdict.problem).toMatch(problem);
  });

  it("accepts one event or an array, and refuses payloads that are not events", async () => {
    const one = writeSuccess(CLUSTER, "Microsoft.ContainerService/managedClusters/write");
    expect(await parseEvents(one)).toHaveLength(1);
    expect((await parseEvents([one, docsSample, "x"])).map((v) => v.kind)).toEqual([
      "reconcile",
      "ignored",
      "malformed",
    ]);
    await expect(parseEvents(42)).rejects.toThrow(EventPayloadError);
    await expect(parseEvents(null)).rejects.toThrow(/not null/);
  });
});

describe("ids ARM would refuse never become a reconcile", () => {
  const CLUSTERS = CLUSTER.replace(/\/aks-1$/, "");
  const clusterWrite = "Microsoft.ContainerService/managedClusters/write";
  it.each([
    ["the cluster list as a cluster", `${CLUSTERS}/.`, clusterWrite, /has a '\.' segment/],
    [
      "a '..' climbing to another cluster",
      `${CLUSTER}/agentPools/../../aks-2`,
      "Microsoft.ContainerService/managedClusters/agentPools/write",
      /has a '\.\.' segment/,
    ],
    [
      "a cluster name ARM never accepts",
      `${CLUSTERS}/aks%2F1`,
      clusterWrite,
      /cluster name 'aks%2F1' contains "%"/,
    ],
    [
      "an API with '#'",
      `${SERVICE}/apis/orders#1`,
      "Microsoft.ApiManagement/service/apis/write",
      /API name 'orders#1' contains "#"/,
    ],
  ])("%s: malformed, naming the id and the reason", async (_name, resourceUri, operation, problem) => {
    const type = operation.replace(/\/write$/, "");
    for (const event of [writeSuccess(resourceUri, operation), createdOrUpdated(resourceUri, type)]) {
      const verdict = await parseEvent(event);
      expect(verdict.kind).toBe("malformed");
      if (verdict.kind === "malformed") {
        expect(verdict.problem).toMatch(problem);
        expect(verdict.problem).toContain(`resource id '${resourceUri}`);
      }
    }
  });
});

describe("parseEvent fuzzing", () => {
  const valid = writeSuccess(CLUSTER, "Microsoft.ContainerService/managedClusters/write");

  it("never throws on arbitrary JSON, and every rejection names its problem", async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        const verdict = await parseEvent(value);
        if (verdict.kind === "malformed") expect(verdict.problem.length).toBeGreaterThan(10);
        if (verdict.kind === "ignored") expect(verdict.reason.length).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });

  it("survives any field of a real event replaced by any JSON value", async () => {
    const keys = [...Object.keys(valid), ...Object.keys(valid.data).map((k) => `data.${k}`)];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...keys), fc.jsonValue(), async (key, value) => {
        const mutated = structuredClone(valid) as Record<string, unknown>;
        if (key.startsWith("data.")) (mutated.data as Record<string, unknown>)[key.slice(5)] = value;
        else mutated[key] = value;
        const verdict = await parseEvent(mutated);
        expect(["reconcile", "ignored", "malformed"]).toContain(verdict.kind);
        if (verdict.kind === "malformed") expect(verdict.problem).toMatch(/^event 0/);
        if (verdict.kind === "reconcile")
          expect(verdict.resourceId.toLowerCase()).toContain("/managedclusters/");
      }),
      { numRuns: 400 },
    );
  });
});
