/**
 * Arc-enabled clusters through the engine, the real adapters and the simulator: install, failure,
 * disconnected clusters, exclusions, audit, triggers that only start the install, and convergence.
 */
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Estate } from "../../sim/index.js";
import { createFileWaitLedger } from "../../src/engine/file-wait-ledger.js";
import type { OutcomeRecord } from "../../src/model/outcome.js";
import {
  arcCluster,
  arcClusterId,
  DEFENDER_TYPE,
  defenderExtension,
  extension,
  POLICY_TYPE,
  policyExtension,
} from "../support/arc.js";
import { runInfo, startWorld, writes, type TestWorld } from "../support/azure.js";
import { SUB_A, workspace, workspaceId } from "../support/estate.js";
import { call, fakeClock } from "../support/sim.js";

let world: TestWorld | undefined;
afterEach(async () => {
  await world?.sim.close();
  world = undefined;
});

const sweep = [{ kind: "subscription", subscriptionId: SUB_A }] as const;

function arcEstate(resources: Estate["resources"], containers: "Free" | "Standard" = "Standard"): Estate {
  return {
    subscriptions: [{ subscriptionId: SUB_A, pricings: { Containers: { pricingTier: containers } } }],
    resources: [workspace(), ...resources],
  };
}

function arcOutcome(outcomes: readonly OutcomeRecord[], name: string, check: string): OutcomeRecord {
  const found = outcomes.find((o) => o.ResourceId === arcClusterId(name) && o.Check === check);
  if (found === undefined) throw new Error(`no ${check} outcome for ${name}`);
  return found;
}

function status(outcomes: readonly OutcomeRecord[], name: string): Record<string, string> {
  return Object.fromEntries(
    outcomes.filter((o) => o.ResourceId === arcClusterId(name)).map((o) => [o.Check, o.Status] as const),
  );
}

function extensionPuts(w: TestWorld) {
  return writes(w.sim).filter((r) => r.path.includes("/Microsoft.KubernetesConfiguration/extensions/"));
}

describe("Arc-enabled clusters", () => {
  it("installs both extensions the way Azure's policies do, waits for them, and the next sweep writes nothing", async () => {
    world = await startWorld(
      arcEstate([
        arcCluster("edge-new"),
        arcCluster("edge-done"),
        defenderExtension(arcClusterId("edge-done")),
        policyExtension(arcClusterId("edge-done")),
      ]),
    );
    const first = await world.engine().reconcile(sweep, runInfo());
    expect(status(first.outcomes, "edge-new")).toEqual({
      "arc.defender-sensor": "remediated",
      "arc.azure-policy": "remediated",
    });
    expect(status(first.outcomes, "edge-done")).toEqual({
      "arc.defender-sensor": "compliant",
      "arc.azure-policy": "compliant",
    });
    const puts = extensionPuts(world);
    expect(puts.map((r) => [r.method, r.path.split("/").at(-1), r.apiVersion])).toEqual(
      expect.arrayContaining([
        ["PUT", DEFENDER_TYPE, "2024-11-01"],
        ["PUT", "azurepolicy", "2024-11-01"],
      ]),
    );
    expect(puts).toHaveLength(2);
    const sensorPut = puts.find((r) => r.path.endsWith(DEFENDER_TYPE));
    expect(sensorPut?.body).toEqual({
      identity: { type: "SystemAssigned" },
      properties: {
        extensionType: DEFENDER_TYPE,
        autoUpgradeMinorVersion: true,
        releaseTrain: "Stable",
        scope: { cluster: { releaseNamespace: "mdc" } },
        configurationSettings: { logAnalyticsWorkspaceResourceID: workspaceId() },
      },
    });
    expect(arcOutcome(first.outcomes, "edge-new", "arc.defender-sensor")).toMatchObject({
      ResourceType: "Microsoft.Kubernetes/connectedClusters",
      Action: `install the ${DEFENDER_TYPE} extension '${DEFENDER_TYPE}' sending to Log Analytics workspace ${workspaceId()}`,
    });

    world.sim.clearRequests();
    const second = await world.engine().reconcile(sweep, runInfo());
    expect(writes(world.sim)).toEqual([]);
    expect(status(second.outcomes, "edge-new")).toEqual({
      "arc.defender-sensor": "compliant",
      "arc.azure-policy": "compliant",
    });
  });

  it("sends a person to a Failed install with its error, and does not install again in a loop", async () => {
    world = await startWorld(arcEstate([arcCluster("edge-1")]));
    world.sim.injectFault({
      kind: "lro-failed",
      method: "PUT",
      pathRegex: "/extensions/azurepolicy$",
      code: "HelmInstallFailed",
      message: "gatekeeper pods not ready",
    });
    const first = await world.engine().reconcile(sweep, runInfo());
    const policy = arcOutcome(first.outcomes, "edge-1", "arc.azure-policy");
    expect(policy.Status).toBe("manual");
    expect(policy.Reason).toMatch(
      /the Azure Policy extension 'azurepolicy' is Failed \(HelmInstallFailed: gatekeeper pods not ready\)/,
    );
    expect(policy.Action).toBe(`install the ${POLICY_TYPE} extension 'azurepolicy'`);
    expect(arcOutcome(first.outcomes, "edge-1", "arc.defender-sensor").Status).toBe("remediated");

    world.sim.clearRequests();
    const second = await world.engine().reconcile(sweep, runInfo());
    expect(extensionPuts(world)).toEqual([]);
    expect(arcOutcome(second.outcomes, "edge-1", "arc.azure-policy").Status).toBe("manual");
  });

  it("never writes a cluster that is not connected: deferred for an hour, manual after the 24-hour cap", async () => {
    const clock = fakeClock("2026-11-25T10:00:00Z");
    world = await startWorld(
      arcEstate([
        arcCluster("edge-off", { connectivityStatus: "Offline" }),
        arcCluster("edge-expired", { connectivityStatus: "Expired" }),
      ]),
    );
    const waits = createFileWaitLedger(await mkdtemp(join(world.stateDir, "waits-")));
    const engine = world.engine({ waits, now: clock.now });
    const first = await engine.reconcile(sweep, runInfo());
    expect(extensionPuts(world)).toEqual([]);
    for (const name of ["edge-off", "edge-expired"]) {
      expect(status(first.outcomes, name)).toEqual({
        "arc.defender-sensor": "deferred",
        "arc.azure-policy": "deferred",
      });
    }
    expect(arcOutcome(first.outcomes, "edge-off", "arc.azure-policy").Details.retryAfterSeconds).toBe(3600);
    expect(first.requeue.map((r) => [r.resourceId, r.afterSeconds])).toEqual(
      expect.arrayContaining([[arcClusterId("edge-off"), 3600]]),
    );
    clock.advance(25 * 3600_000);
    const later = await engine.reconcile(sweep, runInfo());
    const capped = arcOutcome(later.outcomes, "edge-off", "arc.defender-sensor");
    expect(capped.Status).toBe("manual");
    expect(capped.Reason).toMatch(/^still waiting after 1 day\(s\) .*connectivity status is Offline/);
    expect(extensionPuts(world)).toEqual([]);
  });

  it("waits for an extension still being created, and reports it once it has succeeded", async () => {
    const id = arcClusterId("edge-1");
    world = await startWorld(
      arcEstate([
        arcCluster("edge-1"),
        policyExtension(id, { provisioningState: "Creating" }),
        defenderExtension(id),
      ]),
    );
    const { outcomes } = await world.engine().reconcile(sweep, runInfo());
    expect(status(outcomes, "edge-1")).toEqual({
      "arc.defender-sensor": "compliant",
      "arc.azure-policy": "deferred",
    });
    expect(extensionPuts(world)).toEqual([]);
  });

  it("skips what Azure's own automation skips, and costs no extension read when nothing applies", async () => {
    world = await startWorld(
      arcEstate([
        arcCluster("edge-aks", { distribution: "AKS" }),
        arcCluster("edge-eks", { distribution: "eks" }),
        arcCluster("edge-optout", { tags: { ms_defender_container_exclude_sensors: "true" } }),
        arcCluster("edge-excluded", { tags: { "autoprotect-exclude": "true" } }),
      ]),
    );
    const { outcomes } = await world.engine().reconcile(sweep, runInfo());
    expect(status(outcomes, "edge-aks")).toEqual({
      "arc.defender-sensor": "skipped",
      "arc.azure-policy": "skipped",
    });
    expect(status(outcomes, "edge-eks")).toEqual({
      "arc.defender-sensor": "skipped",
      "arc.azure-policy": "remediated",
    });
    expect(status(outcomes, "edge-optout")).toEqual({
      "arc.defender-sensor": "skipped",
      "arc.azure-policy": "remediated",
    });
    expect(status(outcomes, "edge-excluded")).toEqual({
      "arc.defender-sensor": "skipped",
      "arc.azure-policy": "skipped",
    });
    expect(arcOutcome(outcomes, "edge-excluded", "arc.azure-policy").Reason).toBe("excluded by tag");
    const listed = world.sim.requests.filter((r) => r.method === "GET" && r.path.endsWith("/extensions"));
    expect(listed.map((r) => r.path.split("/")[8])).toEqual(
      expect.arrayContaining(["edge-eks", "edge-optout"]),
    );
    expect(listed.some((r) => r.path.includes("/edge-aks/") || r.path.includes("/edge-excluded/"))).toBe(
      false,
    );
    expect(extensionPuts(world).map((r) => r.path.split("/")[8])).toEqual(["edge-eks", "edge-optout"]);
  });

  it("in audit mode reads and decides as enforce does, and writes nothing", async () => {
    world = await startWorld(
      arcEstate([arcCluster("edge-new"), arcCluster("edge-off", { connectivityStatus: "Offline" })]),
    );
    const { outcomes } = await world.engine().reconcile(sweep, runInfo("audit"));
    expect(writes(world.sim)).toEqual([]);
    expect(status(outcomes, "edge-new")).toEqual({
      "arc.defender-sensor": "planned",
      "arc.azure-policy": "planned",
    });
    expect(status(outcomes, "edge-off")).toEqual({
      "arc.defender-sensor": "deferred",
      "arc.azure-policy": "deferred",
    });
  });

  it("a trigger starts the installs and a queued look confirms them: remediated, with the operation", async () => {
    world = await startWorld(arcEstate([arcCluster("edge-new")]));
    const target = [{ kind: "resource", resourceId: arcClusterId("edge-new") }] as const;
    const started = await world
      .engine()
      .reconcile(target, { ...runInfo(), trigger: "eventgrid" }, { operations: "start" });
    expect(status(started.outcomes, "edge-new")).toEqual({
      "arc.defender-sensor": "deferred",
      "arc.azure-policy": "deferred",
    });
    const operation = arcOutcome(started.outcomes, "edge-new", "arc.azure-policy").Details.operation as {
      statusUrl: string;
      checks: string[];
    };
    expect(operation.checks.sort()).toEqual(["arc.azure-policy", "arc.defender-sensor"]);
    expect(operation.statusUrl).toMatch(
      /\/providers\/Microsoft\.KubernetesConfiguration\/extensions\/[^/]+\/operations\//,
    );
    const [look] = started.requeue;
    expect(look?.resourceId).toBe(arcClusterId("edge-new"));
    expect(look?.afterSeconds).toBe(60);

    world.sim.clearRequests();
    const pending = look?.operation === undefined ? {} : { pendingOperations: [look.operation] };
    // The installs end as they are looked at: each look polls and reads them once.
    let confirmed = started;
    for (
      let i = 0;
      i < 3 && status(confirmed.outcomes, "edge-new")["arc.azure-policy"] !== "remediated";
      i += 1
    ) {
      confirmed = await world
        .engine()
        .reconcile(target, { ...runInfo(), trigger: "queue" }, { operations: "start", ...pending });
      for (const outcome of confirmed.outcomes.filter((o) => o.Status === "deferred")) {
        expect(outcome.Reason).toMatch(/the install autoprotect started at .* is still running/);
      }
    }
    expect(status(confirmed.outcomes, "edge-new")).toEqual({
      "arc.defender-sensor": "remediated",
      "arc.azure-policy": "remediated",
    });
    expect(arcOutcome(confirmed.outcomes, "edge-new", "arc.azure-policy").Reason).toMatch(
      /the install autoprotect started at .* has completed/,
    );
    expect(extensionPuts(world)).toEqual([]);
  });

  it("a queued look at an install that failed and left nothing says so, and does not install again in that look", async () => {
    const id = arcClusterId("edge-new");
    world = await startWorld(arcEstate([arcCluster("edge-new"), defenderExtension(id)]));
    const target = [{ kind: "resource", resourceId: id }] as const;
    world.sim.injectFault({
      kind: "lro-failed",
      method: "PUT",
      pathRegex: "/extensions/azurepolicy$",
      code: "QuotaExceeded",
      message: "no room",
    });
    const started = await world.engine().reconcile(target, runInfo(), { operations: "start" });
    const operation = started.requeue[0]?.operation;
    if (operation === undefined) throw new Error("no operation to confirm");
    expect(operation.checks).toEqual(["arc.azure-policy"]);
    // The install fails, and someone deletes the failed extension before the look.
    await world.azure.arc.operationStatus(operation.statusUrl);
    expect(await world.azure.arc.operationStatus(operation.statusUrl)).toMatchObject({ status: "Failed" });
    await call(
      world.sim,
      "DELETE",
      `${id}/providers/Microsoft.KubernetesConfiguration/extensions/azurepolicy?api-version=2024-11-01`,
    );
    world.sim.clearRequests();
    const look = await world
      .engine()
      .reconcile(target, runInfo(), { operations: "start", pendingOperations: [operation] });
    const policy = arcOutcome(look.outcomes, "edge-new", "arc.azure-policy");
    expect(policy.Status).toBe("failed");
    expect(policy.Reason).toMatch(
      /^QuotaExceeded: the install autoprotect started at .* ended Failed: no room$/,
    );
    expect(extensionPuts(world)).toEqual([]);
  });

  it("turns the Containers plan on for a subscription whose only cluster is Arc-enabled", async () => {
    world = await startWorld(arcEstate([arcCluster("edge-new")], "Free"));
    const { outcomes } = await world.engine().reconcile(sweep, runInfo());
    expect(outcomes.find((o) => o.Check === "defender.containers-plan")?.Status).toBe("remediated");
  });

  it("leaves the Containers plan off when the only Arc cluster is excluded", async () => {
    world = await startWorld(
      arcEstate([arcCluster("edge-x", { tags: { "autoprotect-exclude": "true" } })], "Free"),
    );
    const { outcomes } = await world.engine().reconcile(sweep, runInfo());
    expect(outcomes.find((o) => o.Check === "defender.containers-plan")?.Status).toBe("skipped");
  });

  it("reconciles one connected cluster by id, and one that does not exist is a single skipped outcome", async () => {
    world = await startWorld(arcEstate([arcCluster("edge-new")], "Free"));
    const one = await world
      .engine()
      .reconcile([{ kind: "resource", resourceId: arcClusterId("edge-new") }], runInfo());
    expect(one.outcomes.map((o) => [o.Check, o.Status])).toEqual([
      ["defender.containers-plan", "remediated"],
      ["arc.defender-sensor", "remediated"],
      ["arc.azure-policy", "remediated"],
    ]);
    const ghost = await world
      .engine()
      .reconcile([{ kind: "resource", resourceId: arcClusterId("ghost") }], runInfo());
    expect(ghost.outcomes.map((o) => [o.Check, o.Status, o.Reason])).toEqual([
      ["arc.defender-sensor", "skipped", "not found: no such connected cluster"],
    ]);
  });

  it("a listing that fails is one failed outcome per Arc check on the subscription; an unregistered provider lists none", async () => {
    world = await startWorld(arcEstate([arcCluster("edge-new")]));
    world.sim.injectFault({
      kind: "status",
      method: "GET",
      pathRegex: "/providers/Microsoft\\.Kubernetes/connectedClusters$",
      status: 500,
      code: "InternalServerError",
      times: 10,
    });
    const broken = await world.engine().reconcile(sweep, runInfo());
    expect(
      broken.outcomes.filter((o) => o.Check.startsWith("arc.")).map((o) => [o.Check, o.Status, o.ResourceId]),
    ).toEqual([
      ["arc.defender-sensor", "failed", `/subscriptions/${SUB_A}`],
      ["arc.azure-policy", "failed", `/subscriptions/${SUB_A}`],
    ]);
    world.sim.clearFaults();
    world.sim.injectFault({
      kind: "status",
      method: "GET",
      pathRegex: "/providers/Microsoft\\.Kubernetes/connectedClusters$",
      status: 409,
      code: "MissingSubscriptionRegistration",
      message: "The subscription is not registered to use namespace 'Microsoft.Kubernetes'.",
      times: 10,
    });
    const unregistered = await world.engine().reconcile(sweep, runInfo());
    expect(unregistered.outcomes.filter((o) => o.Check.startsWith("arc."))).toEqual([]);
    expect(unregistered.outcomes.every((o) => o.Status !== "failed")).toBe(true);
  });

  it("a sensor workspace that cannot be read fails the sensor check only", async () => {
    world = await startWorld(arcEstate([arcCluster("edge-new")]));
    world.sim.injectFault({
      kind: "status",
      method: "GET",
      pathRegex: "/workspaces/law-main$",
      status: 500,
      code: "InternalServerError",
      times: 10,
    });
    const { outcomes } = await world.engine().reconcile(sweep, runInfo());
    expect(status(outcomes, "edge-new")).toEqual({
      "arc.defender-sensor": "failed",
      "arc.azure-policy": "remediated",
    });
    expect(arcOutcome(outcomes, "edge-new", "arc.defender-sensor").Reason).toMatch(
      /^reading the sensor's workspace: InternalServerError/,
    );
    expect(extensionPuts(world).map((r) => r.path.split("/").at(-1))).toEqual(["azurepolicy"]);
  });

  it("never overwrites an extension that holds the name it would use", async () => {
    const id = arcClusterId("edge-1");
    world = await startWorld(
      arcEstate([arcCluster("edge-1"), extension(id, "azurepolicy", "acme.gatekeeper")]),
    );
    const { outcomes } = await world.engine().reconcile(sweep, runInfo());
    expect(arcOutcome(outcomes, "edge-1", "arc.azure-policy").Status).toBe("manual");
    expect(extensionPuts(world).map((r) => r.path.split("/").at(-1))).toEqual([DEFENDER_TYPE]);
  });
});
