import { afterEach, describe, expect, it } from "vitest";
import { CHECK_IDS } from "../../src/model/checks.js";
import { OUTCOME_FIELDS } from "../../src/model/outcome.js";
import {
  PROTECTED_PROPERTIES,
  SUB_A,
  cluster,
  clusterId,
  estate,
  workspace,
  workspaceId,
} from "../support/estate.js";
import { runInfo, startWorld, statusOf, writes, type TestWorld } from "../support/azure.js";

const sweepA = [{ kind: "subscription", subscriptionId: SUB_A }] as const;

let world: TestWorld | undefined;
afterEach(async () => {
  await world?.sim.close();
  world = undefined;
});

function clusterPuts(w: TestWorld) {
  return writes(w.sim).filter(
    (r) => r.method === "PUT" && r.path.toLowerCase().includes("/managedclusters/"),
  );
}

describe("engine against the simulator, with the real SDK clients", () => {
  it("fixes everything in one sweep, and the second sweep writes nothing", async () => {
    world = await startWorld(
      estate([cluster("aks-open"), cluster("aks-done", { properties: PROTECTED_PROPERTIES })]),
    );
    const first = await world.engine().reconcile(sweepA, runInfo());

    expect(statusOf(first.outcomes, "Containers", "defender.containers-plan")).toBe("remediated");
    for (const check of ["aks.defender-sensor", "aks.azure-policy", "aks.authorized-ips"]) {
      expect(statusOf(first.outcomes, "aks-open", check)).toBe("remediated");
      expect(statusOf(first.outcomes, "aks-done", check)).toBe("compliant");
    }
    expect(statusOf(first.outcomes, "aks-open", "aks.sensor-workspace")).toBe("compliant");
    // No API Management here: the per-subscription Defender for APIs plan is not bought for nothing.
    expect(statusOf(first.outcomes, "Api", "defender.apis-plan")).toBe("skipped");

    world.sim.clearRequests();
    const second = await world.engine().reconcile(sweepA, runInfo());
    expect(writes(world.sim)).toEqual([]);
    const apisPlan = (o: { Check: string }) => o.Check === "defender.apis-plan";
    expect(new Set(second.outcomes.filter((o) => !apisPlan(o)).map((o) => o.Status))).toEqual(
      new Set(["compliant"]),
    );
  });

  it("writes every outcome with exactly the contract's fields", async () => {
    world = await startWorld(estate([cluster("aks-open")]));
    const { outcomes } = await world.engine().reconcile(sweepA, runInfo("audit"));
    // The Containers plan, four cluster checks, the cluster's own plan and the APIs plan.
    expect(outcomes).toHaveLength(7);
    for (const outcome of outcomes) {
      expect(Object.keys(outcome).sort()).toEqual([...OUTCOME_FIELDS].sort());
      expect(CHECK_IDS).toContain(outcome.Check);
      expect(outcome.TimeGenerated).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(outcome).toMatchObject({
        RunId: "run-1",
        Trigger: "cli",
        Mode: "audit",
        SubscriptionId: SUB_A,
        CorrelationId: "corr-1",
      });
    }
    expect(outcomes.find((o) => o.Check === "defender.containers-plan")?.ResourceId).toBe(
      `/subscriptions/${SUB_A}/providers/Microsoft.Security/pricings/Containers`,
    );
  });

  it("audit mode plans every change and sends no write at all", async () => {
    world = await startWorld(estate([cluster("aks-open")]));
    const { outcomes } = await world.engine().reconcile(sweepA, runInfo("audit"));
    expect(writes(world.sim)).toEqual([]);
    const planned = outcomes.filter((o) => o.Status === "planned");
    expect(planned.map((o) => o.Check).sort()).toEqual(
      ["aks.authorized-ips", "aks.azure-policy", "aks.defender-sensor", "defender.containers-plan"].sort(),
    );
    for (const outcome of planned) expect(outcome.Action).not.toBe("");
  });

  it("combines every change to a cluster into one PUT with If-Match that carries every property it read", async () => {
    world = await startWorld(estate([cluster("aks-open")]));
    await world.engine().reconcile(sweepA, runInfo());
    const puts = clusterPuts(world);
    expect(puts).toHaveLength(1);
    const put = puts[0];
    expect(put?.ifMatch).toBeTruthy();
    const body = put?.body as { location: string; identity: unknown; properties: Record<string, unknown> };
    expect(body.location).toBe("westeurope");
    expect(body.identity).toMatchObject({ type: "SystemAssigned" });
    // Properties the change did not mean to touch are all still there.
    expect(body.properties).toMatchObject({
      kubernetesVersion: "1.33",
      dnsPrefix: "aks-open-dns",
      enableRBAC: true,
      disableLocalAccounts: true,
      autoUpgradeProfile: { upgradeChannel: "patch", nodeOSUpgradeChannel: "NodeImage" },
      oidcIssuerProfile: { enabled: true },
      networkProfile: { networkPlugin: "azure", loadBalancerSku: "standard", outboundType: "loadBalancer" },
      securityProfile: {
        defender: { logAnalyticsWorkspaceResourceId: workspaceId(), securityMonitoring: { enabled: true } },
      },
      apiServerAccessProfile: { authorizedIPRanges: ["203.0.113.0/24"] },
    });
    expect((body.properties.addonProfiles as Record<string, { enabled: boolean }>).azurepolicy?.enabled).toBe(
      true,
    );
    expect((body.properties.agentPoolProfiles as unknown[]).length).toBe(1);
  });

  it("keeps every other plan extension as it was when it turns the Containers plan on", async () => {
    world = await startWorld(
      estate([cluster("aks-1", { properties: PROTECTED_PROPERTIES })], {
        pricingTier: "Standard",
        extensions: [
          { name: "ContainerRegistriesVulnerabilityAssessments", isEnabled: "False" },
          { name: "AgentlessDiscoveryForKubernetes", isEnabled: "True" },
          { name: "ContainerSensor", isEnabled: "False" },
          { name: "ContainerIntegrityContribution", isEnabled: "True" },
        ],
      }),
    );
    const { outcomes } = await world.engine().reconcile(sweepA, runInfo());
    expect(statusOf(outcomes, "Containers", "defender.containers-plan")).toBe("remediated");
    const plan = world.sim.exportEstate().subscriptions[0]?.pricings?.Containers;
    const byName = Object.fromEntries((plan?.extensions ?? []).map((e) => [e.name, e.isEnabled]));
    expect(plan?.pricingTier).toBe("Standard");
    expect(byName).toEqual({
      ContainerRegistriesVulnerabilityAssessments: "False",
      AgentlessDiscoveryForKubernetes: "True",
      ContainerSensor: "True",
      ContainerIntegrityContribution: "True",
    });
    const put = writes(world.sim).find((r) => r.path.toLowerCase().endsWith("/pricings/containers"));
    expect(put?.apiVersion).toBe("2024-01-01");
  });

  it("retries a throttled request after Retry-After and then succeeds", async () => {
    world = await startWorld(estate([cluster("aks-open")]));
    world.sim.injectFault({
      kind: "status",
      method: "PUT",
      path: /managedClusters\/aks-open$/i,
      status: 429,
      code: "TooManyRequests",
      retryAfterSeconds: 1,
    });
    const started = Date.now();
    const { outcomes } = await world.engine().reconcile(sweepA, runInfo());
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(statusOf(outcomes, "aks-open", "aks.azure-policy")).toBe("remediated");
    expect(clusterPuts(world).map((r) => r.status)).toEqual([429, 200]);
  });

  it("defers a cluster that is busy (409 OperationNotAllowed) or not in Succeeded state", async () => {
    world = await startWorld(
      estate([
        cluster("aks-busy"),
        cluster("aks-updating", { properties: { provisioningState: "Updating" } }),
      ]),
    );
    world.sim.injectFault({
      kind: "status",
      method: "PUT",
      path: /aks-busy$/i,
      status: 409,
      code: "OperationNotAllowed",
    });
    const result = await world.engine().reconcile(sweepA, runInfo());
    for (const name of ["aks-busy", "aks-updating"]) {
      expect(statusOf(result.outcomes, name, "aks.azure-policy")).toBe("deferred");
    }
    expect(clusterPuts(world).filter((r) => r.path.includes("aks-updating"))).toEqual([]);
    expect(result.requeue[0]?.afterSeconds).toBeGreaterThan(0);
  });

  it("reports failed with ARM's error code when 500s outlast the SDK's retries", async () => {
    world = await startWorld(estate([cluster("aks-open")]));
    world.sim.injectFault({
      kind: "status",
      method: "PUT",
      path: /aks-open$/i,
      status: 500,
      code: "InternalServerError",
      times: 10,
    });
    const { outcomes } = await world.engine().reconcile(sweepA, runInfo());
    const failed = outcomes.filter((o) => o.ResourceId.endsWith("aks-open") && o.Status === "failed");
    // Only the checks that needed the write failed; the workspace check stands on its own reading.
    expect(failed.map((o) => o.Check).sort()).toEqual([
      "aks.authorized-ips",
      "aks.azure-policy",
      "aks.defender-sensor",
    ]);
    for (const outcome of failed) expect(outcome.Reason).toMatch(/^InternalServerError: /);
    expect(statusOf(outcomes, "aks-open", "aks.sensor-workspace")).toBe("compliant");
    // Azure Core's retry policy made the first attempt and three retries before giving up.
    expect(clusterPuts(world).map((r) => r.status)).toEqual([500, 500, 500, 500]);
  });

  it("reports failed when the long-running operation ends Failed", async () => {
    world = await startWorld(estate([cluster("aks-open")]));
    world.sim.injectFault({
      kind: "lro-failed",
      path: /aks-open$/i,
      code: "ReconcileAddonsError",
      message: "addon failed",
    });
    const { outcomes } = await world.engine().reconcile(sweepA, runInfo());
    const policy = outcomes.find((o) => o.ResourceId.endsWith("aks-open") && o.Check === "aks.azure-policy");
    expect(policy?.Status).toBe("failed");
    expect(policy?.Reason).toContain("ReconcileAddonsError");
  });

  it("re-reads and re-plans after 412 instead of overwriting someone else's write", async () => {
    world = await startWorld(estate([cluster("aks-open")]));
    world.sim.injectFault({
      kind: "status",
      method: "PUT",
      path: /aks-open$/i,
      status: 412,
      code: "PreconditionFailed",
    });
    const { outcomes } = await world.engine().reconcile(sweepA, runInfo());
    expect(statusOf(outcomes, "aks-open", "aks.azure-policy")).toBe("remediated");
    const sequence = world.sim.requests
      .filter((r) => r.path.toLowerCase().endsWith("/managedclusters/aks-open"))
      .map((r) => `${r.method} ${r.status}`);
    expect(sequence.slice(0, 3)).toEqual(["PUT 412", "GET 200", "PUT 200"]);
  });

  it("survives a dropped connection through the SDK's retry policy", async () => {
    world = await startWorld(estate([cluster("aks-open")]));
    world.sim.injectFault({ kind: "drop-connection", method: "GET", path: /pricings\/Containers$/i });
    const { outcomes } = await world.engine().reconcile(sweepA, runInfo());
    expect(statusOf(outcomes, "Containers", "defender.containers-plan")).toBe("remediated");
  });

  it("skips clusters excluded by tag on the cluster or on its resource group, without writing", async () => {
    const e = estate([
      cluster("aks-tagged", { tags: { "AutoProtect-Exclude": "TRUE" } }),
      cluster("aks-in-excluded-group", { group: "rg-lab" }),
    ]);
    e.resources.push({
      id: `/subscriptions/${SUB_A}/resourceGroups/rg-lab`,
      name: "rg-lab",
      type: "Microsoft.Resources/resourceGroups",
      location: "westeurope",
      tags: { "autoprotect-exclude": "true" },
      properties: { provisioningState: "Succeeded" },
    });
    world = await startWorld(e);
    const { outcomes } = await world.engine().reconcile(sweepA, runInfo());
    const clusterOutcomes = outcomes.filter((o) => o.Check.startsWith("aks."));
    expect(clusterOutcomes).toHaveLength(10);
    for (const outcome of clusterOutcomes) {
      expect(outcome.Status).toBe("skipped");
      expect(outcome.Reason).toBe("excluded by tag");
    }
    expect(clusterPuts(world)).toEqual([]);
  });

  it("reconciles one cluster by id, fixing its subscription's plan first", async () => {
    world = await startWorld(estate([cluster("aks-open"), cluster("aks-other")]));
    const { outcomes } = await world.engine().reconcile(
      [
        {
          kind: "resource",
          resourceId: clusterId("AKS-OPEN").replace("managedClusters", "MANAGEDCLUSTERS"),
        },
      ],
      runInfo(),
    );
    expect(outcomes[0]?.Check).toBe("defender.containers-plan");
    expect(outcomes.filter((o) => o.Check.startsWith("aks.")).map((o) => o.ResourceId.toLowerCase())).toEqual(
      Array(5).fill(clusterId("aks-open").toLowerCase()),
    );
    expect(clusterPuts(world)).toHaveLength(1);
  });

  it("says once, quietly, that a cluster it was asked about does not exist, and writes nothing for it", async () => {
    world = await startWorld(estate([]));
    const { outcomes } = await world
      .engine()
      .reconcile([{ kind: "resource", resourceId: clusterId("gone") }], runInfo());
    expect(outcomes.map((o) => [o.ResourceId, o.Status])).toEqual([[clusterId("gone"), "skipped"]]);
    expect(outcomes[0]?.Reason).toMatch(/not found/);
    // Not even the Containers plan: a mistyped id must not turn on a billable plan.
    expect(writes(world.sim)).toEqual([]);
  });

  it("leaves the sensor's workspace alone and reports manual when it refuses public ingestion", async () => {
    const closed = workspaceId(SUB_A, "law-closed");
    world = await startWorld(
      estate([
        workspace(closed, "Disabled"),
        cluster("aks-closed", {
          properties: {
            ...PROTECTED_PROPERTIES,
            securityProfile: {
              defender: { logAnalyticsWorkspaceResourceId: closed, securityMonitoring: { enabled: true } },
            },
          },
        }),
      ]),
    );
    const { outcomes } = await world.engine().reconcile(sweepA, runInfo());
    expect(statusOf(outcomes, "aks-closed", "aks.defender-sensor")).toBe("compliant");
    expect(statusOf(outcomes, "aks-closed", "aks.sensor-workspace")).toBe("manual");
    expect(clusterPuts(world)).toEqual([]);
  });

  it("runs only the checks AUTOPROTECT_CHECKS names", async () => {
    world = await startWorld(estate([cluster("aks-open")]), { AUTOPROTECT_CHECKS: "aks.azure-policy" });
    const { outcomes } = await world.engine().reconcile(sweepA, runInfo());
    expect(outcomes.map((o) => o.Check)).toEqual(["aks.azure-policy"]);
    const body = clusterPuts(world)[0]?.body as { properties: { apiServerAccessProfile?: unknown } };
    expect(body.properties.apiServerAccessProfile).toBeUndefined();
  });
});
