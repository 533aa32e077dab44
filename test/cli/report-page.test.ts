/**
 * The HTML page of `autoprotect report -o html`, made from a simulated history (sweeps through the CLI
 * over simulated days, a rollback, refused writes, event-driven remediations): every figure on it is the
 * cell of the query it names, as the same query answers in the simulated workspace; every documented
 * query is on it; it loads nothing, runs nothing and holds no secret.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogsQueryAdapter } from "../../src/azure/logs-query.js";
import { startSimulatedAzure } from "../../src/cli/simulate.js";
import { DEFENDER_SECTION, TITLES, type ReportData } from "../../src/report/data.js";
import { renderReportPage } from "../../src/report/html.js";
import { allQueries, forScope, loadQueryFile } from "../../src/report/queries.js";
import { cli } from "../support/cli.js";
import { buildHistory, historyEnv, PROD_APIM, SAMPLE_WORKSPACE } from "../support/report-history.js";

/** Recognisable fake secrets in the environment the report runs in: none may reach the page. */
const SECRETS = {
  AZURE_CLIENT_SECRET: "fake-client-secret-3f9c1e7a",
  AZURE_CLIENT_ID: "0c9d8e7f-1111-4222-8333-444455556666",
  APPLICATIONINSIGHTS_CONNECTION_STRING:
    "InstrumentationKey=feedface-0000-4000-8000-00000000beef;IngestionEndpoint=https://westeurope-1.in.applicationinsights.azure.com/",
  AzureWebJobsStorage:
    "DefaultEndpointsProtocol=https;AccountName=stautoprotect;AccountKey=ZmFrZS1hY2NvdW50LWtleS1kby1ub3QtdXNl;EndpointSuffix=core.windows.net",
};
const SECRET_PATTERNS = [
  /Bearer\s/i,
  /eyJ[A-Za-z0-9_-]{10,}/, // a JWT
  /AccountKey=/i,
  /SharedAccessSignature|[?&]sig=/i,
  /InstrumentationKey=/i,
  /client_secret/i,
  /simulator-token/,
];

interface Figure {
  readonly query: string;
  readonly row: number;
  readonly column: string;
  readonly value: unknown;
}

function unescape(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

/** Every figure on the page, with the query, row and column it says it shows. */
function figuresOf(html: string): Figure[] {
  const pattern = /data-query="([^"]*)" data-row="(\d+)" data-column="([^"]*)" data-value="([^"]*)"/g;
  return [...html.matchAll(pattern)].map((m) => ({
    query: unescape(m[1] ?? ""),
    row: Number(m[2]),
    column: unescape(m[3] ?? ""),
    value: JSON.parse(unescape(m[4] ?? "null")) as unknown,
  }));
}

let dir = "";
let html = "";
let json = "";
/** Each documented query's rows, run directly in the same simulated workspace. */
const direct = new Map<string, Record<string, unknown>[]>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "autoprotect-report-page-"));
  const { estatePath } = await buildHistory(dir);
  const env = { ...historyEnv(join(dir, "state")), ...SECRETS };
  const page = join(dir, "report.html");
  const made = await cli(
    ["report", "--workspace", SAMPLE_WORKSPACE, "-o", "html", "--out", page, "--simulate", estatePath],
    env,
  );
  expect(made.code, made.stderr).toBe(0);
  html = await readFile(page, "utf8");
  json = (await cli(["report", "--workspace", SAMPLE_WORKSPACE, "-o", "json", "--simulate", estatePath], env))
    .stdout;

  const simulated = await startSimulatedAzure(estatePath);
  try {
    const logs = createLogsQueryAdapter(simulated.connection, simulated.logsQueryEndpoint);
    for (const query of allQueries(loadQueryFile())) {
      const rows = await logs.query(
        SAMPLE_WORKSPACE,
        forScope(query.query, { days: 7, subscriptions: [] }),
        "P7D",
      );
      direct.set(
        query.title,
        rows.map((row) => ({ ...row })),
      );
    }
  } finally {
    await simulated.close();
  }
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Values that depend on when the query ran (now()): equal to the tenth of an hour. */
function same(column: string, shown: unknown, answered: unknown): boolean {
  if (column === "WaitingHours" && typeof shown === "number" && typeof answered === "number") {
    return Math.abs(shown - answered) <= 0.1 + 1e-9;
  }
  return JSON.stringify(shown) === JSON.stringify(answered ?? null);
}

describe("the report page's figures", () => {
  it("the history has something in every part worth checking", () => {
    expect(direct.get(TITLES.rollbacks)?.length).toBeGreaterThan(0);
    expect(direct.get(TITLES.failingNow)?.length).toBeGreaterThan(0);
    expect(direct.get(TITLES.openManual)?.length).toBeGreaterThan(0);
    expect(direct.get(TITLES.latencyPerCheck)?.length).toBeGreaterThan(0);
    expect(new Set(direct.get(TITLES.dailyCoverage)?.map((r) => r.Day)).size).toBeGreaterThan(2);
  });

  it("every figure is the cell of the query it names, as that query answers in the simulated workspace", () => {
    const figures = figuresOf(html);
    expect(figures.length).toBeGreaterThan(500);
    const wrong = figures.filter((f) => {
      const rows = direct.get(f.query);
      return rows === undefined || !same(f.column, f.value, rows[f.row]?.[f.column]);
    });
    expect(wrong).toEqual([]);
  });

  it("shows every documented query, every cell of every row (or says it has none)", () => {
    const figures = figuresOf(html);
    expect([...direct.keys()].sort()).toEqual(
      allQueries(loadQueryFile())
        .map((q) => q.title)
        .sort(),
    );
    for (const [title, rows] of direct) {
      if (rows.length === 0) {
        expect(html, title).toContain(`data-query="${title}" data-rows="0"`);
        continue;
      }
      expect(html, title).toContain(`<table data-query="${title}" data-rows="${String(rows.length)}">`);
      const shown = new Set(
        figures.filter((f) => f.query === title).map((f) => `${String(f.row)} ${f.column}`),
      );
      const missing = rows.flatMap((row, index) =>
        Object.keys(row)
          .map((column) => `${String(index)} ${column}`)
          .filter((cell) => !shown.has(cell)),
      );
      expect(missing, title).toEqual([]);
    }
  });

  it("draws each instance's rollout: onboarded, pending, capacity, limit and critical per decision, the rollback marked", () => {
    const decisions = direct.get(TITLES.rolloutDecisions) ?? [];
    const prod = decisions
      .map((row, index) => ({ row, index }))
      .filter(({ row }) => row.ServiceId === PROD_APIM);
    expect(prod.length).toBeGreaterThan(3);
    const marks = [
      ...html.matchAll(
        /<(?:circle|rect|path) class="mark ([a-z-]+)" data-query="API rollout decisions" data-row="(\d+)" data-column="([A-Za-z]+)"/g,
      ),
    ];
    for (const { index } of prod) {
      const columns = marks.filter((m) => Number(m[2]) === index).map((m) => `${m[1] ?? ""}:${m[3] ?? ""}`);
      expect(columns.sort(), String(index)).toEqual(
        expect.arrayContaining([
          "capacity:CapacityPercent",
          "critical:CriticalPercent",
          "limit:LimitPercent",
          "onboarded:Onboarded",
          "pending:Pending",
        ]),
      );
    }
    const rollbacks = marks.filter((m) => m[1] === "event-mark");
    expect(rollbacks.map((m) => decisions[Number(m[2])]?.Decision)).toEqual(["rollback"]);
    expect(html).toMatch(/<title id="chart-title-\d+">apim-contoso-prod: API rollout over time<\/title>/);
  });

  it("says when it was made, over which window and scope, and -o json carries the same rows", () => {
    const report = JSON.parse(json) as {
      generatedAt: string;
      sections: { title: string; queries: { title: string; rows: unknown[] }[] }[];
    };
    expect(html).toContain(`<code>${SAMPLE_WORKSPACE}</code>`);
    expect(html).toContain("(7 days)");
    expect(html).toMatch(/every subscription with outcomes in the workspace \(2: /);
    for (const section of report.sections) {
      for (const query of section.queries) {
        expect(query.rows.length, query.title).toBe(direct.get(query.title)?.length);
      }
    }
  });

  it("shows Defender for Cloud's own view inside Coverage: its share per check, and the sensor it never hears from", () => {
    const coverage = html.slice(html.indexOf('id="coverage"'), html.indexOf('id="needs-a-person"'));
    expect(coverage).toContain('<h3 id="defender-view">As Defender for Cloud sees it</h3>');
    expect(coverage).not.toContain(`data-section="${DEFENDER_SECTION}" data-rows="0"`);
    const disagreements = direct.get("Disagreements with Defender for Cloud") ?? [];
    // The sample's aks-protected: configured all along, its sensor never reaches Defender; and the
    // legacy cluster Defender calls restricted while autoprotect finds its API server open.
    expect(
      disagreements.map((r) => [String(r.ResourceId).split("/").at(-1), r.AutoprotectCheck, r.Disagreement]),
    ).toEqual([
      ["aks-legacy-basic-lb", "aks.authorized-ips", "protected by Defender, not by configuration"],
      ["aks-protected", "aks.defender-sensor", "protected by configuration, not by Defender"],
    ]);
    for (const row of disagreements) expect(coverage).toContain(String(row.ResourceId));
    expect(html.indexOf("Disagreements with Defender for Cloud")).toBeLessThan(
      html.indexOf('id="needs-a-person"'),
    );
    // Only the agreement's own section moves: the page has no section of that title.
    expect(html).not.toContain('id="coverage-as-defender-sees-it"');
  });
});

describe("the report page is self-contained and holds no secret", () => {
  it("loads nothing and runs nothing: a Content-Security-Policy that forbids it, no script, no outside reference", () => {
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(html).toContain(
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">`,
    );
    expect(html).not.toMatch(/<script|<link|<iframe|<img|<object|<embed|@import|url\(/i);
    expect(html).not.toMatch(/\s(?:src|action|poster|srcset)=/i);
    expect(
      [...html.matchAll(/\shref="([^"]*)"/g)].map((m) => m[1]).filter((h) => !h?.startsWith("#")),
    ).toEqual([]);
    expect(html).not.toMatch(/https?:\/\//i);
  });

  it("no secret, token or key from the environment or the connection, in the page or the JSON", () => {
    for (const output of [html, json]) {
      for (const value of Object.values(SECRETS)) expect(output).not.toContain(value);
      for (const pattern of SECRET_PATTERNS) expect(output).not.toMatch(pattern);
    }
  });

  it("is accessible without a browser's help: titles, described charts, captioned tables with headers", () => {
    expect(html.match(/<h1[ >]/g)).toHaveLength(1);
    const charts = [...html.matchAll(/<svg [^>]*>/g)].map((m) => m[0]);
    expect(charts.length).toBeGreaterThan(8);
    for (const svg of charts) {
      expect(svg).toContain('role="img"');
      const ids = /aria-labelledby="([^"]+)"/.exec(svg)?.[1]?.split(" ") ?? [];
      expect(ids).toHaveLength(2);
      expect(html).toContain(`<title id="${ids[0] ?? ""}">`);
      expect(html).toContain(`<desc id="${ids[1] ?? ""}">`);
    }
    const tables = html.match(/<table[ >]/g)?.length ?? 0;
    expect(html.match(/<caption>/g)?.length).toBe(tables);
    expect(html.match(/<th scope="col">/g)?.length).toBeGreaterThan(tables);
    // The stacked status bar speaks too.
    expect(html).toMatch(
      /<div class="stack" role="img" aria-label="Resource-and-check pairs by status now: compliant \d+/,
    );
  });
});

describe("the page's sections follow docs/queries.kql", () => {
  const data = (sections: ReportData["sections"]): ReportData => ({
    workspaceId: SAMPLE_WORKSPACE,
    scope: { days: 7, subscriptions: [] },
    generatedAt: "2026-03-06T09:00:00.000Z",
    sections,
  });

  it("a section the page has no layout for is shown with its queries as tables; Defender's view inside Coverage", () => {
    const page = renderReportPage(
      data([
        {
          title: "Coverage",
          description: ["What autoprotect sees."],
          queries: [
            {
              title: TITLES.statusNow,
              description: ["why"],
              query: "Q",
              rows: [{ Status: "compliant", Pairs: 3 }],
            },
          ],
        },
        {
          title: DEFENDER_SECTION,
          description: ["Defender's view."],
          queries: [
            {
              title: "Agreement per check",
              description: ["why"],
              query: "Q",
              rows: [{ Check: "aks.defender-sensor", AgreePercent: 96.5 }],
            },
          ],
        },
        {
          title: "Arc-enabled clusters",
          description: ["Connected clusters."],
          queries: [
            {
              title: "Arc coverage",
              description: ["why"],
              query: "Q",
              rows: [{ Check: "arc.defender-sensor", CoveredPercent: 50 }],
            },
          ],
        },
      ]),
    );
    expect(page).toContain('<h2 id="arc-enabled-clusters-title">Arc-enabled clusters</h2>');
    expect(page).toContain('<table data-query="Arc coverage" data-rows="1">');
    expect(page).toContain('data-column="CoveredPercent" data-value="50">50 %</td>');
    // Defender's view: inside Coverage, not a section of its own.
    const defender = page.indexOf('id="defender-view"');
    expect(defender).toBeGreaterThan(page.indexOf('id="coverage"'));
    expect(defender).toBeLessThan(page.indexOf('id="arc-enabled-clusters"'));
    expect(page).toContain('data-column="AgreePercent" data-value="96.5">96.5 %</td>');
    expect(page).not.toContain(`id="${DEFENDER_SECTION.toLowerCase().replace(/ /g, "-")}"`);
  });

  it("text from the queries is escaped, never markup", () => {
    const page = renderReportPage(
      data([
        {
          title: "Needs a person",
          description: ["x"],
          queries: [
            {
              title: TITLES.openManual,
              description: ["x"],
              query: "Q",
              rows: [
                {
                  Check: "aks.azure-policy",
                  Reason: '<img src=x onerror="alert(1)">',
                  ResourceId: "/subscriptions/s/x",
                },
              ],
            },
          ],
        },
      ]),
    );
    expect(page).not.toContain("<img");
    expect(page).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;");
  });
});
