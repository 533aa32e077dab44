import { runCli } from "../../src/cli/main.js";
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
