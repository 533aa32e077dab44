/**
 * docs/queries.kql as data: its sections and titled queries, and a query as `autoprotect report` runs
 * it (its window and subscriptions), the way the workbook applies its parameters. The file is the one
 * definition of every figure the workbook, the report and the docs show.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const QUERIES_FILE = "docs/queries.kql";

export interface DocumentedQuery {
  readonly title: string;
  readonly section: string;
  /** The comment lines after the title (why, how), without their `//`. */
  readonly description: readonly string[];
  /** The query's text without its leading comment lines, exactly as written. */
  readonly query: string;
}

export interface QuerySection {
  readonly title: string;
  readonly description: readonly string[];
  readonly queries: readonly DocumentedQuery[];
}

export interface QueryFile {
  /** The comment lines before the first block. */
  readonly header: string;
  readonly sections: readonly QuerySection[];
}

export class QueryFileError extends Error {
  override readonly name = "QueryFileError";
}

const SEPARATOR = /^\/\/ -{4,}[ \t]*$/m;
const SECTION = /^==== (.+)$/;

function isComment(line: string): boolean {
  return line.trim().startsWith("//");
}

/** A block's leading comment lines (without `//`) and the rest, trimmed. */
function splitBlock(block: string): { comments: string[]; rest: string } {
  const lines = block.split("\n");
  while (lines[0]?.trim() === "") lines.shift();
  const comments: string[] = [];
  while (lines.length > 0 && isComment(lines[0] ?? "")) {
    comments.push((lines.shift() ?? "").trim().replace(/^\/\/\s?/, ""));
  }
  return { comments, rest: lines.join("\n").trim() };
}

/**
 * Parses the file: a header of comments, then blocks separated by `// ----` lines. A block whose first
 * line is `// ==== Title` opens a section (comments only); any other block is a query of the section
 * above it: a title line, its description, then the query. Throws a QueryFileError naming what is wrong.
 */
export function parseQueryFile(text: string): QueryFile {
  const [header = "", ...blocks] = text.split(SEPARATOR);
  if (header.split("\n").some((line) => line.trim() !== "" && !isComment(line))) {
    throw new QueryFileError(`${QUERIES_FILE}: the header before the first "// ----" must be comments only`);
  }
  const sections: { title: string; description: string[]; queries: DocumentedQuery[] }[] = [];
  const titles = new Set<string>();
  for (const block of blocks) {
    const { comments, rest } = splitBlock(block);
    const [first = "", ...description] = comments;
    const section = SECTION.exec(first.trim());
    if (section !== null) {
      if (rest !== "")
        throw new QueryFileError(`${QUERIES_FILE}: section "${first}" holds a query; give it a block`);
      sections.push({ title: (section[1] ?? "").trim(), description, queries: [] });
      continue;
    }
    const title = first.trim();
    if (title === "")
      throw new QueryFileError(`${QUERIES_FILE}: a block does not start with a "// Title" line:\n${block}`);
    if (rest === "") throw new QueryFileError(`${QUERIES_FILE}: "${title}" has no query`);
    const current = sections.at(-1);
    if (current === undefined)
      throw new QueryFileError(`${QUERIES_FILE}: "${title}" comes before any "// ==== Section"`);
    if (titles.has(title)) throw new QueryFileError(`${QUERIES_FILE}: two queries are titled "${title}"`);
    titles.add(title);
    current.queries.push({ title, section: current.title, description, query: rest });
  }
  for (const section of sections) {
    if (section.queries.length === 0)
      throw new QueryFileError(`${QUERIES_FILE}: section "${section.title}" has no query`);
  }
  return { header, sections };
}

/**
 * The package's copy of docs/queries.kql: found upwards from this module, which runs from src/report
 * (tests) or dist/src/report (the built CLI).
 */
export function queriesPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth += 1) {
    const candidate = join(dir, QUERIES_FILE);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new QueryFileError(`${QUERIES_FILE} is missing from this installation of autoprotect`);
}

export function loadQueryFile(path: string = queriesPath()): QueryFile {
  return parseQueryFile(readFileSync(path, "utf8"));
}

export function allQueries(file: QueryFile): DocumentedQuery[] {
  return file.sections.flatMap((s) => s.queries);
}

/** What a report covers: the last `days` days, and only these subscriptions when any are given. */
export interface ReportScope {
  readonly days: number;
  readonly subscriptions: readonly string[];
}

const SUBSCRIPTION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A documented query as the report runs it, as the workbook applies its parameters: every time
 * filter `| where TimeGenerated > ago(...)` gets the report's window and, with subscriptions, is
 * followed by `| where SubscriptionId in (...)` (case-insensitively, as ARM compares them).
 */
export function forScope(query: string, scope: ReportScope): string {
  for (const id of scope.subscriptions) {
    if (!SUBSCRIPTION_ID.test(id)) throw new QueryFileError(`'${id}' is not a subscription id`);
  }
  const filter =
    scope.subscriptions.length === 0
      ? ""
      : ` | where tolower(SubscriptionId) in (${scope.subscriptions.map((id) => `"${id.toLowerCase()}"`).join(", ")})`;
  return query.replace(
    /\| where TimeGenerated > ago\(\d+[dhm]\)/g,
    `| where TimeGenerated > ago(${String(scope.days)}d)${filter}`,
  );
}
