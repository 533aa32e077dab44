import { afterEach, describe, expect, it } from "vitest";
import { runInfo, startWorld, statusOf, type TestWorld } from "../support/azure.js";
import { SUB_A, cluster, clusterId, estate } from "../support/estate.js";

let world: TestWorld | undefined;
afterEach(async () => {
  await world?.sim.close();
  world = undefined;
});

describe("a cluster write carries everything it read", () => {
  it("keeps properties no model of the cluster knows, and changes only what the checks own", async () => {
    const unknown = cluster("aks-future", {
      properties: {
        futureProfile: { mode: "Strict", rings: [1, 2] },
        securityProfile: { imageCleaner: { enabled: true, intervalHours: 48 }, futureGuard: "on" },
        apiServerAccessProfile: { enableVnetIntegration: true, futureAccess: { tier: 2 } },
      },
    });
    world = await startWorld(estate([{ ...unknown, futureTopLevel: { kept: true } }]));
    const { outcomes } = await world
      .engine()
      .reconcile([{ kind: "subscription", subscriptionId: SUB_A }], runInfo());
    expect(statusOf(outcomes, "aks-future", "aks.defender-sensor")).toBe("remediated");

    const put = world.sim.requests.find((r) => r.method === "PUT" && r.path === clusterId("aks-future"));
    const sent = put?.body as {
      properties: Record<string, Record<string, unknown>>;
      futureTopLevel?: unknown;
    };
    expect(sent.futureTopLevel).toEqual({ kept: true });
    expect(sent.properties.futureProfile).toEqual({ mode: "Strict", rings: [1, 2] });
    expect(sent.properties.securityProfile).toMatchObject({
      imageCleaner: { enabled: true, intervalHours: 48 },
      futureGuard: "on",
      defender: { securityMonitoring: { enabled: true } },
    });
    expect(sent.properties.apiServerAccessProfile).toMatchObject({
      enableVnetIntegration: true,
      futureAccess: { tier: 2 },
      authorizedIPRanges: ["203.0.113.0/24"],
    });

    // And the cluster as ARM keeps it afterwards.
    const stored = world.sim.exportEstate().resources.find((r) => r.name === "aks-future");
    expect(stored).toMatchObject({ futureTopLevel: { kept: true } });
    expect(stored?.properties).toMatchObject({ futureProfile: { mode: "Strict", rings: [1, 2] } });
  });
});

describe("a workspace that cannot be read", () => {
  it("fails only the checks that needed it; the cluster's other checks go on", async () => {
    world = await startWorld(estate([cluster("aks-ws")]));
    world.sim.injectFault({
      kind: "status",
      method: "GET",
      pathRegex: "/providers/Microsoft\\.OperationalInsights/workspaces/[^/]+$",
      status: 403,
      code: "AuthorizationFailed",
      times: 100,
    });
    const { outcomes } = await world
      .engine()
      .reconcile([{ kind: "subscription", subscriptionId: SUB_A }], runInfo());
    // The sensor would be pointed at that workspace: it waits for the read too.
    for (const check of ["aks.sensor-workspace", "aks.defender-sensor"]) {
      const outcome = outcomes.find((o) => o.Check === check);
      expect(outcome, check).toMatchObject({ Status: "failed", ResourceId: clusterId("aks-ws") });
      expect(outcome?.Details).toMatchObject({ code: "AuthorizationFailed" });
    }
    for (const check of ["aks.azure-policy", "aks.authorized-ips"]) {
      expect(statusOf(outcomes, "aks-ws", check), check).toBe("remediated");
    }
  });
});
