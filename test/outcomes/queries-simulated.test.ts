/**
 * Every query of docs/queries.kql runs in the simulated workspace (the simulator's KQL subset has
 * exactly what they use), and their definitions give, on small hand-made outcomes, the figures worked
 * out here by hand: coverage with skipped resources, "manual since", error codes, latency percentiles,
 * overdue waits. Over a simulated history the rollout queries that chart the same decisions agree.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadEstateFile, startSimulator, type Simulator } from "../../sim/index.js";
import { createLogsQueryAdapter, type LogsQueryRow } from "../../src/azure/logs-query.js";
import { simulatorCredential, startSimulatedAzure } from "../../src/cli/simulate.js";
import type { Status } from "../../src/model/checks.js";
import type { OutcomeRecord, Trigger } from "../../src/model/outcome.js";
import { OUTCOME_COLUMNS, OUTCOME_STREAM } from "../../src/outcomes/schema.js";
import { TITLES } from "../../src/report/data.js";
import { allQueries, forScope, loadQueryFile } from "../../src/report/queries.js";
import { buildHistory, SAMPLE_WORKSPACE } from "../support/report-history.js";
import { SUB_A, SUB_B, clusterId, estate, workspace } from "../support/estate.js";
import { fakeClock } from "../support/sim.js";

const CUSTOMER_ID = "5f0a7a0e-3b8c-4f1e-9a55-2f5c6d7e8f90";
const RULE = "dcr-0123456789abcdef0123456789abcdef";
const NOW = "2026-04-10T12:00:00.000Z";
const HOUR = 3_600_000;
const QUERIES = allQueries(loadQueryFile());

function query(title: string): string {
  const found = QUERIES.find((q) => q.title === title);
  if (found === undefined) throw new Error(`no query "${title}"`);
  return found.query;
}

let serial = 0;
/** A row as the engine writes it, `hoursAgo` before NOW; `extra` overrides any column. */
function row(
  resourceId: string,
  check: OutcomeRecord["Check"],
  status: Status,
  hoursAgo: number,
  extra: Partial<OutcomeRecord> = {},
): OutcomeRecord {
  serial += 1;
  const runId = `run-${String(serial)}`;
  return {
    TimeGenerated: new Date(Date.parse(NOW) - hoursAgo * HOUR).toISOString(),
    RunId: runId,
    Trigger: "timer",
    Mode: "enforce",
    SubscriptionId: resourceId.split("/")[2] ?? SUB_A,
    ResourceId: resourceId,
    ResourceType: "Microsoft.ContainerService/managedClusters",
    Check: check,
    Status: status,
    Reason: `${check} is ${status}`,
    Action: "",
    CorrelationId: runId,
    DurationMs: 1000,
    Details: {},
    OutcomeId: `outcome-${String(serial)}`,
    ...extra,
  };
}

const A = clusterId("aks-a");
const B = clusterId("aks-b");
const C = clusterId("aks-c");
const D = clusterId("aks-d").replace(SUB_A, SUB_B);

function event(trigger: Trigger, correlationId: string): Partial<OutcomeRecord> {
  return { Trigger: trigger, CorrelationId: correlationId };
}

const ROWS: OutcomeRecord[] = [
  // Coverage: aks.azure-policy on four clusters (one skipped, one failed, B's id spelt two ways).
  row(A, "aks.azure-policy", "compliant", 2),
  row(B.toUpperCase(), "aks.azure-policy", "failed", 5, { Reason: "ThrottlingError: slow down" }),
  row(B, "aks.azure-policy", "remediated", 1),
  row(C, "aks.azure-policy", "skipped", 2),
  row(D, "aks.azure-policy", "failed", 1, { Details: { code: "AuthorizationFailed" } }),
  // defender.apis-plan applies nowhere.
  row(
    `/subscriptions/${SUB_A}/providers/Microsoft.Security/pricings/Api`,
    "defender.apis-plan",
    "skipped",
    1,
  ),
  // Manual since: A's authorized IPs were manual, then compliant, then manual again since 3 hours ago.
  row(A, "aks.authorized-ips", "failed", 10, { Details: { error: { code: "Conflict" } } }),
  row(A, "aks.authorized-ips", "manual", 8),
  row(A, "aks.authorized-ips", "compliant", 4),
  row(A, "aks.authorized-ips", "manual", 3, { Reason: "set AUTOPROTECT_AUTHORIZED_IP_RANGES" }),
  row(A, "aks.authorized-ips", "manual", 1, { Reason: "set AUTOPROTECT_AUTHORIZED_IP_RANGES" }),
  row(C, "aks.authorized-ips", "manual", 6, { Reason: "Basic load balancer" }),
  row(C, "aks.authorized-ips", "manual", 2, { Reason: "Basic load balancer" }),
  // A failure whose write Azure accepted but that did not take effect.
  row(C, "aks.defender-sensor", "failed", 3, { Reason: "the change was not confirmed" }),
  // Waiting: B deferred 5 and 3 hours ago, retry in 5 minutes (overdue); D deferred an hour ago, retry in 6 hours.
  row(B, "aks.defender-sensor", "deferred", 5, { Details: { retryAfterSeconds: 300 } }),
  row(B, "aks.defender-sensor", "deferred", 3, { Details: { retryAfterSeconds: 300 } }),
  row(D, "aks.defender-sensor", "deferred", 1, { Details: { retryAfterSeconds: 21600 } }),
  // Event to remediation: chain 1, the event's run defers (it started 2 s before), a queued look
  // remediates 100 s later; chain 2 remediates in the event's own run, which took 5 s; a sweep's
  // remediation does not count.
  row(A, "aks.sensor-workspace", "deferred", 6, { ...event("eventgrid", "evt-1"), DurationMs: 2000 }),
  row(A, "aks.sensor-workspace", "remediated", 6 - 100 / 3600, {
    ...event("queue", "evt-1"),
    DurationMs: 1500,
  }),
  row(B, "aks.sensor-workspace", "remediated", 2, { ...event("eventgrid", "evt-2"), DurationMs: 5000 }),
  row(C, "aks.sensor-workspace", "remediated", 2, { Trigger: "timer" }),
];

let sim: Simulator;
let dir = "";
let history = new Map<string, LogsQueryRow[]>();

async function run(title: string, days = 7): Promise<LogsQueryRow[]> {
  const logs = createLogsQueryAdapter(
    { credential: simulatorCredential, tlsCa: sim.ca },
    `${sim.endpoint}/v1`,
  );
  return logs.query(CUSTOMER_ID, forScope(query(title), { days, subscriptions: [] }), `P${String(days)}D`);
}

beforeAll(async () => {
  const law = workspace();
  sim = await startSimulator({
    estate: {
      ...estate([]),
      resources: [{ ...law, properties: { ...law.properties, customerId: CUSTOMER_ID } }],
      logs: { [OUTCOME_STREAM]: ROWS.map((r) => ({ receivedAt: r.TimeGenerated, row: { ...r } })) },
    },
    clock: fakeClock(NOW).now,
    ingestion: {
      dataCollectionRuleId: RULE,
      workspaceId: CUSTOMER_ID,
      streams: { [OUTCOME_STREAM]: OUTCOME_COLUMNS },
    },
  });
  dir = await mkdtemp(join(tmpdir(), "autoprotect-queries-"));
  const { estatePath } = await buildHistory(dir);
  expect((await loadEstateFile(estatePath)).now).toBeDefined();
  const simulated = await startSimulatedAzure(estatePath);
  try {
    const logs = createLogsQueryAdapter(simulated.connection, simulated.logsQueryEndpoint);
    history = new Map(
      await Promise.all(
        QUERIES.map(
          async (q) =>
            [
              q.title,
              await logs.query(SAMPLE_WORKSPACE, forScope(q.query, { days: 7, subscriptions: [] }), "P7D"),
            ] as const,
        ),
      ),
    );
  } finally {
    await simulated.close();
  }
}, 120_000);

afterAll(async () => {
  await sim.close();
  await rm(dir, { recursive: true, force: true });
});

describe("docs/queries.kql in the simulated workspace", () => {
  it("runs every query over a simulated history, nearly all with rows", () => {
    expect([...history.keys()].sort()).toEqual(QUERIES.map((q) => q.title).sort());
    const empty = [...history.entries()].filter(([, rows]) => rows.length === 0).map(([title]) => title);
    expect(empty.length, empty.join(", ")).toBeLessThanOrEqual(1);
  });

  it("Coverage per check and of all checks: skipped resources count neither way; ids compared without case", async () => {
    const perCheck = await run(TITLES.coveragePerCheck);
    expect(perCheck.find((r) => r.Check === "aks.azure-policy")).toEqual({
      Check: "aks.azure-policy",
      CoveredPercent: 66.7,
      Summary: "2 of 3 covered",
      Resources: 4,
      Applicable: 3,
      Covered: 2,
      Planned: 0,
      Deferred: 0,
      Manual: 0,
      Failed: 1,
      Skipped: 1,
    });
    expect(perCheck.find((r) => r.Check === "defender.apis-plan")).toMatchObject({
      CoveredPercent: null,
      Summary: "0 of 0 covered",
      Resources: 1,
      Skipped: 1,
    });
    const overall = await run(TITLES.coverageOverall);
    // 13 pairs (azure-policy 4, apis-plan 1, authorized-ips 2, defender-sensor 3, sensor-workspace 3), 2 skipped: 5 of 11.
    expect(overall).toEqual([
      {
        CoveredPercent: 45.5,
        Resources: 13,
        Applicable: 11,
        Covered: 5,
        Planned: 0,
        Deferred: 2,
        Manual: 2,
        Failed: 2,
        Skipped: 2,
      },
    ]);
  });

  it("Open manual items: manual since the first of the current unbroken run of manual outcomes, oldest first", async () => {
    const items = await run(TITLES.openManual, 30);
    expect(items.map((i) => [i.ResourceId, i.ManualSince, i.LastSeenAt, i.Reason])).toEqual([
      [C, "2026-04-10T06:00:00.000Z", "2026-04-10T10:00:00.000Z", "Basic load balancer"],
      [A, "2026-04-10T09:00:00.000Z", "2026-04-10T11:00:00.000Z", "set AUTOPROTECT_AUTHORIZED_IP_RANGES"],
    ]);
  });

  it("Failures by error code: Details.code, then Details.error.code, then the reason's leading code, else NotConfirmed", async () => {
    const codes = await run(TITLES.failuresByCode);
    expect(new Map(codes.map((c) => [c.ErrorCode, [c.Failures, c.Resources]]))).toEqual(
      new Map([
        ["AuthorizationFailed", [1, 1]],
        ["Conflict", [1, 1]],
        ["ThrottlingError", [1, 1]],
        ["NotConfirmed", [1, 1]],
      ]),
    );
    const failing = await run(TITLES.failingNow);
    // B's newest azure-policy outcome is remediated: only D's and C's failures are still failing.
    expect(failing.map((f) => [f.ResourceId, f.Check, f.ErrorCode])).toEqual([
      [D, "aks.azure-policy", "AuthorizationFailed"],
      [C, "aks.defender-sensor", "NotConfirmed"],
    ]);
  });

  it("Event to remediation latency: from the start of the event's run to the remediation, nearest-rank percentiles", async () => {
    expect(await run(TITLES.latencyPerCheck)).toEqual([
      {
        Check: "aks.sensor-workspace",
        Remediations: 2,
        P50Seconds: 5,
        P95Seconds: 102,
        InRunP50Seconds: 1.5,
        InRunP95Seconds: 5,
      },
    ]);
    expect(await run(TITLES.latencyOverTime)).toEqual([
      { TimeGenerated: "2026-04-10T00:00:00.000Z", Check: "aks.sensor-workspace", P95Seconds: 102 },
    ]);
  });

  it("Deferred items waiting longest: the wait so far, and overdue when the promised retry has not come", async () => {
    const waiting = await run(TITLES.waitingLongest, 30);
    expect(
      waiting.map((w) => [
        w.ResourceId,
        w.DeferredSince,
        w.WaitingHours,
        w.Looks,
        w.Overdue,
        w.RetryAfterSeconds,
      ]),
    ).toEqual([
      [B, "2026-04-10T07:00:00.000Z", 5, 2, true, 300],
      [D, "2026-04-10T11:00:00.000Z", 1, 1, false, 21600],
    ]);
  });

  it("the rollout's decisions, progress and capacity queries chart the same figures", () => {
    const decisions = history.get(TITLES.rolloutDecisions) ?? [];
    const progress = history.get(TITLES.rolloutProgress) ?? [];
    const capacity = history.get(TITLES.rolloutCapacity) ?? [];
    expect(decisions.length).toBeGreaterThan(5);
    expect(progress).toHaveLength(2 * decisions.length);
    expect(capacity.length).toBe(decisions.filter((d) => d.CapacityPercent !== null).length);
    for (const decision of decisions) {
      const name = String(decision.ServiceId).split("/").at(-1) ?? "";
      const at = (r: LogsQueryRow): boolean => r.TimeGenerated === decision.TimeGenerated;
      expect(progress.find((p) => at(p) && p.Series === `${name} onboarded`)?.Apis).toBe(decision.Onboarded);
      expect(progress.find((p) => at(p) && p.Series === `${name} pending`)?.Apis).toBe(decision.Pending);
      expect(capacity.find((c) => at(c) && c.Service === name)?.CapacityPercent).toBe(
        decision.CapacityPercent,
      );
    }
    const rollbacks = history.get(TITLES.rollbacks) ?? [];
    expect(rollbacks.map((r) => r.TimeGenerated)).toEqual(
      decisions.filter((d) => d.Decision === "rollback").map((d) => d.TimeGenerated),
    );
  });
});
