/**
 * Getting every outcome into Log Analytics, in order, once. Rows go to the Logs Ingestion API; what
 * cannot be sent now (the service is down, throttling outlasted the SDK's retries) is kept in a
 * durable spool and sent before anything newer, the next time outcomes are delivered. Rows the stream
 * refuses (they do not match its columns) cannot succeed on a retry: they are kept aside and reported.
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
  /** Orders the spool: older rows have smaller keys. */
  readonly key: string;
  readonly row: OutcomeRecord;
}

/** Durable, ordered storage for rows waiting to be sent. */
export interface OutcomeSpool {
  append(rows: readonly OutcomeRecord[]): Promise<void>;
  /** The oldest rows, in order. */
  peek(limit: number): Promise<SpooledRow[]>;
  remove(keys: readonly string[]): Promise<void>;
  /** Keeps refused rows where an operator can find them. */
  setAside(rejected: UploadResult["rejected"]): Promise<void>;
  /** One drainer at a time (so no row is sent twice): a release function, or undefined when taken. */
  lock(): Promise<(() => Promise<void>) | undefined>;
}

export interface DeliveryReport {
  readonly sent: number;
  /** Rows waiting in the spool after this delivery (including older ones). */
  readonly spooled: number;
  readonly rejected: UploadResult["rejected"];
  readonly error?: string;
}

/** Rows per upload from the spool; the SDK splits further into 1 MB requests. */
const SPOOL_BATCH = 500;

export async function deliverOutcomes(
  outcomes: readonly OutcomeRecord[],
  deps: { readonly uploader: OutcomeUploader; readonly spool: OutcomeSpool },
): Promise<DeliveryReport> {
  const release = await deps.spool.lock();
  if (release === undefined) {
    // Another delivery is draining: queue behind it so the order holds; it (or the next one) sends these.
    if (outcomes.length > 0) await deps.spool.append(outcomes);
    return { sent: 0, spooled: outcomes.length, rejected: [] };
  }
  try {
    let sent = 0;
    const rejected: UploadResult["rejected"][number][] = [];
    let error: string | undefined;
    const backlog = await deps.spool.peek(1);
    if (backlog.length === 0 && outcomes.length > 0) {
      const result = await deps.uploader.upload(outcomes);
      sent += outcomes.length - result.unsent.length - result.rejected.length;
      rejected.push(...result.rejected);
      if (result.rejected.length > 0) await deps.spool.setAside(result.rejected);
      if (result.unsent.length > 0) {
        await deps.spool.append(result.unsent);
        error = result.error;
      }
    } else if (outcomes.length > 0) {
      // Older outcomes are waiting: these go after them.
      await deps.spool.append(outcomes);
    }
    if (error === undefined) {
      const drained = await drain(deps);
      sent += drained.sent;
      rejected.push(...drained.rejected);
      error = drained.error;
    }
    const left = await deps.spool.peek(SPOOL_BATCH);
    return { sent, spooled: left.length, rejected, ...(error === undefined ? {} : { error }) };
  } finally {
    await release();
  }
}

/** Sends the spool oldest first until it is empty or the service fails again. */
async function drain(deps: {
  readonly uploader: OutcomeUploader;
  readonly spool: OutcomeSpool;
}): Promise<{ sent: number; rejected: UploadResult["rejected"][number][]; error?: string }> {
  let sent = 0;
  const rejected: UploadResult["rejected"][number][] = [];
  for (;;) {
    const batch = await deps.spool.peek(SPOOL_BATCH);
    if (batch.length === 0) return { sent, rejected };
    const result = await deps.uploader.upload(batch.map((entry) => entry.row));
    const unsent = new Set(result.unsent);
    const done = batch.filter((entry) => !unsent.has(entry.row));
    if (result.rejected.length > 0) await deps.spool.setAside(result.rejected);
    await deps.spool.remove(done.map((entry) => entry.key));
    sent += done.length - result.rejected.length;
    rejected.push(...result.rejected);
    if (unsent.size > 0) return { sent, rejected, error: result.error ?? "the Logs Ingestion API failed" };
  }
}
