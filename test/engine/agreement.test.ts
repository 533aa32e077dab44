/**
 * `defender.agreement` through the engine, the real adapters and the simulated Defender: one Resource
 * Graph query per subscription and run, Defender's status on the other checks' outcomes, each
 * resource's agreement (agree, Defender catching up after a remediation, a sensor Defender never
 * hears from, Defender calling Healthy what autoprotect finds open), audit deciding as enforce, and a
 * failed read costing only the agreement.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Estate } from "../../sim/index.js";
import type { OutcomeRecord } from "../../src/model/outcome.js";
import { arcCluster, arcClusterId, extension, DEFENDER_TYPE, POLICY_TYPE } from "../support/arc.js";
import { runInfo, startWorld, writes, type TestWorld } from "../support/azure.js";
import { API_KEY, assessment, clusterAssessments, KEYS } from "../support/defender.js";
import {
  PROTECTED_PROPERTIES,
  SUB_A,
  cluster,
  clusterId,
  workspace,
  workspaceId,
} from "../support/estate.js";
import { apimApi, apimService, fakeClock, SUB } from "../support/sim.js";

let world: TestWorld | undefined;
afterEach(async () => {
  await world?.sim.close();
  world = undefined;
});

const sweep = [{ kind: "subscription", subscriptionId: SUB_A }] as const;
const AGREEMENT = "defender.agreement";
const LONG_AGO = "2026-01-10T08:00:00Z";
const NOW = "2026-11-25T10:00:00Z";

function estateOf(resources: Estate["resources"]): Estate {
  return {
    subscriptions: [
      {
        subscriptionId: SUB_A,
        pricings: {
          Containers: { pricingTier: "Standard" },
          Api: { pricingTier: "Standard", subPlan: "P1" },
        },
      },
    ],
    resources: [workspace(), ...resources],
  };
}

function agreement(outcomes: readonly OutcomeRecord[], resourceId: string): OutcomeRecord {
  const found = outcomes.filter(
    (o) => o.Check === AGREEMENT && o.ResourceId.toLowerCase() === resourceId.toLowerCase(),
  );
  if (found.length !== 1) throw new Error(`${String(found.length)} agreement outcomes for ${resourceId}`);
  return found[0] as OutcomeRecord;
}

function verdicts(outcome: OutcomeRecord): [string, string][] {
  const judged = outcome.Details.assessments as { check: string; verdict: string }[];
  return judged.map((j) => [j.check, j.verdict]);
}

function graphQueries(w: TestWorld) {
  return w.sim.requests.filter((r) => r.path === "/providers/Microsoft.ResourceGraph/resources");
}

/** Every check, the agreement included (the other engine tests leave it out: test/support/azure.ts). */
const ALL_CHECKS = { AUTOPROTECT_CHECKS: "" };

const protectedCluster = (name: string) => cluster(name, { properties: PROTECTED_PROPERTIES });

describe("defender.agreement", () => {
  it("reads the subscription's assessments once, and says where Defender agrees and where it never hears from a sensor", async () => {
    const clock = fakeClock(NOW);
    world = await startWorld(
      estateOf([
        protectedCluster("aks-heard"),
        protectedCluster("aks-silent"),
        ...clusterAssessments(clusterId("aks-heard"), "Healthy", { statusChangeDate: LONG_AGO }),
        assessment(clusterId("aks-silent"), KEYS.aksSensor, "Unhealthy", {
          statusChangeDate: LONG_AGO,
          cause: "NoData",
          description: "The sensor has not sent data",
        }),
        assessment(clusterId("aks-silent"), KEYS.aksPolicy, "Healthy", { statusChangeDate: LONG_AGO }),
        assessment(clusterId("aks-silent"), KEYS.aksApiServer, "Healthy", { statusChangeDate: LONG_AGO }),
      ]),
      ALL_CHECKS,
      { clock: clock.now },
    );
    const { outcomes } = await world.engine({ now: clock.now }).reconcile(sweep, runInfo());
    expect(graphQueries(world)).toHaveLength(1);
    expect(writes(world.sim).filter((r) => r.method !== "POST")).toEqual([]);

    const heard = agreement(outcomes, clusterId("aks-heard"));
    expect(heard).toMatchObject({
      Status: "compliant",
      ResourceType: "Microsoft.ContainerService/managedClusters",
    });
    const silent = agreement(outcomes, clusterId("aks-silent"));
    expect(silent.Status).toBe("manual");
    expect(silent.Reason).toMatch(
      /^aks\.defender-sensor is protected by configuration, but Defender for Cloud has said Unhealthy \(NoData: The sensor has not sent data\) since 2026-01-10T08:00:00\.000Z/,
    );
    expect(silent.Reason).toContain("*.cloud.defender.microsoft.com");
    expect(verdicts(silent)).toEqual([
      ["aks.defender-sensor", "not-by-defender"],
      ["aks.azure-policy", "agree"],
      ["aks.authorized-ips", "agree"],
    ]);
    // The checks Defender judges carry its status; the others do not.
    const sensor = outcomes.find(
      (o) => o.Check === "aks.defender-sensor" && o.ResourceId === clusterId("aks-silent"),
    );
    expect(sensor?.Status).toBe("compliant");
    expect(sensor?.Details.defender).toEqual({
      assessment: KEYS.aksSensor,
      displayName: `assessment ${KEYS.aksSensor}`,
      status: "Unhealthy",
      cause: "NoData",
      description: "The sensor has not sent data",
      statusChangeDate: LONG_AGO,
    });
    const workspaceCheck = outcomes.find(
      (o) => o.Check === "aks.sensor-workspace" && o.ResourceId === clusterId("aks-silent"),
    );
    expect(workspaceCheck?.Details.defender).toBeUndefined();
    // One agreement per resource Defender judges, right after its other outcomes.
    const order = outcomes.map((o) => `${o.Check} ${o.ResourceId.split("/").at(-1) ?? ""}`);
    const silentOutcomes = order.filter((o) => o.endsWith(" aks-silent"));
    expect(silentOutcomes.at(-1)).toBe(`${AGREEMENT} aks-silent`);
    expect(outcomes.filter((o) => o.Check === AGREEMENT)).toHaveLength(2);
  });

  it("gives Defender its lag after a remediation, and agrees once the simulated Defender has assessed again", async () => {
    const clock = fakeClock(NOW);
    world = await startWorld(
      estateOf([
        cluster("aks-open"),
        ...clusterAssessments(clusterId("aks-open"), "Unhealthy", { statusChangeDate: LONG_AGO }),
      ]),
      ALL_CHECKS,
      { clock: clock.now, assessmentLagMinutes: 40 },
    );
    const engine = world.engine({ now: clock.now });
    const first = await engine.reconcile(sweep, runInfo());
    expect(first.outcomes.find((o) => o.Check === "aks.defender-sensor")?.Status).toBe("remediated");
    const catching = agreement(first.outcomes, clusterId("aks-open"));
    expect(catching.Status).toBe("deferred");
    expect(verdicts(catching).map(([, v]) => v)).toEqual(["catching-up", "catching-up", "catching-up"]);
    expect(catching.Reason).toContain("Defender can take up to 24 h to follow a change");
    // Looked at again within six hours, never sooner than fifteen minutes.
    expect(catching.Details.retryAfterSeconds).toBe(6 * 3600);
    expect(first.requeue.some((r) => r.resourceId === clusterId("aks-open"))).toBe(true);

    clock.advance(41 * 60_000);
    const second = await engine.reconcile(sweep, runInfo());
    expect(agreement(second.outcomes, clusterId("aks-open")).Status).toBe("compliant");
    expect(second.outcomes.find((o) => o.Check === "aks.defender-sensor")?.Details.defender).toMatchObject({
      status: "Healthy",
    });
  });

  it("flags Defender calling Healthy what autoprotect finds open, and decides the same in audit and enforce", async () => {
    const estate = estateOf([
      protectedCluster("aks-done"),
      ...clusterAssessments(clusterId("aks-done"), "Healthy"),
      cluster("aks-open", { properties: { ...PROTECTED_PROPERTIES, apiServerAccessProfile: {} } }),
      ...clusterAssessments(clusterId("aks-open"), "Healthy"),
    ]);
    world = await startWorld(estate, { ...ALL_CHECKS, AUTOPROTECT_AUTHORIZED_IP_RANGES: "" });
    const enforce = await world.engine().reconcile(sweep, runInfo("enforce"));
    const open = agreement(enforce.outcomes, clusterId("aks-open"));
    expect(open.Status).toBe("manual");
    expect(open.Reason).toMatch(
      /^Defender for Cloud says "assessment 1a2b5b4c-[^"]+" is Healthy, but aks\.authorized-ips is manual: /,
    );
    expect(verdicts(open)).toContainEqual(["aks.authorized-ips", "not-by-configuration"]);
    const audit = await world.engine().reconcile(sweep, runInfo("audit"));
    const statuses = (outcomes: readonly OutcomeRecord[]) =>
      outcomes.filter((o) => o.Check === AGREEMENT).map((o) => [o.ResourceId, o.Status, o.Reason]);
    expect(statuses(audit.outcomes)).toEqual(statuses(enforce.outcomes));
  });

  it("compares Arc-enabled clusters and APIs too, and skips what Defender does not apply to", async () => {
    // The simulator tests' API Management builders, moved to this test's subscription.
    const moved = <T>(resource: T): T => JSON.parse(JSON.stringify(resource).replaceAll(SUB, SUB_A)) as T;
    const service = moved(apimService("apim1", "Developer"));
    const [orders, payments] = [moved(apimApi("apim1", "orders")), moved(apimApi("apim1", "payments"))];
    const arcDone = arcCluster("arc-done");
    world = await startWorld(
      estateOf([
        arcDone,
        extension(arcDone.id, DEFENDER_TYPE, DEFENDER_TYPE, {
          configurationSettings: { logAnalyticsWorkspaceResourceID: workspaceId() },
        }),
        extension(arcDone.id, "azurepolicy", POLICY_TYPE),
        assessment(arcDone.id, KEYS.arcSensor, "Healthy"),
        assessment(arcDone.id, KEYS.arcPolicy, "NotApplicable", { cause: "OffByPolicy", description: "off" }),
        service,
        orders,
        payments,
        {
          id: `${service.id}/providers/Microsoft.Security/apiCollections/orders`,
          name: "orders",
          type: "Microsoft.Security/apiCollections",
          properties: { provisioningState: "Succeeded" },
        },
        assessment(orders.id, API_KEY, "Unhealthy", { statusChangeDate: LONG_AGO }),
        assessment(payments.id, API_KEY, "Unhealthy", { statusChangeDate: LONG_AGO }),
      ]),
      { ...ALL_CHECKS, AUTOPROTECT_ROLLOUT_INTERVAL_MINUTES: "600" },
    );
    const { outcomes } = await world.engine().reconcile(sweep, runInfo());
    const arc = agreement(outcomes, arcClusterId("arc-done"));
    expect(arc.Status).toBe("compliant");
    expect(verdicts(arc)).toEqual([
      ["arc.defender-sensor", "agree"],
      ["arc.azure-policy", "not-applicable"],
    ]);
    // Onboarded, yet Defender has not counted it for far longer than its documented 50 minutes.
    expect(agreement(outcomes, orders.id)).toMatchObject({
      Status: "manual",
      ResourceType: "Microsoft.ApiManagement/service/apis",
    });
    expect(agreement(outcomes, orders.id).Reason).toContain("Defender for APIs does not count it onboarded");
    // Onboarded in this run: Defender gets its hour before a disagreement lasts.
    expect(
      outcomes.find((o) => o.Check === "apim.api-onboarding" && o.ResourceId === payments.id)?.Status,
    ).toBe("remediated");
    expect(agreement(outcomes, payments.id).Status).toBe("deferred");
    expect(agreement(outcomes, payments.id).Reason).toContain(
      "Defender can take up to 1 h to follow a change",
    );
  });

  it("costs only the agreement when the read fails: one failed outcome on the subscription, the checks as usual", async () => {
    world = await startWorld(
      estateOf([protectedCluster("aks-a"), ...clusterAssessments(clusterId("aks-a"), "Healthy")]),
      ALL_CHECKS,
    );
    world.sim.injectFault({
      kind: "status",
      method: "POST",
      pathRegex: "ResourceGraph",
      status: 403,
      code: "AuthorizationFailed",
      times: 100,
    });
    const { outcomes } = await world.engine().reconcile(sweep, runInfo());
    const agreements = outcomes.filter((o) => o.Check === AGREEMENT);
    expect(agreements).toHaveLength(1);
    expect(agreements[0]).toMatchObject({
      Status: "failed",
      ResourceId: `/subscriptions/${SUB_A}`,
      ResourceType: "Microsoft.Resources/subscriptions",
      Details: { code: "AuthorizationFailed" },
    });
    expect(agreements[0]?.Reason).toMatch(/^reading Defender for Cloud's assessments: AuthorizationFailed/);
    const others = outcomes.filter((o) => o.Check !== AGREEMENT);
    expect(others.every((o) => o.Status === "compliant" && o.Details.defender === undefined)).toBe(true);
  });

  it("reads nothing when the check is not run, and reports nothing more for a resource that does not exist", async () => {
    world = await startWorld(
      estateOf([protectedCluster("aks-a"), ...clusterAssessments(clusterId("aks-a"), "Healthy")]),
      {
        AUTOPROTECT_CHECKS: "aks.defender-sensor",
      },
    );
    const { outcomes } = await world.engine().reconcile(sweep, runInfo());
    expect(graphQueries(world)).toEqual([]);
    expect(outcomes.map((o) => o.Check)).toEqual(["aks.defender-sensor"]);
    world.sim.clearRequests();

    const all = world.engine({ config: { ...world.config, checks: [...world.config.checks, AGREEMENT] } });
    const missing = await all.reconcile([{ kind: "resource", resourceId: clusterId("aks-gone") }], runInfo());
    expect(missing.outcomes.map((o) => [o.Check, o.Status])).toEqual([["aks.defender-sensor", "skipped"]]);
    const one = await all.reconcile([{ kind: "resource", resourceId: clusterId("aks-a") }], runInfo());
    expect(agreement(one.outcomes, clusterId("aks-a")).Status).toBe("compliant");
    // One query for both runs: the worker keeps the subscription's assessments for a minute.
    expect(graphQueries(world)).toHaveLength(1);
  });
});
