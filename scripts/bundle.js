// `npm run bundle`: the deployment package of the Functions app (issue 6), in dist/bundle/:
//   index.js      src/functions/index.ts and everything it imports, @azure/functions and the Azure SDKs
//                 included, minified ES modules for Node 22; chunks/ holds what dependencies load with
//                 import() (and what index.js shares with it), read when that import runs
//   package.json  "main": "index.js", "type": "module", no dependencies: nothing to install
//   host.json     as in the repository
// dist/bundle/ is the app's root as deployed (zip its contents); nothing outside it is needed. The
// metafile (every input, its bytes in each output) goes beside it, to dist/bundle.meta.json, so it is
// not deployed. The build fails if anything from sim/, src/cli/, test/ or bench/ gets in, or if an
// import is left to resolve at run time other than Node's own modules and `@azure/functions-core`.
// `--sourcemap` adds linked source maps (for Node's --enable-source-maps); `--no-dedupe` keeps each
// nested copy of the same package version (see `dedupe` below). `--without-telemetry` is a what-if for
// the benchmark, never for deployment: src/telemetry/setup.ts (Application Insights, OpenTelemetry)
// replaced by a no-op, in dist/bundle-without-telemetry/, to show what loading it only when switched
// on would save.
import { build } from "esbuild";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { isBuiltin } from "node:module";
import { dirname, join, relative, sep } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const withoutTelemetry = process.argv.includes("--without-telemetry");
const name = withoutTelemetry ? "bundle-without-telemetry" : "bundle";
const outdir = join(root, "dist", name);
const metafilePath = join(root, "dist", `${name}.meta.json`);
const sourcemap = process.argv.includes("--sourcemap");
const dedupeCopies = !process.argv.includes("--no-dedupe");

/** Source that must never ship in the Functions app: the simulator, the command line, tests, benchmarks. */
const FORBIDDEN = [/^sim\//, /^src\/cli\//, /^test\//, /^bench\//];

// CommonJS code inside an ES module has no `require`, `__filename` or `__dirname`: esbuild's `require`
// shim calls the real one when there is one, so define them. `require` is Node's own, made from this
// module's URL, which is how `@azure/functions` and `@azure/monitor-opentelemetry` reach
// `@azure/functions-core` (the Functions worker answers that name in Module.prototype.require).
const banner = [
  'import { createRequire as __bundleCreateRequire } from "node:module";',
  'import { dirname as __bundleDirname } from "node:path";',
  'import { fileURLToPath as __bundleFileURLToPath } from "node:url";',
  "const require = __bundleCreateRequire(import.meta.url);",
  "const __filename = __bundleFileURLToPath(import.meta.url);",
  "const __dirname = __bundleDirname(__filename);",
].join("\n");

function packageRoot(file) {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (!existsSync(manifest)) continue;
    const { name, version } = JSON.parse(readFileSync(manifest, "utf8"));
    if (typeof name === "string" && typeof version === "string") return { dir, id: `${name}@${version}` };
  }
  return undefined;
}

/**
 * npm leaves many copies of one package version in nested node_modules folders (14 of
 * `@opentelemetry/core@2.10.0`, because the top-level slot holds another version); a bundle would
 * carry, and run, each of them. This resolves every copy of a name@version to the first one found, as
 * Node would if npm could hoist it: same code, one module instance.
 */
function dedupe(stats) {
  return {
    name: "dedupe-package-copies",
    setup(b) {
      const first = new Map();
      b.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === dedupe) return undefined;
        const resolved = await b.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: dedupe,
        });
        if (resolved.errors.length > 0) return undefined;
        if (resolved.external || !resolved.path.includes(`${sep}node_modules${sep}`)) return resolved;
        const pkg = packageRoot(resolved.path);
        if (pkg === undefined) return resolved;
        const kept = first.get(pkg.id);
        if (kept === undefined) first.set(pkg.id, pkg.dir);
        if (kept === undefined || kept === pkg.dir) return resolved;
        stats.redirected.add(relative(root, pkg.dir));
        return { ...resolved, path: join(kept, relative(pkg.dir, resolved.path)) };
      });
    },
  };
}

/**
 * Parts of OpenTelemetry's Node SDK that `applicationinsights` carries in and autoprotect never reaches:
 * exporters and parsers that only `OTEL_*_EXPORTER` variables, OTLP options or an OpenTelemetry
 * configuration file select (gRPC, protobuf, YAML, Prometheus, Zipkin, Jaeger). Each is bundled as a
 * stub that throws, naming itself, if it is ever used; loading it costs nothing. Application Insights'
 * own exporter, the SDK's trace, metric and log providers and the instrumentations stay whole.
 */
export const UNREACHED_TELEMETRY_PACKAGES = [
  "@opentelemetry/configuration",
  "@opentelemetry/exporter-trace-otlp-grpc",
  "@opentelemetry/exporter-trace-otlp-http",
  "@opentelemetry/exporter-trace-otlp-proto",
  "@opentelemetry/exporter-metrics-otlp-grpc",
  "@opentelemetry/exporter-metrics-otlp-http",
  "@opentelemetry/exporter-metrics-otlp-proto",
  "@opentelemetry/exporter-logs-otlp-grpc",
  "@opentelemetry/exporter-logs-otlp-http",
  "@opentelemetry/exporter-logs-otlp-proto",
  "@opentelemetry/otlp-grpc-exporter-base",
  "@opentelemetry/otlp-transformer",
  "@opentelemetry/exporter-prometheus",
  "@opentelemetry/exporter-zipkin",
  "@opentelemetry/propagator-jaeger",
  "@grpc/grpc-js",
  "@grpc/proto-loader",
  "protobufjs",
  "yaml",
  // Made only inside a winston logger the winston instrumentation patched; no winston is in the bundle.
  "@opentelemetry/winston-transport",
];

const stubSource = (name) => `
// ${name}: see UNREACHED_TELEMETRY_PACKAGES in scripts/bundle.js.
const fail = () => {
  throw new Error(${JSON.stringify(
    `${name} is not in autoprotect's deployment bundle: only OTEL_* exporter variables, OTLP options or an OpenTelemetry configuration file use it`,
  )});
};
const handler = {
  get: (_target, key) => (key === "__esModule" ? true : typeof key === "symbol" ? undefined : stub),
  apply: fail,
  construct: fail,
};
const stub = new Proxy(function () {}, handler);
module.exports = new Proxy({}, { get: handler.get });
`;

function unreachedTelemetry(stats) {
  const names = new Set(UNREACHED_TELEMETRY_PACKAGES);
  return {
    name: "unreached-telemetry",
    setup(b) {
      b.onResolve({ filter: /^[@a-z]/ }, (args) => {
        const name = args.path.startsWith("@")
          ? args.path.split("/").slice(0, 2).join("/")
          : args.path.split("/")[0];
        if (!names.has(name)) return undefined;
        stats.stubbed.add(name);
        return { path: name, namespace: "unreached-telemetry" };
      });
      b.onLoad({ filter: /.*/, namespace: "unreached-telemetry" }, (args) => ({
        contents: stubSource(args.path),
        loader: "js",
      }));
    },
  };
}

/**
 * Azure SDK packages ship an ES module and a CommonJS build. The app imports the first; the telemetry
 * distribution (`@azure/monitor-opentelemetry`, CommonJS) requires the second, and the bundle would
 * carry both (the identity library and MSAL twice, the HTTP pipeline twice). Resolving those requires to
 * the ES module build gives one copy, one module instance.
 */
function oneAzureSdkCopy(stats) {
  return {
    name: "one-azure-sdk-copy",
    setup(b) {
      b.onResolve(
        { filter: /^(@azure\/|@azure-rest\/|@typespec\/ts-http-runtime|@opentelemetry\/)/ },
        async (args) => {
          if (args.kind !== "require-call" || args.pluginData === oneAzureSdkCopy) return undefined;
          const resolved = await b.resolve(args.path, {
            kind: "import-statement",
            importer: args.importer,
            resolveDir: args.resolveDir,
            pluginData: oneAzureSdkCopy,
          });
          if (resolved.errors.length > 0) return undefined;
          stats.esmForRequire.add(args.path);
          return resolved;
        },
      );
    },
  };
}

/** The what-if: telemetry's setup module, and so everything only it imports, left out. */
const noTelemetry = {
  name: "no-telemetry",
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/]telemetry[\\/]setup\.ts$/ }, () => ({
      contents:
        "export function traceAzureSdkCalls() {}\nexport function startTelemetry() { return false; }\n",
      loader: "ts",
    }));
  },
};

const started = performance.now();
rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
const stats = { redirected: new Set(), stubbed: new Set(), esmForRequire: new Set() };
const result = await build({
  absWorkingDir: root,
  entryPoints: ["src/functions/index.ts"],
  outdir,
  entryNames: "[name]",
  // A dynamic import() becomes a chunk of its own, read only when the import runs (there is none yet).
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  platform: "node",
  target: "node22",
  format: "esm",
  minify: true,
  sourcemap: sourcemap ? "linked" : false,
  metafile: true,
  banner: { js: banner },
  // Provided by the Functions worker at run time, not an npm package.
  external: ["@azure/functions-core"],
  plugins: [
    unreachedTelemetry(stats),
    oneAzureSdkCopy(stats),
    ...(dedupeCopies ? [dedupe(stats)] : []),
    ...(withoutTelemetry ? [noTelemetry] : []),
  ],
  logLevel: "warning",
});
writeFileSync(metafilePath, JSON.stringify(result.metafile));

const forbidden = Object.keys(result.metafile.inputs).filter((input) =>
  FORBIDDEN.some((pattern) => pattern.test(input)),
);
if (forbidden.length > 0) {
  rmSync(outdir, { recursive: true, force: true });
  process.stderr.write(`bundle: these must not be in the Functions app:\n  ${forbidden.join("\n  ")}\n`);
  process.exit(1);
}
// Whatever esbuild left as an import must be there at run time: Node's own modules, the worker's, and
// the bundle's own chunks.
const outputs = Object.keys(result.metafile.outputs);
if (!outputs.includes(relative(root, join(outdir, "index.js")).split(sep).join("/")))
  throw new Error("bundle: the metafile has no index.js output");
const externals = [
  ...new Set(
    Object.values(result.metafile.outputs)
      .flatMap((output) => output.imports)
      .filter((i) => !outputs.includes(i.path))
      .map((i) => i.path)
      .filter((path) => !isBuiltin(path) && path !== "@azure/functions-core"),
  ),
];
if (externals.length > 0) {
  rmSync(outdir, { recursive: true, force: true });
  process.stderr.write(
    `bundle: left outside the bundle, and not in the deployment: ${externals.join(", ")}\n`,
  );
  process.exit(1);
}

const project = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const manifest = {
  name: project.name,
  version: project.version,
  private: true,
  description: `${project.description} (deployment bundle: every dependency is inside)`,
  type: "module",
  main: "index.js",
  engines: { node: ">=22" },
};
writeFileSync(join(outdir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
copyFileSync(join(root, "host.json"), join(outdir, "host.json"));

const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
const chunks = outputs.filter((path) => path.endsWith(".js") && !path.endsWith("/index.js"));
const chunkBytes = chunks.reduce((sum, path) => sum + readFileSync(join(root, path)).length, 0);
process.stdout.write(
  `bundle: dist/${name}/index.js ${mib(readFileSync(join(outdir, "index.js")).length)}` +
    ` and ${chunks.length} chunks ${mib(chunkBytes)}` +
    ` from ${Object.keys(result.metafile.inputs).length} inputs` +
    (dedupeCopies ? `, ${stats.redirected.size} duplicate package copies folded` : "") +
    `, ${stats.stubbed.size} unreached telemetry packages stubbed, ${stats.esmForRequire.size} Azure SDK requires served by their ES modules` +
    ` in ${Math.round(performance.now() - started)} ms; metafile dist/${name}.meta.json\n`,
);
