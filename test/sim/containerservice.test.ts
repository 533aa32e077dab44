import { ContainerServiceClient, type ManagedCluster } from "@azure/arm-containerservice";
import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type Simulator, type SimulatorOptions } from "../../sim/index.js";
import {
  armError,
  baseEstate,
  call,
  cluster,
  clusterId,
  credential,
  RG,
  sdkOptions,
  SUB,
  WORKSPACE_ID,
} from "../support/sim.js";

const API = "api-version=2026-04-01";
let sim: Simulator | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(
  options: Partial<SimulatorOptions> = {},
): Promise<{ sim: Simulator; aks: ContainerServiceClient }> {
  sim = await startSimulator({ estate: baseEstate(), ...options });
  return { sim, aks: new ContainerServiceClient(credential, SUB, sdkOptions(sim)) };
}

function rest(path: string): string {
  return `${path}?${API}`;
}

describe("managed clusters through the real ContainerServiceClient", () => {
  it("lists every cluster across several pages, following absolute nextLinks", async () => {
    const clusters = Array.from({ length: 7 }, (_, i) =>
      cluster(`aks-${String(i)}`, {}, i % 2 === 0 ? "rg-a" : "rg-b"),
    );
    const { sim: s, aks } = await start({ estate: { ...baseEstate(), resources: clusters }, pageSize: 3 });

    const names: string[] = [];
    for await (const c of aks.managedClusters.list()) names.push(c.name ?? "");
    expect(names).toEqual(clusters.map((c) => c.name));
    const listCalls = s.requests.filter((r) => r.path.endsWith("/managedClusters"));
    expect(listCalls).toHaveLength(3);
    expect(listCalls.map((r) => r.query.$skipToken)).toEqual([undefined, "3", "6"]);

    const inGroup: string[] = [];
    for await (const c of aks.managedClusters.listByResourceGroup("RG-A")) inGroup.push(c.name ?? "");
    expect(inGroup).toEqual(["aks-0", "aks-2", "aks-4", "aks-6"]);

    const first = await call(
      s,
      "GET",
      `/subscriptions/${SUB}/providers/Microsoft.ContainerService/managedClusters?${API}`,
    );
    const body = first.json as { value: unknown[]; nextLink: string };
    expect(body.value).toHaveLength(3);
    expect(body.nextLink).toBe(
      `${s.endpoint}/subscriptions/${SUB}/providers/Microsoft.ContainerService/managedClusters?${API}&$skipToken=3`,
    );
  });

  it("gets a cluster with its eTag in the body and the ETag header", async () => {
    const { sim: s, aks } = await start();
    const got = await aks.managedClusters.get(RG, "aks1");
    expect(got.id).toBe(clusterId("aks1"));
    expect(got.provisioningState).toBe("Succeeded");
    expect(got.eTag).toMatch(/\S/);
    const raw = await call(s, "GET", rest(clusterId("AKS1").toLowerCase()));
    expect(raw.status).toBe(200);
    expect(raw.headers.etag).toBe(got.eTag);
    expect((raw.json as { id: string }).id).toBe(clusterId("aks1"));
  });

  it("runs a PUT as a long-running operation to Succeeded, changing the eTag", async () => {
    const { sim: s, aks } = await start({ lroPolls: 2 });
    const before = await aks.managedClusters.get(RG, "aks1");
    const wanted: ManagedCluster = {
      ...before,
      addonProfiles: { azurepolicy: { enabled: true } },
    };
    const poller = aks.managedClusters.createOrUpdate(RG, "aks1", wanted, {
      ifMatch: before.eTag,
      updateIntervalInMs: 10,
    });
    const after = await poller;
    expect(after.provisioningState).toBe("Succeeded");
    expect(after.addonProfiles?.azurepolicy?.enabled).toBe(true);
    expect(after.eTag).not.toBe(before.eTag);
    expect(after.fqdn).toBe(before.fqdn);

    const put = s.requests.find((r) => r.method === "PUT");
    expect(put?.ifMatch).toBe(before.eTag);
    expect(put?.status).toBe(200);
    const polls = s.requests.filter((r) => r.path.includes("/operations/"));
    expect(polls.length).toBe(3); // InProgress twice, then Succeeded
    expect(s.requests.at(-1)?.path).toBe(clusterId("aks1")); // the final GET
  });

  it("answers the PUT with Updating and the operation headers, and GET shows Updating until polled to the end", async () => {
    // Two InProgress answers: one for the operation-results URL, one for the status URL.
    const { sim: s } = await start({ lroPolls: 2 });
    const current = (await call(s, "GET", rest(clusterId("aks1")))).json as Record<string, unknown>;
    const put = await call(s, "PUT", rest(clusterId("aks1")), { body: current });
    expect(put.status).toBe(200);
    expect((put.json as { properties: { provisioningState: string } }).properties.provisioningState).toBe(
      "Updating",
    );
    expect(put.headers["retry-after"]).toBeUndefined();
    const asyncOp = String(put.headers["azure-asyncoperation"]);
    expect(asyncOp).toMatch(
      new RegExp(
        `^${s.endpoint.replace(/\./g, "\\.")}/subscriptions/${SUB}/providers/Microsoft\\.ContainerService/locations/westeurope/operations/[0-9a-f-]+\\?api-version=2026-04-01$`,
      ),
    );
    expect(String(put.headers.location)).toContain("/operationresults/");
    expect(put.headers.etag).toBe((put.json as { eTag: string }).eTag);

    const during = (await call(s, "GET", rest(clusterId("aks1")))).json as {
      properties: { provisioningState: string };
    };
    expect(during.properties.provisioningState).toBe("Updating");
    const results = await call(s, "GET", String(put.headers.location));
    expect(results.status).toBe(202);

    const poll1 = await call(s, "GET", asyncOp);
    expect(poll1.json).toMatchObject({ status: "InProgress" });
    expect((poll1.json as { startTime?: string }).startTime).toMatch(/Z$/);
    const poll2 = (await call(s, "GET", asyncOp)).json as { status: string; endTime?: string };
    expect(poll2.status).toBe("Succeeded");
    expect(poll2.endTime).toBeDefined();
    expect((await call(s, "GET", String(put.headers.location))).status).toBe(204);

    const after = await call(s, "GET", rest(clusterId("aks1")));
    expect((after.json as { properties: { provisioningState: string } }).properties.provisioningState).toBe(
      "Succeeded",
    );
    expect(after.headers.etag).not.toBe(put.headers.etag);
  });

  it("replaces the cluster on PUT: writable properties left out are gone, server-owned ones stay", async () => {
    const { sim: s } = await start({ lroPolls: 0 });
    const put = await call(s, "PUT", rest(clusterId("aks1")), {
      body: {
        location: "westeurope",
        properties: { dnsPrefix: "aks1", provisioningState: "Deleting", fqdn: "evil.example.com" },
      },
    });
    expect(put.status).toBe(200);
    const asyncOp = String(put.headers["azure-asyncoperation"]);
    expect(((await call(s, "GET", asyncOp)).json as { status: string }).status).toBe("Succeeded");
    const after = (await call(s, "GET", rest(clusterId("aks1")))).json as {
      tags?: unknown;
      properties: Record<string, unknown>;
    };
    expect(after.tags).toBeUndefined();
    expect(after.properties.agentPoolProfiles).toBeUndefined();
    expect(after.properties.addonProfiles).toBeUndefined();
    expect(after.properties.fqdn).toBe("aks1-abcd1234.hcp.westeurope.azmk8s.io");
    expect(after.properties.currentKubernetesVersion).toBe("1.31.5");
    expect(after.properties.provisioningState).toBe("Succeeded");
  });

  it("creates a cluster with 201 and completes it through the SDK", async () => {
    const { sim: s, aks } = await start();
    const created = await aks.managedClusters.createOrUpdate(
      RG,
      "aks-new",
      {
        location: "westeurope",
        dnsPrefix: "aksnew",
        agentPoolProfiles: [{ name: "sys", count: 1, mode: "System" }],
      },
      { updateIntervalInMs: 10 },
    );
    expect(created.provisioningState).toBe("Succeeded");
    expect(created.powerState?.code).toBe("Running");
    expect(created.fqdn).toMatch(/^aksnew-[0-9a-f]+\.hcp\.westeurope\.azmk8s\.io$/);
    expect(s.requests.find((r) => r.method === "PUT")?.status).toBe(201);
  });

  it("refuses a stale If-Match with 412 PreconditionFailed", async () => {
    const { aks } = await start();
    const before = await aks.managedClusters.get(RG, "aks1");
    await expect(
      aks.managedClusters.createOrUpdate(RG, "aks1", before, {
        ifMatch: "not-the-etag",
        updateIntervalInMs: 10,
      }),
    ).rejects.toMatchObject({ statusCode: 412, code: "PreconditionFailed" });
  });

  it("refuses a PUT while an operation is in progress and on a stopped cluster (409 OperationNotAllowed)", async () => {
    const estate = baseEstate([
      cluster("aks-busy", { provisioningState: "Updating" }),
      cluster("aks-stopped", { powerState: { code: "Stopped" } }),
    ]);
    const { sim: s, aks } = await start({ estate });

    const busy = await aks.managedClusters.get(RG, "aks-busy");
    const busyError = await aks.managedClusters.createOrUpdate(RG, "aks-busy", busy).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(busyError).toMatchObject({ statusCode: 409, code: "OperationNotAllowed" });
    expect((busyError as Error).message).toMatch(/in progress update managed cluster operation/);

    const stopped = await aks.managedClusters.get(RG, "aks-stopped");
    const stoppedError = await aks.managedClusters.createOrUpdate(RG, "aks-stopped", stopped).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(stoppedError).toMatchObject({ statusCode: 409, code: "OperationNotAllowed" });
    expect((stoppedError as Error).message).toMatch(/stopped/);

    // A second PUT before the first one's operation is polled to the end is busy too.
    const current = (await call(s, "GET", rest(clusterId("aks1")))).json;
    expect((await call(s, "PUT", rest(clusterId("aks1")), { body: current })).status).toBe(200);
    const second = await call(s, "PUT", rest(clusterId("aks1")), { body: current });
    expect(second.status).toBe(409);
    expect(armError(second).code).toBe("OperationNotAllowed");
  });

  it("validates the defender workspace and the authorized IP ranges", async () => {
    const { sim: s } = await start();
    const base = (await call(s, "GET", rest(clusterId("aks1")))).json as {
      location: string;
      properties: Record<string, unknown>;
    };
    const withProps = (props: Record<string, unknown>): unknown => ({
      ...base,
      properties: { ...base.properties, ...props },
    });
    const missingWorkspace = `${WORKSPACE_ID}-gone`;
    const badWorkspace = await call(s, "PUT", rest(clusterId("aks1")), {
      body: withProps({
        securityProfile: {
          defender: {
            securityMonitoring: { enabled: true },
            logAnalyticsWorkspaceResourceId: missingWorkspace,
          },
        },
      }),
    });
    expect(badWorkspace.status).toBe(400);
    expect(armError(badWorkspace).code).toBe("LinkedInvalidPropertyId");
    expect(armError(badWorkspace).message).toContain(missingWorkspace);

    const badRange = await call(s, "PUT", rest(clusterId("aks1")), {
      body: withProps({ apiServerAccessProfile: { authorizedIPRanges: ["10.0.0.0/8", "300.1.2.3"] } }),
    });
    expect(badRange.status).toBe(400);
    expect(armError(badRange).code).toBe("InvalidParameter");
    expect(armError(badRange).message).toContain("'300.1.2.3'");

    const basic = await call(s, "PUT", rest(clusterId("aks1")), {
      body: withProps({
        apiServerAccessProfile: { authorizedIPRanges: ["203.0.113.0/24"] },
        networkProfile: { loadBalancerSku: "Basic" },
      }),
    });
    expect(basic.status).toBe(400);
    expect(armError(basic).code).toBe("BadRequest");

    const noLocation = await call(s, "PUT", rest(clusterId("aks1")), {
      body: { properties: base.properties },
    });
    expect(noLocation.status).toBe(400);
    expect(armError(noLocation).code).toBe("LocationRequired");

    // None of the refused PUTs changed anything.
    const after = (await call(s, "GET", rest(clusterId("aks1")))).json;
    expect(after).toEqual(base);

    const good = await call(s, "PUT", rest(clusterId("aks1")), {
      body: withProps({
        securityProfile: {
          defender: {
            securityMonitoring: { enabled: true },
            logAnalyticsWorkspaceResourceId: WORKSPACE_ID.toLowerCase(),
          },
        },
        apiServerAccessProfile: { authorizedIPRanges: ["203.0.113.7", "198.51.100.0/24"] },
      }),
    });
    expect(good.status).toBe(200);
  });

  it("ends the operation Failed on an lro-failed fault and keeps the previous body", async () => {
    const { sim: s, aks } = await start();
    const before = await aks.managedClusters.get(RG, "aks1");
    s.injectFault({
      kind: "lro-failed",
      path: clusterId("aks1").toUpperCase(),
      code: "QuotaExceeded",
      message: "no cores",
    });
    const error = await aks.managedClusters
      .createOrUpdate(
        RG,
        "aks1",
        { ...before, addonProfiles: { azurepolicy: { enabled: true } } },
        { updateIntervalInMs: 10 },
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/QuotaExceeded/);
    expect(s.requests.find((r) => r.method === "PUT")?.fault).toBe("lro-failed");

    const after = await aks.managedClusters.get(RG, "aks1");
    expect(after.provisioningState).toBe("Failed");
    expect(after.addonProfiles?.azurepolicy?.enabled).toBe(false);
    expect(after.eTag).not.toBe(before.eTag);

    // A failed cluster accepts the next PUT (that is how AKS clusters are repaired); the fault was used up.
    const repaired = await aks.managedClusters.createOrUpdate(RG, "aks1", after, { updateIntervalInMs: 10 });
    expect(repaired.provisioningState).toBe("Succeeded");
  });

  it("answers ResourceNotFound for a missing cluster and NoRegisteredProviderFound for an old api-version", async () => {
    const { sim: s, aks } = await start();
    await expect(aks.managedClusters.get(RG, "nope")).rejects.toMatchObject({
      statusCode: 404,
      code: "ResourceNotFound",
    });
    const missing = await call(s, "GET", rest(clusterId("nope")));
    expect(armError(missing).message).toBe(
      `The Resource 'Microsoft.ContainerService/managedClusters/nope' under resource group '${RG}' was not found. ` +
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    );
    const old = await call(s, "GET", `${clusterId("aks1")}?api-version=2019-01-01`);
    expect(old.status).toBe(400);
    expect(armError(old).code).toBe("NoRegisteredProviderFound");
    expect(armError(old).message).toBe(
      "No registered resource provider found for location 'westeurope' and API version '2019-01-01' for type 'managedClusters'. " +
        "The supported api-versions are '2026-04-01, 2025-10-01, 2025-07-01, 2024-09-01'.",
    );
    for (const version of ["2025-10-01", "2025-07-01", "2024-09-01"]) {
      expect((await call(s, "GET", `${clusterId("aks1")}?api-version=${version}`)).status).toBe(200);
    }
  });
});

describe("what ARM returns and keeps", () => {
  it("loads clusters with null tags and null property members, serves them as stored, and exports them unchanged", async () => {
    const nulls = {
      ...cluster("aks-nulls", {
        securityProfile: null,
        addonProfiles: null,
        apiServerAccessProfile: null,
        networkProfile: { networkPlugin: "azure", loadBalancerSku: "standard", podCidr: null },
      }),
      tags: null,
      sku: null,
      identity: null,
    };
    const bare = { ...cluster("aks-bare"), properties: null };
    const estate = { ...baseEstate(), resources: [...baseEstate().resources, nulls, bare] };
    const { sim: s, aks } = await start({ estate, lroPolls: 0 });

    const got = await call(s, "GET", rest(clusterId("aks-nulls")));
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({
      tags: null,
      properties: { securityProfile: null, addonProfiles: null },
    });
    // The real SDK client reads them too.
    const read = await aks.managedClusters.get(RG, "aks-nulls");
    expect(read.securityProfile ?? undefined).toBeUndefined();
    expect((await call(s, "GET", rest(clusterId("aks-bare")))).json).toMatchObject({ properties: null });

    // A cluster with null properties accepts a PUT (it is not busy: no provisioning state reads as Succeeded).
    const put = await call(s, "PUT", rest(clusterId("aks-bare")), {
      body: { location: "westeurope", tags: null, properties: { dnsPrefix: "bare" } },
    });
    expect(put.status).toBe(200);
    expect(s.exportEstate().resources.find((r) => r.name === "aks-nulls")).toEqual(nulls);
  });

  it("keeps properties it does not model on PUT, as ARM keeps what it is sent", async () => {
    const { sim: s } = await start({ lroPolls: 0 });
    const current = (await call(s, "GET", rest(clusterId("aks1")))).json as {
      properties: Record<string, unknown>;
    } & Record<string, unknown>;
    const sent = {
      ...current,
      kind: "Base",
      futureTopLevel: { enabled: true },
      properties: {
        ...current.properties,
        futureProfile: { mode: "Strict", windows: [{ day: "Sunday" }] },
        securityProfile: {
          defender: { logAnalyticsWorkspaceResourceId: WORKSPACE_ID, securityMonitoring: { enabled: true } },
          futureScanner: { enabled: true },
        },
      },
    };
    const put = await call(s, "PUT", rest(clusterId("aks1")), { body: sent });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({
      kind: "Base",
      futureTopLevel: { enabled: true },
      properties: { futureProfile: sent.properties.futureProfile },
    });
    await call(s, "GET", String(put.headers["azure-asyncoperation"]));
    const after = (await call(s, "GET", rest(clusterId("aks1")))).json as typeof sent;
    expect(after.futureTopLevel).toEqual({ enabled: true });
    expect(after.properties.futureProfile).toEqual({ mode: "Strict", windows: [{ day: "Sunday" }] });
    expect(after.properties.securityProfile).toEqual(sent.properties.securityProfile);
    expect(s.exportEstate().resources[0]?.properties).toMatchObject({
      futureProfile: sent.properties.futureProfile,
    });

    // Its own validation still applies to what it models.
    const refused = await call(s, "PUT", rest(clusterId("aks1")), {
      body: {
        ...sent,
        properties: { ...sent.properties, apiServerAccessProfile: { authorizedIPRanges: ["not-an-ip"] } },
      },
    });
    expect(armError(refused).code).toBe("InvalidParameter");
  });
});
