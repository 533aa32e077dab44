// "Today", for side-by-side figures: the app as it was when issue 16 (scale) started, built from git
// into dist/baseline/ (its own `tsc` output in dist/baseline/dist/, its deployment bundle in
// dist/baseline/dist/bundle/), against this checkout's node_modules. Built once; kept while the commit
// is the same. The benchmarks run its triggers against the same simulator (in its own process) as the
// current build's, so only the app differs.
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

/** main when issue 16 started (the merge base of the scale16 branch). */
export const BASELINE_COMMIT = "af123ac9d2ac32676b52ec02cf3ad0fc79772cad";

function run(command: string, args: readonly string[], options: { cwd: string; input?: Buffer }): Buffer {
  const result = spawnSync(command, args, {
    cwd: options.cwd,
    ...(options.input === undefined ? {} : { input: options.input }),
    maxBuffer: 512 * 1024 * 1024,
    stdio: ["pipe", "pipe", "inherit"],
  });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed (${String(result.status ?? result.signal)})`);
  }
  return result.stdout;
}

/** The baseline's build (its dist/ folder, the counterpart of this build's dist/), built if needed. */
export function prepareBaseline(root: string, log: (line: string) => void = () => undefined): string {
  const dir = join(root, "dist", "baseline");
  const marker = join(dir, ".commit");
  const built = join(dir, "dist");
  if (existsSync(marker) && readFileSync(marker, "utf8") === BASELINE_COMMIT) return built;
  log(`building today's app (${BASELINE_COMMIT.slice(0, 7)}) into dist/baseline/`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const archive = run("git", ["archive", "--format=tar", BASELINE_COMMIT], { cwd: root });
  run("tar", ["-x", "-C", dir], { cwd: root, input: archive });
  symlinkSync(realpathSync(join(root, "node_modules")), join(dir, "node_modules"), "dir");
  run(
    process.execPath,
    [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
    {
      cwd: dir,
    },
  );
  run(process.execPath, [join(dir, "scripts", "bundle.js")], { cwd: dir });
  writeFileSync(marker, BASELINE_COMMIT);
  return built;
}
