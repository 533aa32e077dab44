/**
 * docs/queries.kql and infra/workbook.json against the outcome record: the queries use only the
 * table's columns (or names they define), only check ids, statuses and triggers that exist, only the
 * Details the engine writes; and the workbook runs exactly the documented queries, with its parameters.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { describeError } from "../../src/engine/errors.js";
import { CHECK_IDS, STATUSES } from "../../src/model/checks.js";
import { OUTCOME_FIELDS, type Mode, type Trigger } from "../../src/model/outcome.js";
import { COLLAPSE_RESENT_ROWS, OUTCOME_TABLE } from "../../src/outcomes/schema.js";
import { allQueries, parseQueryFile, QueryFileError } from "../../src/report/queries.js";
import { decideRolloutStep } from "../../src/rollout/controller.js";
import { rolloutSettings } from "../../src/rollout/settings.js";
import type { RolloutInput, RolloutState } from "../../src/rollout/types.js";

const ROOT = new URL("../../", import.meta.url);
const QUERIES_FILE = "docs/queries.kql";
const WORKBOOK_FILE = "infra/workbook.json";

// The contract's triggers and modes; the type-level checks below fail `npm run typecheck` if one is missing.
const TRIGGERS = ["eventgrid", "timer", "http", "queue", "cli"] as const satisfies readonly Trigger[];
const MODES = ["enforce", "audit"] as const satisfies readonly Mode[];
type Exhaustive<All, Listed> = [Exclude<All, Listed>] extends [never] ? true : false;
const triggersListed: Exhaustive<Trigger, (typeof TRIGGERS)[number]> = true;
const modesListed: Exhaustive<Mode, (typeof MODES)[number]> = true;

/** Each workbook query filters by these, right after each `| where TimeGenerated {TimeRange}`. */
const SUBSCRIPTION_FILTER = "| where '*' in ({Subscription}) or SubscriptionId in ({Subscription})";
const WORKSPACE_TYPE = "microsoft.operationalinsights/workspaces";
const VISUALIZATIONS = new Set([
  "table",
  "tiles",
  "timechart",
  "barchart",
  "piechart",
  "areachart",
  "linechart",
]);

function isComment(line: string): boolean {
  return line.trim().startsWith("//");
}

// ---------------------------------------------------------------------------------------------
// A small KQL lexer: comments out, string literals out (kept aside), so identifiers can be checked.

interface Lexed {
  /** The query with comments removed and each string literal replaced by §N§ (N its index in strings). */
  readonly code: string;
  readonly strings: readonly string[];
}

function lex(query: string): Lexed {
  let code = "";
  const strings: string[] = [];
  let i = 0;
  while (i < query.length) {
    const ch = query.charAt(i);
    if (ch === "/" && query.charAt(i + 1) === "/") {
      while (i < query.length && query.charAt(i) !== "\n") i += 1;
      continue;
    }
    const verbatim = ch === "@" && (query.charAt(i + 1) === '"' || query.charAt(i + 1) === "'");
    if (verbatim || ch === '"' || ch === "'") {
      const quote = verbatim ? query.charAt(i + 1) : ch;
      let j = verbatim ? i + 2 : i + 1;
      let value = "";
      while (j < query.length && query.charAt(j) !== quote) {
        if (!verbatim && query.charAt(j) === "\\") {
          value += query.charAt(j + 1);
          j += 2;
        } else {
          value += query.charAt(j);
          j += 1;
        }
      }
      if (j >= query.length) throw new Error(`unterminated string literal in:\n${query}`);
      code += `§${String(strings.length)}§`;
      strings.push(value);
      i = j + 1;
      continue;
    }
    code += ch;
    i += 1;
  }
  return { code, strings };
}

function literalsIn(fragment: string, strings: readonly string[]): string[] {
  return [...fragment.matchAll(/§(\d+)§/g)].map((m) => strings[Number(m[1])] ?? "");
}

/** String literals compared with a column: `Col == "x"`, `Col != "x"`, `Col in ("x", "y")`, and so on. */
function comparedLiterals(lexed: Lexed, column: string): string[] {
  const found: string[] = [];
  const escaped = column.replace(/[.()]/g, (c) => `\\${c}`);
  const single = new RegExp(`(?<![.\\w])${escaped}\\s*(?:==|!=|=~|!~|has|contains)\\s*(§\\d+§)`, "g");
  const list = new RegExp(`(?<![.\\w])${escaped}\\s*!?in~?\\s*\\(([^)]*)\\)`, "g");
  for (const m of lexed.code.matchAll(single)) found.push(...literalsIn(m[1] ?? "", lexed.strings));
  for (const m of lexed.code.matchAll(list)) found.push(...literalsIn(m[1] ?? "", lexed.strings));
  return found;
}

const FIELDS = new Set<string>(OUTCOME_FIELDS);

/**
 * Problems with the names a query uses. KQL is case-sensitive, so every PascalCase name that is not a
 * function call or a property (after a dot) must be one of the record's fields, the table, or a name
 * the query itself defines (`Name = ...` in let, extend, summarize, project, by); and a lower-case
 * spelling of a field (`resourceId`) is an error too.
 */
function unknownNames(lexed: Lexed): string[] {
  const defined = new Set<string>();
  for (const m of lexed.code.matchAll(/(?<![.\w$])([A-Za-z_]\w*)\s*=(?![=~])/g)) defined.add(m[1] ?? "");
  const problems: string[] = [];
  for (const m of lexed.code.matchAll(/(?<![.\w$§])([A-Za-z_]\w*)(?!\w)(\s*\()?/g)) {
    const name = m[1] ?? "";
    if (m[2] !== undefined) continue; // a function call
    if (/^[A-Z]/.test(name)) {
      if (name !== OUTCOME_TABLE && !FIELDS.has(name) && !defined.has(name)) {
        problems.push(`${name} is neither a column of ${OUTCOME_TABLE} nor defined in the query`);
      }
    } else {
      const field = OUTCOME_FIELDS.find((f) => f.toLowerCase() === name.toLowerCase());
      if (field !== undefined && !defined.has(name))
        problems.push(`${name} is spelt ${field} in ${OUTCOME_TABLE}`);
    }
  }
  return [...new Set(problems)];
}

/** Problems with the literals a query compares check ids, statuses, triggers and modes with. */
function unknownLiterals(lexed: Lexed, decisions: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const expect = (column: string, allowed: readonly string[] | ReadonlySet<string>): void => {
    const set = new Set(allowed);
    for (const literal of comparedLiterals(lexed, column)) {
      if (!set.has(literal))
        problems.push(`${column} compared with "${literal}", which is not one of its values`);
    }
  };
  expect("Check", CHECK_IDS);
  expect("Status", STATUSES);
  expect("Trigger", TRIGGERS);
  expect("Mode", MODES);
  expect("Details.step.decision)", decisions);
  // A literal that looks like a check id anywhere in the query must be one.
  for (const literal of lexed.strings) {
    if (/^[a-z]+\.[a-z-]+$/.test(literal) && !(CHECK_IDS as readonly string[]).includes(literal)) {
      problems.push(`"${literal}" looks like a check id but is not one`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// What the engine writes into Details, found by running the code that writes it.

const SERVICE = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim";
const T0 = new Date("2026-11-25T10:00:00Z");

function rolloutInput(percent: number | undefined, overrides: Partial<RolloutInput> = {}): RolloutInput {
  return {
    serviceId: SERVICE,
    now: T0,
    state: undefined,
    reading: {
      metric: "Capacity",
      percent,
      latestPercent: percent,
      latestAt: new Date(T0.getTime() - 60_000).toISOString(),
      perRegion: percent === undefined ? {} : { "West Europe": percent },
      windowStart: "2026-11-25T09:45:00Z",
      windowEnd: "2026-11-25T10:00:00Z",
    },
    pending: ["a", "b", "c"],
    onboarded: [],
    inProgress: [],
    settings: rolloutSettings({ capacityLimit: 60, rolloutIntervalMinutes: 10 }),
    ...overrides,
  };
}

/** The rollout decisions' details (outcomes carry them as Details.step), across every kind of decision. */
function rolloutDetails(): Record<string, unknown>[] {
  const minutesAgo = (m: number): string => new Date(T0.getTime() - m * 60_000).toISOString();
  const state: RolloutState = {
    schemaVersion: 3,
    serviceId: SERVICE,
    batchSize: 2,
    lastStep: { at: minutesAgo(5), batch: ["a"], readingBefore: 20 },
    steps: 1,
    rollbacks: 0,
    rolledBack: [],
    inProgressSince: {},
  };
  return [
    rolloutInput(20),
    rolloutInput(undefined),
    rolloutInput(95, { state, onboarded: ["a"], pending: ["b", "c"] }),
    rolloutInput(70, { state: { ...state, lastStep: undefined, waitingSince: minutesAgo(25 * 60) } }),
    rolloutInput(20, { pending: [], onboarded: ["a"] }),
    rolloutInput(20, { state: { ...state, paused: { since: minutesAgo(60), by: "ops", note: "freeze" } } }),
  ].map((input) => decideRolloutStep(input).details);
}

const STEP_DETAILS = rolloutDetails();
const STEP_KEYS = new Set(STEP_DETAILS.flatMap((d) => Object.keys(d)));
const DECISIONS = new Set(STEP_DETAILS.map((d) => String(d.decision)));

/**
 * Top-level Details keys the queries may read, and where the engine writes each. `code` comes from
 * describeError (checked by calling it); the others are checked against the engine's source, so a
 * rename there fails here, next to the queries that would silently return nothing.
 */
const DETAILS_WRITERS: Record<string, { file: string; text: string }> = {
  step: { file: "src/checks/api-onboarding.ts", text: "details: { step" },
  retryAfterSeconds: { file: "src/engine/engine.ts", text: "retryAfterSeconds: finding.retryAfterSeconds" },
  error: { file: "src/engine/cluster.ts", text: "error: describeError(error)" },
  code: { file: "src/engine/errors.ts", text: "return { code:" },
  defender: { file: "src/engine/agreement.ts", text: "defender: defenderDetails(found)" },
  assessments: { file: "src/checks/agreement.ts", text: "const details = { assessments: judgements }" },
};

function unknownDetails(lexed: Lexed): string[] {
  const problems: string[] = [];
  for (const m of lexed.code.matchAll(/\bDetails((?:\.\w+)+)/g)) {
    const path = (m[1] ?? "").slice(1).split(".");
    const [top, second] = path;
    if (top === undefined || !(top in DETAILS_WRITERS)) {
      problems.push(`Details.${path.join(".")}: the engine writes no Details.${String(top)}`);
    } else if (top === "step" && second !== undefined && !STEP_KEYS.has(second)) {
      problems.push(`Details.${path.join(".")}: rollout decisions have no ${second}`);
    } else if (top === "error" && second !== undefined && second !== "code" && second !== "message") {
      problems.push(`Details.${path.join(".")}: describeError gives code and message`);
    }
  }
  return problems;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Reads of the table that do not collapse resent rows (on OutcomeId) right after their time window. */
function uncollapsedReads(lexed: Lexed): string[] {
  const reads = lexed.code.split(OUTCOME_TABLE).length - 1;
  const collapsed = new RegExp(
    `${OUTCOME_TABLE}\\s*\\|\\s*where TimeGenerated > ago\\(\\d+[dh]\\)\\s*${escapeRegExp(COLLAPSE_RESENT_ROWS)}\\s`,
    "g",
  );
  const ok = (lexed.code.match(collapsed) ?? []).length;
  return ok === reads
    ? []
    : [
        `${String(reads - ok)} of ${String(reads)} reads of ${OUTCOME_TABLE} do not collapse resent rows right after the time window`,
      ];
}

function analyse(query: string): string[] {
  const lexed = lex(query);
  const problems = [
    ...unknownNames(lexed),
    ...unknownLiterals(lexed, DECISIONS),
    ...unknownDetails(lexed),
    ...uncollapsedReads(lexed),
  ];
  if (!lexed.code.includes(OUTCOME_TABLE)) problems.push(`does not query ${OUTCOME_TABLE}`);
  if (/\|\s*render\b/.test(lexed.code)) problems.push("renders: charts belong to the workbook");
  if (!/TimeGenerated > ago\(/.test(lexed.code))
    problems.push("has no time window (TimeGenerated > ago(...))");
  return problems;
}

// ---------------------------------------------------------------------------------------------
// infra/workbook.json

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function itemsOf(container: unknown): Json[] {
  if (!isRecord(container) || !Array.isArray(container.items)) return [];
  return container.items.filter(isRecord);
}

/** Every item of the workbook, groups (type 12) opened. */
function allItems(workbook: Json): Json[] {
  const out: Json[] = [];
  const walk = (items: Json[]): void => {
    for (const item of items) {
      out.push(item);
      if (item.type === 12) walk(itemsOf(item.content));
    }
  };
  walk(itemsOf(workbook));
  return out;
}

function squash(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** A documented query as the workbook runs it, parameters and whitespace aside. */
function docsForm(query: string): string {
  const withoutComments = query
    .split("\n")
    .filter((line) => !isComment(line))
    .join("\n");
  return squash(
    withoutComments
      .replace(/TimeGenerated > ago\([^)]*\)/g, "TimeGenerated {TimeRange}")
      .replace(/from ago\([^)]*\) to now\(\)/g, "from {TimeRange:start} to {TimeRange:end}"),
  );
}

/** A workbook query with its subscription filter lines taken out, whitespace aside. */
function workbookForm(query: string): string {
  return squash(
    query
      .split("\n")
      .filter((line) => line.trim() !== SUBSCRIPTION_FILTER)
      .join("\n"),
  );
}

const docsFile = parseQueryFile(readFileSync(new URL(QUERIES_FILE, ROOT), "utf8"));
const docs = { queries: allQueries(docsFile) };
const workbookText = readFileSync(new URL(WORKBOOK_FILE, ROOT), "utf8");
const workbook: unknown = JSON.parse(workbookText);

describe(QUERIES_FILE, () => {
  it("is made of sections, each with a description and its queries", () => {
    expect(docsFile.sections.map((s) => s.title)).toEqual([
      "Coverage",
      "Needs a person",
      "Failures",
      "API rollout",
      "Event-to-remediation latency",
      "Waiting",
      "Arc-enabled clusters and clusters' own plans",
      "Coverage as Defender sees it",
    ]);
    for (const section of docsFile.sections) {
      expect(section.description.join(" ").length, section.title).toBeGreaterThan(20);
      expect(section.queries.every((q) => q.section === section.title)).toBe(true);
    }
  });

  it("a section is added without touching the others; a malformed file is named", () => {
    const extra =
      "\n// ----\n\n// ==== Arc\n// Connected clusters.\n\n// ----\n\n// Arc coverage\n// Why: how many are covered.\nAutoprotectOutcomes_CL\n| take 1\n";
    const text = readFileSync(new URL(QUERIES_FILE, ROOT), "utf8");
    const grown = parseQueryFile(text + extra);
    expect(grown.sections.map((s) => s.title).slice(0, -1)).toEqual(docsFile.sections.map((s) => s.title));
    expect(grown.sections.at(-1)).toMatchObject({
      title: "Arc",
      queries: [{ title: "Arc coverage", query: "AutoprotectOutcomes_CL\n| take 1" }],
    });
    const bad: [string, string][] = [
      ["// head\n// ----\n// A query\n// why\nT\n", 'comes before any "// ==== Section"'],
      ["// head\n// ----\n// ==== S\n// about\n", 'section "S" has no query'],
      ["// head\n// ----\n// ==== S\n// about\n// ----\n// Q\n// why\n", '"Q" has no query'],
      [
        "// head\n// ----\n// ==== S\n// about\n// ----\n// Q\nT\n// ----\n// Q\nT\n",
        'two queries are titled "Q"',
      ],
      ["head\n// ----\n", "must be comments only"],
    ];
    for (const [file, message] of bad) expect(() => parseQueryFile(file), message).toThrow(QueryFileError);
    for (const [file, message] of bad) expect(() => parseQueryFile(file)).toThrow(message);
  });

  it("holds uniquely titled queries, each with a why/how comment", () => {
    expect(docs.queries.length).toBeGreaterThanOrEqual(6);
    const titles = docs.queries.map((q) => q.title);
    expect(new Set(titles).size).toBe(titles.length);
    for (const q of docs.queries) expect(q.description.join(" ").length, q.title).toBeGreaterThan(40);
  });

  it("answers the operator's questions", () => {
    const text = docs.queries.map((q) => q.query).join("\n");
    expect(text).toContain("arg_max(TimeGenerated");
    expect(text).toMatch(/Status == "manual"/);
    expect(text).toContain("tostring(Details.code)");
    expect(text).toMatch(/Check == "apim\.api-onboarding"/);
    expect(text).toMatch(/Trigger == "eventgrid"/);
    expect(text).toMatch(/percentile\(DurationMs, 95\)/);
    expect(text).toMatch(/Status == "deferred"/);
  });

  it("uses only the outcome record's columns, check ids, statuses and the Details the engine writes", () => {
    const problems = docs.queries.flatMap((q) => analyse(q.query).map((p) => `${q.title}: ${p}`));
    expect(problems).toEqual([]);
  });

  it("the contract's triggers and modes are all listed here", () => {
    expect([triggersListed, modesListed]).toEqual([true, true]);
  });

  it("the rollout details the queries read are what the controller writes", () => {
    expect(DECISIONS).toEqual(new Set(["step", "wait", "rollback", "manual", "done", "paused"]));
    expect(Object.keys(describeError(new Error("boom")))).toContain("code");
    for (const [key, { file, text }] of Object.entries(DETAILS_WRITERS)) {
      expect(readFileSync(new URL(file, ROOT), "utf8"), `Details.${key} in ${file}`).toContain(text);
    }
  });

  describe("the checks above catch mistakes", () => {
    const base = docs.queries.find((q) => q.title === "Failing now")?.query ?? "";
    const broken = (from: RegExp, to: string): string[] => analyse(base.replace(from, to));

    it("starts from a clean query", () => {
      expect(base).not.toBe("");
      expect(analyse(base)).toEqual([]);
    });
    it("a renamed column", () => {
      expect(
        broken(/project TimeGenerated, SubscriptionId/, "project TimeGenerated, Subscription_Id"),
      ).toEqual([`Subscription_Id is neither a column of ${OUTCOME_TABLE} nor defined in the query`]);
      expect(broken(/tolower\(ResourceId\)/, "tolower(resourceId)")).toEqual([
        `resourceId is spelt ResourceId in ${OUTCOME_TABLE}`,
      ]);
    });
    it("an unknown status, check id, Details key or table", () => {
      expect(broken(/"failed"/, '"failure"')).toEqual([
        'Status compared with "failure", which is not one of its values',
      ]);
      expect(analyse(`${base}\n| where Check == "aks.defender"`)).toEqual([
        'Check compared with "aks.defender", which is not one of its values',
        '"aks.defender" looks like a check id but is not one',
      ]);
      expect(broken(/Details\.code/, "Details.errorCode")).toEqual([
        "Details.errorCode: the engine writes no Details.errorCode",
      ]);
      expect(analyse(base.replace(OUTCOME_TABLE, "AutoprotectOutcome_CL"))).toContain(
        `does not query ${OUTCOME_TABLE}`,
      );
    });
    it("a read that counts resent rows twice", () => {
      expect(base).toContain(COLLAPSE_RESENT_ROWS);
      expect(analyse(base.replace(`${COLLAPSE_RESENT_ROWS}\n`, ""))).toEqual([
        `1 of 1 reads of ${OUTCOME_TABLE} do not collapse resent rows right after the time window`,
      ]);
      expect(analyse(base.replace("by OutcomeId, ", "by "))).toEqual([
        `1 of 1 reads of ${OUTCOME_TABLE} do not collapse resent rows right after the time window`,
      ]);
    });
  });
});

describe(WORKBOOK_FILE, () => {
  const root = isRecord(workbook) ? workbook : {};
  const items = allItems(root);
  const queryItems = items.filter((item) => item.type === 3);
  const parameters = items
    .filter((item) => item.type === 9)
    .flatMap((item): unknown[] =>
      isRecord(item.content) && Array.isArray(item.content.parameters) ? item.content.parameters : [],
    )
    .filter(isRecord);
  const byTitle = new Map(docs.queries.map((q) => [q.title, q]));

  it("is a plain Azure Monitor workbook (Notebook/1.0)", () => {
    expect(root.version).toBe("Notebook/1.0");
    expect(itemsOf(root).length).toBeGreaterThan(0);
    const names = items.map((item) => item.name);
    expect(new Set(names).size, "item names are unique").toBe(names.length);
    expect(items.every((item) => [1, 3, 9, 12].includes(Number(item.type)))).toBe(true);
    expect(
      items
        .filter((item) => item.type === 12)
        .every((g) => isRecord(g.content) && g.content.version === "NotebookGroup/1.0"),
    ).toBe(true);
  });

  it("has the time range, workspace and subscription parameters", () => {
    const named = new Map(parameters.map((p) => [p.name, p]));
    expect(named.get("TimeRange")?.type).toBe(4);
    expect(named.get("Workspace")?.type).toBe(5);
    const subscription = named.get("Subscription");
    expect(subscription?.type).toBe(2);
    expect(subscription?.multiSelect).toBe(true);
    expect(subscription?.quote).toBe("'");
    expect(isRecord(subscription?.typeSettings) && subscription.typeSettings.selectAllValue).toBe("*");
    for (const p of parameters.filter((p) => p.queryType === 0)) {
      const query = String(p.query);
      expect(query, String(p.name)).toContain(OUTCOME_TABLE);
      // Workbook parameters ({TimeRange}, {Subscription}) are not names of the query's.
      expect(unknownNames(lex(query.replace(/\{\w+(?::\w+)?\}/g, "parameter"))), String(p.name)).toEqual([]);
      expect(p.crossComponentResources).toEqual(["{Workspace}"]);
    }
  });

  it("runs every documented query once, under its title, against the workspace", () => {
    expect(queryItems.map((item) => item.name).sort()).toEqual([...byTitle.keys()].sort());
    for (const item of queryItems) {
      const content = isRecord(item.content) ? item.content : {};
      const title = String(item.name);
      expect(content.version, title).toBe("KqlItem/1.0");
      expect(content.queryType, title).toBe(0);
      expect(content.resourceType, title).toBe(WORKSPACE_TYPE);
      expect(content.crossComponentResources, title).toEqual(["{Workspace}"]);
      expect(content.timeContextFromParameter, title).toBe("TimeRange");
      expect(
        VISUALIZATIONS.has(String(content.visualization)),
        `${title}: ${String(content.visualization)}`,
      ).toBe(true);
    }
  });

  it("each query is the documented one, with the time range and subscription parameters applied", () => {
    for (const item of queryItems) {
      const title = String(item.name);
      const content = isRecord(item.content) ? item.content : {};
      const query = String(content.query);
      const documented = byTitle.get(title);
      expect(documented, title).toBeDefined();
      expect(workbookForm(query), title).toBe(docsForm(documented?.query ?? ""));
      expect(query, title).toContain(OUTCOME_TABLE);
      const tableReads = query.split(OUTCOME_TABLE).length - 1;
      // Each read of the table is narrowed by both parameters, in that order, then collapses resent rows.
      const filtered =
        query.match(
          new RegExp(
            `\\| where TimeGenerated \\{TimeRange\\}\\n\\s*\\| where '\\*' in \\(\\{Subscription\\}\\) or SubscriptionId in \\(\\{Subscription\\}\\)\\n\\s*${escapeRegExp(COLLAPSE_RESENT_ROWS)}\\n`,
            "g",
          ),
        ) ?? [];
      expect(filtered.length, title).toBe(tableReads);
    }
  });

  it("has one group per section of the documented queries, holding that section's queries in order", () => {
    const groups = itemsOf(root).filter((item) => item.type === 12);
    expect(groups.map((g) => (isRecord(g.content) ? g.content.title : undefined))).toEqual(
      docsFile.sections.map((s) => s.title),
    );
    for (const [index, section] of docsFile.sections.entries()) {
      const group = groups[index];
      const inGroup = itemsOf(group?.content).filter((item) => item.type === 3);
      expect(
        inGroup.map((item) => item.name),
        section.title,
      ).toEqual(section.queries.map((q) => q.title));
    }
  });

  it("the visualizations fit the sections", () => {
    const viz = new Map(
      queryItems.map((item) => [item.name, isRecord(item.content) ? item.content.visualization : undefined]),
    );
    expect(viz.get("Coverage per check")).toBe("tiles");
    expect(viz.get("Daily coverage per check")).toBe("timechart");
    expect(viz.get("Open manual items")).toBe("table");
    expect(viz.get("Failures by error code")).toBe("barchart");
    expect(viz.get("API rollout per service")).toBe("table");
    expect(viz.get("API rollout progress over time")).toBe("timechart");
  });
});
