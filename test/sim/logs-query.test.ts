import { isRestError, type RestError } from "@azure/core-rest-pipeline";
import { LogsIngestionClient } from "@azure/monitor-ingestion";
import {
  LogsQueryClient,
  LogsQueryResultStatus,
  type LogsTable,
  type QueryTimeInterval,
} from "@azure/monitor-query-logs";
import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, tableOfStream, type IngestionOptions, type Simulator } from "../../sim/index.js";
import { baseEstate, call, credential, fakeClock } from "../support/sim.js";

const DCR = "dcr-0123456789abcdef0123456789abcdef";
const STREAM = "Custom-AutoprotectOutcomes";
const TABLE = "AutoprotectOutcomes_CL";
const HEARTBEATS = "Custom-Heartbeat";
const WORKSPACE = "6b1f0c1e-7d0c-4a57-9f3e-3c0f8a1b2c3d";
const T0 = "2025-03-10T12:00:00.000Z";
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const LAST_WEEK: QueryTimeInterval = { duration: "P7D" };

const INGESTION: IngestionOptions = {
  dataCollectionRuleId: DCR,
  workspaceId: WORKSPACE,
  streams: {
    [STREAM]: [
      { name: "TimeGenerated", type: "datetime" },
      { name: "ResourceId", type: "string" },
      { name: "Check", type: "string" },
      { name: "Outcome", type: "string" },
      { name: "DurationMs", type: "real" },
      { name: "Attempt", type: "long" },
      { name: "DryRun", type: "boolean" },
      { name: "Details", type: "dynamic" },
    ],
    // No TimeGenerated: the table gets one, the time received.
    [HEARTBEATS]: [{ name: "Host", type: "string" }],
  },
};

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

function at(hoursAgo: number): string {
  return new Date(Date.parse(T0) - hoursAgo * HOUR).toISOString();
}

function row(resource: string, check: string, outcome: string, hoursAgo: number): Record<string, unknown> {
  return {
    TimeGenerated: at(hoursAgo),
    ResourceId: resource,
    Check: check,
    Outcome: outcome,
    DurationMs: 10 + hoursAgo,
    Attempt: 1,
    DryRun: false,
    Details: { hoursAgo },
  };
}

/** aks1/sensor: failed, then remediated; aks1/policy: compliant; aks2/sensor: failed twice; one row 3 days old. */
const ROWS = [
  row("aks1", "sensor", "failed", 5),
  row("aks1", "sensor", "remediated", 1),
  row("aks1", "policy", "compliant", 4),
  row("aks2", "sensor", "failed", 6),
  row("aks2", "sensor", "failed", 2),
  row("aks3", "sensor", "compliant", 72),
];

async function start(): Promise<{
  sim: Simulator;
  logs: LogsQueryClient;
  clock: ReturnType<typeof fakeClock>;
}> {
  const clock = fakeClock(T0);
  sim = await startSimulator({ estate: baseEstate(), clock: clock.now, ingestion: INGESTION });
  const ingest = new LogsIngestionClient(sim.endpoint, credential, {
    tlsOptions: { ca: sim.ca },
    retryOptions: { maxRetries: 0 },
  });
  await ingest.upload(DCR, STREAM, ROWS, { maxConcurrency: 1 });
  // The API's path is versioned: point the client at {endpoint}/v1, as for a sovereign cloud.
  const logs = new LogsQueryClient(credential, {
    endpoint: `${sim.endpoint}/v1`,
    tlsOptions: { ca: sim.ca },
    retryOptions: { maxRetries: 0 },
  });
  return { sim, logs, clock };
}

async function table(logs: LogsQueryClient, query: string, timespan = LAST_WEEK): Promise<LogsTable> {
  const result = await logs.queryWorkspace(WORKSPACE, query, timespan);
  if (result.status !== LogsQueryResultStatus.Success) throw new Error(`query failed: ${result.status}`);
  const [primary] = result.tables;
  if (primary === undefined) throw new Error("no table");
  expect(primary.name).toBe("PrimaryResult");
  return primary;
}

/** Rows as objects by column name (dates as ISO strings), to compare whole answers at once. */
function records(t: LogsTable): Record<string, unknown>[] {
  return t.rows.map((r) =>
    Object.fromEntries(
      t.columnDescriptors.map((c, i) => {
        const value = r[i];
        return [c.name, value instanceof Date ? value.toISOString() : value];
      }),
    ),
  );
}

async function refusal(logs: LogsQueryClient, query: string, workspace = WORKSPACE): Promise<RestError> {
  try {
    await logs.queryWorkspace(workspace, query, LAST_WEEK);
  } catch (error) {
    if (isRestError(error)) return error;
    throw error;
  }
  throw new Error(`the query was answered: ${query}`);
}

describe("Log Analytics query API through the real LogsQueryClient", () => {
  it("maps a stream to its custom table: Custom-X → X_CL", () => {
    expect(tableOfStream("Custom-AutoprotectOutcomes")).toBe("AutoprotectOutcomes_CL");
    expect(tableOfStream("Custom-Already_CL")).toBe("Already_CL");
  });

  it("answers the whole table, typed as the stream declares (datetime → Date, dynamic parsed, bool)", async () => {
    const { logs, sim: s } = await start();
    const t = await table(logs, TABLE);
    expect(t.columnDescriptors).toEqual([
      { name: "TimeGenerated", type: "datetime" },
      { name: "ResourceId", type: "string" },
      { name: "Check", type: "string" },
      { name: "Outcome", type: "string" },
      { name: "DurationMs", type: "real" },
      { name: "Attempt", type: "long" },
      { name: "DryRun", type: "bool" },
      { name: "Details", type: "dynamic" },
    ]);
    expect(t.rows[0]?.[0]).toBeInstanceOf(Date);
    expect(records(t)).toEqual(ROWS);
    const [request] = s.requests.filter((r) => r.path.startsWith("/v1/"));
    expect(request).toMatchObject({
      method: "POST",
      path: `/v1/workspaces/${WORKSPACE}/query`,
      apiVersion: undefined,
      body: { query: TABLE, timespan: "P7D" },
      status: 200,
    });
  });

  it("keeps the latest row per key: summarize arg_max(TimeGenerated, *) by ResourceId, Check", async () => {
    const { logs } = await start();
    const t = await table(
      logs,
      `${TABLE} | where TimeGenerated > ago(1d) | summarize arg_max(TimeGenerated, *) by ResourceId, Check | order by ResourceId asc, Check asc`,
    );
    expect(t.columnDescriptors.map((c) => c.name)).toEqual([
      "ResourceId",
      "Check",
      "TimeGenerated",
      "Outcome",
      "DurationMs",
      "Attempt",
      "DryRun",
      "Details",
    ]);
    expect(records(t).map((r) => [r.ResourceId, r.Check, r.Outcome, r.TimeGenerated])).toEqual([
      ["aks1", "policy", "compliant", at(4)],
      ["aks1", "sensor", "remediated", at(1)],
      ["aks2", "sensor", "failed", at(2)],
    ]);
  });

  it("counts: summarize count() by Outcome, and a named count without by", async () => {
    const { logs } = await start();
    const byOutcome = await table(logs, `${TABLE} | summarize count() by Outcome | order by Outcome asc`);
    expect(byOutcome.columnDescriptors).toEqual([
      { name: "Outcome", type: "string" },
      { name: "count_", type: "long" },
    ]);
    expect(byOutcome.rows).toEqual([
      ["compliant", 2],
      ["failed", 3],
      ["remediated", 1],
    ]);
    const total = await table(logs, `${TABLE} | where Outcome != "compliant" | summarize n = count()`);
    expect(records(total)).toEqual([{ n: 4 }]);
    const none = await table(logs, `${TABLE} | where Outcome == "nope" | summarize count()`);
    expect(none.rows).toEqual([[0]]);
  });

  it("filters, projects, orders and takes", async () => {
    const { logs } = await start();
    const t = await table(
      logs,
      `${TABLE} | where Outcome == 'failed' and DurationMs >= 12 | project ResourceId, DurationMs | order by DurationMs desc | take 2`,
    );
    expect(records(t)).toEqual([
      { ResourceId: "aks2", DurationMs: 16 },
      { ResourceId: "aks1", DurationMs: 15 },
    ]);
    const ci = await table(logs, `${TABLE} | where Outcome =~ "FAILED" | summarize count()`);
    expect(ci.rows).toEqual([[3]]);
    const sorted = await table(
      logs,
      `${TABLE} // latest first\n| sort by TimeGenerated | limit 1 | project Outcome`,
    );
    expect(sorted.rows).toEqual([["remediated"]]);
  });

  it("applies the timespan parameter and ago() on the simulator's clock", async () => {
    const { logs, clock } = await start();
    expect((await table(logs, TABLE, { duration: "PT3H" })).rows).toHaveLength(2);
    expect((await table(logs, TABLE, { duration: "P7D" })).rows).toHaveLength(6);
    const window = { startTime: new Date(at(5.5)), endTime: new Date(at(3.5)) };
    expect(records(await table(logs, `${TABLE} | project Outcome`, window))).toEqual([
      { Outcome: "failed" },
      { Outcome: "compliant" },
    ]);
    clock.advance(DAY);
    expect(
      (await table(logs, `${TABLE} | where TimeGenerated > ago(24h)`, { duration: "P30D" })).rows,
    ).toEqual([]);
    expect(
      (await table(logs, `${TABLE} | where TimeGenerated > ago(2d)`, { duration: "P30D" })).rows,
    ).toHaveLength(5);
  });

  it("gives a stream without TimeGenerated the time received", async () => {
    const { logs, sim: s, clock } = await start();
    clock.advance(HOUR);
    await new LogsIngestionClient(s.endpoint, credential, { tlsOptions: { ca: s.ca } }).upload(
      DCR,
      HEARTBEATS,
      [{ Host: "h1" }, {}],
    );
    const t = await table(logs, "Heartbeat_CL");
    expect(t.columnDescriptors.map((c) => c.name)).toEqual(["TimeGenerated", "Host"]);
    // A missing string reads as "" (KQL strings are never null).
    expect(records(t)).toEqual([
      { TimeGenerated: new Date(Date.parse(T0) + HOUR).toISOString(), Host: "h1" },
      { TimeGenerated: new Date(Date.parse(T0) + HOUR).toISOString(), Host: "" },
    ]);
  });

  it("computes expressions: extend and project with KQL's functions and types", async () => {
    const { logs } = await start();
    const t = await table(
      logs,
      `${TABLE}
      | where TimeGenerated > ago(1d) and (Outcome == "remediated" or DurationMs > 15)
      | extend Key = tolower(strcat("AKS", "-", ResourceId)), Hours = todouble(Details.hoursAgo)
      | extend Age = (now() - TimeGenerated) / 1h, Label = iff(Outcome in ("failed"), "bad", "ok")
      | extend Missing = isnull(Details.nope), Code = coalesce(tostring(Details.nope), extract(@"(?i)^(A)KS", 1, ResourceId), "none")
      | project ResourceId, Key, Hours, Age, Label, Missing, Code, Rounded = round(DurationMs / 3.0, 1), Whole = toint(DurationMs / 4)
      | order by ResourceId asc`,
    );
    expect(t.columnDescriptors.map((c) => `${c.name}:${c.type}`)).toEqual([
      "ResourceId:string",
      "Key:string",
      "Hours:real",
      "Age:real",
      "Label:string",
      "Missing:bool",
      "Code:string",
      "Rounded:real",
      "Whole:int",
    ]);
    expect(records(t)).toEqual([
      {
        ResourceId: "aks1",
        Key: "aks-aks1",
        Hours: 1,
        Age: 1,
        Label: "ok",
        Missing: true,
        Code: "a",
        Rounded: 3.7,
        Whole: 2,
      },
      {
        ResourceId: "aks2",
        Key: "aks-aks2",
        Hours: 6,
        Age: 6,
        Label: "bad",
        Missing: true,
        Code: "a",
        Rounded: 5.3,
        Whole: 4,
      },
    ]);
  });

  it("summarizes with several aggregations, expressions over them, and bin() keys", async () => {
    const { logs } = await start();
    const t = await table(
      logs,
      `${TABLE}
      | summarize Rows = count(), Failed = countif(Outcome == "failed"), Resources = dcount(ResourceId),
          First = min(TimeGenerated), LastFailure = maxif(TimeGenerated, Outcome == "failed"), Any = take_any(Check),
          P50 = percentile(DurationMs, 50), Share = round(100.0 * countif(Outcome == "failed") / count(), 1)
          by Day = bin(TimeGenerated, 1d), Check
      | order by Day asc, Check asc`,
    );
    const day = (d: string): string => `2025-03-${d}T00:00:00.000Z`;
    expect(records(t)).toEqual([
      {
        Day: day("07"),
        Check: "sensor",
        Rows: 1,
        Failed: 0,
        Resources: 1,
        First: at(72),
        LastFailure: null,
        Any: "sensor",
        P50: 82,
        Share: 0,
      },
      {
        Day: day("10"),
        Check: "policy",
        Rows: 1,
        Failed: 0,
        Resources: 1,
        First: at(4),
        LastFailure: null,
        Any: "policy",
        P50: 14,
        Share: 0,
      },
      {
        Day: day("10"),
        Check: "sensor",
        Rows: 4,
        Failed: 3,
        Resources: 2,
        First: at(6),
        LastFailure: at(2),
        Any: "sensor",
        P50: 12,
        Share: 75,
      },
    ]);
    const unnamed = await table(
      logs,
      `${TABLE} | summarize n = count() by bin(TimeGenerated, 1d) | order by TimeGenerated asc`,
    );
    expect(records(unnamed)).toEqual([
      { TimeGenerated: day("07"), n: 1 },
      { TimeGenerated: day("10"), n: 5 },
    ]);
  });

  it("binds tables with let and joins them (inner and leftouter; the right side's clashing names get a 1)", async () => {
    const { logs } = await start();
    const query = (
      kind: string,
    ): string => `let latest = ${TABLE} | summarize arg_max(TimeGenerated, Outcome) by ResourceId;
      let failures = ${TABLE} | where Outcome == "failed" | summarize Failures = count() by ResourceId;
      latest
      | join kind=${kind} failures on ResourceId
      | project ResourceId, Outcome, ResourceId1, Failures
      | order by ResourceId asc`;
    expect(records(await table(logs, query("leftouter")))).toEqual([
      { ResourceId: "aks1", Outcome: "remediated", ResourceId1: "aks1", Failures: 1 },
      { ResourceId: "aks2", Outcome: "failed", ResourceId1: "aks2", Failures: 2 },
      { ResourceId: "aks3", Outcome: "compliant", ResourceId1: "", Failures: null },
    ]);
    expect(records(await table(logs, query("inner"))).map((r) => r.ResourceId)).toEqual(["aks1", "aks2"]);
  });

  it("expands arrays with mv-expand, typed, and answers timespans as KQL writes them", async () => {
    const { logs } = await start();
    const expanded = await table(
      logs,
      `${TABLE} | where ResourceId == "aks1" and Check == "policy"
      | extend Kind = pack_array("duration", "attempt"), Value = pack_array(DurationMs, Attempt)
      | mv-expand Kind to typeof(string), Value to typeof(int)
      | project Kind, Value`,
    );
    expect(expanded.columnDescriptors).toEqual([
      { name: "Kind", type: "string" },
      { name: "Value", type: "int" },
    ]);
    expect(records(expanded)).toEqual([
      { Kind: "duration", Value: 14 },
      { Kind: "attempt", Value: 1 },
    ]);
    const spans = await table(
      logs,
      `${TABLE} | where ResourceId == "aks3" | project Waited = now() - TimeGenerated, Start = TimeGenerated - DurationMs * 1ms`,
    );
    expect(spans.columnDescriptors.map((c) => c.type)).toEqual(["timespan", "datetime"]);
    expect(records(spans)).toEqual([{ Waited: "3.00:00:00", Start: "2025-03-07T11:59:59.918Z" }]);
  });

  it.each([
    [`${TABLE} | where Outcome contains "fail"`, "'contains' in 'where'"],
    [`${TABLE} | where Outcome !contains "fail"`, "'!contains' in 'where'"],
    [`${TABLE} | summarize sum(DurationMs)`, "the function 'sum()'"],
    [`${TABLE} | summarize countif(Outcome == "failed")`, "an unnamed aggregation"],
    [`${TABLE} | summarize n = count() by tolower(Outcome)`, "an unnamed expression in 'summarize … by'"],
    [`${TABLE} | extend X = DurationMs % 2`, "'%'"],
    [`${TABLE} | where Details.hoursAgo > 1`, "comparing dynamic values"],
    [`${TABLE} | extend R = extract(@"(?m)x", 0, Outcome)`, "inline flags"],
    [`union ${TABLE}, Heartbeat_CL`, "'union'"],
    [`${TABLE} | join Heartbeat_CL on Host`, "'join' without kind="],
    [`${TABLE} | join kind=inner (Heartbeat_CL) on Host`, "a sub-query in parentheses"],
    [`${TABLE} | join kind=rightouter Heartbeat_CL on Host`, "'join kind=rightouter'"],
    [`let n = 5; ${TABLE}`, "'let n' of anything but a tabular expression"],
    [`${TABLE} | where TimeGenerated between (ago(1d) .. now())`, "'between' in 'where'"],
    [`${TABLE} | project-away Details`, "'project-away' operator"],
    [`${TABLE} | order by tolower(Outcome) asc`, "expressions in 'order by'"],
  ])("refuses %s with 400 BadArgumentError naming what is unsupported", async (query, named) => {
    const { logs } = await start();
    const error = await refusal(logs, query);
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe("BadArgumentError");
    expect(error.message).toContain(named);
    expect(JSON.stringify(error.details)).toContain("NotSupportedBySimulator");
  });

  it("answers an unknown table or column as Azure does (SemanticError SEM0100)", async () => {
    const { logs } = await start();
    const table = await refusal(logs, "Nope_CL | take 1");
    expect(table).toMatchObject({ statusCode: 400, code: "BadArgumentError" });
    expect(table.message).toBe("The request had some invalid properties");
    expect(table.details).toMatchObject({
      error: {
        innererror: {
          code: "SemanticError",
          innererror: {
            code: "SEM0100",
            message: "'take' operator: Failed to resolve table or column expression named 'Nope_CL'",
          },
        },
      },
    });
    const column = await refusal(logs, `${TABLE} | project Nope`);
    expect(JSON.stringify(column.details)).toContain("Failed to resolve scalar expression named 'Nope'");
    const types = await refusal(logs, `${TABLE} | where Attempt == "1"`);
    expect(JSON.stringify(types.details)).toContain("Cannot compare values of types long and string");
  });

  it("answers a syntax error as a SyntaxError", async () => {
    const { logs } = await start();
    const error = await refusal(logs, `${TABLE} | where Outcome == "open`);
    expect(error.statusCode).toBe(400);
    expect(error.details).toMatchObject({ error: { innererror: { code: "SyntaxError" } } });
  });

  it("answers 404 PathNotFoundError for another workspace, and for a client not pointed at /v1", async () => {
    const { logs, sim: s } = await start();
    const other = await refusal(logs, TABLE, "00000000-0000-4000-8000-000000000000");
    expect(other).toMatchObject({ statusCode: 404, code: "PathNotFoundError" });

    const unversioned = new LogsQueryClient(credential, {
      endpoint: s.endpoint,
      tlsOptions: { ca: s.ca },
      retryOptions: { maxRetries: 0 },
    });
    const missing = await refusal(unversioned, TABLE);
    expect(missing).toMatchObject({ statusCode: 404, code: "PathNotFoundError" });
    expect(missing.message).toContain(`${s.endpoint}/v1`);
  });

  it("refuses a body without a query, a bad timespan and additional workspaces", async () => {
    const { sim: s } = await start();
    const path = `/v1/workspaces/${WORKSPACE}/query`;
    expect((await call(s, "POST", path, { body: { timespan: "P1D" } })).status).toBe(400);
    const bad = await call(s, "POST", path, { body: { query: TABLE, timespan: "yesterday" } });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain("not an ISO 8601 interval");
    const more = await call(s, "POST", path, { body: { query: TABLE, workspaces: ["x"] } });
    expect(more.status).toBe(400);
    // No timespan: the whole table.
    const all = await call(s, "POST", path, { body: { query: `${TABLE} | summarize count()` } });
    expect(all.json).toEqual({
      tables: [{ name: "PrimaryResult", columns: [{ name: "count_", type: "long" }], rows: [[6]] }],
    });
  });
});
