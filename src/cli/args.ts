/**
 * The command line as people type it: a command first, then its own options. Each command declares
 * its options once (the parser and `autoprotect help COMMAND` read the same table), errors name what
 * was wrong in the project's words, and `report`'s options are parsed in one function of their own.
 */
import { CHECK_IDS, isCheckId, STATUSES, type CheckId, type Status } from "../model/checks.js";
import type { Mode } from "../model/outcome.js";

export class UsageError extends Error {
  override readonly name = "UsageError";
  constructor(
    message: string,
    /** The command whose help the error points to; undefined: the overview. */
    readonly command?: Command,
  ) {
    super(message);
  }
}

export const RUN_COMMANDS = ["sweep", "reconcile", "event"] as const;
export type RunCommand = (typeof RUN_COMMANDS)[number];
export const COMMANDS = [...RUN_COMMANDS, "report", "rollout", "snapshot", "help"] as const;
export type Command = (typeof COMMANDS)[number];

export type OutputFormat = "table" | "json" | "sarif" | "html";
/** What `report` writes. */
export type ReportOutput = Extract<OutputFormat, "table" | "json" | "html">;
export const REPORT_OUTPUTS: readonly ReportOutput[] = ["table", "json", "html"];
export type RolloutAction = "status" | "pause" | "resume";

/** `report --days`: the default window, and the longest (Log Analytics' default retention is 30 to 90 days). */
export const REPORT_DAYS_DEFAULT = 7;
export const REPORT_DAYS_MAX = 90;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface CliArguments {
  readonly command: Exclude<Command, "help">;
  /** `--subscription`, as typed (ids or names), duplicates removed. */
  readonly subscriptions: readonly string[];
  readonly resourceId: string | undefined;
  /** `event`: a file of Event Grid events, or `-` for standard input. */
  readonly eventsFrom: string | undefined;
  /** `--mode` (or `--dry-run`: audit); undefined: from the configuration. */
  readonly mode: Mode | undefined;
  /** `--checks`; undefined: from the configuration. */
  readonly checks: readonly CheckId[] | undefined;
  /** True when the run is an audit because of `--dry-run` or `--mode audit`. */
  readonly dryRun: boolean;
  readonly output: OutputFormat;
  /** `-o json` (or `--json`): kept as a field for the commands that only ask "JSON or not". */
  readonly json: boolean;
  /** Statuses that make the exit status 1 (`--fail-on`, default `failed`). */
  readonly failOn: readonly Status[];
  /** `--yes`: no confirmation prompt. */
  readonly yes: boolean;
  /** `--config FILE`; undefined: ./autoprotect.json when it exists. */
  readonly config: string | undefined;
  readonly simulate: string | undefined;
  readonly saveEstate: string | undefined;
  /** `--advance`: how far the simulated clock moves forward before the run, in milliseconds. */
  readonly advanceMs: number | undefined;
  /** `report`: the Log Analytics workspace's id (its customer id, a GUID). */
  readonly workspace: string | undefined;
  /** `report`: how many days back the newest outcomes are looked for. */
  readonly days: number;
  /** `report --out`, `snapshot --out`: the file to write. */
  readonly out: string | undefined;
  /** `rollout`: what to do, and the APIM service it is about. */
  readonly rolloutAction: RolloutAction | undefined;
  readonly serviceId: string | undefined;
  /** `rollout pause --note`: why, for whoever looks next. */
  readonly note: string | undefined;
  /** `rollout --storage-account`: the Functions app's storage account (Table Storage) instead of the state folder. */
  readonly storageAccount: string | undefined;
  /** `rollout --table-storage`: the Functions app's storage as its settings (AzureWebJobsStorage…) name it. */
  readonly tableStorage: boolean;
}

export type ParsedCommandLine =
  | { readonly kind: "run"; readonly args: CliArguments }
  | { readonly kind: "help"; readonly command: Command | undefined }
  | { readonly kind: "version" };

/** One option of one command: how it is spelt, whether it takes a value, and what it does (for help). */
export interface OptionSpec {
  readonly name: string;
  readonly short?: string;
  /** The value's placeholder; absent for a switch. */
  readonly value?: string;
  readonly multiple?: boolean;
  readonly help: string;
}

const HELP: OptionSpec = { name: "help", short: "h", help: "show this command's help" };
const CONFIG: OptionSpec = {
  name: "config",
  value: "FILE",
  help: "settings file (default ./autoprotect.json when it exists; see docs/contract.md)",
};
const SIMULATE: OptionSpec = {
  name: "simulate",
  value: "ESTATE.json",
  help: "run against the local Azure simulator loaded with this estate file, not Azure",
};

const RUN_OPTIONS: readonly OptionSpec[] = [
  {
    name: "mode",
    value: "audit|enforce",
    help: "audit reports what would change and writes nothing; enforce (the default) fixes",
  },
  { name: "dry-run", help: "same as --mode audit" },
  {
    name: "checks",
    value: "IDS",
    help: `comma-separated check ids to run (default: all): ${CHECK_IDS.join(", ")}`,
  },
  {
    name: "output",
    short: "o",
    value: "table|json|sarif",
    help: "table (default, for people), json (one outcome per line) or sarif (SARIF 2.1.0, for code scanning)",
  },
  { name: "json", help: "same as -o json" },
  {
    name: "fail-on",
    value: "STATUSES",
    help: "exit 1 when an outcome has one of these statuses (default failed; e.g. planned,manual,failed; none)",
  },
  { name: "yes", short: "y", help: "enforce against Azure without asking for confirmation" },
  CONFIG,
  SIMULATE,
  {
    name: "save-estate",
    value: "OUT.json",
    help: "with --simulate: write the simulator's state after the run",
  },
  {
    name: "advance",
    value: "DURATION",
    help: "with --simulate: move the simulated clock forward (90s, 10m, 2h, 1d) before the run",
  },
  HELP,
];

const SUBSCRIPTION: OptionSpec = {
  name: "subscription",
  value: "ID|NAME",
  multiple: true,
  help: "a subscription to look at, by id or display name (repeatable; default: every one in scope)",
};

const REPORT_OPTIONS: readonly OptionSpec[] = [
  {
    name: "workspace",
    value: "ID",
    help: "the Log Analytics workspace's id (its customer id, a GUID; Workspace ID in the portal)",
  },
  {
    name: "days",
    value: "N",
    help: `newest outcome per resource and check within N days (default ${String(REPORT_DAYS_DEFAULT)}, at most ${String(REPORT_DAYS_MAX)})`,
  },
  { name: "output", short: "o", value: "table|json|html", help: "table (default), json or html" },
  { name: "json", help: "same as -o json" },
  { name: "out", value: "FILE", help: "write the report to FILE instead of standard output" },
  {
    name: "subscription",
    value: "ID",
    multiple: true,
    help: "only these subscriptions' outcomes (repeatable; default: every one in the workspace)",
  },
  { ...SIMULATE, help: "read the outcomes a simulated run left in this estate file" },
  HELP,
];

const ROLLOUT_OPTIONS: readonly OptionSpec[] = [
  { name: "output", short: "o", value: "table|json", help: "status as a table (default) or JSON" },
  { name: "json", help: "same as -o json" },
  { name: "note", value: "TEXT", help: "pause: why, shown by rollout status and in every outcome" },
  {
    name: "storage-account",
    value: "NAME",
    help: "the Functions app's storage account (Table Storage, signed in as for Azure) instead of the state folder",
  },
  {
    name: "table-storage",
    help: "the Functions app's storage as AzureWebJobsStorage… name it (a connection string for Azurite)",
  },
  CONFIG,
  HELP,
];

const SNAPSHOT_OPTIONS: readonly OptionSpec[] = [
  { name: "out", value: "FILE", help: "where to write the estate file (- for standard output)" },
  SUBSCRIPTION,
  CONFIG,
  { ...SIMULATE, help: "snapshot a simulated estate (for trying it out)" },
  HELP,
];

/** Every command's options, as the parser and the help read them. */
export const COMMAND_OPTIONS: Readonly<Record<Command, readonly OptionSpec[]>> = {
  sweep: [SUBSCRIPTION, ...RUN_OPTIONS],
  reconcile: RUN_OPTIONS,
  event: RUN_OPTIONS,
  report: REPORT_OPTIONS,
  rollout: ROLLOUT_OPTIONS,
  snapshot: SNAPSHOT_OPTIONS,
  help: [HELP],
};

type Values = Map<string, string[]>;

function isCommand(value: string): value is Command {
  return (COMMANDS as readonly string[]).includes(value);
}

function spelling(spec: OptionSpec): string {
  return spec.short === undefined ? `--${spec.name}` : `-${spec.short}/--${spec.name}`;
}

/** Splits `argv` (after the command) into option values and positionals, by the command's table. */
function tokenize(command: Command, argv: readonly string[]): { values: Values; positionals: string[] } {
  const specs = COMMAND_OPTIONS[command];
  const values: Values = new Map();
  const positionals: string[] = [];
  const unknown = (flag: string): never => {
    // An option of other commands: say whose, as people mix them up.
    const owners = COMMANDS.filter((c) =>
      COMMAND_OPTIONS[c].some(
        (s) => `--${s.name}` === flag || (s.short !== undefined && `-${s.short}` === flag),
      ),
    );
    const whose =
      owners.length === 0
        ? ""
        : ` (${flag} goes with ${owners.length === 1 ? owners.join("") : `${owners.slice(0, -1).join(", ")} or ${owners.at(-1) ?? ""}`})`;
    throw new UsageError(`${command} has no option ${flag}${whose}`, command);
  };
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? "";
    if (token === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let spec: OptionSpec | undefined;
    let inline: string | undefined;
    let flag: string;
    if (token.startsWith("--")) {
      const eq = token.indexOf("=");
      flag = eq < 0 ? token : token.slice(0, eq);
      inline = eq < 0 ? undefined : token.slice(eq + 1);
      spec = specs.find((s) => `--${s.name}` === flag);
    } else if (token.startsWith("-") && token.length > 1) {
      flag = token.slice(0, 2);
      inline = token.length > 2 ? token.slice(2) : undefined;
      spec = specs.find((s) => s.short !== undefined && `-${s.short}` === flag);
    } else {
      positionals.push(token);
      continue;
    }
    if (spec === undefined) return unknown(flag);
    let value: string;
    if (spec.value === undefined) {
      if (inline !== undefined) throw new UsageError(`${spelling(spec)} takes no value`, command);
      value = "true";
    } else if (inline !== undefined) {
      value = inline;
    } else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith("-") && next !== "-")) {
        throw new UsageError(`${spelling(spec)} needs a value (${spec.value})`, command);
      }
      value = next;
      i += 1;
    }
    const known = values.get(spec.name) ?? [];
    if (known.length > 0 && spec.multiple !== true && known[0] !== value) {
      throw new UsageError(`${spelling(spec)} is given twice ('${known[0] ?? ""}', '${value}')`, command);
    }
    values.set(spec.name, [...known, value]);
  }
  return { values, positionals };
}

function one(values: Values, name: string): string | undefined {
  return values.get(name)?.[0];
}

function flag(values: Values, name: string): boolean {
  return values.has(name);
}

/** `-o`/`--output` and `--json`, which must agree, among the formats the command writes. */
function outputFormat(values: Values, command: Command, allowed: readonly OutputFormat[]): OutputFormat {
  const named = one(values, "output");
  if (named !== undefined && !(allowed as readonly string[]).includes(named)) {
    throw new UsageError(`-o '${named}' is not one of ${allowed.join(", ")}`, command);
  }
  if (flag(values, "json") && named !== undefined && named !== "json") {
    throw new UsageError(`--json contradicts -o ${named}`, command);
  }
  return flag(values, "json") ? "json" : ((named as OutputFormat | undefined) ?? "table");
}

/** `--fail-on planned,manual,failed`: statuses, or `none`. */
export function parseFailOn(text: string): Status[] {
  const names = text
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length > 0);
  if (names.length === 1 && names[0] === "none") return [];
  const statuses: Status[] = [];
  for (const name of names) {
    const status = STATUSES.find((s) => s === name);
    if (status === undefined) {
      throw new UsageError(`--fail-on '${name}' is not a status (${STATUSES.join(", ")}, or none)`, "sweep");
    }
    if (!statuses.includes(status)) statuses.push(status);
  }
  if (statuses.length === 0) throw new UsageError("--fail-on needs at least one status (or none)", "sweep");
  return statuses;
}

function parseChecks(text: string, command: Command): CheckId[] {
  const ids = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const unknown = ids.find((id) => !isCheckId(id));
  if (unknown !== undefined) {
    throw new UsageError(`--checks: unknown check '${unknown}' (known: ${CHECK_IDS.join(", ")})`, command);
  }
  if (ids.length === 0) throw new UsageError("--checks needs at least one check id", command);
  return [...new Set(ids.filter(isCheckId))];
}

function parseMode(values: Values, command: Command): { mode: Mode | undefined; dryRun: boolean } {
  const named = one(values, "mode")?.toLowerCase();
  if (named !== undefined && named !== "audit" && named !== "enforce") {
    throw new UsageError(`--mode '${named}' is not audit or enforce`, command);
  }
  if (flag(values, "dry-run") && named === "enforce") {
    throw new UsageError("--dry-run contradicts --mode enforce", command);
  }
  const mode = flag(values, "dry-run") ? "audit" : named;
  return { mode, dryRun: mode === "audit" };
}

/** Removes repeats, comparing without regard to case (ids and display names alike). */
export function distinct(items: readonly string[]): string[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const key = item.trim().toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const EMPTY: Omit<CliArguments, "command"> = {
  subscriptions: [],
  resourceId: undefined,
  eventsFrom: undefined,
  mode: undefined,
  checks: undefined,
  dryRun: false,
  output: "table",
  json: false,
  failOn: ["failed"],
  yes: false,
  config: undefined,
  simulate: undefined,
  saveEstate: undefined,
  advanceMs: undefined,
  workspace: undefined,
  days: REPORT_DAYS_DEFAULT,
  out: undefined,
  rolloutAction: undefined,
  serviceId: undefined,
  note: undefined,
  storageAccount: undefined,
  tableStorage: false,
};

/** sweep, reconcile, event: what to look at, how, and what to print. */
function parseRunArguments(command: RunCommand, values: Values, rest: string[]): CliArguments {
  const simulate = one(values, "simulate");
  if (one(values, "save-estate") !== undefined && simulate === undefined) {
    throw new UsageError("--save-estate needs --simulate", command);
  }
  const advance = one(values, "advance");
  if (advance !== undefined && simulate === undefined) {
    throw new UsageError("--advance needs --simulate: only the simulator's clock can be moved", command);
  }
  let resourceId: string | undefined;
  let eventsFrom: string | undefined;
  if (command === "event") {
    if (rest.length !== 1)
      throw new UsageError("event takes exactly one FILE (or - for standard input)", command);
    eventsFrom = rest[0];
  } else if (command === "reconcile") {
    if (rest.length !== 1) throw new UsageError("reconcile takes exactly one RESOURCE_ID", command);
    resourceId = rest[0];
  } else if (rest.length > 0) {
    throw new UsageError(
      `sweep takes no positional arguments (got '${rest.join(" ")}'); use --subscription ID`,
      command,
    );
  }
  const output = outputFormat(values, command, ["table", "json", "sarif"]);
  const failOnText = one(values, "fail-on");
  const checksText = one(values, "checks");
  return {
    ...EMPTY,
    command,
    subscriptions: distinct(values.get("subscription") ?? []),
    resourceId,
    eventsFrom,
    ...parseMode(values, command),
    checks: checksText === undefined ? undefined : parseChecks(checksText, command),
    output,
    json: output === "json",
    failOn: failOnText === undefined ? ["failed"] : parseFailOnFor(failOnText, command),
    yes: flag(values, "yes"),
    config: one(values, "config"),
    simulate,
    saveEstate: one(values, "save-estate"),
    advanceMs: advance === undefined ? undefined : parseDuration(advance, command),
  };
}

function parseFailOnFor(text: string, command: Command): Status[] {
  try {
    return parseFailOn(text);
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(error.message, command);
    throw error;
  }
}

/**
 * `report`: its own options, kept in this one function so that the report's own work (its formats, its
 * output file) extends it without touching the other commands.
 */
export function parseReportArguments(values: Values, rest: string[]): CliArguments {
  if (rest.length > 0) {
    throw new UsageError(
      `report takes no positional arguments (got '${rest.join(" ")}'); use --workspace ID`,
      "report",
    );
  }
  const output = outputFormat(values, "report", ["table", "json", "html"]);
  const days = one(values, "days");
  const subscriptions = values.get("subscription") ?? [];
  for (const id of subscriptions) {
    if (!GUID.test(id))
      throw new UsageError(`--subscription '${id}' is not a subscription id (GUID)`, "report");
  }
  const out = one(values, "out");
  if (out?.trim() === "") throw new UsageError("--out needs a file name", "report");
  return {
    ...EMPTY,
    command: "report",
    workspace: reportWorkspace(one(values, "workspace")),
    days: days === undefined ? REPORT_DAYS_DEFAULT : reportDays(days),
    output,
    json: output === "json",
    out,
    subscriptions,
    simulate: one(values, "simulate"),
  };
}

const ROLLOUT_ACTIONS: readonly RolloutAction[] = ["status", "pause", "resume"];

function parseRolloutArguments(values: Values, rest: string[]): CliArguments {
  const [action, serviceId, ...extra] = rest;
  if (action === undefined || !(ROLLOUT_ACTIONS as readonly string[]).includes(action)) {
    throw new UsageError(
      action === undefined
        ? "rollout needs an action: status [SERVICE_ID], pause SERVICE_ID or resume SERVICE_ID"
        : `rollout has no action '${action}' (status, pause or resume)`,
      "rollout",
    );
  }
  if (extra.length > 0) throw new UsageError(`rollout ${action} takes one SERVICE_ID at most`, "rollout");
  if (action !== "status" && serviceId === undefined) {
    throw new UsageError(`rollout ${action} needs the API Management service's resource id`, "rollout");
  }
  const note = one(values, "note");
  if (note !== undefined && action !== "pause")
    throw new UsageError("--note goes with rollout pause", "rollout");
  const output = outputFormat(values, "rollout", ["table", "json"]);
  return {
    ...EMPTY,
    command: "rollout",
    rolloutAction: action as RolloutAction,
    serviceId,
    note,
    output,
    json: output === "json",
    config: one(values, "config"),
    storageAccount: one(values, "storage-account"),
    tableStorage: flag(values, "table-storage"),
  };
}

function parseSnapshotArguments(values: Values, rest: string[]): CliArguments {
  if (rest.length > 0) {
    throw new UsageError(`snapshot takes no positional arguments (got '${rest.join(" ")}')`, "snapshot");
  }
  const out = one(values, "out");
  if (out === undefined)
    throw new UsageError("snapshot needs --out FILE (the estate file to write)", "snapshot");
  return {
    ...EMPTY,
    command: "snapshot",
    out,
    subscriptions: distinct(values.get("subscription") ?? []),
    config: one(values, "config"),
    simulate: one(values, "simulate"),
  };
}

/** Parses the whole command line: `COMMAND [options]`, `help [COMMAND]`, `--help`, `--version`. */
export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  const [first, ...after] = argv;
  if (first === undefined) throw new UsageError("missing command");
  if (first === "--version" || first === "-V") return { kind: "version" };
  if (first === "--help" || first === "-h") return { kind: "help", command: undefined };
  if (first.startsWith("-")) {
    throw new UsageError(`the command comes first (autoprotect COMMAND [options]), not ${first}`);
  }
  if (!isCommand(first)) {
    throw new UsageError(`unknown command '${first}' (commands: ${COMMANDS.join(", ")})`);
  }
  if (first === "help") {
    const [topic, ...extra] = after;
    if (topic === undefined || topic === "--help" || topic === "-h")
      return { kind: "help", command: undefined };
    if (!isCommand(topic) || extra.length > 0) {
      throw new UsageError(
        `help: no command '${[topic, ...extra].join(" ")}' (commands: ${COMMANDS.join(", ")})`,
      );
    }
    return { kind: "help", command: topic };
  }
  // --help wins over anything else on the line, even an option it does not know.
  if (after.includes("--help") || after.includes("-h")) return { kind: "help", command: first };
  const { values, positionals } = tokenize(first, after);
  switch (first) {
    case "report":
      return { kind: "run", args: parseReportArguments(values, positionals) };
    case "rollout":
      return { kind: "run", args: parseRolloutArguments(values, positionals) };
    case "snapshot":
      return { kind: "run", args: parseSnapshotArguments(values, positionals) };
    default:
      return { kind: "run", args: parseRunArguments(first, values, positionals) };
  }
}

const DAY_MS = 86_400_000;
const DURATION_UNITS_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: DAY_MS };
/** The longest --advance: ten years is far past any wait the engine knows of, and keeps dates valid. */
export const ADVANCE_MAX_MS = 3650 * DAY_MS;

/** `90s`, `10m`, `2h`, `1d`: a whole number and one unit, in milliseconds. */
export function parseDuration(text: string, command?: Command): number {
  const match = /^(\d+)([smhd])$/.exec(text.trim());
  const amount = match === null ? Number.NaN : Number(match[1]);
  const ms = amount * (DURATION_UNITS_MS[match?.[2] ?? ""] ?? Number.NaN);
  if (!Number.isSafeInteger(ms) || ms > ADVANCE_MAX_MS) {
    throw new UsageError(
      `--advance '${text}' is not a duration: a whole number and a unit s, m, h or d (90s, 10m, 2h, 1d), at most 3650d`,
      command,
    );
  }
  return ms;
}

function reportWorkspace(value: string | undefined): string {
  if (value === undefined) {
    throw new UsageError(
      "report needs --workspace ID (the Log Analytics workspace's customer id, a GUID)",
      "report",
    );
  }
  const id = value.trim();
  if (GUID.test(id)) return id;
  const hint = id.toLowerCase().includes("/providers/microsoft.operationalinsights/workspaces/")
    ? "; that is its resource id: give its customer id (Workspace ID in the portal, properties.customerId)"
    : "";
  throw new UsageError(
    `--workspace '${value}' is not a Log Analytics workspace id (the workspace's customer id, a GUID)${hint}`,
    "report",
  );
}

function reportDays(value: string): number {
  const days = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(days) || days < 1 || days > REPORT_DAYS_MAX) {
    throw new UsageError(
      `--days '${value}' is not a whole number of days from 1 to ${String(REPORT_DAYS_MAX)}`,
      "report",
    );
  }
  return days;
}
