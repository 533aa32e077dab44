import { describe, expect, it } from "vitest";
import { apiEligibility, isSeparateApi } from "../../src/checks/index.js";
import type { ApiSnapshot, ApimServiceSnapshot } from "../../src/model/apim.js";

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
