import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOutcomeUploader } from "../../src/azure/ingestion.js";
import { runCli } from "../../src/cli/main.js";
import { SIMULATED_WORKSPACE_ID, startSimulatedAzure } from "../../src/cli/simulate.js";
import type { CheckId, Status } from "../../src/model/checks.js";
import type { OutcomeRecord } from "../../src/model/outcome.js";
import { OUTCOME_STREAM } from "../../src/outcomes/schema.js";
import { forScope } from "../../src/report/queries.js";
import type { Estate } from "../../sim/index.js";
import { BASE_ENV } from "../support/azure.js";
import { cli } from "../support/cli.js";
import { SUB_A, SUB_B, clusterId, estate, workspace, workspaceId } from "../support/estate.js";

const CUSTOMER_ID = "5f0a7a0e-3b8c-4f1e-9a55-2f5c6d7e8f90";
const HOUR = 3_600_000;
const NOW = Date.now();
const CONTAINERS_PLAN = `/subscriptions/${SUB_A}/providers/Microsoft.Security/pricings/Containers`;
const APIS_PLAN = `/subscriptions/${SUB_A}/providers/Microsoft.Security/pricings/Api`;
const SERVICE = `/subscriptions/${SUB_A}/resourceGroups/rg-apis/providers/Microsoft.ApiManagement/service/apim-prod`;
const AKS_A = clusterId("aks-a");
const AKS_B = clusterId("aks-b");
const AKS_C = clusterId("aks-c");
const AKS_OLD = clusterId("aks-old");
const api = (name: string): string => `${SERVICE}/apis/${name}`;

let runs = 0;
/** An outcome record as the engine writes it, `hoursAgo` before the test started. */
function outcome(
  resourceId: string,
  check: CheckId,
  status: Status,
  hoursAgo: number,
  reason = `${check} is ${status}`,
): OutcomeRecord {
  runs += 1;
  const runId = `6f1d2c3b-0000-4000-8000-${String(runs).padStart(12, "0")}`;
  const type = resourceId.includes("/pricings/")
    ? "Microsoft.Security/pricings"
    : resourceId.includes("/apis/")
      ? "Microsoft.ApiManagement/service/apis"
      : "Microsoft.ContainerService/managedClusters";
  return {
    TimeGenerated: new Date(NOW - hoursAgo * HOUR).toISOString(),
    RunId: runId,
    Trigger: "timer",
    Mode: status === "planned" ? "audit" : "enforce",
    SubscriptionId: SUB_A,
    ResourceId: resourceId,
    ResourceType: type,
    Check: check,
    Status: status,
    Reason: reason,
    Action: status === "remediated" || status === "planned" ? `set ${check}` : "",
    CorrelationId: runId,
    DurationMs: 120 + hoursAgo,
    Details: status === "failed" ? { code: "OperationNotAllowed" } : {},
    OutcomeId: `${runId}-${check}`,
  };
}

const IPS_MISSING = "no authorized IP ranges are configured (set AUTOPROTECT_AUTHORIZED_IP_RANGES)";
const BASIC_LB = "the load balancer is Basic: authorized IP ranges need a Standard load balancer";
const NO_WORKSPACE = "the sensor's workspace law-gone does not exist: point the sensor at a workspace";

/**
 * Several checks and statuses, and for some pairs older rows (other statuses, other spellings of the
 * id) that must not count: the newest per resource and check is what the table shows.
 */
const OUTCOMES: OutcomeRecord[] = [
  outcome(CONTAINERS_PLAN, "defender.containers-plan", "planned", 50),
  outcome(CONTAINERS_PLAN, "defender.containers-plan", "remediated", 1),
  outcome(APIS_PLAN, "defender.apis-plan", "skipped", 1, "no API Management instance here can use the plan"),
  // aks.defender-sensor: aks-b failed 3 h ago in lower case, remediated 1 h ago as ARM spells it.
  outcome(AKS_A, "aks.defender-sensor", "compliant", 1),
  outcome(
    AKS_B.toLowerCase(),
    "aks.defender-sensor",
    "failed",
    3,
    "OperationNotAllowed: the cluster is busy",
  ),
  outcome(AKS_B, "aks.defender-sensor", "remediated", 1),
  outcome(AKS_C, "aks.defender-sensor", "deferred", 1, "the cluster is Updating: looking again in 5 minutes"),
  outcome(AKS_A, "aks.azure-policy", "compliant", 1),
  outcome(AKS_B, "aks.azure-policy", "failed", 1, "InternalServerError after 3 retries"),
  outcome(AKS_C, "aks.azure-policy", "compliant", 1),
  // aks.authorized-ips: aks-c was planned 2 days ago; the newest (upper-case id) is manual.
  outcome(AKS_A, "aks.authorized-ips", "compliant", 1),
  outcome(AKS_B, "aks.authorized-ips", "manual", 1, BASIC_LB),
  outcome(AKS_C, "aks.authorized-ips", "planned", 48),
  outcome(AKS_C.toUpperCase(), "aks.authorized-ips", "manual", 0.5, IPS_MISSING),
  outcome(AKS_A, "aks.sensor-workspace", "compliant", 1),
  outcome(AKS_B, "aks.sensor-workspace", "manual", 1, NO_WORKSPACE),
  outcome(AKS_C, "aks.sensor-workspace", "skipped", 1, "excluded by tag"),
  outcome(api("orders"), "apim.api-onboarding", "remediated", 2),
  outcome(api("payments"), "apim.api-onboarding", "deferred", 2, "capacity 71% is over the 60% limit"),
  outcome(api("legacy-soap"), "apim.api-onboarding", "skipped", 2, "soap APIs are not supported"),
  // Ten days old: outside the default window of 7 days.
  outcome(AKS_OLD, "aks.azure-policy", "failed", 240, "InternalServerError"),
  outcome(AKS_OLD, "aks.authorized-ips", "manual", 240, IPS_MISSING),
];

function withLogs(base: Estate, outcomes: readonly OutcomeRecord[]): Estate {
  return {
    ...base,
    logs: {
      [OUTCOME_STREAM]: outcomes.map((row) => ({
        receivedAt: new Date(Date.parse(row.TimeGenerated) + 2000).toISOString(),
        row: { ...row },
      })),
    },
  };
}

/** The estate's workspace carries the customer id the simulated query API answers for. */
function estateWithWorkspace(): Estate {
  const base = estate([]);
  const law = workspace();
  return {
    ...base,
    resources: [{ ...law, properties: { ...law.properties, customerId: CUSTOMER_ID } }],
  };
}

let dir = "";
let estatePath = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "autoprotect-report-"));
  estatePath = join(dir, "estate.json");
  await writeFile(estatePath, JSON.stringify(withLogs(estateWithWorkspace(), OUTCOMES)));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The table's line for a check, split into cells. */
function line(stdout: string, check: string): string[] {
  const found = stdout.split("\n").find((l) => l.startsWith(`${check} `));
  if (found === undefined) throw new Error(`no line for ${check} in:\n${stdout}`);
  return found.trim().split(/\s{2,}/);
}

interface ReportJson {
  workspaceId: string;
  days: number;
  subscriptions: string[];
  generatedAt: string;
  checks: { check: string; resources: number; covered: number; coveredPercent: number | null }[];
  total: Record<string, unknown>;
  manualItems: {
    resourceId: string;
    check: string;
    reason: string;
    manualSince: string;
    lastSeenAt: string;
  }[];
  sections: { title: string; queries: { title: string; rows: Record<string, unknown>[] }[] }[];
}

describe("autoprotect report", () => {
  it("prints the coverage per check from the newest outcome per resource and check", async () => {
    const result = await cli(["report", "--workspace", CUSTOMER_ID, "--simulate", estatePath]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain("\u001b[");
    expect(result.stdout).toContain("the newest outcome per resource and check in the last 7 days");
    // check, resources, covered, planned, deferred, manual, failed, skipped, covered %
    expect(line(result.stdout, "defender.containers-plan")).toEqual(
      ["defender.containers-plan", "1", "1", "0", "0", "0", "0", "0", "100.0 %"].map(String),
    );
    expect(line(result.stdout, "aks.defender-sensor")).toEqual([
      "aks.defender-sensor",
      ..."3 2 0 1 0 0 0".split(" "),
      "66.7 %",
    ]);
    expect(line(result.stdout, "aks.azure-policy")).toEqual([
      "aks.azure-policy",
      ..."3 2 0 0 0 1 0".split(" "),
      "66.7 %",
    ]);
    expect(line(result.stdout, "aks.authorized-ips")).toEqual([
      "aks.authorized-ips",
      ..."3 1 0 0 2 0 0".split(" "),
      "33.3 %",
    ]);
    // Skipped resources are left out of the share: 1 of 2.
    expect(line(result.stdout, "aks.sensor-workspace")).toEqual([
      "aks.sensor-workspace",
      ..."3 1 0 0 1 0 1".split(" "),
      "50.0 %",
    ]);
    expect(line(result.stdout, "defender.apis-plan")).toEqual([
      "defender.apis-plan",
      ..."1 0 0 0 0 0 1".split(" "),
      "-",
    ]);
    expect(line(result.stdout, "apim.api-onboarding")).toEqual([
      "apim.api-onboarding",
      ..."3 1 0 1 0 0 1".split(" "),
      "50.0 %",
    ]);
    // 17 pairs, 3 skipped: 8 of 14 covered.
    expect(line(result.stdout, "all checks")).toEqual([
      "all checks",
      ..."17 8 0 2 3 1 3".split(" "),
      "57.1 %",
    ]);
    // Checks in the contract's order.
    const order = [
      "defender.containers-plan",
      "aks.defender-sensor",
      "aks.azure-policy",
      "aks.authorized-ips",
    ];
    const positions = order.map((c) => result.stdout.indexOf(`${c} `));
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    // The open manual items, by resource, with the newest spelling of the id and reason; nothing older.
    const manual = result.stdout.slice(result.stdout.indexOf("Open manual items (3):"));
    expect(manual.split("\n").filter((l) => l.length > 0)).toEqual([
      "Open manual items (3):",
      `aks-b  ${AKS_B}`,
      `  aks.authorized-ips    ${BASIC_LB}`,
      `  aks.sensor-workspace  ${NO_WORKSPACE}`,
      `AKS-C  ${AKS_C.toUpperCase()}`,
      `  aks.authorized-ips    ${IPS_MISSING}`,
    ]);
    expect(result.stdout).not.toContain("aks-old");
  });

  it("--json (-o json) prints one object: the counts per check, the total, the manual items, then every query's rows", async () => {
    const result = await cli(["report", "--workspace", CUSTOMER_ID, "--json", "--simulate", estatePath]);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as ReportJson;
    expect(Object.keys(report)).toEqual([
      "workspaceId",
      "days",
      "subscriptions",
      "generatedAt",
      "checks",
      "total",
      "manualItems",
      "sections",
    ]);
    expect(report.workspaceId).toBe(CUSTOMER_ID);
    expect(report.days).toBe(7);
    expect(report.subscriptions).toEqual([]);
    expect(Math.abs(Date.parse(report.generatedAt) - Date.now())).toBeLessThan(60_000);
    expect(report.checks.map((c) => c.check)).toEqual([
      "defender.containers-plan",
      "aks.defender-sensor",
      "aks.azure-policy",
      "aks.authorized-ips",
      "aks.sensor-workspace",
      "defender.apis-plan",
      "apim.api-onboarding",
    ]);
    expect(report.checks.find((c) => c.check === "aks.defender-sensor")).toEqual({
      check: "aks.defender-sensor",
      resources: 3,
      applicable: 3,
      covered: 2,
      planned: 0,
      deferred: 1,
      manual: 0,
      failed: 0,
      skipped: 0,
      coveredPercent: 66.7,
    });
    expect(report.checks.find((c) => c.check === "defender.apis-plan")?.coveredPercent).toBeNull();
    expect(report.total).toEqual({
      check: "all checks",
      resources: 17,
      applicable: 14,
      covered: 8,
      planned: 0,
      deferred: 2,
      manual: 3,
      failed: 1,
      skipped: 3,
      coveredPercent: 57.1,
    });
    expect(report.manualItems).toEqual([
      {
        resourceId: AKS_B,
        subscriptionId: SUB_A,
        check: "aks.authorized-ips",
        reason: BASIC_LB,
        manualSince: OUTCOMES[11]?.TimeGenerated,
        lastSeenAt: OUTCOMES[11]?.TimeGenerated,
      },
      {
        resourceId: AKS_B,
        subscriptionId: SUB_A,
        check: "aks.sensor-workspace",
        reason: NO_WORKSPACE,
        manualSince: OUTCOMES[15]?.TimeGenerated,
        lastSeenAt: OUTCOMES[15]?.TimeGenerated,
      },
      {
        resourceId: AKS_C.toUpperCase(),
        subscriptionId: SUB_A,
        check: "aks.authorized-ips",
        reason: IPS_MISSING,
        manualSince: OUTCOMES[13]?.TimeGenerated,
        lastSeenAt: OUTCOMES[13]?.TimeGenerated,
      },
    ]);
    // Then every documented query, by section, as Log Analytics answered it.
    expect(report.sections.map((section) => section.title)).toEqual([
      "Coverage",
      "Needs a person",
      "Failures",
      "API rollout",
      "Event-to-remediation latency",
      "Waiting",
      "Arc-enabled clusters and clusters' own plans",
      "Coverage as Defender sees it",
    ]);
    const failures = report.sections[2]?.queries.find((q) => q.title === "Failures by error code");
    // aks-b failed twice, its id spelt two ways: one resource.
    expect(failures?.rows).toEqual([{ ErrorCode: "OperationNotAllowed", Failures: 2, Resources: 1 }]);
    const minusO = await cli(["report", "--workspace", CUSTOMER_ID, "-o", "json", "--simulate", estatePath]);
    const same = JSON.parse(minusO.stdout) as ReportJson;
    expect({ ...same, generatedAt: "" }).toEqual({ ...report, generatedAt: "" });
  });

  it("--days widens the window", async () => {
    const result = await cli([
      "report",
      "--workspace",
      CUSTOMER_ID,
      "--days",
      "30",
      "--json",
      "--simulate",
      estatePath,
    ]);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as ReportJson;
    expect(report.days).toBe(30);
    expect(report.checks.find((c) => c.check === "aks.azure-policy")).toMatchObject({
      resources: 4,
      covered: 2,
    });
    expect(report.manualItems.map((i) => i.resourceId)).toContain(AKS_OLD);
  });

  it("says so when the window holds no outcomes", async () => {
    const empty = join(dir, "no-logs.json");
    await writeFile(empty, JSON.stringify(estateWithWorkspace()));
    const result = await cli(["report", "--workspace", CUSTOMER_ID, "--simulate", empty]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("No outcomes in AutoprotectOutcomes_CL in the last 7 days.\n");
  });

  it("makes the page from an empty window too: every query shown with no rows", async () => {
    const empty = join(dir, "no-logs-page.json");
    await writeFile(empty, JSON.stringify(estateWithWorkspace()));
    const result = await cli(["report", "--workspace", CUSTOMER_ID, "-o", "html", "--simulate", empty]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("No outcomes in the window.");
    expect(result.stdout).toContain("No data yet.");
    expect(result.stdout).not.toContain("<svg");
    expect(result.stdout.match(/data-rows="0"/g)?.length).toBeGreaterThanOrEqual(17);
  });

  it("colours only on a terminal", async () => {
    let stdout = "";
    const code = await runCli(["report", "--workspace", CUSTOMER_ID, "--simulate", estatePath], {
      stdout: { write: (t: string) => (stdout += t), isTTY: true },
      stderr: { write: () => undefined },
      env: BASE_ENV,
    });
    expect(code).toBe(0);
    expect(stdout).toContain("\u001b[");
  });

  it("exits 2 naming the problem for a bad --workspace or --days, and report-only options elsewhere", async () => {
    const cases: [string[], string][] = [
      [["report"], "report needs --workspace ID"],
      [
        ["report", "--workspace", "law-security"],
        "--workspace 'law-security' is not a Log Analytics workspace id",
      ],
      [["report", "--workspace", workspaceId()], "that is its resource id: give its customer id"],
      [
        ["report", "--workspace", CUSTOMER_ID, "--days", "0"],
        "--days '0' is not a whole number of days from 1 to 90",
      ],
      [["report", "--workspace", CUSTOMER_ID, "--days", "91"], "--days '91' is not a whole number"],
      [["report", "--workspace", CUSTOMER_ID, "--days", "1.5"], "--days '1.5' is not a whole number"],
      [
        ["report", "--workspace", CUSTOMER_ID, "--dry-run"],
        "report has no option --dry-run (--dry-run goes with sweep, reconcile or event)",
      ],
      [["report", "--workspace", CUSTOMER_ID, "extra"], "report takes no positional arguments"],
      [
        ["sweep", "--workspace", CUSTOMER_ID],
        "sweep has no option --workspace (--workspace goes with report)",
      ],
      [["report", "--workspace", CUSTOMER_ID, "-o", "pdf"], "-o 'pdf' is not one of table, json, html"],
      [["report", "--workspace", CUSTOMER_ID, "--json", "-o", "html"], "--json contradicts -o html"],
      [
        ["report", "--workspace", CUSTOMER_ID, "--subscription", "sub-a"],
        "--subscription 'sub-a' is not a subscription id",
      ],
      [["report", "--workspace", CUSTOMER_ID, "--out", ""], "--out needs a file name"],
    ];
    for (const [args, message] of cases) {
      const result = await cli([...args, "--simulate", estatePath]);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr.split("\n")[0]).toContain(message);
    }
  });

  it("exits 2 for an estate whose logs do not fit the outcome stream", async () => {
    const bad = join(dir, "bad-logs.json");
    const broken = { ...OUTCOMES[0], DurationMs: "fast" };
    await writeFile(
      bad,
      JSON.stringify({
        ...estateWithWorkspace(),
        logs: { [OUTCOME_STREAM]: [{ receivedAt: broken.TimeGenerated, row: broken }] },
      }),
    );
    const result = await cli(["report", "--workspace", CUSTOMER_ID, "--simulate", bad]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `autoprotect: ${bad}: logs["${OUTCOME_STREAM}"][0].row: column 'DurationMs' is real and takes a number, not the string "fast"\n`,
    );
  });

  it("exits 1 with the error code when the workspace is unknown", async () => {
    const other = "0a1b2c3d-0000-4000-8000-0000000000ff";
    const result = await cli(["report", "--workspace", other, "--simulate", estatePath]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/the query \("[^"]+"\) on workspace [-0-9a-f]+ failed: PathNotFoundError:/);
    expect(result.stderr).toContain(other);
  });

  it("answers for a fixed workspace id when the estate's workspace has no customer id", async () => {
    const path = join(dir, "no-customer-id.json");
    await writeFile(path, JSON.stringify(withLogs(estate([]), OUTCOMES.slice(0, 2))));
    const result = await cli(["report", "--workspace", SIMULATED_WORKSPACE_ID, "--json", "--simulate", path]);
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as ReportJson).checks).toMatchObject([
      { check: "defender.containers-plan", resources: 1, covered: 1 },
    ]);
  });

  it("reads what the outcome delivery sent to the simulated workspace, after the estate is saved", async () => {
    const start = join(dir, "delivery.json");
    await writeFile(start, JSON.stringify(estateWithWorkspace()));
    const simulated = await startSimulatedAzure(start, {
      ingestion: { ruleId: "dcr-0123456789abcdef0123456789abcdef", stream: OUTCOME_STREAM },
    });
    expect(simulated.ingestionEndpoint).toBe(simulated.connection.endpoint);
    expect(simulated.logsQueryEndpoint).toBe(`${simulated.connection.endpoint ?? ""}/v1`);
    expect(simulated.workspaceId).toBe(CUSTOMER_ID);
    expect(simulated.ingestion).toEqual({
      endpoint: simulated.ingestionEndpoint,
      ruleId: "dcr-0123456789abcdef0123456789abcdef",
      stream: OUTCOME_STREAM,
    });
    const saved = join(dir, "delivered.json");
    try {
      const uploader = createOutcomeUploader(simulated.connection, simulated.ingestion);
      const sent = await uploader.upload(OUTCOMES.slice(3, 7));
      expect(sent).toEqual({ rejected: [], unsent: [] });
      await simulated.save(saved);
    } finally {
      await simulated.close();
    }
    const result = await cli(["report", "--workspace", CUSTOMER_ID, "--json", "--simulate", saved]);
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as ReportJson).checks).toMatchObject([
      { check: "aks.defender-sensor", resources: 3, covered: 2, coveredPercent: 66.7 },
    ]);
  });
});

describe("the report's scope", () => {
  it("runs each documented query over the report's window, narrowed to the subscriptions asked for", () => {
    const query = [
      "AutoprotectOutcomes_CL",
      "| where TimeGenerated > ago(7d)",
      "| summarize arg_max(TimeGenerated, *) by OutcomeId, RunId, ResourceId, Check",
      "| join kind=inner (x) on Check",
      "    | where TimeGenerated > ago(30d)",
    ].join("\n");
    expect(forScope(query, { days: 3, subscriptions: [] })).toBe(
      query.replace("ago(7d)", "ago(3d)").replace("ago(30d)", "ago(3d)"),
    );
    const narrowed = forScope(query, { days: 3, subscriptions: [SUB_A.toUpperCase(), SUB_B] });
    const filter = `| where tolower(SubscriptionId) in ("${SUB_A.toLowerCase()}", "${SUB_B.toLowerCase()}")`;
    expect(narrowed.split("\n")[1]).toBe(`| where TimeGenerated > ago(3d) ${filter}`);
    expect(narrowed.split("\n")[4]).toBe(`    | where TimeGenerated > ago(3d) ${filter}`);
  });

  it("--subscription reports on those subscriptions only, and says so", async () => {
    const other = clusterId("aks-b-sub").replace(SUB_A, SUB_B);
    const path = join(dir, "two-subscriptions.json");
    const inB = {
      ...outcome(other, "aks.azure-policy", "failed", 1, "InternalServerError: boom"),
      SubscriptionId: SUB_B,
    };
    await writeFile(path, JSON.stringify(withLogs(estateWithWorkspace(), [...OUTCOMES, inB])));
    const onlyB = await cli([
      "report",
      "--workspace",
      CUSTOMER_ID,
      "--subscription",
      SUB_B,
      "--simulate",
      path,
    ]);
    expect(onlyB.code).toBe(0);
    expect(onlyB.stdout).toContain(`in the last 7 days, subscription ${SUB_B}`);
    expect(line(onlyB.stdout, "all checks")).toEqual(["all checks", ..."1 0 0 0 0 1 0".split(" "), "0.0 %"]);
    const both = await cli(["report", "--workspace", CUSTOMER_ID, "--json", "--simulate", path]);
    expect((JSON.parse(both.stdout) as ReportJson).total).toMatchObject({ resources: 18, failed: 2 });
  });
});

describe("report --out", () => {
  it("-o html --out FILE writes one page and says where; the table goes to a file as well", async () => {
    const page = join(dir, "report.html");
    const result = await cli([
      "report",
      "--workspace",
      CUSTOMER_ID,
      "-o",
      "html",
      "--out",
      page,
      "--simulate",
      estatePath,
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(`autoprotect: report written to ${page}\n`);
    const html = await readFile(page, "utf8");
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).toContain("<title>autoprotect report:");
    const table = join(dir, "report.txt");
    expect(
      (await cli(["report", "--workspace", CUSTOMER_ID, "--out", table, "--simulate", estatePath])).code,
    ).toBe(0);
    expect(await readFile(table, "utf8")).toContain("Coverage: the newest outcome per resource and check");
  });

  it("exits 1 with one line when the file cannot be written, and leaves nothing behind", async () => {
    const missing = join(dir, "no-such-folder", "report.html");
    const result = await cli([
      "report",
      "--workspace",
      CUSTOMER_ID,
      "-o",
      "html",
      "--out",
      missing,
      "--simulate",
      estatePath,
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(
      /^autoprotect: report: cannot write .*no-such-folder\/report\.html: ENOENT/,
    );
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
  });
});
