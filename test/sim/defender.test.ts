/**
 * The simulated Defender for Cloud: assessments as the estate holds them, served by Resource Graph's
 * query API (`securityresources`, resourceDetails spelt Source/Id) and the REST API (source/id), and
 * assessed again a lag after a write changes what they judge.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  parseEstate,
  startSimulator,
  type ArmResource,
  type Estate,
  type Simulator,
} from "../../sim/index.js";
import { defenderAssessmentsQuery } from "../../src/azure/resource-graph.js";
import { API_KEY, assessment, KEYS } from "../support/defender.js";
import {
  apimApi,
  apimService,
  call,
  cluster,
  clusterId,
  fakeClock,
  serviceId,
  SUB,
  SUB2,
  WORKSPACE_ID,
  workspace,
} from "../support/sim.js";

const GRAPH = "/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01";
const LONG_AGO = "2026-01-10T08:00:00Z";
const sims: Simulator[] = [];

afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

function estateWith(resources: ArmResource[]): Estate {
  return {
    subscriptions: [{ subscriptionId: SUB }, { subscriptionId: SUB2 }],
    resources: [workspace(), ...resources],
  };
}

async function start(estate: Estate, options: { lag?: number | null; clock?: () => Date } = {}) {
  const sim = await startSimulator({
    estate,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.lag === undefined ? {} : { assessmentLagMinutes: options.lag }),
  });
  sims.push(sim);
  return sim;
}

async function graph(sim: Simulator, body: Record<string, unknown>) {
  return call(sim, "POST", GRAPH, { body });
}

interface GraphBody {
  totalRecords: number;
  count: number;
  resultTruncated: string;
  $skipToken?: string;
  data: Record<string, unknown>[];
}

const open = cluster("aks-open");
const configured = cluster("aks-configured", {
  securityProfile: {
    defender: { logAnalyticsWorkspaceResourceId: WORKSPACE_ID, securityMonitoring: { enabled: true } },
  },
});

describe("Resource Graph's securityresources", () => {
  it("answers autoprotect's query with the assessments of the subscriptions asked, as Resource Graph spells them", async () => {
    const sim = await start(
      estateWith([
        open,
        assessment(open.id, KEYS.aksSensor, "Unhealthy", { statusChangeDate: LONG_AGO, cause: "NoData" }),
        assessment(open.id, "ffffffff-0000-4000-8000-000000000000", "Healthy"),
        cluster("aks-other", {}, "rg-other"),
      ]),
    );
    const answer = await graph(sim, { subscriptions: [SUB], query: defenderAssessmentsQuery() });
    expect(answer.status).toBe(200);
    const body = answer.json as GraphBody;
    expect(body).toMatchObject({ totalRecords: 1, count: 1, resultTruncated: "false" });
    expect(body.$skipToken).toBeUndefined();
    expect(body.data).toEqual([
      {
        id: `${open.id}/providers/Microsoft.Security/assessments/${KEYS.aksSensor}`,
        name: KEYS.aksSensor,
        subscriptionId: SUB,
        properties: {
          displayName: `assessment ${KEYS.aksSensor}`,
          resourceDetails: { Source: "Azure", Id: open.id },
          status: {
            code: "Unhealthy",
            cause: "NoData",
            statusChangeDate: LONG_AGO,
            firstEvaluationDate: LONG_AGO,
          },
        },
      },
    ]);
    // Another subscription holds none of them.
    const other = await graph(sim, { subscriptions: [SUB2], query: defenderAssessmentsQuery() });
    expect((other.json as GraphBody).data).toEqual([]);
    // The query reads: ARM raises no event for it.
    expect(sim.events).toEqual([]);
  });

  it("finds the API onboarding assessment by its display name, on the API", async () => {
    const service = apimService("apim1", "Developer");
    const api = apimApi("apim1", "orders");
    const sim = await start(estateWith([service, api, assessment(api.id, API_KEY, "Unhealthy")]));
    const body = (await graph(sim, { subscriptions: [SUB], query: defenderAssessmentsQuery() }))
      .json as GraphBody;
    expect(body.data.map((r) => (r.properties as { resourceDetails: unknown }).resourceDetails)).toEqual([
      { Source: "Azure", Id: api.id },
    ]);
  });

  it("pages on $skipToken, and cuts off a query that limits itself or has only dynamic columns", async () => {
    const clusters = ["a", "b", "c"].map((n) => cluster(`aks-${n}`));
    const sim = await start(
      estateWith([...clusters, ...clusters.map((c) => assessment(c.id, KEYS.aksSensor, "Healthy"))]),
    );
    const first = (await graph(sim, { query: defenderAssessmentsQuery(), options: { $top: 2 } }))
      .json as GraphBody;
    expect(first).toMatchObject({ totalRecords: 3, count: 2, resultTruncated: "false" });
    expect(first.$skipToken).toEqual(expect.any(String));
    const next = (
      await graph(sim, { query: defenderAssessmentsQuery(), options: { $skipToken: first.$skipToken } })
    ).json as GraphBody;
    expect([...first.data, ...next.data].map((r) => r.id)).toEqual(
      clusters.map((c) => `${c.id}/providers/Microsoft.Security/assessments/${KEYS.aksSensor}`),
    );
    expect(next.$skipToken).toBeUndefined();
    for (const query of ["securityresources | project properties", "securityresources | take 3"]) {
      const cut = (await graph(sim, { query, options: { $top: 2 } })).json as GraphBody;
      expect(cut, query).toMatchObject({ count: 2, resultTruncated: "true" });
      expect(cut.$skipToken, query).toBeUndefined();
    }
  });

  it("refuses another table, and what the KQL subset does not implement, with Resource Graph's error", async () => {
    const sim = await start(estateWith([]));
    const other = await graph(sim, { query: "resourcecontainers | project id" });
    expect(other.status).toBe(400);
    const errorOf = (json: unknown) =>
      (json as { error: { code: string; details: { code: string; message: string }[] } }).error;
    const error = errorOf(other.json);
    expect(error.code).toBe("BadRequest");
    expect(error.details[0]?.code).toBe("InvalidQuery");
    expect(error.details[1]).toMatchObject({ code: "UnknownColumnOrTable" });
    expect(error.details[1]?.message).toContain("resourcecontainers");
    const unsupported = await graph(sim, { query: "securityresources | union resources" });
    expect(errorOf(unsupported.json).details[1]?.code).toBe("NotSupportedBySimulator");
    for (const body of [
      {},
      { query: "securityresources", facets: [{ expression: "type" }] },
      { query: "securityresources", options: { $top: 5000 } },
    ]) {
      expect((await graph(sim, body)).status, JSON.stringify(body)).toBe(400);
    }
    expect(
      (
        await call(sim, "POST", "/providers/Microsoft.ResourceGraph/resources?api-version=2019-04-01", {
          body: { query: "securityresources" },
        })
      ).status,
    ).toBe(400);
  });
});

describe("the REST API", () => {
  it("lists and gets assessments with resourceDetails as source/id, whichever spelling the estate used", async () => {
    const sim = await start(
      estateWith([
        open,
        assessment(open.id, KEYS.aksSensor, "Healthy", { graphSpelling: true }),
        assessment(open.id, KEYS.aksPolicy, "NotApplicable", { cause: "OffByPolicy" }),
      ]),
    );
    const list = await call(
      sim,
      "GET",
      `/subscriptions/${SUB}/providers/Microsoft.Security/assessments?api-version=2021-06-01`,
    );
    expect(list.status).toBe(200);
    const value = (list.json as { value: ArmResource[] }).value;
    expect(value.map((a) => (a.properties as { resourceDetails: unknown }).resourceDetails)).toEqual([
      { source: "Azure", id: open.id },
      { source: "Azure", id: open.id },
    ]);
    const one = await call(
      sim,
      "GET",
      `${open.id}/providers/Microsoft.Security/assessments/${KEYS.aksPolicy}?api-version=2021-06-01`,
    );
    expect((one.json as ArmResource).properties).toMatchObject({
      status: { code: "NotApplicable", cause: "OffByPolicy" },
    });
    const missing = await call(
      sim,
      "GET",
      `${open.id}/providers/Microsoft.Security/assessments/${KEYS.aksApiServer}?api-version=2021-06-01`,
    );
    expect(missing.status).toBe(404);
  });
});

describe("the simulated Defender's lag", () => {
  async function sensorStatus(sim: Simulator, id: string) {
    const body = (await graph(sim, { query: defenderAssessmentsQuery() })).json as GraphBody;
    const row = body.data.find(
      (r) => r.id === `${id}/providers/Microsoft.Security/assessments/${KEYS.aksSensor}`,
    );
    return (row?.properties as { status: Record<string, unknown> } | undefined)?.status;
  }

  it("assesses again the lag after a write changed the configuration; what nothing writes stays", async () => {
    const clock = fakeClock("2026-11-25T10:00:00Z");
    const estate = estateWith([
      open,
      configured,
      assessment(open.id, KEYS.aksSensor, "Unhealthy", { statusChangeDate: LONG_AGO }),
      assessment(configured.id, KEYS.aksSensor, "Unhealthy", { statusChangeDate: LONG_AGO, cause: "NoData" }),
    ]);
    const sim = await start(estate, { lag: 20, clock: clock.now });
    const body = structuredClone(open) as Record<string, unknown>;
    body.properties = {
      ...(open.properties ?? {}),
      securityProfile: {
        defender: { logAnalyticsWorkspaceResourceId: WORKSPACE_ID, securityMonitoring: { enabled: true } },
      },
    };
    const put = await call(sim, "PUT", `${open.id}?api-version=2026-04-01`, { body });
    expect(put.status).toBe(200);

    clock.advance(19 * 60_000);
    expect(await sensorStatus(sim, open.id)).toMatchObject({ code: "Unhealthy", statusChangeDate: LONG_AGO });
    clock.advance(60_000);
    expect(await sensorStatus(sim, open.id)).toEqual({
      code: "Healthy",
      firstEvaluationDate: LONG_AGO,
      statusChangeDate: "2026-11-25T10:20:00.000Z",
    });
    // Configured all along, never written: Defender never hears from its sensor.
    expect(await sensorStatus(sim, configured.id)).toMatchObject({ code: "Unhealthy", cause: "NoData" });

    // The export holds what Defender says, and when the cluster was written, for the next simulator.
    const exported = sim.exportEstate();
    const saved = exported.resources.find(
      (r) => r.id === `${open.id}/providers/Microsoft.Security/assessments/${KEYS.aksSensor}`,
    );
    expect(saved?.properties).toMatchObject({ status: { code: "Healthy" } });
    expect(exported.resources.find((r) => r.id === open.id)?.systemData).toMatchObject({
      lastModifiedAt: "2026-11-25T10:00:00.000Z",
    });
    expect(exported.resources.find((r) => r.id === configured.id)?.systemData).toBeUndefined();
  });

  it("a saved estate carries a change Defender has not assessed yet to the next simulator", async () => {
    const clock = fakeClock("2026-11-25T10:00:00Z");
    const sim = await start(
      estateWith([open, assessment(open.id, KEYS.aksSensor, "Unhealthy", { statusChangeDate: LONG_AGO })]),
      { clock: clock.now },
    );
    const body = structuredClone(open) as Record<string, unknown>;
    body.properties = {
      ...(open.properties ?? {}),
      securityProfile: {
        defender: { logAnalyticsWorkspaceResourceId: WORKSPACE_ID, securityMonitoring: { enabled: true } },
      },
    };
    expect((await call(sim, "PUT", `${open.id}?api-version=2026-04-01`, { body })).status).toBe(200);
    const saved = sim.exportEstate();
    expect(await sensorStatus(sim, open.id)).toMatchObject({ code: "Unhealthy" });
    // The default lag is 30 minutes: a simulator started from the export 30 minutes later has it.
    const later = await start(saved, { clock: fakeClock("2026-11-25T10:30:00Z").now });
    expect(await sensorStatus(later, open.id)).toMatchObject({ code: "Healthy" });
    const frozen = await start(saved, { clock: fakeClock("2026-11-25T12:00:00Z").now, lag: null });
    expect(await sensorStatus(frozen, open.id)).toMatchObject({ code: "Unhealthy" });
  });

  it("judges an API by its collection and an Arc-enabled cluster by its extensions", async () => {
    const clock = fakeClock("2026-11-25T10:00:00Z");
    const service = apimService("apim1", "Developer");
    const api = apimApi("apim1", "orders");
    const sim = await start(
      estateWith([service, api, assessment(api.id, API_KEY, "Unhealthy", { statusChangeDate: LONG_AGO })]),
      { lag: 5, clock: clock.now },
    );
    const collection = `${serviceId("apim1")}/providers/Microsoft.Security/apiCollections/orders`;
    expect((await call(sim, "PUT", `${collection}?api-version=2023-11-15`)).status).toBe(202);
    clock.advance(6 * 60_000);
    const status = async () =>
      (
        ((await graph(sim, { query: defenderAssessmentsQuery() })).json as GraphBody).data[0]?.properties as {
          status: { code: string };
        }
      ).status.code;
    // The onboarding has not finished (nobody polled it): Defender still sees no onboarded API.
    expect(await status()).toBe("Unhealthy");
    expect((await call(sim, "GET", `${collection}?api-version=2023-11-15&$retryUntil=1`)).status).toBe(202);
    expect((await call(sim, "GET", `${collection}?api-version=2023-11-15&$retryUntil=1`)).status).toBe(200);
    expect(await status()).toBe("Healthy");
  });
});

describe("assessments in the estate", () => {
  it("accept either spelling of resourceDetails and name what is wrong", () => {
    const ok = estateWith([open, assessment(open.id, KEYS.aksSensor, "Healthy", { graphSpelling: true })]);
    expect(() => parseEstate(ok, "e")).not.toThrow();
    const bad: [ArmResource, string][] = [
      [
        { ...assessment(open.id, KEYS.aksSensor, "Healthy"), properties: { status: { code: "Fine" } } },
        "properties.status.code must be one of Healthy, Unhealthy, NotApplicable",
      ],
      [assessment(clusterId("aks-missing"), KEYS.aksSensor, "Healthy"), "needs the resource it judges"],
      [
        {
          ...assessment(open.id, KEYS.aksSensor, "Healthy"),
          properties: { status: { code: "Healthy", statusChangeDate: "yesterday" } },
        },
        "statusChangeDate must be an ISO 8601 date-time",
      ],
      [
        {
          ...assessment(open.id, KEYS.aksSensor, "Healthy"),
          properties: {
            status: { code: "Healthy" },
            resourceDetails: { Source: "Azure", Id: configured.id },
          },
        },
        "not the resource its id is under",
      ],
    ];
    for (const [resource, message] of bad) {
      expect(() => parseEstate(estateWith([open, resource]), "e"), message).toThrow(message);
    }
  });
});
