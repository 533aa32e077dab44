/** `autoprotect help [COMMAND]`, `COMMAND --help` and `--version`: what people read before they run anything. */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CONFIG_VARIABLES } from "../model/config.js";
import { COMMAND_OPTIONS, type Command, type OptionSpec } from "./args.js";

const SYNOPSIS: Readonly<Record<Command, readonly string[]>> = {
  sweep: ["autoprotect sweep [--subscription ID|NAME]... [options]"],
  reconcile: ["autoprotect reconcile RESOURCE_ID [options]"],
  event: ["autoprotect event FILE|- [options]"],
  report: ["autoprotect report --workspace ID [--days N] [-o table|json|html] [--out FILE]"],
  rollout: [
    "autoprotect rollout status [SERVICE_ID] [-o table|json]",
    "autoprotect rollout pause SERVICE_ID [--note TEXT]",
    "autoprotect rollout resume SERVICE_ID",
  ],
  snapshot: ["autoprotect snapshot --out FILE [--subscription ID|NAME]..."],
  help: ["autoprotect help [COMMAND]"],
};

const SUMMARY: Readonly<Record<Command, string>> = {
  sweep: "check every cluster, plan and API in the subscriptions in scope, and fix what is missing",
  reconcile: "check one resource (a cluster, an APIM service or API, a Defender plan) and fix it",
  event: "handle Event Grid events from FILE or standard input exactly as the Event Grid trigger does",
  report: "coverage per check and the open manual items, from the outcomes in Log Analytics",
  rollout: "show where each API Management instance's onboarding rollout stands; pause or resume it",
  snapshot: "read an estate (read-only) into an estate file that --simulate can replay offline",
  help: "show the commands, or one command's options and settings",
};

const DETAILS: Partial<Record<Command, string>> = {
  sweep: `Against Azure in enforce mode, on a terminal, autoprotect shows what it may change and asks
first (--yes skips the question). Audit first: --mode audit (or --dry-run) changes nothing.`,
  reconcile: `RESOURCE_ID is an ARM id as the portal shows it (Properties > Resource ID).`,
  event: `Events are in the Event Grid schema or CloudEvents 1.0, one object or an array; events about
other resource types are ignored with a note on standard error.`,
  report: `Reads Log Analytics only; changes nothing.`,
  rollout: `SERVICE_ID is the API Management service's resource id. A paused rollout takes no step: its
pending APIs stay deferred, with the pause in the reason, until resume. Every trigger honours it. By
default the CLI's state folder is used (AUTOPROTECT_STATE_DIR); --storage-account or --table-storage
read and write the Functions app's rollout state in Table Storage.`,
  snapshot: `Reads subscriptions, Defender plans, clusters, resource groups' tags, Log Analytics workspaces,
API Management services, their APIs, gateways, workspaces, Defender API collections and capacity,
read-only, through the same calls autoprotect makes. Secrets never enter the file. Then:
  autoprotect sweep --simulate FILE --save-estate after.json
shows offline exactly which writes enforce would make.`,
};

/** The environment variables each command reads (besides Azure's own sign-in variables). */
function variablesOf(command: Command): string[] {
  const all = Object.keys(CONFIG_VARIABLES).filter((v) => v.startsWith("AUTOPROTECT_"));
  switch (command) {
    case "sweep":
    case "reconcile":
    case "event":
      return all.filter((v) => v !== "AUTOPROTECT_SWEEP_SCHEDULE");
    case "report":
      return ["AUTOPROTECT_DCR_ID", "AUTOPROTECT_INGESTION_STREAM", "AUTOPROTECT_STATE_DIR"];
    case "rollout":
      return [
        "AUTOPROTECT_STATE_DIR",
        "AUTOPROTECT_CAPACITY_LIMIT",
        "AUTOPROTECT_ROLLOUT_INTERVAL_MINUTES",
        "AzureWebJobsStorage",
        "AzureWebJobsStorage__accountName",
        "AzureWebJobsStorage__tableServiceUri",
      ];
    case "snapshot":
      return [
        "AUTOPROTECT_SUBSCRIPTIONS",
        "AUTOPROTECT_WORKSPACE_ID",
        "AUTOPROTECT_CALL_TIMEOUT_SECONDS",
        "AUTOPROTECT_CALL_DEADLINE_SECONDS",
      ];
    case "help":
      return [];
  }
}

function optionLine(spec: OptionSpec): [string, string] {
  const names = spec.short === undefined ? `    --${spec.name}` : `-${spec.short}, --${spec.name}`;
  return [spec.value === undefined ? names : `${names} ${spec.value}`, spec.help];
}

function columns(rows: readonly [string, string][], indent = "  "): string[] {
  const width = Math.min(34, Math.max(...rows.map(([left]) => left.length)));
  return rows.map(([left, right]) =>
    left.length > width
      ? `${indent}${left}\n${indent}${" ".repeat(width)}  ${right}`
      : `${indent}${left.padEnd(width)}  ${right}`,
  );
}

/** One command's help: synopsis, what it does, its options, the variables it reads. */
export function commandHelp(command: Command): string {
  const lines = [`usage: ${SYNOPSIS[command].join("\n       ")}`, "", SUMMARY[command] + "."];
  const details = DETAILS[command];
  if (details !== undefined) lines.push("", details);
  lines.push("", "options:", ...columns(COMMAND_OPTIONS[command].map(optionLine)));
  const variables = variablesOf(command);
  if (variables.length > 0) {
    const meaning = CONFIG_VARIABLES as Readonly<Record<string, string>>;
    lines.push(
      "",
      "settings (environment variables: they override the settings file, and flags override both):",
      ...columns(variables.map((v) => [v, meaning[v] ?? ""])),
    );
  }
  if (command === "sweep" || command === "reconcile" || command === "event") {
    lines.push(
      "",
      "exit status: 0 done; 1 an outcome has a --fail-on status (default failed), or outcomes could not",
      "be kept; 2 bad usage or input, or no sign-in to Azure (nothing run); 130 interrupted.",
    );
  }
  return `${lines.join("\n")}\n`;
}

/** The overview: every command in one line, and where to go next. */
export function overviewHelp(): string {
  const commands = (Object.keys(SYNOPSIS) as Command[]).map((c): [string, string] => [c, SUMMARY[c]]);
  return [
    "usage: autoprotect COMMAND [options]",
    "",
    "Keeps Microsoft Defender for Cloud switched on for AKS clusters and API Management APIs.",
    "",
    "commands:",
    ...columns(commands),
    "",
    "Start with an audit:  autoprotect sweep --mode audit",
    "Try it offline:       autoprotect sweep --simulate samples/estate.json --mode audit",
    "",
    "autoprotect help COMMAND (or COMMAND --help) shows a command's options and settings;",
    "autoprotect --version shows the version. README.md and docs/contract.md say more.",
    "",
  ].join("\n");
}

/** The package's version, from the package.json above this module (in src/ and in dist/src/ alike). */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const parsed = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
        name?: unknown;
        version?: unknown;
      };
      if (parsed.name === "autoprotect" && typeof parsed.version === "string") return parsed.version;
    } catch {
      // not here: one folder up
    }
    dir = dirname(dir);
  }
  return "unknown";
}

export function versionText(): string {
  return `autoprotect ${packageVersion()} (Node.js ${process.versions.node})\n`;
}
