/** Where the CLI writes: process.stdout/stderr in production, captured buffers in tests. */
export interface OutputStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** What may stop a run from outside: Ctrl-C, a termination request, or the reader of stdout gone. */
export type Interrupt = "SIGINT" | "SIGTERM" | "EPIPE";

export interface CliIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Standard input, for `event -`. */
  readonly readStdin?: () => Promise<string>;
  /** Whether standard input is a terminal (a person who can answer a question). */
  readonly stdinIsTTY?: boolean;
  /** Asks a person a question on the terminal; resolves with the answer, or undefined at end of input. */
  readonly ask?: (question: string) => Promise<string | undefined>;
  /** Subscribes to interruptions; returns the unsubscribe. */
  readonly onInterrupt?: (listener: (what: Interrupt) => void) => () => void;
}
