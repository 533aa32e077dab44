/**
 * What a report is made of: every documented query's answer, in the file's sections, with the scope
 * and time it was taken at. Readers (the table, JSON and the HTML page) take their figures from these
 * rows only, so they show what the same query shows in Log Analytics and in the workbook.
 */
import { forScope, type QueryFile, type ReportScope } from "./queries.js";

/** The documented queries the report's own views are built on (the page shows every other one as a table). */
export const TITLES = {
  coveragePerCheck: "Coverage per check",
  coverageOverall: "Coverage of all checks",
  coveragePerSubscription: "Coverage per check and subscription",
  dailyCoverage: "Daily coverage per check",
  statusNow: "Status now",
  openManual: "Open manual items",
  failuresByCode: "Failures by error code",
  failuresOverTime: "Failures by error code over time",
  failingNow: "Failing now",
  rolloutPerService: "API rollout per service",
  rolloutDecisions: "API rollout decisions",
  rolloutProgress: "API rollout progress over time",
  rolloutCapacity: "API Management capacity at rollout decisions",
  rollbacks: "API rollout rollbacks",
  latencyPerCheck: "Event to remediation latency per check",
  latencyOverTime: "Event to remediation latency over time",
  waitingLongest: "Deferred items waiting longest",
} as const;

/** The section of docs/queries.kql the agreement check (issue 17) brings: shown inside Coverage. */
export const DEFENDER_SECTION = "Coverage as Defender sees it";

/** One result row, column name → value (datetimes as ISO strings, dynamic values parsed). */
export type Row = Readonly<Record<string, unknown>>;

export interface QueryAnswer {
  readonly title: string;
  readonly description: readonly string[];
  /** The query as it was run (the report's window and subscriptions applied). */
  readonly query: string;
  readonly rows: readonly Row[];
}

export interface SectionAnswer {
  readonly title: string;
  readonly description: readonly string[];
  readonly queries: readonly QueryAnswer[];
}

export interface ReportData {
  readonly workspaceId: string;
  readonly scope: ReportScope;
  /** When the queries ran (under --simulate, the simulated clock): the window's end. */
  readonly generatedAt: string;
  readonly sections: readonly SectionAnswer[];
}

/** Runs one query over the report's window (an ISO 8601 duration) and returns its rows. */
export type RunQuery = (query: string, duration: string) => Promise<Row[]>;

/** A query that could not be answered, with its title. */
export class ReportQueryError extends Error {
  override readonly name = "ReportQueryError";
  constructor(
    readonly title: string,
    readonly error: unknown,
  ) {
    super(`"${title}": ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Log Analytics answers a few queries at once per user; more would queue or be throttled. */
const CONCURRENT_QUERIES = 3;

/**
 * Runs the file's queries (only those titled in `only`, when given; every one otherwise), a few at a
 * time, and keeps the sections' order. The first failure stops the report.
 */
export async function collectReport(
  file: QueryFile,
  run: RunQuery,
  options: { workspaceId: string; scope: ReportScope; generatedAt: Date; only?: ReadonlySet<string> },
): Promise<ReportData> {
  const wanted = file.sections.map((section) => ({
    section,
    queries: section.queries.filter((q) => options.only === undefined || options.only.has(q.title)),
  }));
  const jobs = wanted.flatMap(({ queries }) => queries);
  const answers = new Map<string, Row[]>();
  let next = 0;
  let failure: ReportQueryError | undefined;
  // After a failure no query starts, and those running are let finish: nothing is left in flight.
  const worker = async (): Promise<void> => {
    while (next < jobs.length && failure === undefined) {
      const job = jobs[next];
      next += 1;
      if (job === undefined) return;
      try {
        answers.set(
          job.title,
          await run(forScope(job.query, options.scope), `P${String(options.scope.days)}D`),
        );
      } catch (error) {
        failure ??= new ReportQueryError(job.title, error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_QUERIES, jobs.length) }, worker));
  if (failure !== undefined) throw failure;
  return {
    workspaceId: options.workspaceId,
    scope: options.scope,
    generatedAt: options.generatedAt.toISOString(),
    sections: wanted
      .filter(({ queries }) => queries.length > 0)
      .map(({ section, queries }) => ({
        title: section.title,
        description: section.description,
        queries: queries.map((q) => ({
          title: q.title,
          description: q.description,
          query: forScope(q.query, options.scope),
          rows: answers.get(q.title) ?? [],
        })),
      })),
  };
}

/** The rows of the query titled `title`, or undefined when the report did not run it. */
export function rowsOf(data: ReportData, title: string): readonly Row[] | undefined {
  for (const section of data.sections) {
    const found = section.queries.find((q) => q.title === title);
    if (found !== undefined) return found.rows;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// Reading cells: a column the query does not give, or of another type, reads as missing.

export function text(row: Row, column: string): string {
  const value = row[column];
  return typeof value === "string" ? value : "";
}

export function num(row: Row, column: string): number | null {
  const value = row[column];
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

export function count(row: Row, column: string): number {
  return num(row, column) ?? 0;
}

/** A datetime cell as epoch milliseconds, or null. */
export function time(row: Row, column: string): number | null {
  const value = row[column];
  if (typeof value !== "string") return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

export function bool(row: Row, column: string): boolean | null {
  const value = row[column];
  return typeof value === "boolean" ? value : null;
}
