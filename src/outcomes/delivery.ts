/**
 * Getting every outcome into Log Analytics, in order. Rows go to the Logs Ingestion API; what cannot
 * be sent now (the service is down, throttling outlasted the SDK's retries) is kept in a durable spool
 * and sent before anything newer, the next time outcomes are delivered. Rows the stream refuses (they
 * do not match its columns) cannot succeed on a retry: they are kept aside and reported. Entries of the
 * spool that are not rows (damaged) are moved aside and reported, never fatal. Delivery is at least
 * once: a row whose answer was lost is sent again with the same OutcomeId, and readers collapse on it.
 */
import type { OutcomeRecord } from "../model/outcome.js";

export interface UploadResult {
  /** Rows the service refused, with why (a 400: the row does not fit the stream). */
  readonly rejected: readonly { readonly row: OutcomeRecord; readonly reason: string }[];
  /** Rows not sent because the service could not be reached or kept failing; safe to send again. */
  readonly unsent: readonly OutcomeRecord[];
  /** The transient failure, for the log line. */
  readonly error?: string;
}

/** The Logs Ingestion adapter: uploads in order and says what did not go. */
export interface OutcomeUploader {
  upload(rows: readonly OutcomeRecord[]): Promise<UploadResult>;
}

export interface SpooledRow {
  /** Names the entry for `remove`. */
  readonly key: string;
  readonly row: OutcomeRecord;
}

/** An entry of the spool that is not a row (cut short, edited by hand): never sent, kept aside. */
export interface CorruptEntry {
  readonly key: string;
  /** The entry as stored, kept whole for whoever looks into it. */
  readonly text: string;
  readonly problem: string;
}

export interface SpoolPage {
  /** The oldest rows, in order. */
  readonly rows: readonly SpooledRow[];
  /** The damaged entries met on the way. */
  readonly corrupt: readonly CorruptEntry[];
}

/** The drain lock, held while sending the spool. */
export interface SpoolLock {
  /** Whether the lock is still held (another drainer may have judged it stale); extends it when it is. */
  renew(): Promise<boolean>;
  release(): Promise<void>;
}

/** Durable, ordered storage for rows waiting to be sent. Only the drain lock's holder reads or changes it; anyone appends. */
export interface OutcomeSpool {
  append(rows: readonly OutcomeRecord[]): Promise<void>;
  /** Up to `limit` of the oldest rows, and the damaged entries among them. */
  peek(limit: number): Promise<SpoolPage>;
  remove(keys: readonly string[]): Promise<void>;
  /** Keeps refused rows where an operator can find them. */
  setAside(rejected: UploadResult["rejected"]): Promise<void>;
  /** Moves damaged entries out of the spool to where an operator can find them; says where. */
  setAsideCorrupt(entries: readonly CorruptEntry[]): Promise<string>;
  /** One drainer at a time, across processes (so no row is sent twice): the lock, or undefined when taken. */
  lock(): Promise<SpoolLock | undefined>;
}

export interface DeliveryReport {
  readonly sent: number;
  /** Rows waiting in the spool after this delivery (including older ones; counted up to one batch). */
  readonly spooled: number;
  readonly rejected: UploadResult["rejected"];
  /** Damaged spool entries moved aside: why, and where they are kept. */
  readonly corrupt: readonly { readonly problem: string; readonly keptIn: string }[];
  readonly error?: string;
}

/**
 * The spool could not be read or written (a full disk, a storage outage). `unkept` of the outcomes
 * given to this delivery were neither sent nor kept: the caller must say so (they exist only in its
 * output now). `done` is what the delivery did before; rows already in the spool stay there.
 */
export class SpoolError extends Error {
  override readonly name = "SpoolError";
  constructor(
    message: string,
    readonly done: DeliveryReport,
    readonly unkept: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Rows per upload from the spool; the SDK splits further into 1 MB requests. */
const SPOOL_BATCH = 500;

type Rejected = UploadResult["rejected"][number];

interface Deps {
  readonly uploader: OutcomeUploader;
  readonly spool: OutcomeSpool;
}

/** What a delivery has done so far, and what of its own outcomes is not yet sent or kept. */
class Progress {
  sent = 0;
  unkept: number;
  readonly rejected: Rejected[] = [];
  readonly corrupt: { problem: string; keptIn: string }[] = [];
  error: string | undefined;

  constructor(outcomes: number) {
    this.unkept = outcomes;
  }

  /** Runs a spool operation; its failure becomes a SpoolError saying what is lost. */
  async spool<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      const message = `${what}: ${error instanceof Error ? error.message : String(error)}`;
      throw new SpoolError(message, this.report(0), this.unkept, { cause: error });
    }
  }

  report(spooled: number): DeliveryReport {
    return {
      sent: this.sent,
      spooled,
      rejected: this.rejected,
      corrupt: this.corrupt,
      ...(this.error === undefined ? {} : { error: this.error }),
    };
  }
}

export async function deliverOutcomes(
  outcomes: readonly OutcomeRecord[],
  deps: Deps,
): Promise<DeliveryReport> {
  const progress = new Progress(outcomes.length);
  let held: SpoolLock | undefined;
  try {
    held = await deps.spool.lock();
  } catch (error) {
    return sendWithoutSpool(outcomes, deps, error);
  }
  if (held === undefined) {
    // Another delivery is draining: queue behind it so the order holds; it (or the next one) sends these.
    await progress.spool("cannot keep outcomes in the spool", () => deps.spool.append(outcomes));
    return { sent: 0, spooled: outcomes.length, rejected: [], corrupt: [] };
  }
  try {
    const backlog = await nextRows(1, deps, progress);
    if (outcomes.length > 0) {
      // Older outcomes waiting go first: these go after them.
      const unsent = backlog.length === 0 ? await upload(outcomes, deps, progress) : outcomes;
      if (unsent.length > 0) {
        await progress.spool("cannot keep unsent outcomes in the spool", () => deps.spool.append(unsent));
      }
      progress.unkept = 0;
    }
    const stillHeld = progress.error === undefined ? await drain(deps, held, progress) : true;
    // Counted only while the spool is ours: reading it moves incoming rows in.
    const left = stillHeld ? await nextRows(SPOOL_BATCH, deps, progress) : [];
    return progress.report(left.length);
  } finally {
    await held.release();
  }
}

/** Sends rows, sets refused ones aside; returns what did not go. */
async function upload(
  rows: readonly OutcomeRecord[],
  deps: Deps,
  progress: Progress,
): Promise<readonly OutcomeRecord[]> {
  const result = await deps.uploader.upload(rows);
  progress.sent += rows.length - result.unsent.length - result.rejected.length;
  progress.unkept = Math.min(progress.unkept, result.unsent.length);
  progress.rejected.push(...result.rejected);
  if (result.rejected.length > 0) {
    await progress.spool("cannot keep refused rows aside", () => deps.spool.setAside(result.rejected));
  }
  if (result.unsent.length > 0) progress.error = result.error ?? "the Logs Ingestion API failed";
  return result.unsent;
}

/** The oldest rows of the spool, damaged entries moved aside on the way. */
async function nextRows(limit: number, deps: Deps, progress: Progress): Promise<readonly SpooledRow[]> {
  for (;;) {
    const page = await progress.spool("cannot read the spool", () => deps.spool.peek(limit));
    if (page.corrupt.length === 0) return page.rows;
    const keptIn = await progress.spool("cannot move damaged spool entries aside", () =>
      deps.spool.setAsideCorrupt(page.corrupt),
    );
    progress.corrupt.push(...page.corrupt.map((entry) => ({ problem: entry.problem, keptIn })));
  }
}

/**
 * Sends the spool oldest first until it is empty or the service fails again; false when the lock was
 * lost on the way (judged stale: another drainer owns the spool now and sends what this one could not
 * remove again, with the same OutcomeId).
 */
async function drain(deps: Deps, held: SpoolLock, progress: Progress): Promise<boolean> {
  const renew = (): Promise<boolean> => progress.spool("cannot renew the spool's lock", () => held.renew());
  for (;;) {
    if (!(await renew())) return false;
    const batch = await nextRows(SPOOL_BATCH, deps, progress);
    if (batch.length === 0) return true;
    const unsent = new Set(
      await upload(
        batch.map((entry) => entry.row),
        deps,
        progress,
      ),
    );
    if (!(await renew())) return false;
    const done = batch.filter((entry) => !unsent.has(entry.row));
    await progress.spool("cannot remove sent rows from the spool", () =>
      deps.spool.remove(done.map((entry) => entry.key)),
    );
    if (unsent.size > 0) return true;
  }
}

/**
 * The spool cannot even be locked (a full disk cannot take the lock file): this delivery's outcomes
 * still go straight to the service, the spool waits for a delivery that can lock it, and the caller
 * hears what was neither sent nor kept.
 */
async function sendWithoutSpool(
  outcomes: readonly OutcomeRecord[],
  deps: Deps,
  cause: unknown,
): Promise<never> {
  const result = outcomes.length > 0 ? await deps.uploader.upload(outcomes) : { rejected: [], unsent: [] };
  const done: DeliveryReport = {
    sent: outcomes.length - result.unsent.length - result.rejected.length,
    spooled: 0,
    rejected: result.rejected,
    corrupt: [],
    ...(result.error === undefined ? {} : { error: result.error }),
  };
  const message = `cannot lock the spool: ${cause instanceof Error ? cause.message : String(cause)}`;
  throw new SpoolError(message, done, result.unsent.length + result.rejected.length, { cause });
}
