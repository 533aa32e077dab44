/** Where the CLI writes: process.stdout/stderr in production, captured buffers in tests. */
export interface OutputStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export interface CliIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Standard input, for `event -`. */
  readonly readStdin?: () => Promise<string>;
}
