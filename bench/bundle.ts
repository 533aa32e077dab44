// Deployment bundle benchmark (issue 6): builds dist/bundle/ with `scripts/bundle.js`, reports its size,
// and times loading it in fresh Node processes against the unbundled build (dist/src/functions/index.js).
// Run by `bench/run.ts`, or on its own after `npm run build`: `node dist/bench/bundle.js [--json] [--runs N]`.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BUNDLE = join(ROOT, "dist/bundle/index.js");
const WHAT_IF = join(ROOT, "dist/bundle-without-telemetry/index.js");
const UNBUNDLED = join(ROOT, "dist/src/functions/index.js");

const MAX_BYTES = 10 * 1024 * 1024;
const MAX_LOAD_MS = 300;
/** Issue 16's targets: with Application Insights on, a median import within 250 ms, and 3 MiB of JavaScript. */
const MAX_LOAD_WITH_TELEMETRY_MS = 250;
const MAX_BYTES_ISSUE_16 = 3 * 1024 * 1024;

/**
 * Runs in each child: stands in for the Functions worker, which answers `@azure/functions-core` in
 * Module.prototype.require (so `@azure/functions` registers triggers rather than falling back to test
 * mode), imports the app, and reports the import's time, the time since the process started, and what
 * was registered. It exits at once, so no exporter or timer outlives the measurement.
 */
const CHILD = `
import Module from "node:module";
import { pathToFileURL } from "node:url";
const registered = [], hooks = [];
class Disposable {
  constructor(callback) { this.callback = callback; }
  dispose() { this.callback?.(); }
  static from(...items) { return new Disposable(() => items.forEach((i) => i?.dispose?.())); }
}
const core = {
  version: "bench", hostVersion: "bench", Disposable,
  log() {}, setProgrammingModel() {}, getProgrammingModel() { return undefined; },
  registerFunction(metadata) {
    const trigger = Object.values(metadata.bindings).find((b) => /trigger$/i.test(b.type));
    registered.push(metadata.name + ":" + trigger?.type);
    return new Disposable();
  },
  registerHook(name) { hooks.push(name); return new Disposable(); },
};
const original = Module.prototype.require;
Module.prototype.require = function (id) {
  return id === "@azure/functions-core" ? core : original.apply(this, arguments);
};
const started = performance.now();
await import(pathToFileURL(process.env.BENCH_ENTRY).href);
const loaded = performance.now();
process.stdout.write(JSON.stringify({
  importMs: loaded - started, sinceStartMs: loaded, rssMiB: process.memoryUsage().rss / 1048576, registered, hooks,
}));
process.exit(0);
`;

/**
 * Application Insights switched on as the Functions host would (the connection string set), pointed at
 * a closed loopback port, with its own usage reporting (statsbeat) off: nothing leaves the machine.
 */
const TELEMETRY_ENV = {
  APPLICATIONINSIGHTS_CONNECTION_STRING:
    "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/;LiveEndpoint=https://127.0.0.1:9/",
  APPLICATIONINSIGHTS_STATSBEAT_DISABLED: "true",
  APPLICATIONINSIGHTS_SDKSTATS_DISABLED: "true",
};

interface ChildResult {
  readonly importMs: number;
  readonly sinceStartMs: number;
  readonly rssMiB: number;
  readonly registered: string[];
  readonly hooks: string[];
  readonly stderr: string;
}

export interface LoadFigures {
  readonly name: string;
  readonly entry: string;
  readonly telemetry: boolean;
  readonly runs: number;
  /** `await import(entry)` in a fresh process. */
  readonly importMs: {
    readonly median: number;
    readonly p90: number;
    readonly min: number;
    readonly max: number;
  };
  /** From the process's start (performance.timeOrigin) to the import's end: Node's own start-up included. */
  readonly sinceProcessStartMedianMs: number;
  readonly rssMedianMiB: number;
  /** Functions registered with the (stand-in) worker, as name:trigger. */
  readonly registered: string[];
  /** Worker hooks registered (Application Insights adds `preInvocation` to carry the host's trace context). */
  readonly hooks: string[];
  /** What the loads wrote to stderr (the first distinct text), empty when nothing. */
  readonly stderr: string;
}

export interface BundleFigures {
  readonly node: string;
  readonly buildMs: number;
  /** index.js, what the worker imports. */
  readonly bundleBytes: number;
  readonly gzipBytes: number;
  /** index.js and the chunks esbuild split off for dynamic import()s: all the JavaScript deployed. */
  readonly totalBytes: number;
  readonly totalGzipBytes: number;
  readonly chunks: number;
  readonly inputs: number;
  /** Bytes in the output by package (the app's own code as "(src)"), largest first. */
  readonly largestPackages: { readonly name: string; readonly bytes: number }[];
  /** Bytes in the output that only src/telemetry/setup.ts brings in (Application Insights, OpenTelemetry). */
  readonly telemetryOnlyBytes: number;
  /** The what-if bundle, the app with src/telemetry/setup.ts a no-op (all its JavaScript). */
  readonly withoutTelemetryBytes: number;
  readonly loads: LoadFigures[];
  /** Today's bundle (bench/baseline.ts), loaded interleaved with this one's: its JavaScript's size. */
  readonly todayTotalBytes?: number;
}

export interface BundleBenchCheck {
  readonly description: string;
  readonly holds: boolean;
  readonly detail: string;
}

function runNode(args: readonly string[]): string {
  const child = spawnSync(process.execPath, args, {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.status !== 0) {
    throw new Error(
      `node ${args.join(" ")} exited with ${String(child.status ?? child.signal)}: ${child.stderr}`,
    );
  }
  return child.stdout;
}

function loadOnce(entry: string, telemetry: boolean): ChildResult {
  const env: NodeJS.ProcessEnv = { ...process.env, BENCH_ENTRY: entry };
  delete env.APPLICATIONINSIGHTS_CONNECTION_STRING;
  if (telemetry) Object.assign(env, TELEMETRY_ENV);
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", CHILD], {
    cwd: ROOT,
    env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 60_000,
  });
  if (child.status !== 0)
    throw new Error(`loading ${entry} exited with ${String(child.status ?? child.signal)}: ${child.stderr}`);
  return { ...(JSON.parse(child.stdout) as Omit<ChildResult, "stderr">), stderr: child.stderr.trim() };
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

interface Metafile {
  readonly inputs: Record<string, { readonly bytes: number; readonly imports: { readonly path: string }[] }>;
  readonly outputs: Record<string, { readonly inputs: Record<string, { readonly bytesInOutput: number }> }>;
}

function readMetafile(name: string): Metafile {
  return JSON.parse(readFileSync(join(ROOT, `dist/${name}.meta.json`), "utf8")) as Metafile;
}

/** The bundle's JavaScript files, from its metafile (paths relative to the repository). */
function jsOutputs(metafile: Metafile): string[] {
  return Object.keys(metafile.outputs).filter((path) => path.endsWith(".js"));
}

function packageOf(input: string): string {
  const matches = [...input.matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)/g)];
  return matches.at(-1)?.[1] ?? "(src)";
}

/** Sizes from the metafile: by package, and what only telemetry's setup module reaches. */
function analyse(
  metafile: Metafile,
): Pick<BundleFigures, "largestPackages" | "telemetryOnlyBytes" | "inputs"> {
  const inOutput = Object.values(metafile.outputs).flatMap((output) => Object.entries(output.inputs));
  const byPackage = new Map<string, number>();
  for (const [input, { bytesInOutput }] of inOutput)
    byPackage.set(packageOf(input), (byPackage.get(packageOf(input)) ?? 0) + bytesInOutput);
  // Everything reachable from the entry without passing through the telemetry setup module.
  const reached = new Set<string>();
  const queue = ["src/functions/index.ts"];
  for (let input = queue.pop(); input !== undefined; input = queue.pop()) {
    if (reached.has(input) || input === "src/telemetry/setup.ts") continue;
    reached.add(input);
    for (const { path } of metafile.inputs[input]?.imports ?? [])
      if (path in metafile.inputs) queue.push(path);
  }
  let telemetryOnlyBytes = 0;
  for (const [input, { bytesInOutput }] of inOutput)
    if (!reached.has(input)) telemetryOnlyBytes += bytesInOutput;
  return {
    inputs: Object.keys(metafile.inputs).length,
    largestPackages: [...byPackage]
      .sort(([, a], [, b]) => b - a)
      .slice(0, 12)
      .map(([name, bytes]) => ({ name, bytes })),
    telemetryOnlyBytes,
  };
}

/**
 * `baselineDist`: today's build (bench/baseline.ts), whose bundle is loaded interleaved with this one's,
 * with and without Application Insights.
 */
export function runBundleBenchmark(runs = 10, baselineDist?: string): BundleFigures {
  if (!existsSync(UNBUNDLED)) throw new Error(`${UNBUNDLED} is missing: run \`npm run build\` first`);
  const started = performance.now();
  runNode(["scripts/bundle.js"]);
  const buildMs = Math.round(performance.now() - started);
  runNode(["scripts/bundle.js", "--without-telemetry"]);

  const bundle = readFileSync(BUNDLE);
  const metafile = readMetafile("bundle");
  const files = jsOutputs(metafile).map((path) => readFileSync(join(ROOT, path)));

  const variants = [
    { name: "bundled", entry: BUNDLE, telemetry: false },
    { name: "unbundled", entry: UNBUNDLED, telemetry: false },
    { name: "bundled, Application Insights on", entry: BUNDLE, telemetry: true },
    { name: "unbundled, Application Insights on", entry: UNBUNDLED, telemetry: true },
    { name: "what-if: bundled without telemetry", entry: WHAT_IF, telemetry: false },
    ...(baselineDist === undefined
      ? []
      : [
          { name: "today: bundled", entry: join(baselineDist, "bundle/index.js"), telemetry: false },
          {
            name: "today: bundled, Application Insights on",
            entry: join(baselineDist, "bundle/index.js"),
            telemetry: true,
          },
        ]),
  ];
  const samples = variants.map(() => [] as ChildResult[]);
  // One load of each first, not counted (the page cache, as on an instance that has the package already).
  for (const v of variants) loadOnce(v.entry, v.telemetry);
  // Interleaved, so the machine's drift hits every variant alike.
  for (let run = 0; run < runs; run++)
    variants.forEach((v, i) => samples[i]?.push(loadOnce(v.entry, v.telemetry)));

  const loads = variants.map((v, i): LoadFigures => {
    const results = samples[i] ?? [];
    const importMs = results.map((r) => r.importMs).sort((a, b) => a - b);
    const sinceStart = results.map((r) => r.sinceStartMs).sort((a, b) => a - b);
    const rss = results.map((r) => r.rssMiB).sort((a, b) => a - b);
    return {
      name: v.name,
      entry: v.entry.startsWith(ROOT) ? v.entry.slice(ROOT.length) : v.entry,
      telemetry: v.telemetry,
      runs: results.length,
      importMs: {
        median: round(percentile(importMs, 0.5)),
        p90: round(percentile(importMs, 0.9)),
        min: round(importMs[0] ?? Number.NaN),
        max: round(importMs.at(-1) ?? Number.NaN),
      },
      sinceProcessStartMedianMs: round(percentile(sinceStart, 0.5)),
      rssMedianMiB: Math.round(percentile(rss, 0.5)),
      registered: results[0]?.registered ?? [],
      hooks: results[0]?.hooks ?? [],
      stderr: [...new Set(results.map((r) => r.stderr).filter((s) => s !== ""))].join("\n").slice(0, 2000),
    };
  });

  return {
    node: process.version,
    buildMs,
    bundleBytes: bundle.length,
    gzipBytes: gzipSync(bundle).length,
    totalBytes: files.reduce((sum, file) => sum + file.length, 0),
    totalGzipBytes: files.reduce((sum, file) => sum + gzipSync(file).length, 0),
    chunks: files.length - 1,
    ...analyse(metafile),
    withoutTelemetryBytes: jsOutputs(readMetafile("bundle-without-telemetry")).reduce(
      (sum, path) => sum + readFileSync(join(ROOT, path)).length,
      0,
    ),
    loads,
    ...(baselineDist === undefined ? {} : { todayTotalBytes: bundleBytesAt(baselineDist) }),
  };
}

/** All the JavaScript of a build's bundle (index.js and its chunks), from the files themselves. */
function bundleBytesAt(dist: string): number {
  const dir = join(dist, "bundle");
  const chunks = join(dir, "chunks");
  return [
    readFileSync(join(dir, "index.js")).length,
    ...(existsSync(chunks)
      ? readdirSync(chunks)
          .filter((f) => f.endsWith(".js"))
          .map((f) => readFileSync(join(chunks, f)).length)
      : []),
  ].reduce((a, b) => a + b, 0);
}

/** The targets (size, load time) and what a working bundle must do, as measured. */
export function bundleBenchChecks(f: BundleFigures): BundleBenchCheck[] {
  const load = (name: string): LoadFigures | undefined => f.loads.find((l) => l.name === name);
  const bundled = load("bundled");
  const unbundled = load("unbundled");
  const bundledOn = load("bundled, Application Insights on");
  const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
  const checks: BundleBenchCheck[] = [
    {
      description: "the bundle's JavaScript (index.js and its chunks) under 10 MiB",
      holds: f.totalBytes < MAX_BYTES,
      detail: `${mib(f.totalBytes)} (${mib(f.totalGzipBytes)} gzip); index.js ${mib(f.bundleBytes)}`,
    },
  ];
  for (const l of [bundled, bundledOn]) {
    if (l === undefined) continue;
    checks.push({
      description: `${l.name}: median load under ${MAX_LOAD_MS} ms`,
      holds: l.importMs.median < MAX_LOAD_MS,
      detail: `median ${l.importMs.median} ms, p90 ${l.importMs.p90} ms`,
    });
  }
  const expected = unbundled?.registered.join(", ") ?? "?";
  for (const l of [bundled, bundledOn]) {
    if (l === undefined) continue;
    checks.push({
      description: `${l.name}: registers the same functions as the unbundled app`,
      holds: l.registered.length > 0 && l.registered.join(", ") === expected,
      detail: l.registered.join(", "),
    });
    checks.push({
      description: `${l.name}: loads without a word on stderr`,
      holds: l.stderr === "",
      detail: l.stderr === "" ? "nothing" : (l.stderr.split("\n")[0] ?? ""),
    });
  }
  if (bundledOn !== undefined)
    checks.push({
      description: "bundled, Application Insights on: the worker's preInvocation hook is registered",
      holds: bundledOn.hooks.includes("preInvocation"),
      detail: bundledOn.hooks.join(", ") || "none",
    });
  // Issue 16, against today's bundle loaded in the same run.
  const todayOff = load("today: bundled");
  const todayOn = load("today: bundled, Application Insights on");
  if (bundledOn !== undefined)
    checks.push({
      description: `bundled, Application Insights on: median import within ${String(MAX_LOAD_WITH_TELEMETRY_MS)} ms (issue 16)`,
      holds: bundledOn.importMs.median <= MAX_LOAD_WITH_TELEMETRY_MS,
      detail:
        `median ${String(bundledOn.importMs.median)} ms` +
        (todayOn === undefined ? "" : `; today ${String(todayOn.importMs.median)} ms`),
    });
  checks.push({
    description: `the bundle's JavaScript within 3 MiB (issue 16)`,
    holds: f.totalBytes <= MAX_BYTES_ISSUE_16,
    detail: mib(f.totalBytes) + (f.todayTotalBytes === undefined ? "" : `; today ${mib(f.todayTotalBytes)}`),
  });
  if (bundled !== undefined && todayOff !== undefined)
    checks.push({
      // Within the spread of loads on this machine (5 %): "no slower" read as not measurably slower.
      description: "bundled, Application Insights off: no slower than today's (within 5 %)",
      holds: bundled.importMs.median <= todayOff.importMs.median * 1.05,
      detail: `median ${String(bundled.importMs.median)} ms; today ${String(todayOff.importMs.median)} ms`,
    });
  return checks;
}

export function formatBundleReport(f: BundleFigures): string {
  const kib = (bytes: number): string => `${Math.round(bytes / 1024).toLocaleString("en")} KiB`;
  let text =
    `deployment bundle (node ${f.node}): dist/bundle/index.js ${kib(f.bundleBytes)} (${kib(f.gzipBytes)} gzip); ` +
    `with its ${f.chunks} chunks ${kib(f.totalBytes)} (${kib(f.totalGzipBytes)} gzip), from ${f.inputs} inputs, ` +
    `built in ${f.buildMs} ms; ${kib(f.telemetryOnlyBytes)} of it only telemetry reaches ` +
    `(the what-if without telemetry: ${kib(f.withoutTelemetryBytes)})\n`;
  text += `  largest: ${f.largestPackages
    .slice(0, 8)
    .map((p) => `${p.name} ${kib(p.bytes)}`)
    .join(", ")}\n`;
  for (const l of f.loads) {
    text +=
      `  load, ${l.name}: median ${l.importMs.median} ms, p90 ${l.importMs.p90} ms ` +
      `(${l.runs} fresh processes; ${l.sinceProcessStartMedianMs} ms from process start; RSS ${l.rssMedianMiB} MiB)\n`;
  }
  for (const check of bundleBenchChecks(f))
    text += `${check.holds ? "PASS" : "FAIL"} ${check.description}: ${check.detail}\n`;
  return text;
}

// Run directly (`node dist/bench/bundle.js`), not when bench/run.ts imports it. Node resolves the main
// module's symlinks for import.meta.url but not for argv, hence realpath.
const script = process.argv[1];
const invokedDirectly =
  script !== undefined && existsSync(script) && realpathSync(script) === fileURLToPath(import.meta.url);

if (invokedDirectly) {
  const { values } = parseArgs({
    options: { json: { type: "boolean" }, runs: { type: "string" }, baseline: { type: "string" } },
  });
  // `--baseline dist/baseline/dist`: today's build as `npm run bench` left it, loaded side by side.
  const figures = runBundleBenchmark(Number(values.runs ?? 10), values.baseline);
  process.stdout.write(
    values.json === true
      ? `${JSON.stringify({ figures, checks: bundleBenchChecks(figures) })}\n`
      : formatBundleReport(figures),
  );
}
