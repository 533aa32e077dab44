import { afterEach, describe, expect, it } from "vitest";
import { parseReconcileMessage, ReconcileMessageError } from "../../src/dispatch/scheduler.js";
import { createReconcileQueueHandler } from "../../src/functions/queue.js";
import { useAzurite } from "../support/azurite.js";
import { SUB_A, cluster, clusterId, estate } from "../support/estate.js";
import { startFunctionsWorld, type FunctionsWorld } from "../support/functions.js";

const azurite = useAzurite();
let world: FunctionsWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

/** A message as the scheduler writes it, about `resourceId`. */
const message = (resourceId: string) => ({
  version: 1,
  resourceId,
  token: "t-1",
  dueAt: "2026-11-25T10:00:00.000Z",
  reason: "a busy cluster",
  correlationId: "c-1",
});

const clusters = clusterId("aks-q").replace(/\/aks-q$/, "");
const refused: [string, string, RegExp][] = [
  ["the cluster list as a cluster", `${clusters}/.`, /has a '\.' segment/],
  ["a '..' segment", `${clusters}/aks-q/..`, /has a '\.\.' segment/],
  ["a name ARM never accepts", `${clusters}/aks?q`, /cluster name 'aks\?q' contains "\?"/],
  [
    "a type autoprotect does not reconcile",
    `/subscriptions/${SUB_A}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1`,
    /Microsoft.Storage\/storageAccounts; autoprotect reconciles/,
  ],
];

describe("queue messages naming ids ARM would refuse", () => {
  it.each(refused)("parseReconcileMessage refuses %s, naming the id", (_name, resourceId, reason) => {
    expect(() => parseReconcileMessage(JSON.stringify(message(resourceId)))).toThrow(ReconcileMessageError);
    expect(() => parseReconcileMessage(message(resourceId))).toThrow(reason);
  });

  it("accepts what the scheduler writes: a cluster, a subscription", () => {
    expect(parseReconcileMessage(message(clusterId("aks-q"))).resourceId).toBe(clusterId("aks-q"));
    expect(parseReconcileMessage(message(`/subscriptions/${SUB_A}`)).resourceId).toBe(
      `/subscriptions/${SUB_A}`,
    );
  });

  it("the queue trigger drops them with one error line each, and sends nothing to Azure", async () => {
    world = await startFunctionsWorld(estate([cluster("aks-q")]), azurite());
    const handler = createReconcileQueueHandler(() => (world as FunctionsWorld).runtime);
    for (const [, resourceId] of refused) {
      expect(await handler(message(resourceId), world.context())).toBeUndefined();
    }
    const errors = world.logs.filter((l) => l.level === "error").map((l) => l.text);
    expect(errors).toHaveLength(refused.length);
    refused.forEach(([, resourceId, reason], i) => {
      expect(errors[i]).toMatch(/^autoprotect: dropped a reconcile message: /);
      expect(errors[i]).toMatch(reason);
      expect(errors[i]).toContain(resourceId);
    });
    expect(world.sim.requests).toEqual([]);
  });
});
