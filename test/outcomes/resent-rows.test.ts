/**
 * Rows sent twice are counted once. The simulated Logs Ingestion API stores an upload and loses its
 * answer; the SDK retries and the rows land twice, with the same OutcomeId. Every reader then gives
 * what it gives for the same outcomes stored once: `autoprotect report`, and each query of
 * docs/queries.kql, each read of the table up to its collapsing line and each whole query.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { saveEstateFile, startSimulator, type Estate, type Simulator } from "../../sim/index.js";
import { createOutcomeUploader } from "../../src/azure/ingestion.js";
import { createLogsQueryAdapter, type LogsQueryRow } from "../../src/azure/logs-query.js";
import { simulatorCredential } from "../../src/cli/simulate.js";
import { CHECK_IDS, type Status } from "../../src/model/checks.js";
import type { OutcomeRecord } from "../../src/model/outcome.js";
import { buildOutcome } from "../../src/outcomes/record.js";
import { allQueries, loadQueryFile } from "../../src/report/queries.js";
import {
  COLLAPSE_RESENT_ROWS,
  OUTCOME_COLUMNS,
  OUTCOME_STREAM,
  OUTCOME_TABLE,
} from "../../src/outcomes/schema.js";
import { cli } from "../support/cli.js";
import { SUB_A, clusterId, estate, workspace } from "../support/estate.js";

const RULE = "dcr-0123456789abcdef0123456789abcdef";
const CUSTOMER_ID = "5f0a7a0e-3b8c-4f1e-9a55-2f5c6d7e8f90";
const HOUR = 3_600_000;
const NOW = Date.now();
const STATUSES: readonly Status[] = ["compliant", "remediated", "deferred", "manual", "failed", "planned"];

/** Three runs over four clusters and every check, a mix of statuses, the newest run 1 hour ago. */
function outcomesOfRun(run: number): OutcomeRecord[] {
  const info = { runId: `run-${String(run)}`, trigger: "timer" as const, mode: "enforce" as const };
  const outcomes: OutcomeRecord[] = [];
  for (const [c, name] of ["aks-a", "aks-b", "aks-c", "aks-d"].entries()) {
    for (const [k, check] of CHECK_IDS.entries()) {
      const status = STATUSES[(run + c + k) % STATUSES.length] ?? "compliant";
      const at = new Date(NOW - (4 - run) * 24 * HOUR + (c * 10 + k) * 1000);
      outcomes.push(
        buildOutcome(
          { ...info, correlationId: info.runId },
          {
            subscriptionId: SUB_A,
            resourceId: clusterId(name),
            resourceType: "Microsoft.ContainerService/managedClusters",
            check,
            status,
            reason: status === "failed" ? "Conflict: the cluster is busy" : `${check} is ${status}`,
            details: status === "deferred" ? { retryAfterSeconds: 300 } : {},
            startedAt: at.getTime() - 250,
          },
          at,
        ),
      );
    }
  }
  return outcomes;
}

/** Rows written before the OutcomeId column existed: they have none, and two of them are one outcome sent twice. */
function legacyRows(): Record<string, unknown>[] {
  return ["legacy-1", "legacy-2", "legacy-3"].map((runId, i) => {
    const { OutcomeId: _none, ...row } = buildOutcome(
      { runId, trigger: "timer", mode: "enforce", correlationId: runId },
      {
        subscriptionId: SUB_A,
        resourceId: clusterId("aks-old"),
        resourceType: "Microsoft.ContainerService/managedClusters",
        check: "aks.azure-policy",
        status: i === 2 ? "compliant" : "failed",
        reason: i === 2 ? "ok" : "InternalServerError: boom",
        startedAt: NOW - (10 - i) * 24 * HOUR,
      },
      new Date(NOW - (10 - i) * 24 * HOUR + 100),
    );
    return row;
  });
}

const RUNS = [outcomesOfRun(1), outcomesOfRun(2), outcomesOfRun(3)];
const ALL = RUNS.flat();
const LEGACY = legacyRows();

function estateWith(logs: readonly Readonly<Record<string, unknown>>[]): Estate {
  const law = workspace();
  return {
    ...estate([]),
    resources: [{ ...law, properties: { ...law.properties, customerId: CUSTOMER_ID } }],
    logs: {
      [OUTCOME_STREAM]: logs.map((row) => ({
        receivedAt: new Date(NOW).toISOString(),
        row: { ...row },
      })),
    },
  };
}

function startWorkspace(logs: readonly Readonly<Record<string, unknown>>[], loseAnswers = 0) {
  return startSimulator({
    estate: estateWith(logs),
    ingestion: {
      dataCollectionRuleId: RULE,
      workspaceId: CUSTOMER_ID,
      streams: { [OUTCOME_STREAM]: OUTCOME_COLUMNS },
      loseAnswers,
    },
  });
}

function queryOf(s: Simulator) {
  return createLogsQueryAdapter({ credential: simulatorCredential, tlsCa: s.ca }, `${s.endpoint}/v1`);
}

/** A result as a sorted list of JSON rows: the same rows in any order compare equal. */
function canonical(rows: readonly LogsQueryRow[]): string[] {
  return rows
    .map((row) =>
      JSON.stringify(Object.fromEntries(Object.entries(row).sort(([a], [b]) => a.localeCompare(b)))),
    )
    .sort();
}

/** docs/queries.kql's queries: title and text, comment lines out. */
function documentedQueries(): { title: string; query: string }[] {
  return allQueries(loadQueryFile()).map(({ title, query }) => ({
    title,
    query: query
      .split("\n")
      .filter((line) => !line.trim().startsWith("//"))
      .join("\n"),
  }));
}

/** Each read of the table in a query, up to and including the line that collapses resent rows. */
function collapsedReads(query: string): string[] {
  const windows = [
    ...query.matchAll(/AutoprotectOutcomes_CL\s*\n\s*\| where TimeGenerated > ago\((\d+d)\)/g),
  ];
  return [...new Set(windows.map((m) => m[1] ?? ""))].map((window) =>
    [OUTCOME_TABLE, `| where TimeGenerated > ago(${window})`, COLLAPSE_RESENT_ROWS].join("\n"),
  );
}

let twice: Simulator;
let once: Simulator;
let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "autoprotect-resent-"));
  // The first two runs' uploads are stored, their answers lost, and sent again by the SDK's retry.
  twice = await startWorkspace([LEGACY[0] ?? {}, LEGACY[0] ?? {}, ...LEGACY.slice(1)], 2);
  const uploader = createOutcomeUploader(
    { credential: simulatorCredential, tlsCa: twice.ca, retry: { maxRetries: 2, retryDelayInMs: 5 } },
    { endpoint: twice.endpoint, ruleId: RULE, stream: OUTCOME_STREAM },
  );
  for (const run of RUNS) expect(await uploader.upload(run)).toEqual({ rejected: [], unsent: [] });
  once = await startWorkspace([...LEGACY, ...ALL.map((row) => ({ ...row }))]);
});
afterAll(async () => {
  await Promise.all([twice.close(), once.close()]);
  await rm(dir, { recursive: true, force: true });
});

describe("after lost ingestion answers, every reader counts each outcome once", () => {
  it("the workspace does hold rows twice (the retry resent them, same OutcomeId)", () => {
    const rows = twice.ingested(OUTCOME_STREAM).map((r) => r.row);
    const fresh = rows.filter((row) => typeof row.OutcomeId === "string");
    expect(fresh).toHaveLength(
      2 * (RUNS[0]?.length ?? 0) + 2 * (RUNS[1]?.length ?? 0) + (RUNS[2]?.length ?? 0),
    );
    expect(new Set(fresh.map((row) => row.OutcomeId)).size).toBe(ALL.length);
    expect(rows).toHaveLength(fresh.length + LEGACY.length + 1);
  });

  it("each read of the table in docs/queries.kql gives each outcome once, older rows without OutcomeId kept apart", async () => {
    const reads = new Set(documentedQueries().flatMap((q) => collapsedReads(q.query)));
    expect(reads.size).toBe(2); // the 7-day and the 30-day windows
    for (const read of reads) {
      const [got, expected] = await Promise.all([
        queryOf(twice).query(CUSTOMER_ID, read, "P31D"),
        queryOf(once).query(CUSTOMER_ID, read, "P31D"),
      ]);
      expect(canonical(got), read).toEqual(canonical(expected));
      const days = Number(/ago\((\d+)d\)/.exec(read)?.[1]);
      const inWindow = ALL.filter((o) => Date.parse(o.TimeGenerated) > NOW - days * 24 * HOUR);
      const legacyInWindow = days >= 30 ? LEGACY.length : 0;
      expect(got).toHaveLength(inWindow.length + legacyInWindow);
    }
  });

  it("each documented query answers as over the rows stored once", async () => {
    for (const { title, query } of documentedQueries()) {
      const [got, expected] = await Promise.all([
        queryOf(twice).query(CUSTOMER_ID, query, "P31D"),
        queryOf(once).query(CUSTOMER_ID, query, "P31D"),
      ]);
      expect(canonical(got), title).toEqual(canonical(expected));
    }
  });

  it("autoprotect report prints what it prints for the rows stored once", async () => {
    const twicePath = join(dir, "twice.json");
    const oncePath = join(dir, "once.json");
    await saveEstateFile(twicePath, twice.exportEstate());
    await saveEstateFile(oncePath, once.exportEstate());
    const report = (path: string) =>
      cli(["report", "--workspace", CUSTOMER_ID, "--days", "30", "--json", "--simulate", path]);
    const [fromTwice, fromOnce] = await Promise.all([report(twicePath), report(oncePath)]);
    expect(fromTwice.code, fromTwice.stderr).toBe(0);
    // The same report, but for when each was made.
    const made = (stdout: string) => ({
      ...(JSON.parse(stdout) as Record<string, unknown>),
      generatedAt: "",
    });
    expect(made(fromTwice.stdout)).toEqual(made(fromOnce.stdout));
    const total = (JSON.parse(fromTwice.stdout) as { total: { resources: number } }).total;
    // Four clusters and the older one's azure-policy check: one resource-and-check pair each.
    expect(total.resources).toBe(4 * CHECK_IDS.length + 1);
  });
});
