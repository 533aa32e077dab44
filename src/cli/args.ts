import { parseArgs } from "node:util";

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export type Command = "sweep" | "reconcile" | "event";

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
}

export const USAGE = `usage:
  autoprotect sweep     [--subscription ID]... [--dry-run] [--json] [--simulate ESTATE.json [--save-estate OUT.json]]
  autoprotect reconcile RESOURCE_ID          [--dry-run] [--json] [--simulate ESTATE.json [--save-estate OUT.json]]
  autoprotect event     FILE|-               [--dry-run] [--json] [--simulate ESTATE.json [--save-estate OUT.json]]

  --dry-run        audit mode: report what would change, write nothing
  --json           print one outcome record per line (JSON Lines) on stdout
  event            process Event Grid events (Event Grid schema or CloudEvents 1.0; one or an array)
                   from FILE or standard input exactly as the Event Grid trigger does
  --simulate FILE  run against the local Azure control-plane simulator loaded with FILE
  --save-estate F  after a simulated run, write the simulator's state to F (same format)`;

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
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) return "help";
  const [command, ...rest] = positionals;
  if (command === undefined) throw new UsageError("missing command (sweep, reconcile or event)");
  if (command !== "sweep" && command !== "reconcile" && command !== "event") {
    throw new UsageError(`unknown command '${command}' (expected sweep, reconcile or event)`);
  }
  if (values["save-estate"] !== undefined && values.simulate === undefined) {
    throw new UsageError("--save-estate needs --simulate");
  }
  let resourceId: string | undefined;
  let eventsFrom: string | undefined;
  if (command === "event") {
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
  };
}
