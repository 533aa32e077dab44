import { STATUSES, type Status } from "../model/checks.js";
import type { OutcomeRecord } from "../model/outcome.js";
import type { RequeueRequest } from "../engine/requeue.js";
import { ANSI, resourceLabel } from "./style.js";

const COLOURS: Record<Status, string> = {
  compliant: ANSI.green,
  remediated: ANSI.cyan,
  planned: ANSI.yellow,
  deferred: ANSI.magenta,
  skipped: ANSI.grey,
  manual: ANSI.boldYellow,
  failed: ANSI.red,
};
const RESET = ANSI.reset;
const BOLD = ANSI.bold;

function resourceOrder(outcome: OutcomeRecord | undefined): string {
  if (outcome === undefined) return "";
  const isPlan = outcome.ResourceType.toLowerCase() === "microsoft.security/pricings";
  return `${outcome.SubscriptionId.toLowerCase()} ${isPlan ? "0" : "1"} ${outcome.ResourceId.toLowerCase()}`;
}

/** A readable table: one block per resource, one line per check. */
export function renderTable(outcomes: readonly OutcomeRecord[], colour: boolean): string {
  const byResource = new Map<string, OutcomeRecord[]>();
  for (const outcome of outcomes) {
    const key = outcome.ResourceId.toLowerCase();
    const group = byResource.get(key) ?? [];
    group.push(outcome);
    byResource.set(key, group);
  }
  // Completion order varies with concurrency; people read a stable order: by subscription, plans first, then by id.
  const groups = [...byResource.values()].sort((a, b) =>
    resourceOrder(a[0]).localeCompare(resourceOrder(b[0])),
  );
  const checkWidth = Math.max(0, ...outcomes.map((o) => o.Check.length));
  const statusWidth = Math.max(0, ...STATUSES.map((s) => s.length));
  const lines: string[] = [];
  for (const group of groups) {
    const first = group[0];
    if (first === undefined) continue;
    const title = resourceLabel(first.ResourceId);
    lines.push(colour ? `${BOLD}${title}${RESET}  ${first.ResourceId}` : `${title}  ${first.ResourceId}`);
    for (const outcome of group) {
      const status = outcome.Status.padEnd(statusWidth);
      const painted = colour ? `${COLOURS[outcome.Status]}${status}${RESET}` : status;
      const action = outcome.Action === "" ? "" : ` -> ${outcome.Action}`;
      lines.push(`  ${outcome.Check.padEnd(checkWidth)}  ${painted}  ${outcome.Reason}${action}`);
    }
    lines.push("");
  }
  return lines.join("\n");
}

export function summarise(outcomes: readonly OutcomeRecord[], elapsedMs: number, colour: boolean): string {
  const counts = STATUSES.map(
    (status) => [status, outcomes.filter((o) => o.Status === status).length] as const,
  )
    .filter(([, n]) => n > 0)
    .map(([status, n]) => (colour ? `${COLOURS[status]}${n} ${status}${RESET}` : `${n} ${status}`));
  const resources = new Set(outcomes.map((o) => o.ResourceId.toLowerCase())).size;
  return `${outcomes.length} checks on ${resources} resources: ${counts.join(", ") || "nothing to report"} (${(elapsedMs / 1000).toFixed(1)} s)`;
}

/**
 * A progress bar on stderr for sweeps over many resources: plans, clusters and APIM services as the
 * engine finds and finishes them. Silent when stderr is not a terminal; it steps aside (`clear`) for
 * whatever is printed to the same terminal, and comes back with the next resource.
 */
export class ProgressBar {
  private total = 0;
  private done = 0;
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly stream: { write(text: string): unknown; readonly isTTY?: boolean },
    private readonly minimum = 20,
  ) {}

  private get active(): boolean {
    return this.stream.isTTY === true && this.total >= this.minimum;
  }

  addTotal(count: number): void {
    this.total += count;
  }

  resourceDone(): void {
    this.done += 1;
    const now = Date.now();
    if (this.active && (!this.drawn || now - this.lastDraw > 100 || this.done >= this.total)) {
      this.lastDraw = now;
      this.drawn = true;
      const width = 30;
      const filled = Math.round((Math.min(this.done, this.total) / this.total) * width);
      this.stream.write(
        `\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(this.done)}/${String(this.total)} resources`,
      );
    }
  }

  /** Takes the bar off the line, so that what is printed next starts on a clean one. */
  clear(): void {
    if (this.drawn) this.stream.write("\r\u001b[2K");
    this.drawn = false;
  }

  finish(): void {
    this.clear();
  }
}

/** One line on what to run again and when, for deferred work (there is no queue behind the CLI). */
export function describeRequeue(requeue: readonly RequeueRequest[]): string | undefined {
  const first = requeue[0];
  if (first === undefined) return undefined;
  const minutes = Math.max(1, Math.ceil(first.afterSeconds / 60));
  const name = first.resourceId.split("/").at(-1) ?? first.resourceId;
  const count = requeue.length === 1 ? "1 resource waits" : `${String(requeue.length)} resources wait`;
  return `next: ${count}; run again in ${String(minutes)} min or later to continue (first: ${name}: ${first.reason})`;
}
