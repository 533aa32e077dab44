import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { IncomingMessage } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../sim/index.js";
import { MAX_SOCKETS_PER_HOST, perSubscription } from "../../src/azure/connection.js";
import { createAzureGateway } from "../../src/azure/index.js";
import { simulatorCredential } from "../../src/cli/simulate.js";
import { cluster, clusterId, estate, SUB_A, workspaceId } from "../support/estate.js";

let sim: Simulator | undefined;
const sockets = new Set<object>();
const onRequest = (message: unknown): void => {
  sockets.add((message as { request: IncomingMessage }).request.socket);
};
afterEach(async () => {
  unsubscribe("http.server.request.start", onRequest);
  sockets.clear();
  await sim?.close();
  sim = undefined;
});

describe("the connections every Azure client shares", () => {
  it("a burst across every ARM adapter reuses a bounded set of connections", async () => {
    sim = await startSimulator({ estate: estate([cluster("aks-a")]) });
    subscribe("http.server.request.start", onRequest);
    const azure = createAzureGateway({
      credential: simulatorCredential,
      endpoint: sim.endpoint,
      tlsCa: sim.ca,
    });
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 60; i += 1) {
      calls.push(
        azure.aks.getCluster(clusterId("aks-a")),
        azure.security.getPricing(SUB_A, "Containers"),
        azure.resources.getResourceGroupTags(SUB_A, "rg-aks"),
        azure.logAnalytics.getWorkspace(workspaceId()),
      );
    }
    await Promise.all(calls);
    expect(sim.requests).toHaveLength(240);
    // Four clients, each with a pool of its own, used to open a connection per request in flight.
    expect(sockets.size).toBeGreaterThan(0);
    expect(sockets.size).toBeLessThanOrEqual(MAX_SOCKETS_PER_HOST);
    // Later calls go over the connections already open.
    const opened = sockets.size;
    await Promise.all([azure.aks.getCluster(clusterId("aks-a")), azure.security.getPricing(SUB_A, "Api")]);
    expect(sockets.size).toBe(opened);
  });

  it("keeps the SDK clients of the most recently used subscriptions only", () => {
    const made: string[] = [];
    const client = perSubscription((id) => {
      made.push(id);
      return { id };
    }, 2);
    const a = client("A");
    client("B");
    expect(client("a")).toBe(a);
    client("C");
    // B was the least recently used: it is made again; A still is the same client.
    client("B");
    expect(client("A")).not.toBe(a);
    expect(made).toEqual(["A", "B", "C", "B", "A"]);
  });
});
