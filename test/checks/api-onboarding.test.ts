import { describe, expect, it } from "vitest";
import {
  WORKSPACE_API_TYPE,
  apiEligibility,
  inventoryApis,
  isSeparateApi,
  planApiOnboarding,
  type PlannedApi,
} from "../../src/checks/index.js";
import type { ApiSnapshot, ApimServiceSnapshot, ApimServiceView } from "../../src/model/apim.js";
import { initialRolloutState } from "../../src/rollout/controller.js";
import { rolloutSettings } from "../../src/rollout/settings.js";
import type { ApiRolloutStatus, RolloutDecision } from "../../src/rollout/types.js";

const service = (sku: string): ApimServiceSnapshot => ({
  id: "/subscriptions/0a1b2c3d-0000-4000-8000-00000000000a/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim",
  name: "apim",
  location: "West Europe",
  sku: { name: sku, capacity: 1 },
});
const api = (fields: Partial<ApiSnapshot> = {}): ApiSnapshot => ({
  id: `${service("Developer").id}/apis/${fields.name ?? "orders"}`,
  name: "orders",
  ...fields,
});
const plain = { inWorkspace: false, selfHostedGateways: [] };

describe("Defender for APIs eligibility", () => {
  const refusals: [string, ApimServiceSnapshot, ApiSnapshot, typeof plain, RegExp][] = [
    ["Consumption tier", service("Consumption"), api(), plain, /Consumption tier/],
    ["consumption tier, lower case", service("consumption"), api(), plain, /Consumption tier/],
    [
      "API in a workspace",
      service("Premium"),
      api(),
      { inWorkspace: true, selfHostedGateways: [] },
      /workspaces/,
    ],
    ["SOAP", service("Developer"), api({ apiType: "soap" }), plain, /REST APIs only; this is a soap API/],
    ["GraphQL, mixed case", service("Standard"), api({ apiType: "GraphQL" }), plain, /graphql API/],
    ["WebSocket", service("Premium"), api({ apiType: "websocket" }), plain, /websocket/],
    ["gRPC", service("PremiumV2"), api({ apiType: "grpc" }), plain, /grpc/],
    ["OData", service("Basic"), api({ apiType: "odata" }), plain, /odata/],
  ];
  for (const [name, svc, candidate, placement, reason] of refusals) {
    it(`refuses ${name}`, () => {
      const verdict = apiEligibility(svc, candidate, placement);
      expect(verdict.eligible).toBe(false);
      if (!verdict.eligible) expect(verdict.reason).toMatch(reason);
    });
  }

  const accepted: [string, ApimServiceSnapshot, ApiSnapshot][] = [
    ["plain HTTP API (no apiType)", service("Developer"), api()],
    ["explicit http type", service("StandardV2"), api({ apiType: "http" })],
    ["Premium, mixed-case sku", service("premium"), api()],
    ["BasicV2", service("BasicV2"), api()],
  ];
  for (const [name, svc, candidate] of accepted) {
    it(`accepts ${name}`, () => {
      expect(apiEligibility(svc, candidate, plain)).toMatchObject({ eligible: true });
    });
  }

  it("onboards APIs on self-hosted gateways but says their traffic there is not analysed", () => {
    const verdict = apiEligibility(service("Developer"), api(), {
      inWorkspace: false,
      selfHostedGateways: ["factory-floor"],
    });
    expect(verdict.eligible).toBe(true);
    if (verdict.eligible) {
      expect(verdict.note).toMatch(/does not analyse traffic through self-hosted gateways \(factory-floor\)/);
      expect(verdict.details).toEqual({ selfHostedGateways: ["factory-floor"] });
    }
  });

  it("treats non-current revisions as the same API, not another one", () => {
    expect(isSeparateApi(api({ name: "orders;rev=2" }))).toBe(false);
    expect(isSeparateApi(api({ name: "orders", isCurrent: false }))).toBe(false);
    expect(isSeparateApi(api({ name: "orders", isCurrent: true }))).toBe(true);
    expect(isSeparateApi(api({ name: "orders" }))).toBe(true);
  });
});

describe("the API onboarding planner", () => {
  const svc = service("Developer");
  const named = (name: string, fields: Partial<ApiSnapshot> = {}): ApiSnapshot => ({
    id: `${svc.id}/apis/${name}`,
    name,
    ...fields,
  });
  const view = (overrides: Partial<ApimServiceView> = {}): ApimServiceView => ({
    service: svc,
    apis: [
      named("orders"),
      named("billing"),
      named("catalog"),
      named("legacy", { apiType: "soap" }),
      named("orders;rev=2", { isCurrent: false }),
    ],
    workspaceApis: [named("campaigns")],
    selfHostedGatewaysByApi: new Map([["catalog", ["edge"]]]),
    collections: new Map([
      ["orders", { apiName: "orders", provisioningState: "Succeeded" }],
      ["billing", { apiName: "billing", provisioningState: "InProgress" }],
    ]),
    ...overrides,
  });
  const verdicts = (planned: readonly PlannedApi[]) =>
    Object.fromEntries(planned.map((p) => [p.api.name, p.finding.verdict]));

  it("sorts APIs into skipped, onboarded, running and pending, revisions left out", () => {
    const inventory = inventoryApis(view(), "autoprotect-exclude");
    expect(inventory.onboarded).toEqual(["orders"]);
    expect(inventory.inProgress).toEqual(["billing"]);
    expect(inventory.pending).toEqual(["catalog"]);
    expect(inventory.skipped.map((p) => [p.api.name, p.resourceType])).toEqual([
      ["campaigns", WORKSPACE_API_TYPE],
      ["legacy", "Microsoft.ApiManagement/service/apis"],
    ]);
  });

  it("skips every API of an excluded service, and of a Consumption one, with the reason", () => {
    const excluded = view({ service: { ...svc, tags: { "autoprotect-exclude": "True" } } });
    const planned = planApiOnboarding(inventoryApis(excluded, "autoprotect-exclude"), undefined);
    expect(new Set(planned.map((p) => p.finding.reason))).toEqual(new Set(["excluded by tag"]));
    expect(planned.map((p) => p.api.name)).toEqual(["orders", "billing", "catalog", "legacy"]);
    const consumption = inventoryApis(view({ service: service("Consumption") }), "autoprotect-exclude");
    expect(consumption.skipped[0]?.finding.reason).toMatch(/Consumption tier/);
  });

  it("turns the rollout's decision into one finding per API: onboard, wait, a person's turn, roll back", () => {
    const inventory = inventoryApis(view(), "autoprotect-exclude");
    const decision: RolloutDecision = {
      onboard: ["catalog"],
      offboard: ["orders"],
      nextState: initialRolloutState(
        svc.id,
        rolloutSettings({ capacityLimit: 60, rolloutIntervalMinutes: 10 }),
      ),
      perApi: new Map<string, ApiRolloutStatus>([
        ["catalog", { kind: "onboard", reason: "rollout step 1" }],
        ["billing", { kind: "manual", reason: "stuck" }],
        ["orders", { kind: "rolled-back", reason: "rolling back", retryAfterSeconds: 120 }],
      ]),
      nextLookSeconds: 600,
      details: { decision: "step" },
    };
    const planned = planApiOnboarding(inventory, { kind: "decided", decision });
    expect(verdicts(planned)).toEqual({
      campaigns: "skipped",
      legacy: "skipped",
      orders: "change",
      billing: "manual",
      catalog: "change",
    });
    const catalog = planned.find((p) => p.api.name === "catalog");
    expect(catalog?.finding).toMatchObject({
      action: "onboard catalog to Defender for APIs",
      change: { kind: "onboard", apiName: "catalog" },
      details: { step: { decision: "step" }, selfHostedGateways: ["edge"] },
    });
    expect(catalog?.note).toMatch(/self-hosted gateways \(edge\)/);
    expect(planned.find((p) => p.api.name === "orders")?.finding).toMatchObject({
      change: { kind: "offboard", apiName: "orders" },
    });
    expect(planned.find((p) => p.api.name === "billing")?.finding.details).toMatchObject({
      collectionState: "InProgress",
    });
  });

  it("says why nothing was decided: held, or the state or capacity could not be read", () => {
    const inventory = inventoryApis(view(), "autoprotect-exclude");
    const held = planApiOnboarding(inventory, { kind: "held", reason: "plan off", retryAfterSeconds: 600 });
    expect(verdicts(held)).toMatchObject({ orders: "compliant", billing: "deferred", catalog: "deferred" });
    expect(held.find((p) => p.api.name === "catalog")?.finding).toMatchObject({
      reason: "plan off",
      retryAfterSeconds: 600,
    });
    const failed = planApiOnboarding(inventory, {
      kind: "failed",
      reason: "RolloutStateCorruptError: …",
      details: { code: "RolloutStateCorruptError" },
    });
    expect(verdicts(failed)).toMatchObject({ orders: "compliant", billing: "failed", catalog: "failed" });
  });
});
