import { parseArgs } from "node:util";

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export type Command = "sweep" | "reconcile" | "event" | "report";

/** `report --days`: the default window, and the longest (Log Analytics' default retention is 30 to 90 days). */
export const REPORT_DAYS_DEFAULT = 7;
export const REPORT_DAYS_MAX = 90;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface CliArguments {
  readonly command: Command;
  readonly subscriptions: readonly string[];
  readonly resourceId: string | undefined;
  /** `event`: a file of Event Grid events, or `-` for standard input. */
  readonly eventsFrom: string | undefined;
  readonly dryRun: boolean;
  readonly json: boolean;
  readonly simulate: string | undefined;
  readonly saveEstate: string | undefined;
  /** `--advance`: how far the simulated clock moves forward before the run, in milliseconds. */
  readonly advanceMs: number | undefined;
  /** `report`: the Log Analytics workspace's id (its customer id, a GUID). */
  readonly workspace: string | undefined;
  /** `report`: how many days back the newest outcomes are looked for. */
  readonly days: number;
  /** `report`: `-o table|json|html` (`--json` is `-o json`). */
  readonly output: ReportOutput;
  /** `report`: `--out FILE`, where the output goes instead of standard output. */
  readonly out: string | undefined;
}

export const REPORT_OUTPUTS = ["table", "json", "html"] as const;
export type ReportOutput = (typeof REPORT_OUTPUTS)[number];

export const USAGE = `usage:
  autoprotect sweep     [--subscription ID]... [--dry-run] [--json] [--simulate ESTATE.json [--save-estate OUT.json] [--advance DURATION]]
  autoprotect reconcile RESOURCE_ID          [--dry-run] [--json] [--simulate ESTATE.json [--save-estate OUT.json] [--advance DURATION]]
  autoprotect event     FILE|-               [--dry-run] [--json] [--simulate ESTATE.json [--save-estate OUT.json] [--advance DURATION]]
  autoprotect report    --workspace ID [--days N] [--subscription ID]... [-o table|json|html] [--out FILE] [--simulate ESTATE.json]

  --dry-run        audit mode: report what would change, write nothing
  --json           print one outcome record per line (JSON Lines) on stdout; report: one JSON object
  event            process Event Grid events (Event Grid schema or CloudEvents 1.0; one or an array)
                   from FILE or standard input exactly as the Event Grid trigger does
  --simulate FILE  run against the local Azure control-plane simulator loaded with FILE
  --save-estate F  after a simulated run, write the simulator's state to F (same format)
  --advance D      with --simulate: move the simulated clock forward by D (90s, 10m, 2h, 1d) before the run
  report           the coverage per check from the outcomes in Log Analytics (the newest per resource
                   and check within the last N days, default 7, at most 90) and the open manual items;
                   -o json: every query of docs/queries.kql as one object; -o html: one self-contained page
  --workspace ID   the Log Analytics workspace's id (its customer id, a GUID)
  --out FILE       report: write the output to FILE instead of standard output`;

export function parseCliArguments(argv: readonly string[]): CliArguments | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        subscription: { type: "string", multiple: true },
        "dry-run": { type: "boolean" },
        json: { type: "boolean" },
        simulate: { type: "string" },
        "save-estate": { type: "string" },
        advance: { type: "string" },
        workspace: { type: "string" },
        days: { type: "string" },
        output: { type: "string", short: "o" },
        out: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) return "help";
  const [command, ...rest] = positionals;
  if (command === undefined) throw new UsageError("missing command (sweep, reconcile, event or report)");
  if (command !== "sweep" && command !== "reconcile" && command !== "event" && command !== "report") {
    throw new UsageError(`unknown command '${command}' (expected sweep, reconcile, event or report)`);
  }
  if (command !== "report") {
    for (const option of ["workspace", "days", "output", "out"] as const) {
      if (values[option] !== undefined) {
        throw new UsageError(
          `${option === "output" ? "-o" : `--${option}`} goes with report, not ${command}`,
        );
      }
    }
  }
  if (values["save-estate"] !== undefined && values.simulate === undefined) {
    throw new UsageError("--save-estate needs --simulate");
  }
  if (values.advance !== undefined && command === "report") {
    throw new UsageError("--advance goes with sweep, reconcile or event");
  }
  if (values.advance !== undefined && values.simulate === undefined) {
    throw new UsageError("--advance needs --simulate: only the simulator's clock can be moved");
  }
  const advanceMs = values.advance === undefined ? undefined : parseDuration(values.advance);
  let resourceId: string | undefined;
  let eventsFrom: string | undefined;
  let report: ReportArguments = {
    workspace: undefined,
    days: REPORT_DAYS_DEFAULT,
    output: "table",
    out: undefined,
  };
  if (command === "report") {
    report = reportArguments(values, rest);
  } else if (command === "event") {
    if (rest.length !== 1) throw new UsageError("event takes exactly one FILE (or - for standard input)");
    if ((values.subscription ?? []).length > 0)
      throw new UsageError("--subscription goes with sweep, not event");
    eventsFrom = rest[0];
  } else if (command === "reconcile") {
    if (rest.length !== 1) throw new UsageError("reconcile takes exactly one RESOURCE_ID");
    if ((values.subscription ?? []).length > 0)
      throw new UsageError("--subscription goes with sweep, not reconcile");
    resourceId = rest[0];
  } else if (rest.length > 0) {
    throw new UsageError(
      `sweep takes no positional arguments (got '${rest.join(" ")}'); use --subscription ID`,
    );
  }
  return {
    command,
    subscriptions: values.subscription ?? [],
    resourceId,
    eventsFrom,
    dryRun: values["dry-run"] === true,
    json: values.json === true,
    simulate: values.simulate,
    saveEstate: values["save-estate"],
    advanceMs,
    ...report,
  };
}

type ReportArguments = Pick<CliArguments, "workspace" | "days" | "output" | "out">;

/** `report`'s own options; what only other commands take is bad usage here. */
function reportArguments(
  values: {
    subscription?: string[] | undefined;
    "dry-run"?: boolean | undefined;
    "save-estate"?: string | undefined;
    json?: boolean | undefined;
    workspace?: string | undefined;
    days?: string | undefined;
    output?: string | undefined;
    out?: string | undefined;
  },
  rest: readonly string[],
): ReportArguments {
  if (rest.length > 0) {
    throw new UsageError(
      `report takes no positional arguments (got '${rest.join(" ")}'); use --workspace ID`,
    );
  }
  if (values["dry-run"] === true)
    throw new UsageError("--dry-run goes with sweep, reconcile or event: report changes nothing");
  if (values["save-estate"] !== undefined)
    throw new UsageError("--save-estate goes with sweep, reconcile or event: report changes nothing");
  for (const id of values.subscription ?? []) {
    if (!GUID.test(id)) throw new UsageError(`--subscription '${id}' is not a subscription id (GUID)`);
  }
  let output: ReportOutput = values.json === true ? "json" : "table";
  if (values.output !== undefined) {
    const given = values.output.trim().toLowerCase();
    if (!(REPORT_OUTPUTS as readonly string[]).includes(given)) {
      throw new UsageError(`-o '${values.output}' is not an output of report (${REPORT_OUTPUTS.join(", ")})`);
    }
    if (values.json === true && given !== "json")
      throw new UsageError(`--json and -o ${given} contradict each other`);
    output = given as ReportOutput;
  }
  if (values.out?.trim() === "") throw new UsageError("--out needs a file name");
  return {
    workspace: reportWorkspace(values.workspace),
    days: values.days === undefined ? REPORT_DAYS_DEFAULT : reportDays(values.days),
    output,
    out: values.out,
  };
}

const DAY_MS = 86_400_000;
const DURATION_UNITS_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: DAY_MS };
/** The longest --advance: ten years is far past any wait the engine knows of, and keeps dates valid. */
export const ADVANCE_MAX_MS = 3650 * DAY_MS;

/** `90s`, `10m`, `2h`, `1d`: a whole number and one unit, in milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)([smhd])$/.exec(text.trim());
  const amount = match === null ? Number.NaN : Number(match[1]);
  const ms = amount * (DURATION_UNITS_MS[match?.[2] ?? ""] ?? Number.NaN);
  if (!Number.isSafeInteger(ms) || ms > ADVANCE_MAX_MS) {
    throw new UsageError(
      `--advance '${text}' is not a duration: a whole number and a unit s, m, h or d (90s, 10m, 2h, 1d), at most 3650d`,
    );
  }
  return ms;
}

function reportWorkspace(value: string | undefined): string {
  if (value === undefined) {
    throw new UsageError("report needs --workspace ID (the Log Analytics workspace's customer id, a GUID)");
  }
  const id = value.trim();
  if (GUID.test(id)) return id;
  const hint = id.toLowerCase().includes("/providers/microsoft.operationalinsights/workspaces/")
    ? "; that is its resource id: give its customer id (Workspace ID in the portal, properties.customerId)"
    : "";
  throw new UsageError(
    `--workspace '${value}' is not a Log Analytics workspace id (the workspace's customer id, a GUID)${hint}`,
  );
}

function reportDays(value: string): number {
  const days = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(days) || days < 1 || days > REPORT_DAYS_MAX) {
    throw new UsageError(
      `--days '${value}' is not a whole number of days from 1 to ${String(REPORT_DAYS_MAX)}`,
    );
  }
  return days;
}
