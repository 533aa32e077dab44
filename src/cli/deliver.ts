/** The CLI's end of outcome delivery: what it says on stderr, and the error a run ends with. */
import type { OutcomeRecord } from "../model/outcome.js";
import {
  deliverOutcomes,
  SpoolError,
  type DeliveryReport,
  type OutcomeSpool,
  type OutcomeUploader,
} from "../outcomes/delivery.js";
import type { CliIo } from "./io.js";

function describeDelivery(report: DeliveryReport): string {
  const sent = `outcomes: ${String(report.sent)} sent to Log Analytics`;
  if (report.error === undefined)
    return report.spooled === 0 ? sent : `${sent}; ${String(report.spooled)} still waiting`;
  return `${sent}; ${String(report.spooled)} kept in the state folder to send on the next run (${report.error})`;
}

/**
 * Sends the run's outcomes (spooling what cannot go now) and says how it went on stderr. A spool that
 * cannot be written (a full disk) does not end the run: it gets the one-line error returned here, for
 * the run to say last, after every outcome is printed.
 */
export async function deliver(
  outcomes: readonly OutcomeRecord[],
  deps: { readonly uploader: OutcomeUploader; readonly spool: OutcomeSpool },
  stateDir: string,
  io: CliIo,
): Promise<string | undefined> {
  let report: DeliveryReport;
  let failure: string | undefined;
  try {
    report = await deliverOutcomes(outcomes, deps);
    io.stderr.write(`${describeDelivery(report)}\n`);
  } catch (error) {
    if (!(error instanceof SpoolError)) throw error;
    report = error.done;
    io.stderr.write(`outcomes: ${String(report.sent)} sent to Log Analytics\n`);
    const lost =
      error.unkept === 0
        ? "none of this run's outcomes was lost"
        : `${String(error.unkept)} of this run's outcomes were neither sent nor kept (they are in the output above)`;
    failure = `outcomes: the spool in ${stateDir} cannot be written: ${error.message.replace(/\s+/g, " ")}; ${lost}`;
  }
  for (const { problem, keptIn } of report.corrupt) {
    io.stderr.write(`autoprotect: a damaged entry of the outcome spool was moved to ${keptIn}: ${problem}\n`);
  }
  for (const { row, reason } of report.rejected) {
    io.stderr.write(
      `autoprotect: the stream refused the ${row.Check} outcome of ${row.ResourceId}: ${reason}\n`,
    );
  }
  return failure;
}
