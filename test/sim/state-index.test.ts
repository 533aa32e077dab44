import { describe, expect, it } from "vitest";
import type { ArmResource } from "../../sim/index.js";
import { SimState } from "../../sim/state.js";

const SUB = "11111111-0000-4000-8000-000000000001";
const OTHER = "11111111-0000-4000-8000-000000000002";
const CLUSTER = "Microsoft.ContainerService/managedClusters";
const API = "Microsoft.ApiManagement/service/apis";

const cluster = (name: string, group = "rg-a", sub = SUB): ArmResource => ({
  id: `/subscriptions/${sub}/resourceGroups/${group}/providers/${CLUSTER}/${name}`,
  name,
  type: CLUSTER,
  location: "westeurope",
  properties: {},
});
const serviceId = `/subscriptions/${SUB}/resourceGroups/rg-apim/providers/Microsoft.ApiManagement/service/apim1`;
const api = (name: string): ArmResource => ({
  id: `${serviceId}/apis/${name}`,
  name,
  type: API,
  properties: {},
});

function state(resources: ArmResource[]): SimState {
  return new SimState({ subscriptions: [{ subscriptionId: SUB }, { subscriptionId: OTHER }], resources });
}

const names = (resources: readonly ArmResource[]): string[] => resources.map((r) => r.name);

// The simulator lists from an index instead of scanning every resource: what it lists must stay what a
// scan would give, in estate order, through writes and deletes.
describe("the simulator's indexed lists", () => {
  it("lists by subscription, resource group and parent resource, in estate order, ignoring case", () => {
    const s = state([
      cluster("c1"),
      cluster("c2", "rg-b"),
      cluster("c3", "rg-a", OTHER),
      api("a1"),
      api("a2"),
    ]);
    expect(names(s.list(CLUSTER, `/subscriptions/${SUB}`))).toEqual(["c1", "c2"]);
    expect(names(s.list(CLUSTER.toLowerCase(), `/SUBSCRIPTIONS/${SUB}/resourcegroups/RG-A`))).toEqual(["c1"]);
    expect(names(s.list(API, serviceId))).toEqual(["a1", "a2"]);
    expect(names(s.list(API, `${serviceId}/`))).toEqual(["a1", "a2"]);
    expect(s.list(API, `/subscriptions/${OTHER}`)).toEqual([]);
  });

  it("keeps a replaced resource in its place, drops a deleted one, and adds a new one last", () => {
    const s = state([cluster("c1"), cluster("c2"), cluster("c3")]);
    s.put({ ...cluster("c1"), tags: { changed: "yes" } });
    expect(s.delete(cluster("c2").id.toUpperCase())).toBe(true);
    expect(s.delete(cluster("c2").id)).toBe(false);
    s.put(cluster("c4"));
    const listed = s.list(CLUSTER, `/subscriptions/${SUB}/resourceGroups/rg-a`);
    expect(names(listed)).toEqual(["c1", "c3", "c4"]);
    expect(listed[0]?.tags).toEqual({ changed: "yes" });
  });

  it("knows the members of a resource group and which groups hold resources", () => {
    const s = state([cluster("c1", "rg-b"), cluster("c2", "rg-a"), cluster("c3", "rg-b")]);
    expect(names(s.membersOf(`/subscriptions/${SUB}/resourceGroups/RG-B`))).toEqual(["c1", "c3"]);
    expect(s.groupsWithMembers(SUB)).toEqual([
      `/subscriptions/${SUB}/resourcegroups/rg-b`,
      `/subscriptions/${SUB}/resourcegroups/rg-a`,
    ]);
    s.delete(cluster("c2", "rg-a").id);
    expect(s.groupsWithMembers(SUB)).toEqual([`/subscriptions/${SUB}/resourcegroups/rg-b`]);
  });
});
