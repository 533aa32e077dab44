import { readFile } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type Estate, type Simulator } from "../../sim/index.js";
import { armError, call, SUB, SUB2 } from "../support/sim.js";

const API = "api-version=2024-01-01";
const pricings = (sub: string): string => `/subscriptions/${sub}/providers/Microsoft.Security/pricings`;
let sim: Simulator | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

interface PricingBody {
  id: string;
  name: string;
  type: string;
  properties: {
    pricingTier: string;
    subPlan?: string;
    enablementTime?: string;
    freeTrialRemainingTime: string;
    extensions?: { name: string; isEnabled: string; operationStatus: { code: string; message: string } }[];
  };
}

const estate: Estate = {
  subscriptions: [
    { subscriptionId: SUB },
    {
      subscriptionId: SUB2,
      pricings: {
        CloudPosture: { pricingTier: "Free" },
        Api: { pricingTier: "Standard", subPlan: "P3", enablementTime: "2024-05-01T10:00:00.000Z" },
      },
    },
  ],
  resources: [],
};

async function start(): Promise<Simulator> {
  sim = await startSimulator({ estate });
  return sim;
}

function extensionStates(body: PricingBody): Record<string, string> {
  return Object.fromEntries((body.properties.extensions ?? []).map((e) => [e.name, e.isEnabled]));
}

describe("Defender plans (Microsoft.Security/pricings)", () => {
  it("answers a plan PUT in exactly the shape of Azure's documented example", async () => {
    const fixture = JSON.parse(
      await readFile(new URL("./fixtures/security.pricings.put.2024-01-01.json", import.meta.url), "utf8"),
    ) as { parameters: { pricing: unknown }; responses: { "200": { body: PricingBody } } };
    const s = await start();
    const put = await call(s, "PUT", `${pricings(SUB2)}/CloudPosture?${API}`, {
      body: fixture.parameters.pricing,
    });
    expect(put.status).toBe(200);
    expect(put.headers["content-type"]).toBe("application/json; charset=utf-8");
    const body = put.json as PricingBody;
    expect(body.properties.enablementTime).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    const expected = fixture.responses["200"].body;
    expect({ ...body, properties: { ...body.properties, enablementTime: "<time>" } }).toEqual({
      ...expected,
      properties: { ...expected.properties, enablementTime: "<time>" },
    });
  });

  it("lists the default plans of a subscription the estate gives none", async () => {
    const s = await start();
    const list = await call(s, "GET", `${pricings(SUB)}?${API}`);
    expect(list.status).toBe(200);
    const value = (list.json as { value: PricingBody[] }).value;
    expect(value.map((p) => [p.name, p.properties.pricingTier])).toEqual([
      ["Containers", "Free"],
      ["Api", "Free"],
      ["VirtualMachines", "Free"],
    ]);
    expect(value[0]?.id).toBe(`${pricings(SUB)}/Containers`);
    expect(value[0]?.type).toBe("Microsoft.Security/pricings");
    expect(value[0] && extensionStates(value[0])).toEqual({
      ContainerRegistriesVulnerabilityAssessments: "False",
      AgentlessDiscoveryForKubernetes: "False",
      ContainerSensor: "False",
    });
    expect(value[0]?.properties.extensions?.[0]?.operationStatus.code).toBe("Succeeded");
    expect(value[1]?.properties.extensions).toBeUndefined();
    expect(value[1]?.properties.enablementTime).toBeUndefined();
    expect(value[1]?.properties.freeTrialRemainingTime).toBe("PT0S");
  });

  it("matches plan names without regard to case and answers ResourceNotFound for unknown plans", async () => {
    const s = await start();
    const got = await call(s, "GET", `${pricings(SUB2)}/api?${API}`);
    expect(got.json).toMatchObject({
      name: "Api",
      properties: { pricingTier: "Standard", subPlan: "P3", enablementTime: "2024-05-01T10:00:00.000Z" },
    });
    // A plan listed without extensions shows the plan's own, off while Free.
    const posture = (await call(s, "GET", `${pricings(SUB2)}/cloudposture?${API}`)).json as PricingBody;
    expect(posture.name).toBe("CloudPosture");
    expect(Object.values(extensionStates(posture))).toEqual(["False", "False", "False", "False"]);
    const unknown = await call(s, "GET", `${pricings(SUB)}/NoSuchPlan?${API}`);
    expect(unknown.status).toBe(404);
    expect(armError(unknown).code).toBe("ResourceNotFound");
    expect((await call(s, "GET", `${pricings(SUB)}/Containers?api-version=2023-01-01`)).status).toBe(200);
    const old = await call(s, "GET", `${pricings(SUB)}/Containers?api-version=2018-06-01`);
    expect(armError(old).code).toBe("NoRegisteredProviderFound");
    expect(armError(old).message).toContain("'2024-01-01, 2023-01-01'");
  });

  it("replaces the extension list exactly as sent (a client that drops one loses it)", async () => {
    const s = await start();
    const put = await call(s, "PUT", `${pricings(SUB)}/Containers?${API}`, {
      body: {
        properties: {
          pricingTier: "standard",
          extensions: [
            { name: "ContainerSensor", isEnabled: "True" },
            { name: "AgentlessDiscoveryForKubernetes", isEnabled: "True" },
          ],
          freeTrialRemainingTime: "P30D",
        },
      },
    });
    expect(put.status).toBe(200);
    const body = put.json as PricingBody;
    expect(body.properties.pricingTier).toBe("Standard");
    expect(body.properties.freeTrialRemainingTime).toBe("PT0S");
    expect(extensionStates(body)).toEqual({
      ContainerSensor: "True",
      AgentlessDiscoveryForKubernetes: "True",
    });
    const again = (await call(s, "GET", `${pricings(SUB)}/Containers?${API}`)).json as PricingBody;
    expect(extensionStates(again)).toEqual({
      ContainerSensor: "True",
      AgentlessDiscoveryForKubernetes: "True",
    });
    expect(again.properties.enablementTime).toBe(body.properties.enablementTime);
  });

  it("turns every extension on when Standard is set without a list, and drops a sub-plan not sent", async () => {
    const s = await start();
    const put = await call(s, "PUT", `${pricings(SUB)}/Containers?${API}`, {
      body: { properties: { pricingTier: "Standard" } },
    });
    expect(extensionStates(put.json as PricingBody)).toEqual({
      ContainerRegistriesVulnerabilityAssessments: "True",
      AgentlessDiscoveryForKubernetes: "True",
      ContainerSensor: "True",
    });
    const api = await call(s, "PUT", `${pricings(SUB2)}/Api?${API}`, {
      body: { properties: { pricingTier: "Standard" } },
    });
    expect((api.json as PricingBody).properties.subPlan).toBeUndefined();
    expect((api.json as PricingBody).properties.enablementTime).toBe("2024-05-01T10:00:00.000Z");
    const p2 = await call(s, "PUT", `${pricings(SUB2)}/Api?${API}`, {
      body: { properties: { pricingTier: "Standard", subPlan: "P2" } },
    });
    expect((p2.json as PricingBody).properties.subPlan).toBe("P2");
  });

  it("refuses invalid plan bodies with 400, naming the field", async () => {
    const s = await start();
    const cases: [unknown, string, string][] = [
      [{ properties: { pricingTier: "Premium" } }, "InvalidInputJson", "properties.pricingTier"],
      [{}, "InvalidInputJson", "properties"],
      [
        {
          properties: { pricingTier: "Standard", extensions: [{ name: "ContainerSensor", isEnabled: true }] },
        },
        "InvalidInputJson",
        "properties.extensions[0].isEnabled",
      ],
      [{ properties: { pricingTier: "Standard", subPlan: "P9" } }, "InvalidInputJson", "properties.subPlan"],
    ];
    for (const [body, code, field] of cases) {
      const plan = field === "properties.subPlan" ? "Api" : "Containers";
      const answer = await call(s, "PUT", `${pricings(SUB)}/${plan}?${API}`, { body });
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(armError(answer).code).toBe(code);
      expect(armError(answer).message).toContain(`'${field}'`);
    }
    const notJson = await call(s, "PUT", `${pricings(SUB)}/Containers?${API}`, {
      rawBody: "{pricingTier: Standard",
    });
    expect(notJson.status).toBe(400);
    expect(armError(notJson).code).toBe("InvalidRequestContent");
    // Nothing was changed by the refused requests.
    const after = (await call(s, "GET", `${pricings(SUB)}/Containers?${API}`)).json as PricingBody;
    expect(after.properties.pricingTier).toBe("Free");
    expect(s.requests.filter((r) => r.method === "PUT").map((r) => r.status)).toEqual([
      400, 400, 400, 400, 400,
    ]);
    expect(s.requests.at(-2)?.body).toBe("{pricingTier: Standard");
  });
});
