/**
 * Where a run's outcomes go as they are decided: JSON Lines at once; the table one resource at a time,
 * as the engine finishes each (plans, clusters, an APIM service with its APIs), beside a progress bar
 * on stderr; SARIF once, at the end. Output that nobody reads any more (a closed pipe) is dropped.
 */
import type { OutcomeRecord } from "../model/outcome.js";
import type { OutputFormat } from "./args.js";
import type { OutputStream } from "./io.js";
import { ProgressBar, renderTable } from "./render.js";

export interface OutcomeOutput {
  /** Every outcome decided so far, in the order decided. */
  readonly outcomes: readonly OutcomeRecord[];
  discovered(count: number): void;
  outcome(outcome: OutcomeRecord): void;
  /** A resource (and its children) has all its outcomes: the table prints its block now. */
  settled(resourceId: string): void;
  /** Prints what is still held back (the table's remaining blocks) and takes the progress bar away. */
  flush(): void;
}

/** Writes to `stream` until it is closed (EPIPE); after that, nothing. */
export interface GuardedStream {
  write(text: string): void;
  readonly isTTY: boolean;
  close(): void;
  readonly closed: boolean;
}

export function guard(stream: OutputStream): GuardedStream {
  let closed = false;
  return {
    write(text) {
      if (!closed) stream.write(text);
    },
    get isTTY() {
      return stream.isTTY === true;
    },
    close() {
      closed = true;
    },
    get closed() {
      return closed;
    },
  };
}

function belongsTo(outcome: OutcomeRecord, resourceId: string): boolean {
  const id = outcome.ResourceId.toLowerCase();
  const settled = resourceId.toLowerCase();
  return id === settled || id.startsWith(`${settled}/`);
}

export function createOutcomeOutput(
  format: OutputFormat,
  stdout: GuardedStream,
  stderr: OutputStream,
  colour: boolean,
): OutcomeOutput {
  const outcomes: OutcomeRecord[] = [];
  const progress = new ProgressBar(stderr);
  let held: OutcomeRecord[] = [];
  // The bar and the table may share one terminal: the bar steps aside for each block.
  const print = (text: string): void => {
    if (text === "") return;
    progress.clear();
    stdout.write(text);
  };
  return {
    outcomes,
    discovered(count) {
      progress.addTotal(count);
    },
    outcome(outcome) {
      outcomes.push(outcome);
      if (format === "json") stdout.write(`${JSON.stringify(outcome)}\n`);
      else if (format === "table") held.push(outcome);
    },
    settled(resourceId) {
      if (format === "table") {
        const ready = held.filter((o) => belongsTo(o, resourceId));
        if (ready.length > 0) {
          held = held.filter((o) => !belongsTo(o, resourceId));
          print(`${renderTable(ready, colour)}\n`);
        }
      }
      progress.resourceDone();
    },
    flush() {
      if (format === "table" && held.length > 0) print(`${renderTable(held, colour)}\n`);
      held = [];
      progress.finish();
    },
  };
}
