#!/usr/bin/env node
import { createInterface } from "node:readline/promises";
import { runCli } from "../dist/src/cli/main.js";

// A reader that went away (`autoprotect sweep -o json | head -1`) is not an error to report: the run
// stops as after Ctrl-C, quietly. Writes after that are dropped.
let stdoutClosed = false;
const listeners = new Set();
const notify = (what) => {
  for (const listener of listeners) listener(what);
};
process.stdout.on("error", (error) => {
  if (error.code !== "EPIPE") throw error;
  if (stdoutClosed) return;
  stdoutClosed = true;
  notify("EPIPE");
});
let signals = 0;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    signals += 1;
    // Nothing listening (before or after the run) or a third time: stop at once.
    if (listeners.size === 0 || signals > 2) process.exit(130);
    notify(signal);
  });
}

const stdout = {
  write: (text) => (stdoutClosed ? true : process.stdout.write(text)),
  isTTY: process.stdout.isTTY === true,
};

async function ask(question) {
  const terminal = createInterface({ input: process.stdin, output: process.stderr });
  const closed = new Promise((resolve) => terminal.once("close", () => resolve(undefined)));
  try {
    return await Promise.race([terminal.question(question), closed]);
  } finally {
    terminal.close();
  }
}

runCli(process.argv.slice(2), {
  stdout,
  stderr: process.stderr,
  env: process.env,
  stdinIsTTY: process.stdin.isTTY === true,
  ask,
  onInterrupt: (listener) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
}).then(
  (code) => {
    process.exitCode = code;
    // Stopped at once (a second Ctrl-C): writes still in flight must not hold the process open.
    if (code === 130) process.exit(code);
  },
  (error) => {
    process.stderr.write(
      `autoprotect: unexpected error: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
