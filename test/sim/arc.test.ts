import { afterEach, describe, expect, it } from "vitest";
import { parseEstate, startSimulator, type Estate, type Simulator } from "../../sim/index.js";
import { createAzureGateway, type AzureGateway } from "../../src/azure/index.js";
import { OperationFailedError } from "../../src/azure/errors.js";
import { simulatorCredential } from "../../src/cli/simulate.js";
import type { ExtensionInstall } from "../../src/model/arc.js";
import {
  arcCluster,
  arcClusterId,
  clusterPlan,
  DEFENDER_TYPE,
  defenderExtension,
  POLICY_TYPE,
} from "../support/arc.js";
import { cluster, clusterId, SUB_A, workspace } from "../support/estate.js";
import { armError, call } from "../support/sim.js";

let sim: Simulator | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

function estate(resources: Estate["resources"], containers: "Free" | "Standard" = "Standard"): Estate {
  return {
    subscriptions: [{ subscriptionId: SUB_A, pricings: { Containers: { pricingTier: containers } } }],
    resources: [workspace(), ...resources],
  };
}

async function start(e: Estate, lroPolls = 1): Promise<{ sim: Simulator; azure: AzureGateway }> {
  sim = await startSimulator({ estate: e, lroPolls });
  const azure = createAzureGateway({
    credential: simulatorCredential,
    endpoint: sim.endpoint,
    tlsCa: sim.ca,
    pollIntervalMs: 1,
    retry: { maxRetries: 0 },
  });
  return { sim, azure };
}

const POLICY_INSTALL: ExtensionInstall = {
  name: "azurepolicy",
  body: {
    identity: { type: "SystemAssigned" },
    properties: {
      extensionType: POLICY_TYPE,
      autoUpgradeMinorVersion: true,
      releaseTrain: "Stable",
      scope: { cluster: { releaseNamespace: "kube-system" } },
      configurationSettings: {},
    },
  },
};

const EXT_API = "api-version=2024-11-01";
const PLAN_API = "api-version=2024-01-01";

describe("connected clusters (Microsoft.Kubernetes/connectedClusters)", () => {
  it("lists and reads them as ARM does, a missing connectivity status served Connected", async () => {
    const bare = arcCluster("edge-bare");
    delete (bare.properties as Record<string, unknown>).connectivityStatus;
    const { azure } = await start(estate([arcCluster("edge-1", { connectivityStatus: "Offline" }), bare]));
    const listed = await azure.arc.listConnectedClusters(SUB_A);
    expect(
      listed.map((c) => [c.name, (c.properties as { connectivityStatus: string }).connectivityStatus]),
    ).toEqual([
      ["edge-1", "Offline"],
      ["edge-bare", "Connected"],
    ]);
    const one = await azure.arc.getConnectedCluster(arcClusterId("EDGE-1"));
    expect(one?.type).toBe("Microsoft.Kubernetes/connectedClusters");
    expect(await azure.arc.getConnectedCluster(arcClusterId("nope"))).toBeUndefined();
    // The estate exports as it was loaded: the served default is not written into it.
    const exported = sim?.exportEstate().resources.find((r) => r.name === "edge-bare");
    expect((exported?.properties as Record<string, unknown>).connectivityStatus).toBeUndefined();
  });

  it("refuses an estate whose cluster says a connectivity status ARM never reports", () => {
    expect(() =>
      parseEstate(estate([arcCluster("edge", { connectivityStatus: "Sleeping" })]), "e.json"),
    ).toThrow(
      /e\.json: resources\[1\]\.properties\.connectivityStatus must be one of Connecting, Connected, Offline, Expired, AgentNotInstalled/,
    );
  });
});

describe("cluster extensions (Microsoft.KubernetesConfiguration/extensions)", () => {
  it("installs through a long-running PUT: Creating at once, Succeeded once the operation ends", async () => {
    const id = arcClusterId("edge-1");
    const { sim: s, azure } = await start(estate([arcCluster("edge-1")]), 2);
    const started = await azure.arc.startInstallExtension(id, POLICY_INSTALL);
    expect(started.statusUrl).toMatch(
      new RegExp(`/extensions/azurepolicy/operations/[0-9a-f-]+\\?api-version=2024-11-01$`, "i"),
    );
    expect((started.accepted.properties as { provisioningState: string }).provisioningState).toBe("Creating");
    expect(await azure.arc.operationStatus(started.statusUrl)).toEqual({ status: "InProgress" });
    expect(await azure.arc.operationStatus(started.statusUrl)).toEqual({ status: "InProgress" });
    expect(await azure.arc.operationStatus(started.statusUrl)).toEqual({ status: "Succeeded" });
    const [installed] = await azure.arc.listExtensions(id);
    expect(installed?.properties).toMatchObject({
      extensionType: POLICY_TYPE,
      provisioningState: "Succeeded",
      scope: { cluster: { releaseNamespace: "kube-system" } },
    });
    expect(installed?.identity).toMatchObject({ type: "SystemAssigned" });
    // Accepted writes raise ARM's event, named as ARM spells the type.
    expect(s.events.map((e) => e.data.operationName)).toEqual([
      "Microsoft.KubernetesConfiguration/extensions/write",
    ]);
    expect(s.events[0]?.subject).toBe(
      `${id}/providers/Microsoft.KubernetesConfiguration/extensions/azurepolicy`,
    );
  });

  it("waits for the install through Azure Core's poller, and a failed install leaves a Failed extension with its error", async () => {
    const id = arcClusterId("edge-1");
    const { sim: s, azure } = await start(estate([arcCluster("edge-1")]));
    const done = await azure.arc.installExtension(id, POLICY_INSTALL);
    expect((done.properties as { provisioningState: string }).provisioningState).toBe("Succeeded");

    s.injectFault({
      kind: "lro-failed",
      method: "PUT",
      pathRegex: "/extensions/mdc$",
      code: "HelmInstallFailed",
      message: "image pull failed",
    });
    const failing = azure.arc.installExtension(id, {
      ...POLICY_INSTALL,
      name: "mdc",
      body: {
        ...POLICY_INSTALL.body,
        properties: { ...POLICY_INSTALL.body.properties, extensionType: DEFENDER_TYPE },
      },
    });
    await expect(failing).rejects.toBeInstanceOf(OperationFailedError);
    const failed = (await azure.arc.listExtensions(id)).find((e) => e.name === "mdc");
    expect(failed?.properties).toMatchObject({
      provisioningState: "Failed",
      errorInfo: { code: "HelmInstallFailed", message: "image pull failed" },
      statuses: [{ code: "HelmInstallFailed", level: "Error", message: "image pull failed" }],
    });
  });

  it("advances an install as it is looked at: a read of the extension counts as a poll", async () => {
    const id = arcClusterId("edge-1");
    const { azure } = await start(estate([arcCluster("edge-1")]), 1);
    await azure.arc.startInstallExtension(id, POLICY_INSTALL);
    const states = [];
    for (let i = 0; i < 3; i += 1) {
      const [installed] = await azure.arc.listExtensions(id);
      states.push((installed?.properties as { provisioningState: string }).provisioningState);
    }
    expect(states).toEqual(["Creating", "Succeeded", "Succeeded"]);
  });

  it("does not finish an install while the cluster is not connected", async () => {
    const id = arcClusterId("edge-off");
    const { azure } = await start(estate([arcCluster("edge-off", { connectivityStatus: "Offline" })]), 0);
    const started = await azure.arc.startInstallExtension(id, POLICY_INSTALL);
    for (let i = 0; i < 3; i += 1) {
      expect(await azure.arc.operationStatus(started.statusUrl)).toEqual({ status: "InProgress" });
    }
    expect((await azure.arc.listExtensions(id))[0]?.properties).toMatchObject({
      provisioningState: "Creating",
    });
  });

  it("refuses what Azure refuses: no type, a changed type, a write while one runs, an unknown cluster", async () => {
    const id = arcClusterId("edge-1");
    const { sim: s } = await start(
      estate([arcCluster("edge-1"), defenderExtension(id, { provisioningState: "Creating" })]),
    );
    const path = (name: string, cluster = id) =>
      `${cluster}/providers/Microsoft.KubernetesConfiguration/extensions/${name}?${EXT_API}`;
    const noType = await call(s, "PUT", path("x"), { body: { properties: {} } });
    expect([noType.status, armError(noType).code]).toEqual([400, "InvalidRequest"]);
    const changed = await call(s, "PUT", path(DEFENDER_TYPE), {
      body: { properties: { extensionType: POLICY_TYPE } },
    });
    expect([changed.status, armError(changed).code]).toEqual([400, "ExtensionTypeCannotBeChanged"]);
    const busy = await call(s, "PUT", path(DEFENDER_TYPE), {
      body: { properties: { extensionType: DEFENDER_TYPE } },
    });
    expect([busy.status, armError(busy).code]).toEqual([409, "Conflict"]);
    const unknown = await call(s, "PUT", path("x", arcClusterId("nope")), {
      body: { properties: { extensionType: POLICY_TYPE } },
    });
    expect([unknown.status, armError(unknown).code]).toEqual([404, "ResourceNotFound"]);
    expect(s.events).toEqual([]);
  });

  it("deletes: 200 for an extension, 204 when there is none", async () => {
    const id = arcClusterId("edge-1");
    const { sim: s } = await start(estate([arcCluster("edge-1"), defenderExtension(id)]));
    const path = `${id}/providers/Microsoft.KubernetesConfiguration/extensions/${DEFENDER_TYPE}?${EXT_API}`;
    expect((await call(s, "DELETE", path)).status).toBe(200);
    expect((await call(s, "DELETE", path)).status).toBe(204);
    expect(s.exportEstate().resources.some((r) => r.type.endsWith("/extensions"))).toBe(false);
  });

  it("needs an extension's cluster in the estate", () => {
    expect(() => parseEstate(estate([defenderExtension(arcClusterId("ghost"))]), "e.json")).toThrow(
      /e\.json: resources\[1\]\.id needs its cluster '.*\/connectedClusters\/ghost' \(Microsoft\.Kubernetes\/connectedClusters or Microsoft\.ContainerService\/managedClusters\) in resources, which does not list it/,
    );
  });
});

describe("a cluster's own Defender plan (resource-level Microsoft.Security/pricings)", () => {
  it("answers the subscription's plan as inherited, and the cluster's own one as not inherited", async () => {
    const inherits = clusterId("aks-inherits");
    const own = clusterId("aks-own");
    const { azure } = await start(
      estate([cluster("aks-inherits"), cluster("aks-own"), clusterPlan(own, "Free")]),
    );
    const inherited = await azure.security.getClusterPlan(inherits);
    expect(inherited?.id).toBe(`${inherits}/providers/Microsoft.Security/pricings/Containers`);
    expect(inherited?.properties).toMatchObject({
      pricingTier: "Standard",
      inherited: "True",
      inheritedFrom: `/subscriptions/${SUB_A}`,
    });
    expect(inherited?.properties.enforce).toBeUndefined();
    expect((await azure.security.getClusterPlan(own))?.properties).toMatchObject({
      pricingTier: "Free",
      inherited: "False",
      inheritedFrom: null,
    });
  });

  it("removes the cluster's own plan with DELETE (200, then 204), after which the cluster inherits; the events say so", async () => {
    const own = clusterId("aks-own");
    const { sim: s, azure } = await start(estate([cluster("aks-own"), clusterPlan(own, "Free")]));
    const path = `${own}/providers/Microsoft.Security/pricings/Containers?${PLAN_API}`;
    expect((await call(s, "DELETE", path)).status).toBe(200);
    expect((await call(s, "DELETE", path)).status).toBe(204);
    expect((await azure.security.getClusterPlan(own))?.properties.inherited).toBe("True");
    expect(s.events.map((e) => [e.eventType, e.data.operationName])).toEqual([
      ["Microsoft.Resources.ResourceDeleteSuccess", "Microsoft.Security/pricings/delete"],
      ["Microsoft.Resources.ResourceDeleteSuccess", "Microsoft.Security/pricings/delete"],
    ]);
    expect(s.exportEstate().resources.some((r) => r.type === "Microsoft.Security/pricings")).toBe(false);
  });

  it("sets a cluster's own plan with PUT, by a plan PUT's rules, and exports it", async () => {
    const id = clusterId("aks-1");
    const { sim: s } = await start(estate([cluster("aks-1")]));
    const path = `${id}/providers/Microsoft.Security/pricings/Containers?${PLAN_API}`;
    const put = await call(s, "PUT", path, { body: { properties: { pricingTier: "Free" } } });
    expect(put.status).toBe(201);
    expect((put.json as { properties: Record<string, unknown> }).properties).toMatchObject({
      pricingTier: "Free",
      inherited: "False",
    });
    const bad = await call(s, "PUT", path, { body: { properties: { pricingTier: "Premium" } } });
    expect(armError(bad).code).toBe("InvalidInputJson");
    const exported = s.exportEstate().resources.find((r) => r.type === "Microsoft.Security/pricings");
    expect(exported?.id).toBe(`${id}/providers/Microsoft.Security/pricings/Containers`);
    expect(s.events.map((e) => e.data.operationName)).toEqual(["Microsoft.Security/pricings/write"]);
  });

  it("has no resource scope before 2024-01-01, and no plan under a cluster that does not exist", async () => {
    const { sim: s } = await start(estate([cluster("aks-1")]));
    const old = await call(
      s,
      "GET",
      `${clusterId("aks-1")}/providers/Microsoft.Security/pricings/Containers?api-version=2023-01-01`,
    );
    expect(armError(old).code).toBe("NoRegisteredProviderFound");
    const ghost = await call(
      s,
      "GET",
      `${clusterId("ghost")}/providers/Microsoft.Security/pricings/Containers?${PLAN_API}`,
    );
    expect([ghost.status, armError(ghost).code]).toEqual([404, "ResourceNotFound"]);
  });

  it("keeps a subscription's plans out of resources", () => {
    const misplaced = {
      ...clusterPlan(clusterId("x"), "Free"),
      id: `/subscriptions/${SUB_A}/providers/Microsoft.Security/pricings/Containers`,
    };
    expect(() => parseEstate(estate([misplaced]), "e.json")).toThrow(
      /resources\[1\]\.id is a subscription's plan: list it in subscriptions\[\]\.pricings instead/,
    );
  });
});
