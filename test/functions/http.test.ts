import { HttpRequest } from "@azure/functions";
import { QueueClient } from "@azure/storage-queue";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { RECONCILE_QUEUE } from "../../src/azure/queue.js";
import { createReconcileHttpHandler } from "../../src/functions/http.js";
import { useAzurite } from "../support/azurite.js";
import { SUB_A, SUB_B, cluster, clusterId, estate } from "../support/estate.js";
import { startFunctionsWorld, type FunctionsWorld } from "../support/functions.js";

const azurite = useAzurite();
let world: FunctionsWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

function post(body: string, headers: Record<string, string> = { "content-type": "application/json" }) {
  return new HttpRequest({
    method: "POST",
    url: "http://localhost:7071/api/reconcile",
    headers,
    body: { string: body },
  });
}

async function call(w: FunctionsWorld, request: HttpRequest) {
  const response = await createReconcileHttpHandler(() => w.runtime)(request, w.context("reconcile"));
  return {
    status: response.status,
    headers: response.headers as Record<string, string> | undefined,
    body: response.jsonBody as Record<string, unknown>,
  };
}

describe("POST /api/reconcile", () => {
  it("reconciles one resource and answers 200 with its outcomes; dryRun writes nothing", async () => {
    world = await startFunctionsWorld(estate([cluster("aks-http")]), azurite());
    const dry = await call(world, post(JSON.stringify({ resourceId: clusterId("aks-http"), dryRun: true })));
    expect(dry.status).toBe(200);
    expect(dry.body.mode).toBe("audit");
    expect(world.sim.requests.filter((r) => r.method !== "GET")).toEqual([]);
    const outcomes = dry.body.outcomes as { Status: string; Trigger: string }[];
    expect(outcomes.some((o) => o.Status === "planned")).toBe(true);
    expect(outcomes.every((o) => o.Trigger === "http")).toBe(true);

    const real = await call(world, post(JSON.stringify({ resourceId: clusterId("aks-http") })));
    expect(real.status).toBe(200);
    expect((real.body.outcomes as { Status: string }[]).some((o) => o.Status === "remediated")).toBe(true);
  });

  it("answers 202 for a subscription and continues through the queue", async () => {
    world = await startFunctionsWorld(estate([]), azurite());
    const queue = new QueueClient(azurite().connectionString, RECONCILE_QUEUE);
    await queue.createIfNotExists();
    await queue.clearMessages();
    const response = await call(world, post(JSON.stringify({ subscriptionId: SUB_B })));
    expect(response.status).toBe(202);
    expect(response.body.accepted).toBe(`/subscriptions/${SUB_B}`);
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 5 });
    expect(receivedMessageItems).toHaveLength(1);
    const message = JSON.parse(
      Buffer.from(receivedMessageItems[0]?.messageText ?? "", "base64").toString("utf8"),
    ) as unknown;
    expect(message).toMatchObject({ resourceId: `/subscriptions/${SUB_B}`, reason: "requested over HTTP" });
    expect(world.sim.requests).toEqual([]);
  });

  const clusterA = clusterId("aks-http");
  const badInput: [string, HttpRequest, number, RegExp][] = [
    ["not JSON", post("{resourceId:"), 400, /not JSON/],
    ["an empty body", post(""), 400, /body is empty/],
    ["an array", post("[]"), 400, /must be a JSON object/],
    [
      "an unknown field",
      post(JSON.stringify({ resourceId: clusterA, force: true })),
      400,
      /unknown field 'force'/,
    ],
    [
      "both targets",
      post(JSON.stringify({ resourceId: clusterA, subscriptionId: SUB_A })),
      400,
      /exactly one of resourceId and subscriptionId/,
    ],
    ["neither target", post(JSON.stringify({ dryRun: true })), 400, /exactly one of/],
    [
      "a malformed resource id",
      post(JSON.stringify({ resourceId: "aks-1" })),
      400,
      /resourceId: resource id 'aks-1' must start with '\/subscriptions\/'/,
    ],
    [
      "the cluster list named as a cluster ('.')",
      post(JSON.stringify({ resourceId: clusterA.replace(/aks-http$/, ".") })),
      400,
      /resourceId: resource id '.*\/managedClusters\/\.' has a '\.' segment/,
    ],
    [
      "a '..' segment",
      post(JSON.stringify({ resourceId: `${clusterA}/../aks-other` })),
      400,
      /has a '\.\.' segment/,
    ],
    [
      "a name ARM never accepts (a line break, kept out of the one-line answer)",
      post(JSON.stringify({ resourceId: `${clusterA}\nX-Injected: yes` })),
      400,
      /^resourceId: resource id '[^\n]*aks-http\\nX-Injected: yes': cluster name 'aks-http\\nX-Injected: yes' contains "\\n"/,
    ],
    [
      "a resource type it does not reconcile",
      post(
        JSON.stringify({
          resourceId: `/subscriptions/${SUB_A}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st`,
        }),
      ),
      400,
      /Microsoft.Storage\/storageAccounts/,
    ],
    [
      "a subscription that is not a GUID",
      post(JSON.stringify({ subscriptionId: "prod" })),
      400,
      /subscriptionId must be a subscription GUID, not "prod"/,
    ],
    [
      "dryRun that is not a boolean",
      post(JSON.stringify({ resourceId: clusterA, dryRun: "yes" })),
      400,
      /dryRun must be true or false/,
    ],
    [
      "another content type",
      post("resourceId=x", { "content-type": "application/x-www-form-urlencoded" }),
      415,
      /must be application\/json/,
    ],
    [
      "an oversized body",
      post(JSON.stringify({ resourceId: clusterA, pad: "x".repeat(20_000) })),
      413,
      /larger than 16384 bytes/,
    ],
    [
      "an oversized declared length",
      post("{}", { "content-type": "application/json", "content-length": "1000000" }),
      413,
      /larger than/,
    ],
  ];
  it.each(badInput)("refuses %s with problem+json naming it", async (_name, request, status, detail) => {
    world = await startFunctionsWorld(estate([]), azurite());
    const response = await call(world, request);
    expect(response.status).toBe(status);
    expect(response.headers?.["content-type"]).toBe("application/problem+json");
    expect(response.body).toMatchObject({ status, detail: expect.stringMatching(detail) as string });
    expect(world.sim.requests).toEqual([]);
  });

  it("refuses a subscription outside AUTOPROTECT_SUBSCRIPTIONS", async () => {
    world = await startFunctionsWorld(estate([]), azurite(), { AUTOPROTECT_SUBSCRIPTIONS: SUB_A });
    const response = await call(world, post(JSON.stringify({ subscriptionId: SUB_B })));
    expect(response.status).toBe(400);
    expect(response.body.detail).toBe(`subscription ${SUB_B} is not in AUTOPROTECT_SUBSCRIPTIONS`);
  });

  it("never fails on arbitrary bodies: every refusal is a 4xx that names the problem", async () => {
    world = await startFunctionsWorld(estate([]), azurite());
    const w = world;
    const body = fc.oneof(
      fc.string(),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc
        .dictionary(fc.constantFrom("resourceId", "subscriptionId", "dryRun", "extra"), fc.jsonValue())
        .map((v) => JSON.stringify(v)),
    );
    await fc.assert(
      fc.asyncProperty(body, async (text) => {
        const response = await call(w, post(text));
        // A valid request in this estate-less world reaches a 200 (nothing found) or a 202.
        expect([200, 202, 400, 413, 415]).toContain(response.status);
        if ((response.status ?? 0) >= 400) expect(String(response.body.detail).length).toBeGreaterThan(8);
      }),
      { numRuns: 200 },
    );
  });
});
