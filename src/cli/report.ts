import { DefaultAzureCredential } from "@azure/identity";
import type { AzureConnection } from "../azure/index.js";
import { AzureApiError } from "../azure/errors.js";
import { createLogsQueryAdapter, type LogsQueryRow } from "../azure/logs-query.js";
import { CHECK_IDS, STATUSES, type Status } from "../model/checks.js";
import { ConfigError, loadConfig } from "../model/config.js";
import { COLLAPSE_RESENT_ROWS, OUTCOME_TABLE } from "../outcomes/schema.js";
import type { CliArguments } from "./args.js";
import type { CliIo } from "./io.js";
import { ANSI, painter, resourceLabel } from "./style.js";
import { EstateInputError, startSimulatedAzure, type SimulatedAzure } from "./simulate.js";

/**
 * The newest outcome per resource and check within the window, as docs/queries.kql's "Coverage per
 * check" starts (resent rows collapsed on OutcomeId first, as every reader does); the rest is done here
 * (the simulator's KQL subset has no tolower(), countif() or extend, and ARM ids must be compared
 * without regard to case, which `by ResourceId` does not).
 */
export function reportQuery(days: number): string {
  return [
    OUTCOME_TABLE,
    `| where TimeGenerated > ago(${String(days)}d)`,
    COLLAPSE_RESENT_ROWS,
    "| summarize arg_max(TimeGenerated, Status, Reason, SubscriptionId, ResourceType) by ResourceId, Check",
  ].join("\n");
}

/** The newest outcome of one check on one resource. */
export interface LatestOutcome {
  readonly timeGenerated: string;
  readonly resourceId: string;
  readonly subscriptionId: string;
  readonly check: string;
  readonly status: Status;
  readonly reason: string;
}

/** The counts of one check (or of every check, in `total`: resource-and-check pairs). */
export interface CheckCoverage {
  readonly check: string;
  /** Resources the check has an outcome for within the window, skipped ones included. */
  readonly resources: number;
  /** compliant or remediated. */
  readonly covered: number;
  readonly planned: number;
  readonly deferred: number;
  readonly manual: number;
  readonly failed: number;
  readonly skipped: number;
  /** covered / (resources − skipped), in percent to one decimal; null when every resource was skipped. */
  readonly coveredPercent: number | null;
}

export interface ManualItem {
  readonly resourceId: string;
  readonly subscriptionId: string;
  readonly check: string;
  readonly reason: string;
  readonly timeGenerated: string;
}

export interface Coverage {
  /** In check id order (the contract's), then any other check by name. */
  readonly checks: readonly CheckCoverage[];
  readonly total: CheckCoverage;
  /** The open manual items: the resources whose newest outcome of a check is `manual`. */
  readonly manualItems: readonly ManualItem[];
  /** Rows left out: no ResourceId, Check or valid TimeGenerated, or a Status that is not a contract status. */
  readonly ignoredRows: number;
}

function isStatus(value: unknown): value is Status {
  return typeof value === "string" && (STATUSES as readonly string[]).includes(value);
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function toLatest(row: LogsQueryRow): LatestOutcome | undefined {
  const time = row.TimeGenerated;
  const resourceId = text(row.ResourceId);
  const check = text(row.Check);
  if (typeof time !== "string" || !Number.isFinite(Date.parse(time))) return undefined;
  if (resourceId === "" || check === "" || !isStatus(row.Status)) return undefined;
  return {
    timeGenerated: time,
    resourceId,
    subscriptionId: text(row.SubscriptionId),
    check,
    status: row.Status,
    reason: text(row.Reason),
  };
}

/** Newer first; of two at the same time, the one whose id sorts first (so the result does not depend on row order). */
function isNewer(a: LatestOutcome, b: LatestOutcome): boolean {
  const difference = Date.parse(a.timeGenerated) - Date.parse(b.timeGenerated);
  return difference !== 0 ? difference > 0 : a.resourceId < b.resourceId;
}

/**
 * The newest outcome per resource and check, resource ids compared without regard to case (ARM's):
 * the query's `by ResourceId` keeps one row per spelling.
 */
export function latestOutcomes(rows: readonly LogsQueryRow[]): {
  latest: LatestOutcome[];
  ignoredRows: number;
} {
  const newest = new Map<string, LatestOutcome>();
  let ignoredRows = 0;
  for (const row of rows) {
    const outcome = toLatest(row);
    if (outcome === undefined) {
      ignoredRows += 1;
      continue;
    }
    const key = `${outcome.resourceId.toLowerCase()}\n${outcome.check}`;
    const known = newest.get(key);
    if (known === undefined || isNewer(outcome, known)) newest.set(key, outcome);
  }
  return { latest: [...newest.values()], ignoredRows };
}

function percent(covered: number, applicable: number): number | null {
  return applicable === 0 ? null : Math.round((1000 * covered) / applicable) / 10;
}

function countsOf(check: string, outcomes: readonly LatestOutcome[]): CheckCoverage {
  const count = (...statuses: Status[]): number => outcomes.filter((o) => statuses.includes(o.status)).length;
  const covered = count("compliant", "remediated");
  const skipped = count("skipped");
  return {
    check,
    resources: outcomes.length,
    covered,
    planned: count("planned"),
    deferred: count("deferred"),
    manual: count("manual"),
    failed: count("failed"),
    skipped,
    coveredPercent: percent(covered, outcomes.length - skipped),
  };
}

function checkOrder(check: string): string {
  const index = (CHECK_IDS as readonly string[]).indexOf(check);
  return index < 0 ? `1 ${check}` : `0 ${String(index).padStart(3, "0")}`;
}

/** The coverage table from the query's rows: pure, so it can be checked without Azure. */
export function computeCoverage(rows: readonly LogsQueryRow[]): Coverage {
  const { latest, ignoredRows } = latestOutcomes(rows);
  const byCheck = new Map<string, LatestOutcome[]>();
  for (const outcome of latest) {
    const list = byCheck.get(outcome.check) ?? [];
    list.push(outcome);
    byCheck.set(outcome.check, list);
  }
  const checks = [...byCheck.entries()]
    .sort(([a], [b]) => checkOrder(a).localeCompare(checkOrder(b)))
    .map(([check, outcomes]) => countsOf(check, outcomes));
  const manualItems = latest
    .filter((o) => o.status === "manual")
    .sort((a, b) =>
      `${a.subscriptionId.toLowerCase()} ${a.resourceId.toLowerCase()} ${checkOrder(a.check)}`.localeCompare(
        `${b.subscriptionId.toLowerCase()} ${b.resourceId.toLowerCase()} ${checkOrder(b.check)}`,
      ),
    )
    .map((o) => ({
      resourceId: o.resourceId,
      subscriptionId: o.subscriptionId,
      check: o.check,
      reason: o.reason,
      timeGenerated: o.timeGenerated,
    }));
  return { checks, total: countsOf("all checks", latest), manualItems, ignoredRows };
}

const { green: GREEN, yellow: YELLOW, red: RED, grey: GREY, bold: BOLD } = ANSI;

const COLUMNS = ["resources", "covered", "planned", "deferred", "manual", "failed", "skipped"] as const;

/** A plain table, one line per check and one for all of them, then the open manual items by resource. */
export function renderCoverage(coverage: Coverage, days: number, colour: boolean): string {
  const paint = painter(colour);
  const window = `the last ${String(days)} ${days === 1 ? "day" : "days"}`;
  if (coverage.total.resources === 0) return `No outcomes in ${OUTCOME_TABLE} in ${window}.\n`;
  const lines = [`Coverage: the newest outcome per resource and check in ${window}`, ""];
  const rows = [...coverage.checks, coverage.total];
  const checkWidth = Math.max("check".length, ...rows.map((r) => r.check.length));
  const header = [
    "check".padEnd(checkWidth),
    ...COLUMNS.map((c) => c.padStart(Math.max(c.length, 3))),
    "covered %",
  ].join("  ");
  lines.push(paint(BOLD, header));
  for (const row of rows) {
    const cells = COLUMNS.map((c) => {
      const cell = String(row[c]).padStart(Math.max(c.length, 3));
      if (row[c] === 0) return cell;
      return c === "failed" ? paint(RED, cell) : c === "manual" ? paint(YELLOW, cell) : cell;
    });
    const share = row.coveredPercent === null ? "-" : `${row.coveredPercent.toFixed(1)} %`;
    const shareCell = share.padStart("covered %".length);
    const painted =
      row.coveredPercent === null
        ? paint(GREY, shareCell)
        : paint(row.coveredPercent === 100 ? GREEN : row.coveredPercent >= 80 ? YELLOW : RED, shareCell);
    const name =
      row === coverage.total ? paint(BOLD, row.check.padEnd(checkWidth)) : row.check.padEnd(checkWidth);
    lines.push([name, ...cells, painted].join("  "));
  }
  lines.push("");
  const items = coverage.manualItems;
  if (items.length === 0) {
    lines.push("No open manual items.");
  } else {
    lines.push(paint(BOLD, `Open manual items (${String(items.length)}):`));
    const itemCheckWidth = Math.max(...items.map((i) => i.check.length));
    let previous: string | undefined;
    for (const item of items) {
      if (item.resourceId.toLowerCase() !== previous) {
        previous = item.resourceId.toLowerCase();
        lines.push(`${paint(BOLD, resourceLabel(item.resourceId))}  ${item.resourceId}`);
      }
      lines.push(`  ${item.check.padEnd(itemCheckWidth)}  ${item.reason}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** What `report --json` prints: one JSON object. */
export function coverageJson(
  coverage: Coverage,
  workspaceId: string,
  days: number,
): {
  workspaceId: string;
  days: number;
  checks: readonly CheckCoverage[];
  total: CheckCoverage;
  manualItems: readonly ManualItem[];
} {
  return {
    workspaceId,
    days,
    checks: coverage.checks,
    total: coverage.total,
    manualItems: coverage.manualItems,
  };
}

/** Credential failures (@azure/identity) are a failed query too, not a crash. */
function isCredentialError(error: unknown): error is Error {
  return error instanceof Error && /Credential|Authentication/.test(error.name);
}

/**
 * `autoprotect report`: queries the workspace and prints the coverage. Exit 0 when the query answered,
 * 1 when it failed (one line naming the error code), 2 for bad configuration or estate input.
 */
export async function runReport(args: CliArguments, io: CliIo): Promise<number> {
  const workspaceId = args.workspace ?? "";
  let config;
  try {
    config = loadConfig(io.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.stderr.write(`autoprotect: ${error.message}\n`);
    return 2;
  }
  let simulated: SimulatedAzure | undefined;
  let connection: AzureConnection;
  if (args.simulate !== undefined) {
    try {
      simulated = await startSimulatedAzure(args.simulate, { ingestion: config.ingestion });
    } catch (error) {
      if (!(error instanceof EstateInputError)) throw error;
      io.stderr.write(`autoprotect: ${error.message}\n`);
      return 2;
    }
    connection = simulated.connection;
  } else {
    connection = { credential: new DefaultAzureCredential() };
  }

  let rows: LogsQueryRow[];
  try {
    const logs = createLogsQueryAdapter(connection, simulated?.logsQueryEndpoint);
    rows = await logs.query(workspaceId, reportQuery(args.days), `P${String(args.days)}D`);
  } catch (error) {
    const code =
      error instanceof AzureApiError ? error.code : isCredentialError(error) ? error.name : undefined;
    if (code === undefined) throw error;
    const message = (error as Error).message.replace(/\s+/g, " ").trim();
    io.stderr.write(
      `autoprotect: report: the query on workspace ${workspaceId} failed: ${code}: ${message}\n`,
    );
    return 1;
  } finally {
    await simulated?.close();
  }

  const coverage = computeCoverage(rows);
  if (args.json) {
    io.stdout.write(`${JSON.stringify(coverageJson(coverage, workspaceId, args.days), null, 2)}\n`);
  } else {
    const colour = io.stdout.isTTY === true && io.env.NO_COLOR === undefined;
    io.stdout.write(renderCoverage(coverage, args.days, colour));
  }
  if (coverage.ignoredRows > 0) {
    io.stderr.write(
      `autoprotect: report: ${String(coverage.ignoredRows)} rows left out (no ResourceId, Check or TimeGenerated, or a Status the contract does not define)\n`,
    );
  }
  return 0;
}
