import { ContainerServiceClient } from "@azure/arm-containerservice";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  EstateError,
  loadEstateFile,
  parseEstate,
  saveEstateFile,
  startSimulator,
  type Estate,
  type Simulator,
} from "../../sim/index.js";
import {
  baseEstate,
  call,
  cluster,
  clusterId,
  credential,
  RG,
  sdkOptions,
  SUB,
  SUB2,
} from "../support/sim.js";

let dir = "";
const sims: Simulator[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "autoprotect-sim-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

function parseError(json: unknown): string {
  try {
    parseEstate(json, "estate.json");
  } catch (error) {
    expect(error).toBeInstanceOf(EstateError);
    return (error as Error).message;
  }
  throw new Error("parseEstate accepted it");
}

describe("parseEstate", () => {
  it("accepts the contract's example shape and fills nothing it does not need", () => {
    const estate = parseEstate(
      {
        subscriptions: [
          {
            subscriptionId: SUB,
            pricings: { Containers: { pricingTier: "free" }, Api: { pricingTier: "Free" } },
          },
        ],
        resources: [cluster("aks1")],
        capacity: { "/subscriptions/x/apim": { base: 20, perApi: 1.5 } },
      },
      "estate.json",
    );
    expect(estate.subscriptions[0]?.pricings?.Containers?.pricingTier).toBe("Free");
    expect(estate.resources[0]?.id).toBe(clusterId("aks1"));
    expect(estate.capacity).toEqual({ "/subscriptions/x/apim": { base: 20, perApi: 1.5 } });
    expect(parseEstate({ subscriptions: [] }, "e").resources).toEqual([]);
  });

  it("names exactly what is wrong, with its path", () => {
    const good = cluster("aks1");
    const { id: _id, ...noId } = good;
    const sub = { subscriptionId: SUB };
    expect(parseError([])).toBe("estate.json: the estate must be a JSON object, not an array");
    expect(parseError({ subscriptions: [sub], resources: [], extra: 1 })).toBe(
      'estate.json: unknown top-level key "extra" (expected subscriptions, resources, capacity, logs, now, faults)',
    );
    expect(parseError({ resources: [] })).toBe("estate.json: subscriptions is missing");
    expect(parseError({ subscriptions: [sub], resources: [good, good, good, noId] })).toBe(
      "estate.json: resources[1].id repeats resources[0].id ('" + clusterId("aks1") + "')",
    );
    expect(
      parseError({ subscriptions: [sub], resources: [cluster("a"), cluster("b"), cluster("c"), noId] }),
    ).toBe("estate.json: resources[3].id is missing");
    expect(parseError({ subscriptions: [{ subscriptionId: "sub-1" }], resources: [] })).toBe(
      "estate.json: subscriptions[0].subscriptionId 'sub-1' is not a GUID",
    );
    expect(
      parseError({
        subscriptions: [{ subscriptionId: SUB, pricings: { Api: { pricingTier: "Gold" } } }],
        resources: [],
      }),
    ).toBe('estate.json: subscriptions[0].pricings.Api.pricingTier must be "Free" or "Standard", not "Gold"');
    expect(
      parseError({
        subscriptions: [
          {
            subscriptionId: SUB,
            pricings: {
              Containers: {
                pricingTier: "Standard",
                extensions: [{ name: "ContainerSensor", isEnabled: true }],
              },
            },
          },
        ],
        resources: [],
      }),
    ).toBe(
      'estate.json: subscriptions[0].pricings.Containers.extensions[0].isEnabled must be the string "True" or "False", not the boolean true',
    );
    expect(parseError({ subscriptions: [sub], resources: [{ ...good, type: "Microsoft.Web/sites" }] })).toBe(
      "estate.json: resources[0].type 'Microsoft.Web/sites' does not match its id, which is of type 'Microsoft.ContainerService/managedClusters'",
    );
    expect(parseError({ subscriptions: [sub], resources: [{ ...good, tags: { a: 1 } }] })).toBe(
      "estate.json: resources[0].tags.a must be a string, not the number 1",
    );
    expect(parseError({ subscriptions: [{ subscriptionId: SUB2 }], resources: [good] })).toBe(
      `estate.json: resources[0].id names subscription '${SUB}', which is not listed in subscriptions`,
    );
    expect(
      parseError({ subscriptions: [sub], resources: [], capacity: { x: { base: "20", perApi: 1 } } }),
    ).toBe('estate.json: capacity.x.base must be a number of percent, 0 or more, not the string "20"');
  });
});

describe("what ARM and exported inventories write", () => {
  it("accepts null tags, sku, location and properties, and null members of properties", () => {
    const nulls = { ...cluster("aks1"), tags: null, sku: null, location: null, properties: null };
    const service = {
      id: `/subscriptions/${SUB}/resourceGroups/rg-apis/providers/Microsoft.ApiManagement/service/apim1`,
      name: "apim1",
      type: "Microsoft.ApiManagement/service",
      location: "westeurope",
      tags: null,
      sku: { name: "Developer", capacity: 1 },
      properties: { additionalLocations: null, virtualNetworkConfiguration: null },
    };
    const api = {
      id: `${service.id}/apis/orders`,
      name: "orders",
      type: "Microsoft.ApiManagement/service/apis",
      properties: { type: null, apiType: "soap", displayName: null, path: null, isCurrent: null },
    };
    const parsed = parseEstate(
      { subscriptions: [{ subscriptionId: SUB }], resources: [nulls, service, api] },
      "e",
    );
    expect(parsed.resources).toEqual([nulls, service, api]);
    // Still strict about values that are there.
    expect(() =>
      parseEstate(
        { subscriptions: [{ subscriptionId: SUB }], resources: [{ ...nulls, tags: { a: null } }] },
        "e",
      ),
    ).toThrow("e: resources[0].tags.a must be a string, not null");
  });
});

describe("estate files", () => {
  it("reports unreadable and malformed files", async () => {
    const missing = join(dir, "missing.json");
    await expect(loadEstateFile(missing)).rejects.toThrow(`${missing}: cannot read file (ENOENT)`);
    const broken = join(dir, "broken.json");
    await writeFile(broken, "{ not json");
    await expect(loadEstateFile(broken)).rejects.toThrow(new RegExp(`^${broken}: not valid JSON \\(.+\\)$`));
    await expect(loadEstateFile(broken)).rejects.toBeInstanceOf(EstateError);
  });

  it("saves pretty JSON atomically and loads it back", async () => {
    const path = join(dir, "saved.json");
    const estate = parseEstate(baseEstate(), "test");
    await saveEstateFile(path, estate);
    const text = await readFile(path, "utf8");
    expect(text).toMatch(/^{\n {2}"subscriptions": \[/);
    expect(await loadEstateFile(path)).toEqual(estate);
    expect((await readdir(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("exports an untouched estate exactly as it was loaded, and gives the same eTags again", async () => {
    const input = parseEstate(
      {
        subscriptions: [
          { subscriptionId: SUB, pricings: { Containers: { pricingTier: "Free" } } },
          { subscriptionId: SUB2 },
        ],
        resources: [cluster("aks1"), cluster("aks2", { provisioningState: "Updating" })],
      },
      "e",
    );
    const first = await startSimulator({ estate: input });
    sims.push(first);
    const aks = new ContainerServiceClient(credential, SUB, sdkOptions(first));
    const eTag = (await aks.managedClusters.get(RG, "aks1")).eTag;
    expect(eTag).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.exportEstate()).toEqual(input);

    const second = await startSimulator({ estate: first.exportEstate() });
    sims.push(second);
    const again = new ContainerServiceClient(credential, SUB, sdkOptions(second));
    expect((await again.managedClusters.get(RG, "aks1")).eTag).toBe(eTag);
  });

  it("round-trips through exportEstate: a second simulator continues where the first stopped", async () => {
    const first = await startSimulator({
      estate: { ...baseEstate(), capacity: { "/subscriptions/x/apim": { base: 30, perApi: 2 } } },
    });
    sims.push(first);
    const aks = new ContainerServiceClient(credential, SUB, sdkOptions(first));
    const current = await aks.managedClusters.get(RG, "aks1");
    const updated = await aks.managedClusters.createOrUpdate(
      RG,
      "aks1",
      { ...current, addonProfiles: { azurepolicy: { enabled: true } } },
      { updateIntervalInMs: 10 },
    );
    await call(
      first,
      "PUT",
      `/subscriptions/${SUB}/providers/Microsoft.Security/pricings/Containers?api-version=2024-01-01`,
      {
        body: { properties: { pricingTier: "Standard" } },
      },
    );

    const exported = first.exportEstate();
    const path = join(dir, "continued.json");
    await saveEstateFile(path, exported);
    const reloaded: Estate = await loadEstateFile(path);
    expect(reloaded).toEqual(exported);
    expect(reloaded.capacity).toEqual({ "/subscriptions/x/apim": { base: 30, perApi: 2 } });

    const second = await startSimulator({ estate: reloaded });
    sims.push(second);
    const aks2 = new ContainerServiceClient(credential, SUB, sdkOptions(second));
    const again = await aks2.managedClusters.get(RG, "aks1");
    expect(again.addonProfiles?.azurepolicy?.enabled).toBe(true);
    expect(again.eTag).toBe(updated.eTag);
    const plan = await call(
      second,
      "GET",
      `/subscriptions/${SUB}/providers/Microsoft.Security/pricings/Containers?api-version=2024-01-01`,
    );
    expect(plan.json).toMatchObject({ properties: { pricingTier: "Standard" } });
    const firstPlan = await call(
      first,
      "GET",
      `/subscriptions/${SUB}/providers/Microsoft.Security/pricings/Containers?api-version=2024-01-01`,
    );
    expect(plan.json).toEqual(firstPlan.json);
    expect(second.exportEstate()).toEqual(exported);
  });
});
