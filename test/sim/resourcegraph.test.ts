import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../sim/index.js";
import { createResourceGraphAdapter, DISCOVERY_QUERY } from "../../src/azure/resource-graph.js";
import { simulatorCredential } from "../../src/cli/simulate.js";
import { armError, baseEstate, call, cluster, SUB, SUB2 } from "../support/sim.js";

const PATH = "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01";

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(): Promise<Simulator> {
  const other = cluster("aks3", {}, "rg-other");
  other.id = other.id.replace(SUB, SUB2);
  const estate = baseEstate([cluster("aks2"), other]);
  estate.subscriptions.push(
    { subscriptionId: SUB2 },
    { subscriptionId: "99999999-0000-4000-8000-000000000000" },
  );
  sim = await startSimulator({ estate });
  return sim;
}

describe("Azure Resource Graph in the simulator", () => {
  it("counts resources by subscription and type, a page at a time", async () => {
    const s = await start();
    const first = await call(s, "POST", PATH, { body: { query: DISCOVERY_QUERY, options: { $top: 1 } } });
    expect(first.status).toBe(200);
    const page = first.json as { totalRecords: number; count: number; data: unknown[]; $skipToken?: string };
    expect(page).toMatchObject({ totalRecords: 2, count: 1, resultTruncated: "false" });
    expect(page.data).toEqual([
      { subscriptionId: SUB, type: "microsoft.containerservice/managedclusters", count_: 2 },
    ]);
    const second = await call(s, "POST", PATH, {
      body: { query: DISCOVERY_QUERY, options: { $top: 1, $skipToken: page.$skipToken } },
    });
    expect((second.json as { data: unknown[]; $skipToken?: string }).data).toEqual([
      { subscriptionId: SUB2, type: "microsoft.containerservice/managedclusters", count_: 1 },
    ]);
    expect((second.json as { $skipToken?: string }).$skipToken).toBeUndefined();
  });

  it("refuses a query the KQL subset cannot run, as Resource Graph refuses one it cannot", async () => {
    const s = await start();
    const answer = await call(s, "POST", PATH, { body: { query: "resources | union securityresources" } });
    expect(answer.status).toBe(400);
    expect(armError(answer).code).toBe("BadRequest");
    expect((answer.json as { error: { details: { code: string }[] } }).error.details[0]?.code).toBe(
      "InvalidQuery",
    );
  });

  it("the adapter reads every page, within the subscriptions asked about", async () => {
    const s = await start();
    const graph = createResourceGraphAdapter({
      credential: simulatorCredential,
      endpoint: s.endpoint,
      tlsCa: s.ca,
    });
    const all = await graph.countTargets();
    expect([...all.keys()].sort()).toEqual([SUB, SUB2].sort());
    expect(all.get(SUB)).toEqual({ "microsoft.containerservice/managedclusters": 2 });
    const one = await graph.countTargets([SUB2, "99999999-0000-4000-8000-000000000000"]);
    expect([...one.keys()]).toEqual([SUB2]);
  });
});
