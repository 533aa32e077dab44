import { randomUUID } from "node:crypto";
import { rename, rm, writeFile } from "node:fs/promises";
import { DefaultAzureCredential } from "@azure/identity";
import type { AzureConnection } from "../azure/index.js";
import { AzureApiError } from "../azure/errors.js";
import { createLogsQueryAdapter } from "../azure/logs-query.js";
import { CHECK_IDS } from "../model/checks.js";
import { ConfigError, loadConfig } from "../model/config.js";
import { OUTCOME_TABLE } from "../outcomes/schema.js";
import {
  collectReport,
  count,
  num,
  ReportQueryError,
  rowsOf,
  text,
  TITLES,
  type ReportData,
  type Row,
} from "../report/data.js";
import { renderReportPage } from "../report/html.js";
import { loadQueryFile, QueryFileError } from "../report/queries.js";
import type { CliArguments } from "./args.js";
import type { CliIo } from "./io.js";
import { ANSI, painter, resourceLabel } from "./style.js";
import { EstateInputError, startSimulatedAzure, type SimulatedAzure } from "./simulate.js";

/** The counts of one check (or of every check, in `total`), from "Coverage per check" / "Coverage of all checks". */
export interface CheckCoverage {
  readonly check: string;
  /** Resources the check has an outcome for within the window, skipped ones included. */
  readonly resources: number;
  /** Resources the check applies to: `resources` less the skipped ones. */
  readonly applicable: number;
  /** compliant or remediated. */
  readonly covered: number;
  readonly planned: number;
  readonly deferred: number;
  readonly manual: number;
  readonly failed: number;
  readonly skipped: number;
  /** covered / applicable in percent, to one decimal; null when the check applies nowhere. */
  readonly coveredPercent: number | null;
}

/** An open manual item, from "Open manual items". */
export interface ManualItem {
  readonly resourceId: string;
  readonly subscriptionId: string;
  readonly check: string;
  readonly reason: string;
  /** The first outcome of the current unbroken run of manual outcomes. */
  readonly manualSince: string;
  readonly lastSeenAt: string;
}

export interface Coverage {
  /** In the contract's check order, then any other check by name. */
  readonly checks: readonly CheckCoverage[];
  readonly total: CheckCoverage;
  /** Oldest first, as the query orders them. */
  readonly manualItems: readonly ManualItem[];
}

/** The queries the table needs; JSON and HTML run every documented query. */
export const TABLE_QUERIES: ReadonlySet<string> = new Set([
  TITLES.coveragePerCheck,
  TITLES.coverageOverall,
  TITLES.openManual,
]);

function checkOrder(check: string): string {
  const index = (CHECK_IDS as readonly string[]).indexOf(check);
  return index < 0 ? `1 ${check}` : `0 ${String(index).padStart(3, "0")}`;
}

function countsOf(check: string, row: Row | undefined): CheckCoverage {
  const of = (column: string): number => (row === undefined ? 0 : count(row, column));
  return {
    check,
    resources: of("Resources"),
    applicable: of("Applicable"),
    covered: of("Covered"),
    planned: of("Planned"),
    deferred: of("Deferred"),
    manual: of("Manual"),
    failed: of("Failed"),
    skipped: of("Skipped"),
    coveredPercent: row === undefined ? null : num(row, "CoveredPercent"),
  };
}

/** The coverage table's figures, read from the documented queries' rows (nothing is computed here). */
export function coverageOf(data: ReportData): Coverage {
  const checks = [...(rowsOf(data, TITLES.coveragePerCheck) ?? [])]
    .sort((a, b) => checkOrder(text(a, "Check")).localeCompare(checkOrder(text(b, "Check"))))
    .map((row) => countsOf(text(row, "Check"), row));
  const total = countsOf("all checks", rowsOf(data, TITLES.coverageOverall)?.[0]);
  const manualItems = (rowsOf(data, TITLES.openManual) ?? []).map((row) => ({
    resourceId: text(row, "ResourceId"),
    subscriptionId: text(row, "SubscriptionId"),
    check: text(row, "Check"),
    reason: text(row, "Reason"),
    manualSince: text(row, "ManualSince"),
    lastSeenAt: text(row, "LastSeenAt"),
  }));
  return { checks, total, manualItems };
}

const { green: GREEN, yellow: YELLOW, red: RED, grey: GREY, bold: BOLD } = ANSI;

const COLUMNS = ["resources", "covered", "planned", "deferred", "manual", "failed", "skipped"] as const;

function windowText(days: number, subscriptions: readonly string[]): string {
  const window = `the last ${String(days)} ${days === 1 ? "day" : "days"}`;
  if (subscriptions.length === 0) return window;
  return `${window}, subscription${subscriptions.length === 1 ? "" : "s"} ${subscriptions.join(", ")}`;
}

function coverageLines(coverage: Coverage, paint: (code: string, value: string) => string): string[] {
  const rows = [...coverage.checks, coverage.total];
  const checkWidth = Math.max("check".length, ...rows.map((r) => r.check.length));
  const header = [
    "check".padEnd(checkWidth),
    ...COLUMNS.map((c) => c.padStart(Math.max(c.length, 3))),
    "covered %",
  ].join("  ");
  const lines = [paint(BOLD, header)];
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
  return lines;
}

function manualLines(items: readonly ManualItem[], paint: (code: string, value: string) => string): string[] {
  if (items.length === 0) return ["No open manual items."];
  const lines = [paint(BOLD, `Open manual items (${String(items.length)}):`)];
  const checkWidth = Math.max(...items.map((i) => i.check.length));
  // Grouped by resource, in the query's order (the oldest item first).
  const byResource = new Map<string, ManualItem[]>();
  for (const item of items) {
    const key = item.resourceId.toLowerCase();
    byResource.set(key, [...(byResource.get(key) ?? []), item]);
  }
  for (const group of byResource.values()) {
    const first = group[0];
    if (first === undefined) continue;
    lines.push(`${paint(BOLD, resourceLabel(first.resourceId))}  ${first.resourceId}`);
    for (const item of group) lines.push(`  ${item.check.padEnd(checkWidth)}  ${item.reason}`);
  }
  return lines;
}

/** A plain table, one line per check and one for all of them, then the open manual items by resource. */
export function renderCoverage(
  coverage: Coverage,
  scope: { days: number; subscriptions: readonly string[] },
  colour: boolean,
): string {
  const paint = painter(colour);
  const window = windowText(scope.days, scope.subscriptions);
  if (coverage.total.resources === 0) return `No outcomes in ${OUTCOME_TABLE} in ${window}.\n`;
  const lines = [
    `Coverage: the newest outcome per resource and check in ${window}`,
    "",
    ...coverageLines(coverage, paint),
    "",
    ...manualLines(coverage.manualItems, paint),
  ];
  return `${lines.join("\n")}\n`;
}

/** What `report -o json` prints: the coverage table's figures, then every documented query's rows by section. */
export function reportJson(data: ReportData, coverage: Coverage): Record<string, unknown> {
  return {
    workspaceId: data.workspaceId,
    days: data.scope.days,
    subscriptions: data.scope.subscriptions,
    generatedAt: data.generatedAt,
    checks: coverage.checks,
    total: coverage.total,
    manualItems: coverage.manualItems,
    sections: data.sections.map((section) => ({
      title: section.title,
      queries: section.queries.map((q) => ({ title: q.title, rows: q.rows })),
    })),
  };
}

/** Credential failures (@azure/identity) are a failed query too, not a crash. */
function isCredentialError(error: unknown): error is Error {
  return error instanceof Error && /Credential|Authentication/.test(error.name);
}

/** Writes the whole output, or nothing: a temporary file beside it, renamed into place. */
async function writeWhole(path: string, content: string): Promise<void> {
  const temporary = `${path}.${randomUUID()}.tmp`;
  try {
    await writeFile(temporary, content, "utf8");
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

function render(args: CliArguments, io: CliIo, data: ReportData): string {
  const coverage = coverageOf(data);
  switch (args.output) {
    case "json":
      return `${JSON.stringify(reportJson(data, coverage), null, 2)}\n`;
    case "html":
      return renderReportPage(data);
    default: {
      // table; the parser lets report ask for nothing else.
      const colour = args.out === undefined && io.stdout.isTTY === true && io.env.NO_COLOR === undefined;
      return renderCoverage(coverage, data.scope, colour);
    }
  }
}

async function connect(
  args: CliArguments,
  io: CliIo,
): Promise<{ connection: AzureConnection; simulated?: SimulatedAzure } | number> {
  let config;
  try {
    config = loadConfig(io.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.stderr.write(`autoprotect: ${error.message}\n`);
    return 2;
  }
  if (args.simulate === undefined) return { connection: { credential: new DefaultAzureCredential() } };
  try {
    const simulated = await startSimulatedAzure(args.simulate, { ingestion: config.ingestion });
    return { connection: simulated.connection, simulated };
  } catch (error) {
    if (!(error instanceof EstateInputError)) throw error;
    io.stderr.write(`autoprotect: ${error.message}\n`);
    return 2;
  }
}

/**
 * `autoprotect report`: runs docs/queries.kql's queries on the workspace (the table only the three it
 * shows) and prints the coverage table, the JSON object or the HTML page, to stdout or `--out`. Exit 0
 * when every query answered, 1 when one failed (one line naming it and the error code), 2 for bad
 * configuration or estate input.
 */
export async function runReport(args: CliArguments, io: CliIo): Promise<number> {
  const workspaceId = args.workspace ?? "";
  let file;
  try {
    file = loadQueryFile();
  } catch (error) {
    if (!(error instanceof QueryFileError)) throw error;
    io.stderr.write(`autoprotect: report: ${error.message}\n`);
    return 2;
  }
  const connected = await connect(args, io);
  if (typeof connected === "number") return connected;
  const { connection, simulated } = connected;

  let data: ReportData;
  try {
    const logs = createLogsQueryAdapter(connection, simulated?.logsQueryEndpoint);
    data = await collectReport(file, (query, duration) => logs.query(workspaceId, query, duration), {
      workspaceId,
      scope: { days: args.days, subscriptions: args.subscriptions },
      generatedAt: simulated?.now() ?? new Date(),
      ...(args.output === "table" ? { only: TABLE_QUERIES } : {}),
    });
  } catch (error) {
    const cause = error instanceof ReportQueryError ? error.error : error;
    const code =
      cause instanceof AzureApiError ? cause.code : isCredentialError(cause) ? cause.name : undefined;
    if (code === undefined) throw cause;
    const message = (cause as Error).message.replace(/\s+/g, " ").trim();
    const which = error instanceof ReportQueryError ? ` ("${error.title}")` : "";
    io.stderr.write(
      `autoprotect: report: the query${which} on workspace ${workspaceId} failed: ${code}: ${message}\n`,
    );
    return 1;
  } finally {
    await simulated?.close();
  }

  const output = render(args, io, data);
  if (args.out === undefined) {
    io.stdout.write(output);
    return 0;
  }
  try {
    await writeWhole(args.out, output);
  } catch (error) {
    io.stderr.write(`autoprotect: report: cannot write ${args.out}: ${(error as Error).message}\n`);
    return 1;
  }
  io.stderr.write(`autoprotect: report written to ${args.out}\n`);
  return 0;
}
