/**
 * Events about Arc-enabled clusters, their extensions and clusters' own plans name the cluster to look
 * at, in both event schemas and as Resource Notifications, and the simulator's own events for those
 * writes parse to the same.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../sim/index.js";
import { HANDLED_OPERATION_PREFIXES, parseEvent } from "../../src/events/parse.js";
import { arcCluster, arcClusterId, clusterPlan } from "../support/arc.js";
import { SUB_A, cluster, clusterId, workspace } from "../support/estate.js";
import { call } from "../support/sim.js";

const ARC = arcClusterId("edge-1");
const AKS = clusterId("aks-1");
const EXTENSION = `${ARC}/providers/Microsoft.KubernetesConfiguration/extensions/azurepolicy`;

function data(resourceUri: string, operationName: string) {
  return {
    authorization: { scope: resourceUri, action: operationName },
    claims: {},
    correlationId: "c0ffee00-0000-4000-8000-000000000001",
    httpRequest: {
      clientRequestId: "x",
      clientIpAddress: "127.0.0.1",
      method: "PUT",
      url: "https://management.azure.com/",
    },
    resourceProvider: operationName.split("/")[0],
    resourceUri,
    operationName,
    status: "Succeeded",
    subscriptionId: SUB_A,
    tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47",
  };
}

function writeSuccess(resourceUri: string, operationName: string, schema: "eventgrid" | "cloudevents") {
  return schema === "eventgrid"
    ? {
        id: "0d0c7a3e-8d3f-4f7b-9d8a-5d8b7c6a5e4f",
        topic: `/subscriptions/${SUB_A}`,
        subject: resourceUri,
        eventType: "Microsoft.Resources.ResourceWriteSuccess",
        eventTime: "2026-11-25T10:00:00Z",
        data: data(resourceUri, operationName),
        dataVersion: "2",
        metadataVersion: "1",
      }
    : {
        id: "0d0c7a3e-8d3f-4f7b-9d8a-5d8b7c6a5e50",
        source: `/subscriptions/${SUB_A}`,
        subject: resourceUri,
        type: "Microsoft.Resources.ResourceWriteSuccess",
        time: "2026-11-25T10:00:00Z",
        specversion: "1.0",
        data: data(resourceUri, operationName),
      };
}

function createdOrUpdated(id: string, type: string) {
  return {
    id: "4eef929a-a65c-47dd-93e2-46b8c17c6c18",
    source: `/subscriptions/${SUB_A}`,
    subject: id,
    type: "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated",
    specversion: "1.0",
    time: "2026-11-25T10:00:00Z",
    data: {
      resourceInfo: { id, name: id.split("/").at(-1), type, location: "westeurope", properties: {} },
      apiVersion: "2024-11-01",
      operationalInfo: { resourceEventTime: "2026-11-25T10:00:00Z" },
    },
  };
}

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe("events about Arc-enabled clusters and clusters' own plans", () => {
  it.each(["eventgrid", "cloudevents"] as const)(
    "ResourceWriteSuccess (%s schema) names the cluster",
    async (schema) => {
      for (const [uri, operation, expected] of [
        [ARC, "Microsoft.Kubernetes/connectedClusters/write", ARC],
        [EXTENSION, "Microsoft.KubernetesConfiguration/extensions/write", ARC],
        [`${AKS}/providers/Microsoft.Security/pricings/Containers`, "Microsoft.Security/pricings/write", AKS],
      ] as const) {
        expect(await parseEvent(writeSuccess(uri, operation, schema))).toMatchObject({
          kind: "reconcile",
          resourceId: expected,
          subscriptionId: SUB_A,
        });
      }
    },
  );

  it("Resource Notifications name the cluster for the cluster and its extensions", async () => {
    expect(await parseEvent(createdOrUpdated(ARC, "Microsoft.Kubernetes/connectedClusters"))).toMatchObject({
      kind: "reconcile",
      resourceId: ARC,
    });
    expect(
      await parseEvent(createdOrUpdated(EXTENSION, "Microsoft.KubernetesConfiguration/extensions")),
    ).toMatchObject({ kind: "reconcile", resourceId: ARC });
  });

  it("ignores an extension deleted and other Kubernetes configuration writes", async () => {
    const flux = `${ARC}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/apps`;
    expect(
      (
        await parseEvent(
          writeSuccess(flux, "Microsoft.KubernetesConfiguration/fluxConfigurations/write", "eventgrid"),
        )
      ).kind,
    ).toBe("ignored");
    expect(HANDLED_OPERATION_PREFIXES).toContain("Microsoft.KubernetesConfiguration/extensions/write");
  });

  it("the events ARM raises for these writes (as the simulator raises them) reconcile the cluster", async () => {
    sim = await startSimulator({
      estate: {
        subscriptions: [{ subscriptionId: SUB_A }],
        resources: [workspace(), arcCluster("edge-1"), cluster("aks-1"), clusterPlan(AKS, "Free")],
      },
    });
    await call(sim, "PUT", `${EXTENSION}?api-version=2024-11-01`, {
      body: { properties: { extensionType: "microsoft.policyinsights" } },
    });
    await call(sim, "PUT", `${AKS}/providers/Microsoft.Security/pricings/Containers?api-version=2024-01-01`, {
      body: { properties: { pricingTier: "Standard" } },
    });
    const verdicts = await Promise.all(sim.events.map((e) => parseEvent(e)));
    expect(verdicts.map((v) => (v.kind === "reconcile" ? v.resourceId : v.kind))).toEqual([ARC, AKS]);
  });
});
