/**
 * `autoprotect report -o html`: one self-contained page (styles inline, no script, nothing fetched:
 * its Content-Security-Policy forbids it) made from the documented queries' answers. Every figure is
 * a cell of a query's rows and carries where it came from (`data-query`, `data-row`, `data-column`,
 * `data-value`); every query of docs/queries.kql appears, as a chart with its data table or as a table.
 */
import {
  DEFENDER_SECTION,
  num,
  rowsOf,
  text,
  time,
  TITLES,
  type QueryAnswer,
  type ReportData,
  type Row,
  type SectionAnswer,
} from "./data.js";
import { cellHtml, columnLabel, escapeHtml, formatNumber, formatTime, resourceName } from "./format.js";
import { PAGE_STYLE } from "./style.js";
import {
  nextId,
  resetIds,
  sourceAttributes,
  timeChart,
  type Point,
  type Series,
  type Source,
} from "./svg.js";

/** Stops anything from being loaded or run: styles inline, images only as data, no script, no forms. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

const STATUSES = ["compliant", "remediated", "planned", "deferred", "manual", "failed", "skipped"];

const EMPTY: Readonly<Record<string, string>> = {
  [TITLES.openManual]: "Nothing needs a person.",
  [TITLES.failuresByCode]: "No failures in the window.",
  [TITLES.failuresOverTime]: "No failures in the window.",
  [TITLES.failingNow]: "Nothing is failing now.",
  [TITLES.rollbacks]: "No rollbacks in the window.",
  [TITLES.rolloutDecisions]: "No rollout decisions in the window.",
  [TITLES.latencyPerCheck]: "No event-driven remediations in the window.",
  [TITLES.latencyOverTime]: "No event-driven remediations in the window.",
  [TITLES.waitingLongest]: "Nothing is waiting.",
};

function slug(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
}

function source(answer: QueryAnswer, row: number, column: string): Source {
  return { query: answer.title, row, column, value: answer.rows[row]?.[column] ?? null };
}

/** A figure in running text, with where it came from. */
function figure(answer: QueryAnswer, row: number, column: string, html?: string): string {
  const value = answer.rows[row]?.[column];
  return `<span class="figure"${sourceAttributes(source(answer, row, column))}>${html ?? cellHtml(column, value)}</span>`;
}

function columnsOf(answer: QueryAnswer): string[] {
  const columns: string[] = [];
  for (const row of answer.rows)
    for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
  return columns;
}

/** A cell drawn as a bar (share of `max`) with its value written beside it. */
function barCell(column: string, value: unknown, max: number, cls: string): string {
  const number = typeof value === "number" ? value : null;
  const width = number === null || max <= 0 ? 0 : Math.max(0, Math.min(100, (100 * number) / max));
  return (
    `<span class="bar-cell"><span class="bar-track" aria-hidden="true"><span class="bar ${cls}" style="width:${width.toFixed(1)}%"></span></span>` +
    `<span class="bar-value">${cellHtml(column, value)}</span></span>`
  );
}

interface TableOptions {
  /** The columns to show, in order (default: the query's). */
  readonly columns?: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
  /** Cells drawn otherwise (a bar); the cell still carries its value. */
  readonly cells?: Readonly<Record<string, (value: unknown, row: Row) => string>>;
}

/** A query's rows as a table: every cell says which query, row and column it shows. */
function dataTable(answer: QueryAnswer, options: TableOptions = {}): string {
  if (answer.rows.length === 0) {
    return `<p class="empty" data-query="${escapeHtml(answer.title)}" data-rows="0">${escapeHtml(EMPTY[answer.title] ?? "No rows in the window.")}</p>`;
  }
  const all = columnsOf(answer);
  const columns = options.columns?.filter((c) => all.includes(c)) ?? all;
  const head = columns
    .map((c) => `<th scope="col">${escapeHtml(options.labels?.[c] ?? columnLabel(c))}</th>`)
    .join("");
  const body = answer.rows
    .map((row, index) => {
      const cells = columns.map((column) => {
        const value = row[column];
        const draw = options.cells?.[column];
        const content = draw === undefined ? cellHtml(column, value) : draw(value, row);
        const numeric = typeof value === "number" ? ' class="num"' : "";
        return `<td${numeric}${sourceAttributes(source(answer, index, column))}>${content}</td>`;
      });
      return `<tr data-row="${String(index)}">${cells.join("")}</tr>`;
    })
    .join("");
  return (
    `<div class="table-wrap"><table data-query="${escapeHtml(answer.title)}" data-rows="${String(answer.rows.length)}">` +
    `<caption>${escapeHtml(answer.title)}</caption><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`
  );
}

/** Where a block's figures come from, and the query itself to run in Log Analytics. */
function provenance(answer: QueryAnswer): string {
  const why = answer.description.join(" ");
  return (
    `<details class="kql"><summary>Query “${escapeHtml(answer.title)}” (docs/queries.kql)</summary>` +
    `<p>${escapeHtml(why)}</p><pre><code>${escapeHtml(answer.query)}</code></pre></details>`
  );
}

/** A chart's data, folded away: the text alternative a screen reader and a printout can open. */
function foldedTable(answer: QueryAnswer, summary: string, options: TableOptions = {}): string {
  return `<details class="data"><summary>${escapeHtml(summary)} (${String(answer.rows.length)} rows)</summary>${dataTable(answer, options)}</details>`;
}

function block(title: string, body: string, answer: QueryAnswer | undefined, level = 3): string {
  const id = slug(`q-${title}`);
  return (
    `<section class="block" aria-labelledby="${id}"><h${String(level)} id="${id}">${escapeHtml(title)}</h${String(level)}>` +
    `${body}${answer === undefined ? "" : provenance(answer)}</section>`
  );
}

function answerOf(section: SectionAnswer | undefined, title: string): QueryAnswer | undefined {
  return section?.queries.find((q) => q.title === title);
}

// ---------------------------------------------------------------------------------------------------
// Coverage

const PERCENT_BAR = (value: unknown): string => barCell("CoveredPercent", value, 100, "covered");

function headline(overall: QueryAnswer | undefined): string {
  const row = overall?.rows[0];
  if (overall === undefined || row === undefined || (num(row, "Resources") ?? 0) === 0) {
    return `<p class="headline empty" data-query="${escapeHtml(TITLES.coverageOverall)}" data-rows="0">No outcomes in the window.</p>`;
  }
  const percent = num(row, "CoveredPercent");
  return (
    `<p class="headline"><span class="big">${figure(overall, 0, "CoveredPercent", percent === null ? "–" : `${formatNumber(percent)} %`)}</span> ` +
    `covered: ${figure(overall, 0, "Covered")} of the ${figure(overall, 0, "Applicable")} resource-and-check pairs that apply ` +
    `(${figure(overall, 0, "Skipped")} skipped: not applicable or excluded).</p>`
  );
}

function statusBar(answer: QueryAnswer | undefined): string {
  if (answer === undefined) return "";
  if (answer.rows.length === 0) return dataTable(answer);
  const total = answer.rows.reduce((sum, row) => sum + (num(row, "Pairs") ?? 0), 0);
  const order = (row: Row): number => {
    const index = STATUSES.indexOf(text(row, "Status"));
    return index < 0 ? STATUSES.length : index;
  };
  const indexed = answer.rows
    .map((row, index) => ({ row, index }))
    .sort((a, b) => order(a.row) - order(b.row));
  const segments = indexed
    .map(({ row, index }) => {
      const pairs = num(row, "Pairs") ?? 0;
      const status = text(row, "Status");
      const width = total === 0 ? 0 : (100 * pairs) / total;
      return `<span class="segment s-${escapeHtml(slug(status))}" style="width:${width.toFixed(2)}%" title="${escapeHtml(`${status}: ${String(pairs)}`)}"${sourceAttributes(source(answer, index, "Pairs"))}></span>`;
    })
    .join("");
  const legend = indexed
    .map(({ row, index }) => {
      const status = text(row, "Status");
      return `<li><span class="swatch s-${escapeHtml(slug(status))}" aria-hidden="true"></span>${escapeHtml(status)} ${figure(answer, index, "Pairs")}</li>`;
    })
    .join("");
  const label = indexed
    .map(({ row }) => `${text(row, "Status")} ${String(num(row, "Pairs") ?? 0)}`)
    .join(", ");
  return (
    `<div class="stack" role="img" aria-label="${escapeHtml(`Resource-and-check pairs by status now: ${label}`)}">${segments}</div>` +
    `<ul class="legend">${legend}</ul>`
  );
}

function trendCharts(answer: QueryAnswer | undefined, data: ReportData): string {
  if (answer === undefined) return "";
  if (answer.rows.length === 0) return dataTable(answer);
  const end = Date.parse(data.generatedAt);
  const start = end - data.scope.days * 86_400_000;
  const byCheck = new Map<string, Point[]>();
  answer.rows.forEach((row, index) => {
    const t = time(row, "Day");
    const value = num(row, "CoveredPercent");
    if (t === null || value === null) return;
    const check = text(row, "Check");
    byCheck.set(check, [
      ...(byCheck.get(check) ?? []),
      { t, value, source: source(answer, index, "CoveredPercent") },
    ]);
  });
  const charts = [...byCheck.entries()].map(([check, points]) => {
    const series: Series = {
      name: "covered",
      cls: "covered-line",
      marker: "circle",
      step: false,
      unit: "%",
      points,
      valueOnly: true,
    };
    const last = [...points].sort((a, b) => a.t - b.t).at(-1);
    return (
      `<figure class="multiple"><figcaption>${escapeHtml(check)}</figcaption>` +
      timeChart({
        title: `${check}: covered share per day`,
        description: `Covered share of ${check} per day over the window, from ${String(points.length)} days with outcomes; the latest, ${last === undefined ? "none" : `${formatNumber(last.value)} %`}.`,
        start,
        end,
        panels: [{ label: "covered %", unit: "%", top: 100, series: [series] }],
        width: 340,
        panelHeight: 90,
        labelWidth: 60,
        maxTicks: 3,
      }) +
      `</figure>`
    );
  });
  return `<div class="multiples">${charts.join("")}</div>${foldedTable(answer, "Data of these charts")}`;
}

function defenderView(data: ReportData): string {
  const section = data.sections.find((s) => s.title === DEFENDER_SECTION);
  const withRows = section?.queries.filter((q) => q.rows.length > 0) ?? [];
  const body =
    section === undefined || withRows.length === 0
      ? `<p class="empty" data-section="${escapeHtml(DEFENDER_SECTION)}" data-rows="0">No data yet. This part shows Defender for Cloud's own view of the same resources once the agreement check (<code>defender.agreement</code>) has reported in the window.</p>`
      : section.queries.map((q) => block(q.title, dataTable(q), q, 4)).join("");
  return (
    `<section class="block defender" aria-labelledby="defender-view"><h3 id="defender-view">As Defender for Cloud sees it</h3>` +
    `<p class="note">Everything above is autoprotect's own verdict, from its outcomes.</p>${body}</section>`
  );
}

function coverageSection(section: SectionAnswer, data: ReportData): string {
  const perCheck = answerOf(section, TITLES.coveragePerCheck);
  const perSubscription = answerOf(section, TITLES.coveragePerSubscription);
  const daily = answerOf(section, TITLES.dailyCoverage);
  const status = answerOf(section, TITLES.statusNow);
  const overall = answerOf(section, TITLES.coverageOverall);
  const known = new Set<string>([
    TITLES.coveragePerCheck,
    TITLES.coveragePerSubscription,
    TITLES.dailyCoverage,
    TITLES.statusNow,
    TITLES.coverageOverall,
  ]);
  const parts = [
    overall === undefined
      ? ""
      : block("Coverage now", headline(overall) + foldedTable(overall, "Data of this figure"), overall),
    status === undefined
      ? ""
      : block(status.title, statusBar(status) + foldedTable(status, "Data of this chart"), status),
    perCheck === undefined
      ? ""
      : block(perCheck.title, dataTable(perCheck, { cells: { CoveredPercent: PERCENT_BAR } }), perCheck),
    perSubscription === undefined
      ? ""
      : block(
          perSubscription.title,
          dataTable(perSubscription, { cells: { CoveredPercent: PERCENT_BAR } }),
          perSubscription,
        ),
    daily === undefined ? "" : block(`${daily.title}: the trend`, trendCharts(daily, data), daily),
    defenderView(data),
    ...section.queries.filter((q) => !known.has(q.title)).map((q) => block(q.title, dataTable(q), q)),
  ];
  return parts.join("");
}

// ---------------------------------------------------------------------------------------------------
// API rollout

/** One instance's figures from "API rollout per service", in a sentence. */
function serviceSummary(services: QueryAnswer, index: number): string {
  const f = (column: string): string => figure(services, index, column);
  const counts =
    `${f("Onboarded")} of ${f("Apis")} APIs onboarded, ${f("Pending")} pending, ${f("Manual")} manual, ` +
    `${f("Failed")} failed, ${f("Skipped")} skipped`;
  if (text(services.rows[index] ?? {}, "Decision") === "") return `${counts}.`;
  return (
    `${counts}; last decision ${f("Decision")} at capacity ${f("CapacityPercent")} ` +
    `(limit ${f("LimitPercent")}, critical ${f("CriticalPercent")}); rollbacks: ${f("Rollbacks")}.`
  );
}

type Decision = { readonly row: Row; readonly index: number };

/** One instance's decisions drawn: APIs over time above, the capacity readings against the limit and critical level below. */
function serviceChart(
  name: string,
  decisions: QueryAnswer,
  rows: readonly Decision[],
  window: { start: number; end: number },
): string {
  const points = (column: string): Point[] =>
    rows.flatMap(({ row, index }) => {
      const t = time(row, "TimeGenerated");
      const value = num(row, column);
      return t === null || value === null ? [] : [{ t, value, source: source(decisions, index, column) }];
    });
  const onboarded = points("Onboarded");
  const pending = points("Pending");
  const capacity = points("CapacityPercent");
  // From the first decision in the window: a rollout is drawn where it happened, not squeezed into a week.
  const first = Math.min(...rows.map(({ row }) => time(row, "TimeGenerated") ?? window.end));
  const from = Math.max(window.start, first - Math.max((window.end - first) * 0.03, 60_000));
  const rollbacks = rows.filter(({ row }) => text(row, "Decision") === "rollback");
  const events = rollbacks.flatMap(({ row, index }) => {
    const t = time(row, "TimeGenerated");
    return t === null ? [] : [{ t, label: "rollback", source: source(decisions, index, "Decision") }];
  });
  const latest = rows.at(-1)?.row ?? {};
  const description =
    `${name}: APIs onboarded and not yet onboarded after each of ${String(rows.length)} rollout decisions, and the ` +
    `capacity reading (${text(latest, "Metric") || "capacity"}) each decision was taken on, against the limit and the ` +
    `critical level; ${String(rollbacks.length)} rollbacks marked. Latest: ${String(num(latest, "Onboarded") ?? "?")} ` +
    `onboarded, ${String(num(latest, "Pending") ?? "?")} not onboarded, capacity ${String(num(latest, "CapacityPercent") ?? "unknown")} %.`;
  const step = (name: string, cls: string, marker: Series["marker"], unit: string, of: Point[]): Series => ({
    name,
    cls,
    marker,
    step: true,
    unit,
    points: of,
  });
  return timeChart({
    title: `${name}: API rollout over time`,
    description,
    start: from,
    end: window.end,
    panels: [
      {
        label: "APIs",
        unit: "",
        top: Math.max(1, ...onboarded.map((p) => p.value), ...pending.map((p) => p.value)),
        series: [
          step("onboarded", "onboarded", "circle", "", onboarded),
          step("not onboarded", "pending", "square", "", pending),
        ],
      },
      {
        label: "capacity %",
        unit: "%",
        top: Math.max(100, ...capacity.map((p) => p.value)),
        series: [
          { ...step("capacity", "capacity", "diamond", "%", capacity), step: false },
          step("limit", "limit", "circle", "%", points("LimitPercent")),
          step("critical", "critical", "circle", "%", points("CriticalPercent")),
        ],
      },
    ],
    events,
  });
}

/** A card per instance of "API rollout per service", with its decisions of "API rollout decisions" drawn. */
function rolloutCharts(section: SectionAnswer, data: ReportData): string {
  const services = answerOf(section, TITLES.rolloutPerService);
  const decisions = answerOf(section, TITLES.rolloutDecisions);
  if (services === undefined || decisions === undefined) return "";
  const end = Date.parse(data.generatedAt);
  const window = { start: end - data.scope.days * 86_400_000, end };
  const cards = services.rows.map((serviceRow, serviceIndex) => {
    const serviceId = text(serviceRow, "ServiceId");
    const rows = decisions.rows
      .map((row, index) => ({ row, index }))
      .filter(({ row }) => text(row, "ServiceId").toLowerCase() === serviceId.toLowerCase());
    const name = resourceName(serviceId);
    const titleId = nextId("service");
    const drawn =
      rows.length === 0
        ? '<p class="empty">No rollout decisions in the window.</p>'
        : `<div class="chart-wrap">${serviceChart(name, decisions, rows, window)}</div>`;
    return (
      `<article class="service" aria-labelledby="${titleId}"><h3 id="${titleId}">${escapeHtml(name)}</h3>` +
      `<p class="id">${escapeHtml(serviceId)}</p><p>${serviceSummary(services, serviceIndex)}</p>${drawn}</article>`
    );
  });
  return cards.join("");
}

function rolloutSection(section: SectionAnswer, data: ReportData): string {
  const decisions = answerOf(section, TITLES.rolloutDecisions);
  const services = answerOf(section, TITLES.rolloutPerService);
  const charted = new Set<string>([TITLES.rolloutDecisions, TITLES.rolloutPerService]);
  return [
    rolloutCharts(section, data),
    services === undefined ? "" : block(services.title, dataTable(services), services),
    decisions === undefined
      ? ""
      : block(decisions.title, foldedTable(decisions, "Every decision drawn above"), decisions),
    ...section.queries
      .filter((q) => !charted.has(q.title))
      .map((q) => {
        // The workbook draws these two as charts; here the charts per instance above show the same figures.
        const folded = q.title === TITLES.rolloutProgress || q.title === TITLES.rolloutCapacity;
        return block(q.title, folded ? foldedTable(q, "As the workbook charts it") : dataTable(q), q);
      }),
  ].join("");
}

// ---------------------------------------------------------------------------------------------------
// Failures, people, waits

function failuresSection(section: SectionAnswer): string {
  return section.queries
    .map((q) => {
      if (q.title === TITLES.failuresByCode) {
        const max = Math.max(0, ...q.rows.map((row) => num(row, "Failures") ?? 0));
        return block(
          q.title,
          dataTable(q, { cells: { Failures: (value) => barCell("Failures", value, max, "failed") } }),
          q,
        );
      }
      return block(q.title, dataTable(q), q);
    })
    .join("");
}

const MANUAL_COLUMNS = ["ManualSince", "Check", "ResourceId", "Reason", "LastSeenAt", "SubscriptionId"];
const WAITING_COLUMNS = [
  "DeferredSince",
  "WaitingHours",
  "Overdue",
  "Check",
  "ResourceId",
  "Reason",
  "Looks",
  "RetryAfterSeconds",
  "LastSeenAt",
  "SubscriptionId",
];

function tablesSection(section: SectionAnswer): string {
  return section.queries
    .map((q) => {
      if (q.title === TITLES.openManual) {
        return block(
          q.title,
          dataTable(q, {
            columns: MANUAL_COLUMNS,
            labels: { ManualSince: "Manual since", Reason: "What to do" },
          }),
          q,
        );
      }
      if (q.title === TITLES.waitingLongest) {
        return block(
          q.title,
          dataTable(q, {
            columns: WAITING_COLUMNS,
            cells: {
              Overdue: (value) =>
                value === true ? '<strong class="overdue">overdue</strong>' : cellHtml("Overdue", value),
            },
          }),
          q,
        );
      }
      return block(q.title, dataTable(q), q);
    })
    .join("");
}

// ---------------------------------------------------------------------------------------------------
// The page

function sectionHtml(section: SectionAnswer, data: ReportData): string {
  const id = slug(section.title);
  let body: string;
  switch (section.title) {
    case "Coverage":
      body = coverageSection(section, data);
      break;
    case "API rollout":
      body = rolloutSection(section, data);
      break;
    case "Failures":
      body = failuresSection(section);
      break;
    default:
      body = tablesSection(section);
  }
  return (
    `<section class="report-section" id="${id}" aria-labelledby="${id}-title"><h2 id="${id}-title">${escapeHtml(section.title)}</h2>` +
    `<p class="lede">${escapeHtml(section.description.join(" "))}</p>${body}</section>`
  );
}

function subscriptionsSeen(data: ReportData): string[] {
  const rows = rowsOf(data, TITLES.coveragePerSubscription) ?? [];
  return [...new Set(rows.map((row) => text(row, "SubscriptionId")).filter((s) => s !== ""))].sort();
}

function header(data: ReportData, shown: readonly SectionAnswer[]): string {
  const end = data.generatedAt;
  const start = new Date(Date.parse(end) - data.scope.days * 86_400_000).toISOString();
  const seen = subscriptionsSeen(data);
  const scope =
    data.scope.subscriptions.length > 0
      ? `subscriptions ${data.scope.subscriptions.map((s) => `<code>${escapeHtml(s)}</code>`).join(", ")}`
      : `every subscription with outcomes in the workspace (${String(seen.length)}${seen.length === 0 ? "" : `: ${seen.map((s) => `<code>${escapeHtml(s)}</code>`).join(", ")}`})`;
  const manual = rowsOf(data, TITLES.openManual)?.length;
  const failing = rowsOf(data, TITLES.failingNow)?.length;
  const rollbacks = rowsOf(data, TITLES.rollbacks)?.length;
  const counts = [
    manual === undefined
      ? ""
      : `<li><a href="#needs-a-person"><strong>${String(manual)}</strong> open manual ${manual === 1 ? "item" : "items"}</a></li>`,
    failing === undefined
      ? ""
      : `<li><a href="#failures"><strong>${String(failing)}</strong> failing now</a></li>`,
    rollbacks === undefined
      ? ""
      : `<li><a href="#api-rollout"><strong>${String(rollbacks)}</strong> ${rollbacks === 1 ? "rollback" : "rollbacks"}</a></li>`,
  ].join("");
  const nav = shown.map((s) => `<li><a href="#${slug(s.title)}">${escapeHtml(s.title)}</a></li>`).join("");
  return (
    `<header class="page-header"><h1>autoprotect report</h1>` +
    `<p class="subtitle">Microsoft Defender for Cloud on AKS clusters and API Management APIs, from autoprotect's outcomes in Log Analytics</p>` +
    `<dl class="meta">` +
    `<div><dt>Workspace</dt><dd><code>${escapeHtml(data.workspaceId)}</code></dd></div>` +
    `<div><dt>Scope</dt><dd>${scope}</dd></div>` +
    `<div><dt>Window</dt><dd><time datetime="${start}">${formatTime(start)}</time> to <time datetime="${end}">${formatTime(end)}</time> (${String(data.scope.days)} days)</dd></div>` +
    `<div><dt>Generated</dt><dd><time datetime="${end}">${formatTime(end)}</time></dd></div>` +
    `</dl><ul class="counts">${counts}</ul>` +
    `<nav aria-label="Sections"><ul>${nav}</ul></nav></header>`
  );
}

/** The whole page, as one string of HTML. */
export function renderReportPage(data: ReportData): string {
  resetIds();
  // The agreement check's section is shown inside Coverage, not on its own.
  const shown = data.sections.filter((s) => s.title !== DEFENDER_SECTION);
  const queries = data.sections.reduce((n, s) => n + s.queries.length, 0);
  const title = `autoprotect report: ${formatTime(data.generatedAt)}, last ${String(data.scope.days)} days`;
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta http-equiv="Content-Security-Policy" content="${CONTENT_SECURITY_POLICY}">`,
    '<meta name="color-scheme" content="light dark">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${PAGE_STYLE}</style>`,
    "</head>",
    "<body>",
    '<a class="skip" href="#main">Skip to the report</a>',
    header(data, shown),
    '<main id="main">',
    ...shown.map((section) => sectionHtml(section, data)),
    "</main>",
    `<footer><p>Made by <code>autoprotect report</code> from the ${String(queries)} queries of docs/queries.kql, the same the Azure Monitor workbook runs. ` +
      `Every figure is a cell of the query named beside it: open “Query …” to run it in Log Analytics. ` +
      `This page loads nothing and runs no script.</p></footer>`,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
