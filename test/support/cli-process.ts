import { spawn } from "node:child_process";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/**
 * The `autoprotect` process as a person runs it (src/cli/process.ts: signals, EPIPE, the terminal), from
 * the source under test: bundled once with esbuild into dist/ (inside the checkout, so the package's
 * version is found as it is from bin/), since the bin runs the tsc build, which tests do not make.
 */
const root = fileURLToPath(new URL("../..", import.meta.url));

const banner = [
  'import { createRequire as __bundleCreateRequire } from "node:module";',
  "const require = __bundleCreateRequire(import.meta.url);",
].join("\n");

export async function bundleCli(): Promise<{ entry: string; remove(): Promise<void> }> {
  const dir = join(root, "dist", `test-cli-${String(process.pid)}-${String(Date.now())}`);
  await mkdir(dir, { recursive: true });
  const entry = join(dir, "autoprotect.mjs");
  await build({
    stdin: {
      contents: 'import { runProcess } from "./src/cli/process.ts"; runProcess();',
      resolveDir: root,
      sourcefile: "autoprotect-test-entry.ts",
      loader: "ts",
    },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile: entry,
    banner: { js: banner },
    logLevel: "error",
  });
  return { entry, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface ProcessResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the bundled CLI with `args`; `onStdout` sees each chunk and may act on the child (signal it). */
export function runCliProcess(
  entry: string,
  args: readonly string[],
  env: Record<string, string>,
  onStdout?: (chunk: string, child: ReturnType<typeof spawn>) => void,
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry, ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      onStdout?.(chunk, child);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      resolve({ code, signal, stdout, stderr });
    });
  });
}
