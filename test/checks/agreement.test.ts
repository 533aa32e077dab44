import { describe, expect, it } from "vitest";
import { judgeAssessment, ourVerdict, planAgreement, type OurOutcome } from "../../src/checks/agreement.js";
import { RESOURCE_TYPES, STATUSES, type Status } from "../../src/model/checks.js";
import type { AssessmentSnapshot, DefenderStatusCode } from "../../src/model/defender.js";

const CLUSTER = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks";
const API = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim/apis/orders";
const NOW = new Date("2026-11-25T10:00:00Z");
const HOUR = 3_600_000;
const SENSOR_KEY = "56a83a6e-c417-42ec-b567-1e6fcb3d09a9";

function hoursAgo(hours: number): string {
  return new Date(NOW.getTime() - hours * HOUR).toISOString();
}

function sensor(code: DefenderStatusCode, changedHoursAgo?: number, extra: Partial<AssessmentSnapshot> = {}) {
  return {
    id: `${CLUSTER}/providers/Microsoft.Security/assessments/${SENSOR_KEY}`,
    key: SENSOR_KEY,
    displayName: "Azure Kubernetes Service clusters should have Defender profile enabled",
    resourceId: CLUSTER,
    status: code,
    ...(changedHoursAgo === undefined ? {} : { statusChangeDate: hoursAgo(changedHoursAgo) }),
    ...extra,
  } satisfies AssessmentSnapshot;
}

function ours(status: Status, details: Record<string, unknown> = {}): OurOutcome {
  return { check: "aks.defender-sensor", status, reason: `the sensor is ${status}`, details };
}

const base = { resourceType: RESOURCE_TYPES.managedCluster, now: NOW };

describe("autoprotect's verdict, from its outcome", () => {
  it.each([
    ["compliant", {}, "protected"],
    ["remediated", {}, "protected"],
    ["planned", {}, "unprotected"],
    ["manual", {}, "unprotected"],
    ["deferred", { retryAfterSeconds: 60, operation: {} }, "unprotected"],
    ["deferred", { code: "RunBudgetExhausted" }, "none"],
    ["deferred", { code: "RunInterrupted" }, "none"],
    ["deferred", { error: { code: "TooManyRequests" } }, "none"],
    ["failed", { code: "InternalServerError" }, "none"],
    ["skipped", {}, "none"],
  ] as const)("%s %j is %s", (status, details, verdict) => {
    expect(ourVerdict({ status, details })).toBe(verdict);
  });
});

describe("one assessment against autoprotect's verdict (default lag 24 h)", () => {
  // Every status autoprotect reports × Defender's three codes and none × before and after the lag.
  const cases: [Status, DefenderStatusCode | undefined, number, string, Status][] = [];
  for (const status of STATUSES) {
    for (const code of ["Healthy", "Unhealthy", "NotApplicable", undefined] as const) {
      for (const age of [1, 30]) {
        const protectedNow = status === "compliant" || status === "remediated";
        const verdict = ourVerdict({ status, details: {} });
        let expected: [string, Status];
        if (verdict === "none") expected = ["no-verdict", "skipped"];
        else if (code === undefined) expected = ["not-assessed", "skipped"];
        else if (code === "NotApplicable") expected = ["not-applicable", "skipped"];
        else if ((code === "Healthy") === protectedNow) expected = ["agree", "compliant"];
        else if (code === "Healthy") expected = ["not-by-configuration", "manual"];
        // Remediated now: the lag counts from this run's change, so it has not passed.
        else if (age < 24 || status === "remediated") expected = ["catching-up", "deferred"];
        else expected = ["not-by-defender", "manual"];
        cases.push([status, code, age, ...expected]);
      }
    }
  }

  it.each(cases)("ours %s, Defender %s since %i h: %s (%s)", (status, code, age, verdict, outcome) => {
    const judged = judgeAssessment(base, ours(status), code === undefined ? undefined : sensor(code, age));
    expect([judged.verdict, judged.status]).toEqual([verdict, outcome]);
    expect(judged.check).toBe("aks.defender-sensor");
    expect(judged.assessment).toBe(SENSOR_KEY);
  });

  it("counts the lag from the later of Defender's change, autoprotect's change and the wait's start", () => {
    const unhealthy = sensor("Unhealthy", 100);
    expect(judgeAssessment(base, ours("compliant"), unhealthy).verdict).toBe("not-by-defender");
    // Waiting since 2 hours ago (an earlier run remediated it): Defender has 22 hours left.
    const waiting = judgeAssessment({ ...base, waitingSince: hoursAgo(2) }, ours("compliant"), unhealthy);
    expect(waiting.verdict).toBe("catching-up");
    expect(waiting.lagEndsAt).toBe(new Date(NOW.getTime() + 22 * HOUR).toISOString());
    expect(waiting.reason).toContain("Defender can take up to 24 h");
    // Without a status change date Defender's first evaluation counts; without either, now.
    const first = sensor("Unhealthy", undefined, { firstEvaluationDate: hoursAgo(48) });
    expect(judgeAssessment(base, ours("compliant"), first).verdict).toBe("not-by-defender");
    expect(judgeAssessment(base, ours("compliant"), sensor("Unhealthy")).verdict).toBe("catching-up");
  });

  it("takes the configured lag over the documented one", () => {
    const unhealthy = sensor("Unhealthy", 3);
    expect(judgeAssessment({ ...base, lagMinutes: 120 }, ours("compliant"), unhealthy).verdict).toBe(
      "not-by-defender",
    );
    expect(judgeAssessment({ ...base, lagMinutes: 240 }, ours("compliant"), unhealthy).verdict).toBe(
      "catching-up",
    );
  });

  it("says what Defender says and what to look at", () => {
    const judged = judgeAssessment(
      base,
      ours("compliant"),
      sensor("Unhealthy", 48, { cause: "NoData", description: "no data from the sensor" }),
    );
    expect(judged.reason).toContain("Unhealthy (NoData: no data from the sensor)");
    expect(judged.reason).toContain("*.cloud.defender.microsoft.com");
    expect(judged).toMatchObject({ defender: "Unhealthy", cause: "NoData", ours: "compliant" });
    const notApplicable = judgeAssessment(
      base,
      ours("compliant"),
      sensor("NotApplicable", 1, { cause: "OffByPolicy", description: "turned off by policy" }),
    );
    expect(notApplicable.reason).toContain("OffByPolicy: turned off by policy");
  });

  it("uses the API onboarding assessment's hour-long lag (Defender documents 50 minutes)", () => {
    const api = {
      id: `${API}/providers/Microsoft.Security/assessments/x`,
      key: "x",
      displayName: "Azure API Management APIs should be onboarded to Defender for APIs",
      resourceId: API,
      status: "Unhealthy" as const,
      statusChangeDate: hoursAgo(2),
    };
    const onboarded: OurOutcome = { check: "apim.api-onboarding", status: "compliant", reason: "onboarded" };
    const judged = judgeAssessment({ ...base, resourceType: RESOURCE_TYPES.apimApi }, onboarded, api);
    expect(judged.verdict).toBe("not-by-defender");
  });
});

describe("a resource's agreement", () => {
  const key = (k: string, code: DefenderStatusCode, age = 48): AssessmentSnapshot => ({
    ...sensor(code, age),
    key: k,
    id: `${CLUSTER}/providers/Microsoft.Security/assessments/${k}`,
  });
  const policy = "08e628db-e2ed-4793-bc91-d13e684401c3";
  const apiServer = "1a2b5b4c-f80d-46e7-ac81-b51a9fb363de";
  const three: OurOutcome[] = [
    ours("compliant"),
    { check: "aks.azure-policy", status: "compliant", reason: "on" },
    { check: "aks.authorized-ips", status: "manual", reason: "no ranges configured" },
    // Checks no assessment judges are left out.
    { check: "aks.sensor-workspace", status: "compliant", reason: "ok" },
  ];

  it("is the most pressing of its assessments, each in Details.assessments", () => {
    const finding = planAgreement({
      ...base,
      ours: three,
      assessments: [key(SENSOR_KEY, "Unhealthy"), key(policy, "Healthy"), key(apiServer, "Unhealthy")],
    });
    expect(finding.verdict).toBe("manual");
    expect(finding.reason).toMatch(/^aks\.defender-sensor is protected by configuration/);
    const judged = (finding.details?.assessments ?? []) as { check: string; verdict: string }[];
    expect(judged.map((j) => [j.check, j.verdict])).toEqual([
      ["aks.defender-sensor", "not-by-defender"],
      ["aks.azure-policy", "agree"],
      ["aks.authorized-ips", "agree"],
    ]);
  });

  it("agrees, defers until Defender's lag ends, or is skipped when nothing can be compared", () => {
    const healthy = [key(SENSOR_KEY, "Healthy"), key(policy, "Healthy"), key(apiServer, "Unhealthy")];
    expect(planAgreement({ ...base, ours: three, assessments: healthy }).verdict).toBe("compliant");

    const catching = planAgreement({
      ...base,
      ours: three,
      assessments: [
        key(SENSOR_KEY, "Unhealthy", 20),
        key(policy, "Unhealthy", 23.5),
        key(apiServer, "Unhealthy"),
      ],
    });
    // Looked at again when the first lag ends, but never sooner than 15 minutes.
    expect(catching).toMatchObject({ verdict: "deferred", retryAfterSeconds: 30 * 60 });

    const far = planAgreement({
      ...base,
      ours: [ours("remediated")],
      assessments: [key(SENSOR_KEY, "Unhealthy")],
    });
    // A day's lag from now: looked at again within 6 hours.
    expect(far).toMatchObject({ verdict: "deferred", retryAfterSeconds: 6 * 3600 });

    expect(planAgreement({ ...base, ours: [ours("skipped")], assessments: [] })).toMatchObject({
      verdict: "skipped",
    });
    expect(planAgreement({ ...base, ours: [], assessments: [] })).toMatchObject({
      verdict: "skipped",
      reason: "no check of this resource is judged by a Defender for Cloud assessment",
    });
  });

  it("says alike judgements once: what Defender agrees about, what it has not assessed, why there is nothing to compare", () => {
    const sensorAndPolicy: OurOutcome[] = [
      ours("compliant"),
      { check: "aks.azure-policy", status: "remediated", reason: "on" },
    ];
    expect(
      planAgreement({
        ...base,
        ours: sensorAndPolicy,
        assessments: [key(SENSOR_KEY, "Healthy"), key(policy, "Healthy")],
      }).reason,
    ).toBe("Defender for Cloud agrees that aks.defender-sensor and aks.azure-policy are protected (Healthy)");
    expect(planAgreement({ ...base, ours: sensorAndPolicy, assessments: [] }).reason).toBe(
      'Defender for Cloud has not assessed "Azure Kubernetes Service clusters should have Defender profile enabled" and ' +
        '"Azure Kubernetes Service clusters should have the Azure Policy add-on for Kubernetes installed" here (not yet, or its plan is off)',
    );
    const excluded = three
      .slice(0, 3)
      .map((o) => ({ ...o, status: "skipped" as const, reason: "excluded by tag" }));
    expect(planAgreement({ ...base, ours: excluded, assessments: [] }).reason).toBe(
      "nothing to compare: aks.defender-sensor, aks.azure-policy and aks.authorized-ips are skipped: excluded by tag",
    );
    const open = planAgreement({
      ...base,
      ours: [{ check: "aks.authorized-ips", status: "planned", reason: "open" }],
      assessments: [key(apiServer, "Unhealthy")],
    });
    expect(open.reason).toBe(
      "Defender for Cloud agrees that aks.authorized-ips is not protected yet (Unhealthy); it carries the action",
    );
  });

  it("ignores assessments of other checks and matches keys without regard to case", () => {
    const finding = planAgreement({
      ...base,
      ours: [ours("compliant")],
      assessments: [
        key(SENSOR_KEY.toUpperCase(), "Healthy"),
        key("00000000-0000-0000-0000-000000000000", "Unhealthy"),
      ],
    });
    expect(finding.verdict).toBe("compliant");
  });
});
