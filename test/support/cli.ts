import { runCli } from "../../src/cli/main.js";
import type { OutcomeRecord } from "../../src/model/outcome.js";
import { BASE_ENV } from "./azure.js";

export interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process with its output captured (and standard input, for `event -`). */
export async function cli(
  args: string[],
  env: Record<string, string> = BASE_ENV,
  stdin?: string,
): Promise<Captured> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env,
    ...(stdin === undefined ? {} : { readStdin: () => Promise.resolve(stdin) }),
  });
  return { code, stdout, stderr };
}

/** The outcome records a `--json` (or `-o json`) run printed, one per line. */
export function records(stdout: string): OutcomeRecord[] {
  return stdout
    .trim()
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as OutcomeRecord);
}
