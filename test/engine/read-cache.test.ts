import { afterEach, describe, expect, it } from "vitest";
import type { RecordedRequest } from "../../sim/index.js";
import type { RunOptions } from "../../src/engine/engine.js";
import { CHECK_IDS } from "../../src/model/checks.js";
import { AKS_CLUSTER_CHECK_IDS } from "../../src/model/targets.js";
import { runInfo, startWorld, type TestWorld } from "../support/azure.js";
import { SUB_A, cluster, clusterId, estate, workspaceId } from "../support/estate.js";
import { apimService, call } from "../support/sim.js";

/**
 * Runs in one worker share reads through a short-lived cache (src/engine/read-cache.ts). What a user
 * notices: a burst costs the cluster's read and write instead of four reads, each plan is written once,
 * and a kept read never outlives its expiry, a 404, a refused write or a failure.
 */
let world: TestWorld | undefined;
afterEach(async () => {
  await world?.sim.close();
  world = undefined;
});

const started: RunOptions = { operations: "start" };
const onCluster = (name: string, group = "rg-aks") => [
  { kind: "resource" as const, resourceId: clusterId(name, SUB_A, group) },
];
const count = (requests: readonly RecordedRequest[], method: string, path: RegExp): number =>
  requests.filter((r) => r.method === method && path.test(r.path)).length;
const GROUP = /\/resourceGroups\/[^/]+$/i;
const WORKSPACE = /\/workspaces\/[^/]+$/i;
const PLAN = /^\/subscriptions\/[^/]+\/providers\/Microsoft\.Security\/pricings\/Containers$/i;
/** A cluster's own plan (aks.containers-plan-override reads it: one read per cluster, never kept). */
const CLUSTER_PLAN = /\/managedClusters\/[^/]+\/providers\/Microsoft\.Security\/pricings\/Containers$/i;
const CLUSTER = /\/managedClusters\/[^/]+$/i;
const GRAPH = /^\/providers\/Microsoft\.ResourceGraph\/resources$/i;

function clusters(n: number, group = (i: number) => (i % 2 === 0 ? "rg-aks" : "rg-other")) {
  return Array.from({ length: n }, (_, i) => cluster(`aks-${String(i)}`, { group: group(i) }));
}

describe("reads shared by the runs of one worker", () => {
  it("a burst writes the plan once, reads each group and the workspace once, then costs a read and a write per cluster", async () => {
    world = await startWorld(estate(clusters(80)));
    const engine = world.engine();
    const burst = (from: number) =>
      Promise.all(
        Array.from({ length: 40 }, (_, i) => {
          const index = from + i;
          return engine.reconcile(
            onCluster(`aks-${String(index)}`, index % 2 === 0 ? "rg-aks" : "rg-other"),
            runInfo(),
            started,
          );
        }),
      );
    const first = await burst(0);
    const requests = world.sim.requests;
    expect(count(requests, "PUT", PLAN)).toBe(1);
    // Read once while the clusters are, before the write, and once after it.
    expect(count(requests, "GET", PLAN)).toBe(3);
    expect(count(requests, "GET", GROUP)).toBe(2);
    expect(count(requests, "GET", WORKSPACE)).toBe(1);
    expect(count(requests, "PUT", CLUSTER)).toBe(40);
    expect(count(requests, "GET", CLUSTER_PLAN)).toBe(40);
    // Every cluster's checks were reported by its own run; the plan's by the run that checked it.
    for (const result of first)
      expect(result.outcomes.filter((o) => o.Check.startsWith("aks.")).length).toBe(
        AKS_CLUSTER_CHECK_IDS.length,
      );
    expect(
      first.flatMap((r) => r.outcomes).filter((o) => o.Check === "defender.containers-plan"),
    ).toHaveLength(1);

    world.sim.clearRequests();
    await burst(40);
    // Warm, each event costs the cluster's read, its own plan's read and the cluster's write.
    expect(world.sim.requests.map((r) => r.method).sort()).toEqual([
      ...Array.from({ length: 80 }, () => "GET"),
      ...Array.from({ length: 40 }, () => "PUT"),
    ]);
    expect(count(world.sim.requests, "GET", CLUSTER)).toBe(40);
    expect(count(world.sim.requests, "GET", CLUSTER_PLAN)).toBe(40);
  });

  it("reads again once a kept read has expired, and turns back on a plan someone turned off meanwhile", async () => {
    world = await startWorld(estate(clusters(3)));
    let now = Date.parse("2026-11-30T10:00:00Z");
    const engine = world.engine({ now: () => new Date(now) });
    await engine.reconcile(onCluster("aks-0"), runInfo(), started);
    expect(count(world.sim.requests, "PUT", PLAN)).toBe(1);
    // Someone turns the plan off again; within the minute the worker still counts it as on.
    await call(
      world.sim,
      "PUT",
      `/subscriptions/${SUB_A}/providers/Microsoft.Security/pricings/Containers?api-version=2024-01-01`,
      {
        body: { properties: { pricingTier: "Free" } },
      },
    );
    world.sim.clearRequests();
    now += 30_000;
    await engine.reconcile(onCluster("aks-2"), runInfo(), started);
    expect(count(world.sim.requests, "GET", GROUP) + count(world.sim.requests, "GET", PLAN)).toBe(0);
    now += 31_000;
    const { outcomes } = await engine.reconcile(onCluster("aks-1", "rg-other"), runInfo(), started);
    expect(count(world.sim.requests, "GET", PLAN)).toBeGreaterThan(0);
    expect(count(world.sim.requests, "PUT", PLAN)).toBe(1);
    expect(outcomes.find((o) => o.Check === "defender.containers-plan")?.Status).toBe("remediated");
  });

  it("never keeps a read that failed or found nothing", async () => {
    world = await startWorld(estate(clusters(4, () => "rg-aks")));
    const engine = world.engine();
    const group = `/subscriptions/${SUB_A}/resourceGroups/rg-aks`;
    // Every attempt at the group fails in the first run; the workspace is not there in the second.
    world.sim.injectFault({
      kind: "status",
      method: "GET",
      path: group,
      status: 500,
      code: "InternalServerError",
      times: 4,
    });
    world.sim.injectFault({
      kind: "status",
      method: "GET",
      path: workspaceId(),
      status: 404,
      code: "ResourceNotFound",
    });
    const first = await engine.reconcile(onCluster("aks-0"), runInfo(), started);
    expect(first.outcomes.filter((o) => o.Check.startsWith("aks.")).every((o) => o.Status === "failed")).toBe(
      true,
    );
    world.sim.clearRequests();
    await engine.reconcile(onCluster("aks-1"), runInfo(), started);
    expect(count(world.sim.requests, "GET", GROUP)).toBe(1);
    expect(count(world.sim.requests, "GET", WORKSPACE)).toBe(1);
    world.sim.clearRequests();
    const third = await engine.reconcile(onCluster("aks-2"), runInfo(), started);
    expect(count(world.sim.requests, "GET", GROUP)).toBe(0);
    expect(count(world.sim.requests, "GET", WORKSPACE)).toBe(1);
    expect(third.outcomes.find((o) => o.Check === "aks.sensor-workspace")?.Status).not.toBe("failed");
  });

  it("drops the cluster's group tags when its write is refused for a stale ETag", async () => {
    world = await startWorld(estate(clusters(2, () => "rg-aks")));
    const engine = world.engine();
    world.sim.injectFault({
      kind: "status",
      method: "PUT",
      path: clusterId("aks-0"),
      status: 412,
      code: "PreconditionFailed",
      times: 3,
    });
    await engine.reconcile(onCluster("aks-0"), runInfo(), started);
    world.sim.clearRequests();
    await engine.reconcile(onCluster("aks-1"), runInfo(), started);
    expect(count(world.sim.requests, "GET", GROUP)).toBe(1);
    expect(count(world.sim.requests, "GET", WORKSPACE)).toBe(1);
  });

  it("never keeps the Defender for APIs plan's answer: it gates onboarding writes", async () => {
    const service = {
      ...apimService("apim-1", "Developer"),
      id: `/subscriptions/${SUB_A}/resourceGroups/rg-apis/providers/Microsoft.ApiManagement/service/apim-1`,
    };
    world = await startWorld(estate([service]));
    const engine = world.engine();
    const onService = [{ kind: "resource" as const, resourceId: service.id }];
    await engine.reconcile(onService, runInfo(), started);
    await engine.reconcile(onService, runInfo(), started);
    expect(count(world.sim.requests, "GET", /\/pricings\/Api$/i)).toBeGreaterThanOrEqual(2);
  });

  it("with the agreement on, a burst asks Resource Graph once per subscription, and again once the minute is up", async () => {
    world = await startWorld(estate(clusters(20)), { AUTOPROTECT_CHECKS: CHECK_IDS.join(",") });
    let now = Date.parse("2026-11-30T10:00:00Z");
    const engine = world.engine({ now: () => new Date(now) });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        engine.reconcile(
          onCluster(`aks-${String(i)}`, i % 2 === 0 ? "rg-aks" : "rg-other"),
          runInfo(),
          started,
        ),
      ),
    );
    expect(count(world.sim.requests, "POST", GRAPH)).toBe(1);
    // Every cluster still has its agreement outcome.
    for (const result of results)
      expect(result.outcomes.filter((o) => o.Check === "defender.agreement")).toHaveLength(1);
    now += 61_000;
    await engine.reconcile(onCluster("aks-0"), runInfo(), started);
    expect(count(world.sim.requests, "POST", GRAPH)).toBe(2);
  });

  it("keeps nothing with AUTOPROTECT_READ_CACHE_SECONDS=0", async () => {
    world = await startWorld(estate(clusters(4, () => "rg-aks")), { AUTOPROTECT_READ_CACHE_SECONDS: "0" });
    const engine = world.engine();
    for (const name of ["aks-0", "aks-1", "aks-2"])
      await engine.reconcile(onCluster(name), runInfo(), started);
    expect(count(world.sim.requests, "GET", GROUP)).toBe(3);
    expect(count(world.sim.requests, "GET", WORKSPACE)).toBe(3);
    expect(count(world.sim.requests, "GET", PLAN)).toBeGreaterThanOrEqual(3);
  });
});
