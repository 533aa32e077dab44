/**
 * The page's charts, drawn as plain SVG when the page is made: no script, no library, nothing fetched.
 * Every mark carries the query, row and column it shows (`data-query`, `data-row`, `data-column`,
 * `data-value`) and a `<title>` (the browser's tooltip, and what a screen reader says); every chart has
 * a title and a description. Colours come from CSS classes (the Okabe–Ito palette, safe for colour
 * blindness), and series differ in dash and marker shape too, so they survive greyscale print.
 */
import { escapeHtml, formatNumber, formatTime } from "./format.js";

/** Where a mark's value comes from: a row of a documented query. */
export interface Source {
  readonly query: string;
  readonly row: number;
  readonly column: string;
  readonly value: unknown;
}

export function sourceAttributes(source: Source): string {
  return (
    ` data-query="${escapeHtml(source.query)}" data-row="${String(source.row)}"` +
    ` data-column="${escapeHtml(source.column)}" data-value="${escapeHtml(JSON.stringify(source.value))}"`
  );
}

let chartCounter = 0;

/** A unique id within the page, for aria-labelledby and the like. */
export function nextId(prefix: string): string {
  chartCounter += 1;
  return `${prefix}-${String(chartCounter)}`;
}

export function resetIds(): void {
  chartCounter = 0;
}

function fixed(value: number): string {
  return (Math.round(value * 10) / 10).toFixed(1).replace(/\.0$/, "");
}

// ---------------------------------------------------------------------------------------------------
// Scales and ticks

interface Scale {
  (value: number): number;
}

function linear(domain: readonly [number, number], range: readonly [number, number]): Scale {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 === 0 ? 1 : d1 - d0;
  return (value) => r0 + ((value - d0) / span) * (r1 - r0);
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const TIME_STEPS = [
  MINUTE,
  5 * MINUTE,
  10 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  HOUR,
  2 * HOUR,
  3 * HOUR,
  6 * HOUR,
  12 * HOUR,
  DAY,
  2 * DAY,
  7 * DAY,
  14 * DAY,
];

/** Round times for an axis from start to end: at most `max` of them. */
export function timeTicks(start: number, end: number, max = 6): { step: number; ticks: number[] } {
  const span = Math.max(end - start, MINUTE);
  const step = TIME_STEPS.find((s) => span / s <= max) ?? 30 * DAY;
  const ticks: number[] = [];
  for (let t = Math.ceil(start / step) * step; t <= end; t += step) ticks.push(t);
  return { step, ticks };
}

function timeLabel(t: number, step: number, previous: number | undefined): string {
  const iso = new Date(t).toISOString();
  const day = iso.slice(5, 10);
  if (step >= DAY) return day;
  const clock = iso.slice(11, 16);
  const newDay = previous === undefined || new Date(previous).toISOString().slice(0, 10) !== iso.slice(0, 10);
  return newDay ? `${day} ${clock}` : clock;
}

/** Up to `max` round values from 0 to at least `top`. */
export function valueTicks(top: number, max = 5): number[] {
  const target = Math.max(top, 1) / max;
  const magnitude = 10 ** Math.floor(Math.log10(target));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= target) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let v = 0; v <= top + step * 0.001 || ticks.length < 2; v += step)
    ticks.push(Math.round(v * 1e6) / 1e6);
  return ticks;
}

interface Frame {
  readonly x: Scale;
  readonly y: Scale;
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
}

function yAxis(frame: Frame, ticks: readonly number[], unit: string, label: string): string {
  const lines = ticks.map((v) => {
    const y = fixed(frame.y(v));
    return (
      `<line class="grid" x1="${fixed(frame.left)}" x2="${fixed(frame.right)}" y1="${y}" y2="${y}"/>` +
      `<text class="tick" x="${fixed(frame.left - 6)}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeHtml(formatNumber(v))}${unit === "%" ? " %" : ""}</text>`
    );
  });
  const middle = fixed((frame.top + frame.bottom) / 2);
  return (
    `<g class="axis y" aria-hidden="true">${lines.join("")}` +
    `<text class="axis-label" transform="translate(12 ${middle}) rotate(-90)" text-anchor="middle">${escapeHtml(label)}</text></g>`
  );
}

function xAxis(frame: Frame, start: number, end: number, at: number, max = 6): string {
  const { step, ticks } = timeTicks(start, end, max);
  const parts = ticks.map((t, i) => {
    const x = fixed(frame.x(t));
    return (
      `<line class="tick-mark" x1="${x}" x2="${x}" y1="${fixed(at)}" y2="${fixed(at + 4)}"/>` +
      `<text class="tick" x="${x}" y="${fixed(at + 16)}" text-anchor="middle">${escapeHtml(timeLabel(t, step, ticks[i - 1]))}</text>`
    );
  });
  return (
    `<g class="axis x" aria-hidden="true"><line class="baseline" x1="${fixed(frame.left)}" x2="${fixed(frame.right)}" y1="${fixed(at)}" y2="${fixed(at)}"/>` +
    `${parts.join("")}<text class="axis-label" x="${fixed(frame.right)}" y="${fixed(at + 30)}" text-anchor="end">time (UTC)</text></g>`
  );
}

// ---------------------------------------------------------------------------------------------------
// Marks

export type Marker = "circle" | "square" | "diamond" | "triangle";

function marker(kind: Marker, x: number, y: number, cls: string, title: string, source: Source): string {
  const attrs = `class="mark ${cls}"${sourceAttributes(source)}`;
  const tip = `<title>${escapeHtml(title)}</title>`;
  switch (kind) {
    case "circle":
      return `<circle ${attrs} cx="${fixed(x)}" cy="${fixed(y)}" r="3.5">${tip}</circle>`;
    case "square":
      return `<rect ${attrs} x="${fixed(x - 3.5)}" y="${fixed(y - 3.5)}" width="7" height="7">${tip}</rect>`;
    case "diamond":
      return `<path ${attrs} d="M${fixed(x)} ${fixed(y - 4.5)}L${fixed(x + 4.5)} ${fixed(y)}L${fixed(x)} ${fixed(y + 4.5)}L${fixed(x - 4.5)} ${fixed(y)}Z">${tip}</path>`;
    case "triangle":
      return `<path ${attrs} d="M${fixed(x - 5)} ${fixed(y - 8)}L${fixed(x + 5)} ${fixed(y - 8)}L${fixed(x)} ${fixed(y)}Z">${tip}</path>`;
  }
}

export interface Point {
  readonly t: number;
  readonly value: number;
  readonly source: Source;
}

export interface Series {
  readonly name: string;
  /** CSS class: colour and dash. */
  readonly cls: string;
  readonly marker: Marker;
  /** A step line (a count that holds until the next reading) or a straight one (a sampled reading). */
  readonly step: boolean;
  readonly unit: string;
  readonly points: readonly Point[];
  /** The label at the line's end says only the value (a chart of one series, titled elsewhere). */
  readonly valueOnly?: boolean;
}

function pathOf(series: Series, frame: Frame, end: number): string {
  const sorted = [...series.points].sort((a, b) => a.t - b.t);
  const first = sorted[0];
  if (first === undefined) return "";
  let d = `M${fixed(frame.x(first.t))} ${fixed(frame.y(first.value))}`;
  for (const point of sorted.slice(1)) {
    if (series.step) d += `H${fixed(frame.x(point.t))}`;
    d += `${series.step ? "V" : `L${fixed(frame.x(point.t))} `}${fixed(frame.y(point.value))}`;
  }
  // A count holds until the window's end.
  if (series.step) d += `H${fixed(frame.x(end))}`;
  return `<path class="line ${series.cls}" d="${d}" fill="none"/>`;
}

function seriesMarks(series: Series, frame: Frame): string {
  return series.points
    .map((p) =>
      marker(
        series.marker,
        frame.x(p.t),
        frame.y(p.value),
        series.cls,
        `${formatTime(new Date(p.t).toISOString())}: ${series.name} ${formatNumber(p.value)}${series.unit === "" ? "" : ` ${series.unit}`}`,
        p.source,
      ),
    )
    .join("");
}

/** The last value of each series, written at the right edge, nudged apart so labels do not overlap. */
function directLabels(series: readonly Series[], frame: Frame): string {
  const labels = series
    .map((s) => {
      const last = [...s.points].sort((a, b) => a.t - b.t).at(-1);
      if (last === undefined) return undefined;
      return {
        y: frame.y(last.value),
        text: `${s.valueOnly === true ? "" : `${s.name} `}${formatNumber(last.value)}${s.unit === "" ? "" : ` ${s.unit}`}`,
        cls: s.cls,
        valueOnly: s.valueOnly === true,
      };
    })
    .filter((l): l is { y: number; text: string; cls: string; valueOnly: boolean } => l !== undefined)
    .sort((a, b) => a.y - b.y);
  for (let i = 1; i < labels.length; i += 1) {
    const above = labels[i - 1];
    const label = labels[i];
    if (above !== undefined && label !== undefined && label.y - above.y < 13) label.y = above.y + 13;
  }
  return labels
    .map(
      (l) =>
        // A sample of the line (its colour and dash) keys the label; the text itself stays in the
        // page's text colour, readable whatever the series' colour.
        (l.valueOnly
          ? ""
          : `<line class="line key ${l.cls}" x1="${fixed(frame.right + 6)}" x2="${fixed(frame.right + 24)}" y1="${fixed(l.y)}" y2="${fixed(l.y)}"/>`) +
        `<text class="direct" x="${fixed(frame.right + (l.valueOnly ? 8 : 28))}" y="${fixed(l.y)}" dominant-baseline="middle">${escapeHtml(l.text)}</text>`,
    )
    .join("");
}

export interface Panel {
  readonly label: string;
  readonly unit: string;
  /** The top of the value axis (at least the largest value). */
  readonly top: number;
  readonly series: readonly Series[];
}

export interface EventMark {
  readonly t: number;
  readonly label: string;
  readonly source: Source;
}

export interface TimeChart {
  readonly title: string;
  readonly description: string;
  readonly start: number;
  readonly end: number;
  readonly panels: readonly Panel[];
  /** Vertical markers across every panel (rollbacks). */
  readonly events?: readonly EventMark[];
  readonly width?: number;
  readonly panelHeight?: number;
  readonly labelWidth?: number;
  readonly maxTicks?: number;
}

/** Panels stacked over one time axis, each with its value axis; events marked across all of them. */
export function timeChart(chart: TimeChart): string {
  const width = chart.width ?? 640;
  const panelHeight = chart.panelHeight ?? 120;
  const gap = 34;
  const left = 56;
  const right = width - (chart.labelWidth ?? 150);
  const top = 26;
  const height = top + chart.panels.length * panelHeight + (chart.panels.length - 1) * gap + 40;
  const x = linear([chart.start, chart.end], [left, right]);
  const titleId = nextId("chart-title");
  const descId = nextId("chart-desc");
  const parts: string[] = [];
  chart.panels.forEach((panel, index) => {
    const panelTop = top + index * (panelHeight + gap);
    const ticks = valueTicks(panel.top, 4);
    const topValue = ticks.at(-1) ?? panel.top;
    const frame: Frame = {
      x,
      y: linear([0, topValue], [panelTop + panelHeight, panelTop]),
      left,
      right,
      top: panelTop,
      bottom: panelTop + panelHeight,
    };
    parts.push(`<g class="panel">`);
    parts.push(yAxis(frame, ticks, panel.unit, panel.label));
    for (const series of panel.series) parts.push(pathOf(series, frame, chart.end));
    for (const series of panel.series) parts.push(seriesMarks(series, frame));
    parts.push(directLabels(panel.series, frame));
    parts.push(`</g>`);
  });
  const bottom = top + chart.panels.length * panelHeight + (chart.panels.length - 1) * gap;
  for (const event of chart.events ?? []) {
    const ex = fixed(x(event.t));
    parts.push(
      `<g class="event"><line class="event-line" x1="${ex}" x2="${ex}" y1="${fixed(top - 8)}" y2="${fixed(bottom)}"/>` +
        marker(
          "triangle",
          x(event.t),
          top - 4,
          "event-mark",
          `${formatTime(new Date(event.t).toISOString())}: ${event.label}`,
          event.source,
        ) +
        `<text class="event-label" x="${fixed(x(event.t) + 7)}" y="${fixed(top - 12)}">${escapeHtml(event.label)}</text></g>`,
    );
  }
  const frame: Frame = { x, y: (v) => v, left, right, top, bottom };
  parts.push(xAxis(frame, chart.start, chart.end, bottom, chart.maxTicks ?? 6));
  return (
    `<svg class="chart" viewBox="0 0 ${String(width)} ${String(height)}" role="img" aria-labelledby="${titleId} ${descId}" preserveAspectRatio="xMidYMid meet">` +
    `<title id="${titleId}">${escapeHtml(chart.title)}</title><desc id="${descId}">${escapeHtml(chart.description)}</desc>` +
    `${parts.join("")}</svg>`
  );
}
