import { afterEach, describe, expect, it } from "vitest";
import { runInfo, startWorld, statusOf, type TestWorld } from "../support/azure.js";
import { cluster, clusterId, estate } from "../support/estate.js";

/** azure-rest-api-specs' ManagedClustersCreate_SecurityProfile example: its workspace id is placeholders. */
const SPEC_WORKSPACE =
  "/subscriptions/SUB_ID/resourcegroups/RG_NAME/providers/microsoft.operationalinsights/workspaces/WORKSPACE_NAME";

let world: TestWorld | undefined;
afterEach(async () => {
  await world?.sim.close();
  world = undefined;
});

function specExample(name: string, sensorOn: boolean) {
  return cluster(name, {
    properties: {
      agentPoolProfiles: [
        {
          count: 3,
          enableNodePublicIP: true,
          mode: "System",
          name: "nodepool1",
          osType: "Linux",
          type: "VirtualMachineScaleSets",
          vmSize: "Standard_DS2_v2",
        },
      ],
      securityProfile: {
        defender: {
          logAnalyticsWorkspaceResourceId: SPEC_WORKSPACE,
          securityMonitoring: { enabled: sensorOn },
        },
        workloadIdentity: { enabled: true },
      },
    },
  });
}

describe("a cluster whose Defender workspace id is not a valid resource id", () => {
  it.each(["audit", "enforce"] as const)(
    "%s: each check says what the id means for it, and nothing fails",
    async (mode) => {
      world = await startWorld(estate([specExample("aks-spec", true), specExample("aks-spec-off", false)]));
      const { outcomes } = await world
        .engine()
        .reconcile(
          [{ kind: "subscription", subscriptionId: clusterId("aks-spec").split("/")[2] ?? "" }],
          runInfo(mode),
        );
      const status = (name: string, check: string) => statusOf(outcomes, name, check);
      expect(status("aks-spec", "aks.defender-sensor")).toBe("compliant");
      // ARM refuses any PUT of a cluster whose running sensor names an invalid workspace, so the
      // change waits for a person instead of failing on every run.
      expect(status("aks-spec", "aks.azure-policy")).toBe("manual");
      expect(status("aks-spec", "aks.authorized-ips")).toBe("manual");
      expect(status("aks-spec", "aks.sensor-workspace")).toBe("manual");
      // With the sensor off, the id cannot be used and is never replaced: a person fixes it.
      expect(status("aks-spec-off", "aks.defender-sensor")).toBe("manual");
      expect(status("aks-spec-off", "aks.azure-policy")).toBe(mode === "audit" ? "planned" : "remediated");
      expect(outcomes.filter((o) => o.Status === "failed")).toEqual([]);

      const workspaceOutcome = outcomes.find(
        (o) => o.ResourceId.endsWith("/aks-spec") && o.Check === "aks.sensor-workspace",
      );
      expect(workspaceOutcome?.Reason).toContain("not a valid workspace id");
      expect(workspaceOutcome?.Reason).toContain("'SUB_ID' is not a GUID");
      // Nothing was asked of ARM about the placeholder id, and the one cluster written kept it.
      expect(world.sim.requests.filter((r) => /SUB_ID|WORKSPACE_NAME/i.test(r.path))).toEqual([]);
      const puts = world.sim.requests.filter((r) => r.method === "PUT" && /managedClusters/i.test(r.path));
      expect(puts.map((r) => r.path.split("/").at(-1))).toEqual(mode === "audit" ? [] : ["aks-spec-off"]);
      for (const put of puts) {
        expect(JSON.stringify(put.body)).toContain(`"logAnalyticsWorkspaceResourceId":"${SPEC_WORKSPACE}"`);
      }
    },
  );
});
