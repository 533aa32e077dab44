// The Bicep CLI for infra/: finds it (or restores the pinned version from NuGet with dotnet into
// .tools/), then builds, lints or checks the committed ARM template.
//
//   node scripts/bicep.js build   compile infra/main.bicep to infra/main.json
//   node scripts/bicep.js lint    lint every .bicep under infra/; any warning fails
//   node scripts/bicep.js check   fail if infra/main.json is not what infra/main.bicep compiles to
//   node scripts/bicep.js path    print the Bicep CLI it would use
//
// Where the CLI comes from, in order: $BICEP; the pinned version already restored in .tools/;
// `bicep` on PATH if it is the pinned version; a restore with dotnet into .tools/; `bicep` on PATH
// of another version (its output may differ from the committed main.json). With none of these,
// one line says so and the exit status is 3, so callers can skip.
//
// Exit status: 0 done, 1 failed (compile error, lint warning, stale main.json), 2 bad usage,
// 3 no Bicep CLI and no dotnet to restore one.
import { spawnSync } from "node:child_process";
import {
  existsSync,
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const BICEP_VERSION = "0.49.2";
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const EXIT_NO_BICEP = 3;

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const infra = join(root, "infra");
const mainBicep = join(infra, "main.bicep");
const mainJson = join(infra, "main.json");
const toolsDir = join(root, ".tools", "bicep");

/** The NuGet runtime identifier of this machine's Bicep CLI package (only linux-x64 is exercised in CI). */
function runtimeIdentifier() {
  const arch = { x64: "x64", arm64: "arm64" }[process.arch];
  const os = { linux: "linux", darwin: "osx", win32: "win" }[process.platform];
  return arch === undefined || os === undefined ? undefined : `${os}-${arch}`;
}

function pinnedBinary() {
  const rid = runtimeIdentifier();
  if (rid === undefined) return undefined;
  const name = process.platform === "win32" ? "bicep.exe" : "bicep";
  return join(toolsDir, "packages", `azure.bicep.commandline.${rid}`, BICEP_VERSION, "tools", name);
}

function run(command, args, options = {}) {
  return spawnSync(command, args, { encoding: "utf8", ...options });
}

function versionOf(binary) {
  const result = run(binary, ["--version"]);
  if (result.error !== undefined || result.status !== 0) return undefined;
  return /(\d+\.\d+\.\d+)/.exec(result.stdout)?.[1];
}

/** `dotnet restore` of a throwaway project whose only job is to download the package into .tools/. */
function restoreWithDotnet() {
  const rid = runtimeIdentifier();
  const sdk = run("dotnet", ["--version"]);
  if (rid === undefined || sdk.error !== undefined || sdk.status !== 0) return undefined;
  const major = /^(\d+)\./.exec(sdk.stdout.trim())?.[1] ?? "8";
  mkdirSync(toolsDir, { recursive: true });
  const project = join(toolsDir, "restore.csproj");
  writeFileSync(
    project,
    [
      '<Project Sdk="Microsoft.NET.Sdk">',
      "  <PropertyGroup>",
      `    <TargetFramework>net${major}.0</TargetFramework>`,
      "  </PropertyGroup>",
      "  <ItemGroup>",
      `    <PackageDownload Include="Azure.Bicep.CommandLine.${rid}" Version="[${BICEP_VERSION}]" />`,
      "  </ItemGroup>",
      "</Project>",
      "",
    ].join("\n"),
  );
  process.stderr.write(
    `bicep: restoring Azure.Bicep.CommandLine.${rid} ${BICEP_VERSION} into .tools/ with dotnet\n`,
  );
  const restore = run("dotnet", ["restore", project, "--packages", join(toolsDir, "packages")], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: "1", DOTNET_NOLOGO: "1" },
  });
  const binary = pinnedBinary();
  if (restore.status !== 0 || binary === undefined || !existsSync(binary)) {
    process.stderr.write(restore.stdout + restore.stderr);
    process.stderr.write(`bicep: dotnet restore of the Bicep CLI ${BICEP_VERSION} failed\n`);
    process.exit(EXIT_FAILED);
  }
  // NuGet does not keep the executable bit.
  if (process.platform !== "win32") chmodSync(binary, 0o755);
  return binary;
}

function findBicep() {
  const fromEnv = process.env.BICEP?.trim();
  if (fromEnv) return fromEnv;
  const pinned = pinnedBinary();
  if (pinned !== undefined && existsSync(pinned)) {
    if (process.platform !== "win32") chmodSync(pinned, 0o755);
    return pinned;
  }
  const onPath = versionOf("bicep");
  if (onPath === BICEP_VERSION) return "bicep";
  const restored = restoreWithDotnet();
  if (restored !== undefined) return restored;
  if (onPath !== undefined) {
    process.stderr.write(
      `bicep: using bicep ${onPath} from PATH; main.json is built with ${BICEP_VERSION} and may differ\n`,
    );
    return "bicep";
  }
  process.stdout.write(
    `bicep: skipped: no Bicep CLI (set BICEP or put bicep ${BICEP_VERSION} on PATH) and no dotnet to restore it\n`,
  );
  process.exit(EXIT_NO_BICEP);
}

function bicepFiles(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) =>
      entry.isDirectory()
        ? bicepFiles(join(dir, entry.name))
        : entry.name.endsWith(".bicep")
          ? [join(dir, entry.name)]
          : [],
    )
    .sort();
}

/** Runs the CLI, passing its diagnostics through; returns its status and whether it warned. */
function bicep(binary, args) {
  const result = run(binary, args, { cwd: root });
  if (result.error !== undefined) {
    process.stderr.write(`bicep: cannot run ${binary}: ${result.error.message}\n`);
    process.exit(EXIT_FAILED);
  }
  const output = `${result.stdout}${result.stderr}`;
  process.stderr.write(output);
  return { status: result.status ?? EXIT_FAILED, warned: /: (Warning|Error) /.test(output) };
}

/** Without the generator's own metadata (its version), to tell a stale template from another CLI. */
function withoutGenerator(json) {
  return json.replace(/"_generator": \{[^}]*\}/g, '"_generator": {}');
}

function normalise(text) {
  return text.replace(/\r\n/g, "\n");
}

function build(binary) {
  const { status } = bicep(binary, ["build", mainBicep, "--outfile", mainJson]);
  if (status !== 0) process.exit(EXIT_FAILED);
  process.stdout.write(`bicep: built ${relative(root, mainJson)}\n`);
}

function lint(binary) {
  let failed = false;
  for (const file of bicepFiles(infra)) {
    const { status, warned } = bicep(binary, ["lint", file]);
    if (status !== 0 || warned) {
      failed = true;
      process.stderr.write(
        `bicep: ${relative(root, file)}: lint found problems (warnings count as errors)\n`,
      );
    }
  }
  if (failed) process.exit(EXIT_FAILED);
  process.stdout.write("bicep: lint clean\n");
}

function check(binary) {
  const dir = mkdtempSync(join(tmpdir(), "autoprotect-bicep-"));
  try {
    const built = join(dir, "main.json");
    const { status } = bicep(binary, ["build", mainBicep, "--outfile", built]);
    if (status !== 0) process.exit(EXIT_FAILED);
    const fresh = normalise(readFileSync(built, "utf8"));
    const committed = existsSync(mainJson) ? normalise(readFileSync(mainJson, "utf8")) : "";
    if (fresh !== committed) {
      const onlyGenerator = withoutGenerator(fresh) === withoutGenerator(committed);
      process.stderr.write(
        onlyGenerator
          ? `infra/main.json was built with another Bicep CLI than ${binary} (use ${BICEP_VERSION}): run npm run infra:build\n`
          : "infra/main.json is stale: run npm run infra:build\n",
      );
      process.exit(EXIT_FAILED);
    }
    process.stdout.write("bicep: infra/main.json is up to date\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const commands = { build, lint, check, path: (binary) => process.stdout.write(`${binary}\n`) };
const command = process.argv[2];
if (process.argv.length !== 3 || command === undefined || !(command in commands)) {
  process.stderr.write("usage: node scripts/bicep.js build|lint|check|path\n");
  process.exit(EXIT_USAGE);
}
commands[command](findBicep());
