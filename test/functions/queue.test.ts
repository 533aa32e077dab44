import { TableClient } from "@azure/data-tables";
import { QueueClient } from "@azure/storage-queue";
import { afterEach, describe, expect, it } from "vitest";
import { createReconcileQueue, RECONCILE_POISON_QUEUE } from "../../src/azure/queue.js";
import { createTableScheduleLedger } from "../../src/azure/schedule-ledger.js";
import {
  createQueueScheduler,
  parseReconcileMessage,
  type ReconcileMessage,
} from "../../src/dispatch/scheduler.js";
import { createPoisonHandler, createReconcileQueueHandler } from "../../src/functions/queue.js";
import { useAzurite } from "../support/azurite.js";
import { cluster, clusterId, estate } from "../support/estate.js";
import { startFunctionsWorld, type FunctionsWorld } from "../support/functions.js";

const azurite = useAzurite();
let world: FunctionsWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

let queues = 0;
/** A scheduler on its own queue and ledger table, so tests do not see each other's messages. */
function isolatedScheduler(now?: () => Date) {
  queues += 1;
  const queueName = `reconcile-test-${String(queues)}`;
  const queue = new QueueClient(azurite().connectionString, queueName);
  const ledger = createTableScheduleLedger({
    connectionString: azurite().connectionString,
    tableName: `Schedule${String(queues)}`,
  });
  const scheduler = createQueueScheduler({
    ledger,
    queue: createReconcileQueue({ connectionString: azurite().connectionString, queueName }),
    ...(now === undefined ? {} : { now }),
  });
  return { scheduler, queue, ledger };
}

/** What the Functions host would hand the trigger: the decoded message body. */
async function receiveAll(queue: QueueClient): Promise<ReconcileMessage[]> {
  const { receivedMessageItems } = await queue.receiveMessages({
    numberOfMessages: 32,
    visibilityTimeout: 1,
  });
  return receivedMessageItems.map((m) =>
    parseReconcileMessage(Buffer.from(m.messageText, "base64").toString("utf8")),
  );
}

describe("delayed reconcile work on an Azure Storage queue (Azurite)", () => {
  it("keeps one pending look per resource: later or equal asks are dropped, a sooner one supersedes", async () => {
    const { scheduler, queue } = isolatedScheduler();
    const id = clusterId("aks-ledger");
    const ask = (afterSeconds: number) =>
      scheduler.schedule([{ resourceId: id, afterSeconds, reason: "busy" }], "corr");
    expect(await ask(0)).toHaveLength(1);
    const [first] = await receiveAll(queue);
    expect(first).toMatchObject({ version: 1, resourceId: id, reason: "busy", correlationId: "corr" });
    if (first === undefined) throw new Error("no message");
    expect(await scheduler.isCurrent(first)).toBe(true);

    // A look already due right now is no reason to skip a new one in five minutes.
    expect(await ask(300)).toHaveLength(1);
    expect(await scheduler.isCurrent(first)).toBe(false);
    expect(await ask(600)).toHaveLength(0);
    expect(await ask(310)).toHaveLength(0);
    expect(await ask(60)).toHaveLength(1);
    // Messages are hidden until due: nothing visible yet.
    expect(await receiveAll(queue)).toEqual([]);
  });

  it("runs a current message through the engine with the queue trigger, and drops a superseded one", async () => {
    world = await startFunctionsWorld(estate([cluster("aks-queued")]), azurite());
    const { scheduler, queue } = isolatedScheduler();
    const runtime = { ...world.runtime, scheduler };
    const handler = createReconcileQueueHandler(() => runtime);
    await scheduler.schedule(
      [{ resourceId: clusterId("aks-queued"), afterSeconds: 0, reason: "retry" }],
      "corr-q",
    );
    const [message] = await receiveAll(queue);
    await scheduler.schedule(
      [{ resourceId: clusterId("aks-queued"), afterSeconds: 0, reason: "sooner" }],
      "corr-q",
    );
    world.sim.clearRequests();
    expect(await handler(message, world.context("reconcileQueue"))).toBeUndefined();
    expect(world.sim.requests).toEqual([]);

    const [current] = await receiveAll(queue);
    const result = await handler(current, world.context("reconcileQueue"));
    expect(result?.outcomes.filter((o) => o.Status === "remediated").length).toBeGreaterThan(0);
    expect(result?.outcomes.every((o) => o.Trigger === "queue" && o.CorrelationId === "corr-q")).toBe(true);
  });

  it("checks scope where the work runs: a look queued before its subscription left the allow-list writes nothing", async () => {
    world = await startFunctionsWorld(estate([cluster("aks-out")]), azurite(), {
      AUTOPROTECT_SUBSCRIPTIONS: "0a1b2c3d-0000-4000-8000-0000000000ff",
    });
    const { scheduler, queue } = isolatedScheduler();
    const runtime = { ...world.runtime, scheduler };
    await scheduler.schedule(
      [{ resourceId: clusterId("aks-out"), afterSeconds: 0, reason: "retry" }],
      "corr-s",
    );
    const [message] = await receiveAll(queue);
    world.sim.clearRequests();
    const result = await createReconcileQueueHandler(() => runtime)(message, world.context("reconcileQueue"));
    expect(world.sim.requests).toEqual([]);
    const outcomes = result?.outcomes ?? [];
    expect(outcomes.length).toBeGreaterThan(0);
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ Status: "skipped", ResourceId: clusterId("aks-out") });
      expect(outcome.Reason).toContain("not in AUTOPROTECT_SUBSCRIPTIONS");
    }
  });

  it("schedules a failing run's retry itself, later each time; the poison queue turns given-up work into failed outcomes", async () => {
    world = await startFunctionsWorld(estate([cluster("aks-broken")]), azurite());
    const { scheduler, queue, ledger } = isolatedScheduler();
    const runtime = { ...world.runtime, scheduler };
    world.sim.injectFault({
      kind: "status",
      method: "PUT",
      path: /managedClusters\/aks-broken$/,
      status: 500,
      code: "InternalServerError",
      times: 100,
    });
    await scheduler.schedule(
      [{ resourceId: clusterId("aks-broken"), afterSeconds: 0, reason: "retry" }],
      "corr-p",
    );
    const [message] = await receiveAll(queue);
    const started = Date.now();
    const result = await createReconcileQueueHandler(() => runtime)(message, world.context());
    const failed = result?.outcomes.filter((o) => o.Status === "failed") ?? [];
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((o) => o.Details.code === "InternalServerError")).toBe(true);
    // Not thrown back to the host (whose retries come at once): the run queued its own retry, a minute on.
    const pending = await ledger.get(clusterId("aks-broken"));
    const dueIn = Date.parse(pending?.entry.dueAt ?? "") - started;
    expect(dueIn).toBeGreaterThanOrEqual(55_000);
    expect(dueIn).toBeLessThanOrEqual(70_000);
    expect(await scheduler.isCurrent(message as ReconcileMessage)).toBe(false);

    const logsBefore = world.logs.length;
    const context = world.context("reconcilePoison");
    const outcomes = await createPoisonHandler(() => runtime)(message, context);
    expect(outcomes.map((o) => o.Check).sort()).toEqual([
      "aks.authorized-ips",
      "aks.azure-policy",
      "aks.containers-plan-override",
      "aks.defender-sensor",
      "aks.sensor-workspace",
    ]);
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({
        Status: "failed",
        ResourceId: clusterId("aks-broken"),
        CorrelationId: "corr-p",
        Trigger: "queue",
      });
      expect(outcome.Reason).toContain(RECONCILE_POISON_QUEUE);
    }
    const poisonLogs = world.logs.slice(logsBefore);
    const errors = poisonLogs.filter((l) => l.level === "error").map((l) => l.text);
    expect(errors).toEqual([
      `autoprotect: gave up on ${clusterId("aks-broken")} after the queue's retries; 5 failed outcomes recorded`,
    ]);
    // Without ingestion settings each outcome is one JSON log line: recorded either way.
    const logged = poisonLogs
      .filter((l) => l.text.startsWith("{"))
      .map((l) => JSON.parse(l.text) as { Status: string });
    expect(logged.filter((o) => o.Status === "failed")).toHaveLength(5);
  });

  it("drops a message it cannot read with one error line", async () => {
    world = await startFunctionsWorld(estate([]), azurite());
    const handler = createReconcileQueueHandler(() => (world as FunctionsWorld).runtime);
    for (const body of ["not json", { version: 2 }, { version: 1, resourceId: "/subscriptions/x" }]) {
      expect(await handler(body, world.context())).toBeUndefined();
    }
    expect(world.logs.filter((l) => l.level === "error").map((l) => l.text)).toEqual([
      "autoprotect: dropped a reconcile message: the message is not JSON",
      "autoprotect: dropped a reconcile message: unknown message version 2",
      "autoprotect: dropped a reconcile message: the message has no token",
    ]);
    expect(world.sim.requests).toEqual([]);
  });

  it("never runs a resource's look twice at once: a look due while another instance runs one waits for its lease", async () => {
    world = await startFunctionsWorld(estate([cluster("aks-leased")]), azurite());
    const { scheduler, queue, ledger } = isolatedScheduler();
    const runtime = { ...world.runtime, scheduler };
    const id = clusterId("aks-leased");
    await scheduler.schedule([{ resourceId: id, afterSeconds: 0, reason: "sweep" }], "corr-1");
    const [first] = await receiveAll(queue);
    if (first === undefined) throw new Error("no message");
    // Another instance is running the first look...
    const running = await scheduler.claim(first, 600);
    expect(running.kind).toBe("run");
    // ...when the next sweep queues the resource again.
    await scheduler.schedule([{ resourceId: id, afterSeconds: 0, reason: "sweep" }], "corr-2");
    const [second] = await receiveAll(queue);
    if (second === undefined) throw new Error("no message");
    world.sim.clearRequests();
    expect(
      await createReconcileQueueHandler(() => runtime)(second, world.context("reconcileQueue")),
    ).toBeUndefined();
    expect(world.sim.requests).toEqual([]);
    expect(world.logs.map((l) => l.text).join("\n")).toMatch(
      /is being looked at elsewhere; this look is due again at/,
    );
    // It went back on the queue, hidden until the lease ends, and still names the current look.
    expect(await receiveAll(queue)).toEqual([]);
    expect((await ledger.get(id))?.entry.token).toBe(second.token);
    if (running.kind !== "run") throw new Error("not claimed");
    await scheduler.release(running);
    expect((await ledger.get(id))?.entry.lease).toBeUndefined();
    // Ending the old lease kept the look queued meanwhile.
    expect((await ledger.get(id))?.entry.token).toBe(second.token);
    const result = await createReconcileQueueHandler(() => runtime)(second, world.context("reconcileQueue"));
    expect(result?.outcomes.some((o) => o.Status === "remediated")).toBe(true);
    // The run released its own lease when it ended.
    expect((await ledger.get(id))?.entry.lease).toBeUndefined();
  });

  it("costs the schedule ledger three table requests a look: the claim reads and writes, the release only writes", async () => {
    queues += 1;
    const requests: string[] = [];
    const tableClient = TableClient.fromConnectionString(
      azurite().connectionString,
      `Counted${String(queues)}`,
      {
        allowInsecureConnection: true,
        additionalPolicies: [
          {
            position: "perCall",
            policy: {
              name: "count",
              sendRequest: (request, next) => {
                requests.push(request.method);
                return next(request);
              },
            },
          },
        ],
      },
    );
    const queueName = `reconcile-test-${String(queues)}`;
    const ledger = createTableScheduleLedger({ tableClient });
    const scheduler = createQueueScheduler({
      ledger,
      queue: createReconcileQueue({ connectionString: azurite().connectionString, queueName }),
    });
    const id = clusterId("aks-counted");
    await scheduler.schedule([{ resourceId: id, afterSeconds: 0, reason: "sweep" }], "corr-1");
    const [message] = await receiveAll(new QueueClient(azurite().connectionString, queueName));
    if (message === undefined) throw new Error("no message");

    requests.length = 0;
    const claim = await scheduler.claim(message, 600);
    if (claim.kind !== "run") throw new Error("not claimed");
    await scheduler.release(claim);
    expect(requests).toEqual(["GET", "PUT", "PUT"]);
    const entry = (await ledger.get(id))?.entry;
    expect(entry?.lease).toBeUndefined();
    expect(entry?.token).toBe(message.token);
  });
});
