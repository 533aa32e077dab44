import { QueueClient } from "@azure/storage-queue";
import { afterEach, describe, expect, it } from "vitest";
import { resourceWriteEvent } from "../../sim/builders.js";
import type { SimEvent } from "../../sim/index.js";
import { RECONCILE_QUEUE } from "../../src/azure/queue.js";
import { createTableScheduleLedger } from "../../src/azure/schedule-ledger.js";
import type { EventsResult } from "../../src/dispatch/events.js";
import type { ReconcileMessage } from "../../src/dispatch/scheduler.js";
import { createEventGridHandler } from "../../src/functions/eventgrid.js";
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

let eventCount = 0;
/** A ResourceWriteSuccess as the subscription's system topic delivers it (see ../shared/fixtures). */
function clusterWritten(id: string, operation?: string) {
  eventCount += 1;
  return resourceWriteEvent(id, `event-${String(eventCount)}`, operation);
}

function clusterPuts(w: FunctionsWorld, name: string) {
  return w.sim.requests.filter(
    (r) => r.method === "PUT" && r.path.toLowerCase().endsWith(`/managedclusters/${name}`),
  );
}

async function deliver(w: FunctionsWorld, event: unknown): Promise<EventsResult | undefined> {
  return createEventGridHandler(() => w.runtime)(event, w.context("resourceEvents"));
}

/**
 * The resource's pending look, as the queue will hand it over when its delay has passed: the message
 * the scheduler sent is the ledger's entry plus what the run asked for.
 */
async function pendingLook(
  w: FunctionsWorld,
  result: { requeue: readonly { resourceId: string; reason: string; operation?: unknown }[] },
  resourceId: string,
): Promise<ReconcileMessage> {
  const ledger = createTableScheduleLedger({ connectionString: azurite().connectionString });
  const pending = await ledger.get(resourceId);
  const request = result.requeue.find((r) => r.resourceId.toLowerCase() === resourceId.toLowerCase());
  if (pending === undefined || request === undefined) throw new Error(`no look pending for ${resourceId}`);
  return {
    version: 1,
    resourceId: pending.entry.resourceId,
    token: pending.entry.token,
    dueAt: pending.entry.dueAt,
    reason: request.reason,
    correlationId: "event-chain",
    ...(request.operation === undefined
      ? {}
      : { operation: request.operation as ReconcileMessage["operation"] & object }),
  };
}

describe("Event Grid trigger", () => {
  it("protects a new cluster seconds after its creation event, correlated with the event", async () => {
    world = await startFunctionsWorld(estate([cluster("aks-new")]), azurite());
    const result = await deliver(world, clusterWritten(clusterId("aks-new")));
    expect(clusterPuts(world, "aks-new")).toHaveLength(1);
    const outcomes = result?.outcomes ?? [];
    expect(outcomes.filter((o) => o.Status === "remediated").map((o) => o.Check)).toEqual([
      "defender.containers-plan",
    ]);
    // The cluster's update takes minutes on AKS: started, not awaited, and confirmed by a queued look.
    const started = outcomes
      .filter((o) => o.Status === "deferred")
      .map((o) => o.Check)
      .sort();
    expect(started).toEqual(["aks.authorized-ips", "aks.azure-policy", "aks.defender-sensor"]);
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ Trigger: "eventgrid", CorrelationId: `event-${String(eventCount)}` });
    }
    const queue = createReconcileQueueHandler(() => (world as FunctionsWorld).runtime);
    // The first look finds the update still running (the simulator answers InProgress once) ...
    const first = await queue(
      await pendingLook(world, result as EventsResult, clusterId("aks-new")),
      world.context(),
    );
    expect(new Set(first?.outcomes.filter((o) => started.includes(o.Check)).map((o) => o.Status))).toEqual(
      new Set(["deferred"]),
    );
    // ... the next one reports what the event's run did: remediated.
    const second = await queue(
      await pendingLook(world, first as EventsResult, clusterId("aks-new")),
      world.context(),
    );
    expect(
      second?.outcomes
        .filter((o) => o.Status === "remediated")
        .map((o) => o.Check)
        .sort(),
    ).toEqual(started);
    expect(clusterPuts(world, "aks-new")).toHaveLength(1);
  });

  it("answers within Event Grid's budget while AKS takes 10 minutes, and the outcome still arrives", async () => {
    let now = Date.parse("2026-11-25T10:00:00Z");
    world = await startFunctionsWorld(estate([cluster("aks-slow")]), azurite(), {}, undefined, undefined, {
      sim: { clock: () => new Date(now), lroDurationMs: 10 * 60_000 },
    });
    const started = Date.now();
    const result = await deliver(world, clusterWritten(clusterId("aks-slow")));
    // Well within the 30 s Event Grid waits for (the handler never polls the operation).
    expect(Date.now() - started).toBeLessThan(5_000);
    const operationPolls = () => world?.sim.requests.filter((r) => /\/operations\//.test(r.path)).length;
    expect(operationPolls()).toBe(0);
    const queue = createReconcileQueueHandler(() => (world as FunctionsWorld).runtime);
    const sensor = (r: EventsResult | undefined) =>
      r?.outcomes.find((o) => o.Check === "aks.defender-sensor" && o.ResourceId === clusterId("aks-slow"));
    expect(sensor(result)?.Status).toBe("deferred");

    // A minute on, the queued look finds the update running; ten minutes on, done.
    now += 60_000;
    const running = await queue(
      await pendingLook(world, result as EventsResult, clusterId("aks-slow")),
      world.context(),
    );
    expect(sensor(running as EventsResult)?.Status).toBe("deferred");
    now += 10 * 60_000;
    const done = await queue(
      await pendingLook(world, running as EventsResult, clusterId("aks-slow")),
      world.context(),
    );
    expect(sensor(done as EventsResult)).toMatchObject({ Status: "remediated" });
    expect(clusterPuts(world, "aks-slow")).toHaveLength(1);
  });

  it("writes once however often the same event is delivered, in sequence or all at once", async () => {
    world = await startFunctionsWorld(estate([cluster("aks-dup"), cluster("aks-storm")]), azurite());
    const event = clusterWritten(clusterId("aks-dup"));
    for (let i = 0; i < 5; i += 1) await deliver(world, event);
    expect(clusterPuts(world, "aks-dup")).toHaveLength(1);

    const storm = Array.from({ length: 12 }, () => clusterWritten(clusterId("aks-storm")));
    await Promise.all(storm.map((e) => deliver(world as FunctionsWorld, e)));
    expect(clusterPuts(world, "aks-storm")).toHaveLength(1);
  });

  it("handles events out of order: an older write arriving last changes nothing", async () => {
    world = await startFunctionsWorld(estate([cluster("aks-order")]), azurite());
    const older = { ...clusterWritten(clusterId("aks-order")), eventTime: "2026-11-25T10:00:00Z" };
    const newer = { ...clusterWritten(clusterId("aks-order")), eventTime: "2026-11-25T10:05:00Z" };
    await deliver(world, newer);
    const late = await deliver(world, older);
    expect(clusterPuts(world, "aks-order")).toHaveLength(1);
    expect(
      late?.outcomes.filter((o) => o.ResourceId === clusterId("aks-order")).map((o) => o.Status),
    ).not.toContain("remediated");
  });

  it("converges on the events its own writes cause: at most one no-op reconcile, never a loop", async () => {
    const caused: SimEvent[] = [];
    world = await startFunctionsWorld(estate([cluster("aks-loop")]), azurite(), {}, (event) =>
      caused.push(event),
    );
    await deliver(world, clusterWritten(clusterId("aks-loop")));
    expect(caused.map((e) => e.data.operationName).sort()).toEqual([
      "Microsoft.ContainerService/managedClusters/write",
      "Microsoft.Security/pricings/write",
    ]);
    // Feed our own writes' events back, as Event Grid would: they reconcile and find nothing to do.
    for (let round = 0; round < 3; round += 1) {
      const batch = caused.splice(0);
      for (const event of batch) await deliver(world, event);
    }
    expect(caused).toEqual([]);
    expect(clusterPuts(world, "aks-loop")).toHaveLength(1);
  });

  it("is quiet about a resource deleted before it looks: skipped, not failed", async () => {
    world = await startFunctionsWorld(estate([]), azurite());
    const result = await deliver(world, clusterWritten(clusterId("aks-gone")));
    const forCluster = (result?.outcomes ?? []).filter((o) => o.ResourceId === clusterId("aks-gone"));
    expect(forCluster.length).toBeGreaterThan(0);
    expect(new Set(forCluster.map((o) => o.Status))).toEqual(new Set(["skipped"]));
    expect(forCluster[0]?.Reason).toMatch(/not found/);
  });

  it("completes a malformed event with one error line and touches nothing", async () => {
    world = await startFunctionsWorld(estate([cluster("aks-x")]), azurite());
    const result = await deliver(world, { eventType: "Microsoft.Resources.ResourceWriteSuccess", data: "?" });
    expect(world.sim.requests).toEqual([]);
    const errors = world.logs.filter((l) => l.level === "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]?.text).toMatch(
      /^autoprotect: rejected event: event 0: event is missing required property 'eventTime'/,
    );
    expect(result?.outcomes).toEqual([]);
  });

  it("ignores events about other resources, at debug level, without a request", async () => {
    world = await startFunctionsWorld(estate([]), azurite());
    const storage = `/subscriptions/${SUB_A}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1`;
    await deliver(world, clusterWritten(storage, "Microsoft.Storage/storageAccounts/write"));
    expect(world.sim.requests).toEqual([]);
    expect(
      world.logs
        .filter((l) => l.level === "debug")
        .map((l) => l.text)
        .join("\n"),
    ).toMatch(/Microsoft.Storage\/storageAccounts\/write is not a write autoprotect checks/);
  });

  it("ignores subscriptions outside AUTOPROTECT_SUBSCRIPTIONS", async () => {
    world = await startFunctionsWorld(estate([cluster("aks-out")]), azurite(), {
      AUTOPROTECT_SUBSCRIPTIONS: "0a1b2c3d-0000-4000-8000-0000000000ff",
    });
    const result = await deliver(world, clusterWritten(clusterId("aks-out")));
    expect(world.sim.requests).toEqual([]);
    expect(result?.verdicts[0]).toMatchObject({
      kind: "ignored",
      reason: expect.stringMatching(/not in AUTOPROTECT_SUBSCRIPTIONS/) as string,
    });
  });

  it("schedules a busy cluster's retry on the queue once, however many events ask", async () => {
    const busy = cluster("aks-busy-queue", { properties: { provisioningState: "Updating" } });
    world = await startFunctionsWorld(estate([busy]), azurite());
    const queue = new QueueClient(azurite().connectionString, RECONCILE_QUEUE);
    await queue.createIfNotExists();
    const before = (await queue.getProperties()).approximateMessagesCount ?? 0;
    await deliver(world, clusterWritten(clusterId("aks-busy-queue")));
    await deliver(world, clusterWritten(clusterId("aks-busy-queue")));
    expect(clusterPuts(world, "aks-busy-queue")).toHaveLength(0);
    const after = (await queue.getProperties()).approximateMessagesCount ?? 0;
    expect(after - before).toBe(1);
  });
});
