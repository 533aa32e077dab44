/**
 * The page's stylesheet, inlined. Colours: the Okabe–Ito palette (told apart with every common colour
 * blindness; on white, its orange, purple and vermillion a shade darker so lines keep 3:1 contrast),
 * with dashes, markers and hatching as second cues, so a greyscale printout still reads; text always
 * in the text colours; a dark scheme when the reader's system asks for it; light again on paper.
 */
export const PAGE_STYLE = `
:root {
  color-scheme: light dark;
  --bg: #ffffff; --fg: #1b1f24; --muted: #57606a; --line: #c9d1d9; --grid: #eaeef2; --panel: #f6f8fa;
  --accent: #0072b2; --link: #005a8c;
  --compliant: #009e73; --remediated: #56b4e9; --planned: #cc79a7; --deferred: #e69f00;
  --manual: #d55e00; --failed: #1b1f24; --skipped: #aeb6bf;
  --covered: #008060; --onboarded: #0072b2; --pending: #a86500; --capacity: #1b1f24;
  --limit: #b0508a; --critical: #c04f00;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1419; --fg: #e6edf3; --muted: #9da7b3; --line: #3d444d; --grid: #262c33; --panel: #161b22;
    --accent: #56b4e9; --link: #7cc4f0; --failed: #e6edf3; --capacity: #e6edf3; --onboarded: #56b4e9;
    --skipped: #5c6670; --covered: #009e73; --pending: #e69f00; --limit: #cc79a7; --critical: #e0702a;
  }
}
@media print {
  :root {
    --bg: #ffffff; --fg: #000000; --muted: #444444; --line: #999999; --grid: #dddddd; --panel: #ffffff;
    --failed: #000000; --capacity: #000000; --onboarded: #0072b2; --skipped: #aeb6bf; --link: #000000;
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--fg);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Liberation Sans", sans-serif;
}
a { color: var(--link); }
a:focus-visible, summary:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; font-size: 0.86em; }
code { overflow-wrap: anywhere; }
.skip { position: absolute; left: -999px; top: 0; background: var(--bg); padding: 8px; }
.skip:focus { left: 8px; }
.page-header, main, footer { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
.page-header { padding-top: 24px; border-bottom: 1px solid var(--line); }
h1 { font-size: 1.9rem; margin: 0 0 4px; }
h2 { font-size: 1.5rem; margin: 40px 0 4px; padding-top: 8px; border-top: 3px solid var(--fg); }
h3 { font-size: 1.15rem; margin: 28px 0 8px; }
h4 { font-size: 1rem; margin: 16px 0 6px; }
.subtitle, .lede, .note { color: var(--muted); margin: 0 0 12px; }
.meta { display: grid; grid-template-columns: repeat(auto-fit, minmax(240px, 1fr)); gap: 8px 24px; margin: 16px 0; }
.meta div { min-width: 0; }
.meta dt { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.04em; color: var(--muted); }
.meta dd { margin: 0; overflow-wrap: anywhere; }
.counts, nav ul { list-style: none; padding: 0; margin: 12px 0; display: flex; flex-wrap: wrap; gap: 8px 20px; }
.counts a { text-decoration: none; color: var(--fg); border: 1px solid var(--line); border-radius: 6px; padding: 4px 10px; display: inline-block; }
nav { padding-bottom: 12px; }
.headline { font-size: 1.1rem; margin: 8px 0 16px; }
.headline .big { font-size: 2.6rem; font-weight: 700; line-height: 1; margin-right: 6px; color: var(--fg); }
.block { margin-bottom: 8px; }
.table-wrap { overflow-x: auto; max-width: 100%; margin: 8px 0; }
table { border-collapse: collapse; font-size: 0.9rem; width: 100%; }
caption { text-align: left; font-size: 0.8rem; color: var(--muted); padding: 0 0 4px; }
th, td { text-align: left; vertical-align: top; padding: 6px 10px; border-bottom: 1px solid var(--line); }
th { font-weight: 600; border-bottom: 2px solid var(--line); white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) { background: var(--panel); }
.rid { display: block; min-width: 16em; }
.rid b { font-weight: 600; }
.rid .id, p.id { display: block; font-size: 0.75rem; color: var(--muted); word-break: break-all; margin: 0; }
.none { color: var(--muted); }
.overdue { color: var(--manual); }
.empty { color: var(--muted); font-style: italic; }
.bar-cell { display: flex; align-items: center; gap: 8px; min-width: 150px; }
.bar-track { flex: 1 1 auto; height: 12px; background: var(--grid); border-radius: 2px; overflow: hidden; min-width: 60px; }
.bar { display: block; height: 100%; background: var(--covered); }
.bar.failed { background: var(--failed); }
.bar-value { flex: 0 0 auto; min-width: 4.2em; text-align: right; font-variant-numeric: tabular-nums; }
.stack { display: flex; height: 28px; border: 1px solid var(--line); border-radius: 3px; overflow: hidden; margin: 8px 0; }
.segment, .swatch { background: var(--skipped); }
.swatch { display: inline-block; width: 14px; height: 14px; margin-right: 6px; vertical-align: -2px; border: 1px solid var(--line); }
.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 4px 18px; margin: 0 0 8px; font-size: 0.9rem; }
.s-compliant { background: var(--compliant); }
.s-remediated { background: var(--remediated); }
.s-planned { background: repeating-linear-gradient(135deg, var(--planned) 0 4px, var(--bg) 4px 6px); }
.s-deferred { background: var(--deferred); }
.s-manual { background: repeating-linear-gradient(45deg, var(--manual) 0 4px, var(--bg) 4px 6px); }
.s-failed { background: var(--failed); }
.s-skipped { background: var(--skipped); }
.multiples { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 8px 24px; }
figure { margin: 0; }
figcaption { font-weight: 600; font-size: 0.9rem; }
.chart { display: block; width: 100%; height: auto; }
.chart-wrap { overflow-x: auto; }
.service { border: 1px solid var(--line); border-radius: 8px; padding: 4px 16px 12px; margin: 16px 0; }
.service h3 { margin-top: 12px; margin-bottom: 0; }
.chart .grid { stroke: var(--grid); }
.chart .baseline, .chart .tick-mark { stroke: var(--line); }
.chart .tick, .chart .axis-label { fill: var(--muted); font-size: 11px; }
.chart .line { stroke-width: 2.2; fill: none; }
.chart .line.covered-line { stroke: var(--covered); }
.chart .line.onboarded { stroke: var(--onboarded); }
.chart .line.pending { stroke: var(--pending); stroke-dasharray: 7 3; }
.chart .line.capacity { stroke: var(--capacity); }
.chart .line.limit { stroke: var(--limit); stroke-dasharray: 9 4; stroke-width: 1.6; }
.chart .line.critical { stroke: var(--critical); stroke-dasharray: 12 3 2 3; stroke-width: 1.6; }
.chart .mark { stroke: var(--bg); stroke-width: 1; }
.chart .mark.covered-line { fill: var(--covered); }
.chart .mark.onboarded { fill: var(--onboarded); }
.chart .mark.pending { fill: var(--pending); }
.chart .mark.capacity { fill: var(--capacity); }
.chart .mark.limit, .chart .mark.critical { fill: none; stroke: none; }
.chart .direct { font-size: 12px; font-weight: 600; fill: var(--fg); }
.chart .line.key { stroke-width: 3; }
.chart .event-line { stroke: var(--fg); stroke-dasharray: 2 3; stroke-width: 1.4; }
.chart .mark.event-mark { fill: var(--fg); stroke: none; }
.chart .event-label { font-size: 11px; font-weight: 600; fill: var(--fg); }
details { margin: 6px 0; }
summary { cursor: pointer; color: var(--muted); font-size: 0.9rem; }
details.kql pre { background: var(--panel); border: 1px solid var(--line); padding: 10px; overflow-x: auto; white-space: pre; }
details.kql p { font-size: 0.9rem; color: var(--muted); }
.defender { border-left: 4px solid var(--line); padding-left: 12px; }
footer { border-top: 1px solid var(--line); margin-top: 48px; padding-top: 12px; padding-bottom: 32px; color: var(--muted); font-size: 0.85rem; }
@media (max-width: 640px) {
  .page-header, main, footer { padding: 0 12px; }
  h1 { font-size: 1.5rem; }
  .headline .big { font-size: 2rem; }
  .chart-wrap .chart { min-width: 560px; }
  th, td { padding: 5px 6px; }
}
@media print {
  body { font-size: 10.5pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .skip, nav, details.kql { display: none; }
  .page-header, main, footer { max-width: none; padding: 0; }
  h2 { break-before: page; }
  .report-section:first-of-type h2 { break-before: avoid; }
  .block, .service, figure, tr { break-inside: avoid; }
  .counts a, a { color: var(--fg); text-decoration: none; }
  .table-wrap, .chart-wrap { overflow: visible; }
}
`
  .replace(/\n\s*/g, "\n")
  .trim();
