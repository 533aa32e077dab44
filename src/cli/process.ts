/**
 * The `autoprotect` process: runCli wired to this process's streams, signals and terminal. A reader
 * that went away (`autoprotect sweep -o json | head -1`) is not an error to report: the run stops as
 * after Ctrl-C, quietly, and writes after that are dropped. Ctrl-C or SIGTERM stops new work; a second
 * one stops at once (exit 130), with every outcome decided so far printed and kept.
 */
import { createInterface } from "node:readline/promises";
import { EXIT_INTERRUPTED, runCli, type Interrupt } from "./main.js";

/** Asks on the terminal (the question on stderr, so stdout stays data); undefined at end of input. */
async function ask(question: string): Promise<string | undefined> {
  const terminal = createInterface({ input: process.stdin, output: process.stderr });
  // On a terminal Ctrl-C reaches the question, not the process: nothing has started, so stop here.
  terminal.once("SIGINT", () => {
    process.stderr.write("\n");
    process.exit(EXIT_INTERRUPTED);
  });
  const closed = new Promise<undefined>((resolve) => {
    terminal.once("close", () => {
      resolve(undefined);
    });
  });
  try {
    return await Promise.race([terminal.question(question), closed]);
  } finally {
    terminal.close();
  }
}

export function runProcess(argv: readonly string[] = process.argv.slice(2)): void {
  let stdoutClosed = false;
  const listeners = new Set<(what: Interrupt) => void>();
  const notify = (what: Interrupt): void => {
    for (const listener of listeners) listener(what);
  };
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    if (stdoutClosed) return;
    stdoutClosed = true;
    notify("EPIPE");
  });
  let signals = 0;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      signals += 1;
      // Nothing listening (before or after the run), or a third time: stop at once.
      if (listeners.size === 0 || signals > 2) process.exit(EXIT_INTERRUPTED);
      notify(signal);
    });
  }
  runCli(argv, {
    stdout: {
      write: (text: string) => (stdoutClosed ? true : process.stdout.write(text)),
      isTTY: process.stdout.isTTY,
    },
    stderr: process.stderr,
    env: process.env,
    stdinIsTTY: process.stdin.isTTY,
    ask,
    onInterrupt: (listener) => {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  }).then(
    (code) => {
      process.exitCode = code;
      // Stopped at once: writes still in flight must not hold the process open.
      if (code === EXIT_INTERRUPTED) process.exit(code);
    },
    (error: unknown) => {
      process.stderr.write(
        `autoprotect: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
