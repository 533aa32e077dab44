import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { DefaultAzureCredential } from "@azure/identity";
import { createApp, type App } from "../app.js";
import type { AzureConnection } from "../azure/index.js";
import { dispatchVerdicts } from "../dispatch/events.js";
import type { ReconcileTarget, RunResult } from "../engine/engine.js";
import { EventPayloadError, parseEvents, parsePayloadText, type EventVerdict } from "../events/parse.js";
import { ConfigError, type Config } from "../model/config.js";
import { isSubscriptionIdValid, parseResourceId, ResourceIdError } from "../model/resource-id.js";
import { assertReconcilable, UnsupportedTargetError } from "../model/targets.js";
import { parseCommandLine, UsageError, type CliArguments } from "./args.js";
import { enforceBanner, isYes } from "./confirm.js";
import { deliver } from "./deliver.js";
import { commandHelp, overviewHelp, packageVersion, versionText } from "./help.js";
import type { CliIo, Interrupt } from "./io.js";
import { createOutcomeOutput, guard, type GuardedStream, type OutcomeOutput } from "./output.js";
import { describeRequeue, summarise } from "./render.js";
import { runReport } from "./report.js";
import { runRollout } from "./rollout.js";
import { renderSarif } from "./sarif.js";
import { checkAllowed, checkSignIn, resolveSubscriptions, ScopeError, SignInError } from "./scope.js";
import { loadSettings, SettingsError, type Settings } from "./settings.js";
import { EstateInputError, startSimulatedAzure, type SimulatedAzure } from "./simulate.js";
import { runSnapshot } from "./snapshot.js";

export type { CliIo, Interrupt, OutputStream } from "./io.js";

/** Bad usage or bad input: exit 2 with one line, before anything is written anywhere. */
class InputError extends Error {}

/** Exit status of a run stopped by Ctrl-C or a termination request (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;

/** Reads and parses `event`'s input; every malformed event is bad input (exit 2, nothing run). */
async function eventVerdicts(args: CliArguments, io: CliIo): Promise<EventVerdict[]> {
  const from = args.eventsFrom ?? "-";
  let text: string;
  try {
    text = from === "-" ? await (io.readStdin ?? readProcessStdin)() : await readFile(from, "utf8");
  } catch (error) {
    throw new InputError(`cannot read events from ${from}: ${(error as Error).message}`);
  }
  let verdicts: EventVerdict[];
  try {
    verdicts = await parseEvents(parsePayloadText(text));
  } catch (error) {
    if (error instanceof EventPayloadError) throw new InputError(`${from}: ${error.message}`);
    throw error;
  }
  const malformed = verdicts.filter((v) => v.kind === "malformed");
  const first = malformed[0];
  if (first !== undefined) {
    const more = malformed.length > 1 ? ` (and ${String(malformed.length - 1)} more malformed events)` : "";
    throw new InputError(`${from}: ${first.problem}${more}`);
  }
  return verdicts;
}

async function readProcessStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** What a run looks at, as far as it can be told without Azure: a resource, subscriptions, or all. */
function targetsFor(args: CliArguments, config: Config): ReconcileTarget[] | "all-visible" | "events" {
  if (args.command === "event") return "events";
  if (args.command === "reconcile") {
    const resourceId = args.resourceId ?? "";
    let parsed;
    try {
      parsed = parseResourceId(resourceId);
      assertReconcilable(parsed);
    } catch (error) {
      if (error instanceof ResourceIdError || error instanceof UnsupportedTargetError) {
        throw new InputError(error.message);
      }
      throw error;
    }
    checkAllowed(parsed.subscriptionId, config);
    return [{ kind: "resource", resourceId: parsed.id }];
  }
  for (const subscription of args.subscriptions) {
    if (isSubscriptionIdValid(subscription)) checkAllowed(subscription, config);
  }
  return args.subscriptions.length === 0 && config.subscriptions.length === 0 ? "all-visible" : [];
}

/** The one or two lines of a usage error: what was wrong, and where the help is. */
function usageLines(error: UsageError): string {
  if (error.command === undefined) return `${error.message}\nRun 'autoprotect help' to see the commands.`;
  return `${error.message}\nRun 'autoprotect help ${error.command}' to see its options.`;
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const fail = (message: string): number => {
    io.stderr.write(`autoprotect: ${message}\n`);
    return 2;
  };
  try {
    const parsed = parseCommandLine(argv);
    if (parsed.kind === "version") {
      io.stdout.write(versionText());
      return 0;
    }
    if (parsed.kind === "help") {
      io.stdout.write(parsed.command === undefined ? overviewHelp() : commandHelp(parsed.command));
      return 0;
    }
    const args = parsed.args;
    switch (args.command) {
      case "report":
        return await runReport(args, io);
      case "rollout":
        return await runRollout(args, io);
      case "snapshot":
        return await runSnapshot(args, io);
      default:
        return await runChecks(args, io);
    }
  } catch (error) {
    if (error instanceof UsageError) return fail(usageLines(error));
    if (
      error instanceof ConfigError ||
      error instanceof SettingsError ||
      error instanceof InputError ||
      error instanceof ScopeError ||
      error instanceof SignInError ||
      error instanceof EstateInputError
    ) {
      return fail(error.message);
    }
    throw error;
  }
}

/** A run's connection to Azure: the simulator (loaded from the estate file), or Azure after a sign-in. */
async function connect(
  args: CliArguments,
  config: Config,
): Promise<{ connection: AzureConnection; simulated: SimulatedAzure | undefined }> {
  if (args.simulate !== undefined) {
    const simulated = await startSimulatedAzure(args.simulate, {
      ...(config.ingestion === undefined ? {} : { ingestion: config.ingestion }),
      advanceMs: args.advanceMs,
    });
    return { connection: simulated.connection, simulated };
  }
  const credential = new DefaultAzureCredential();
  await checkSignIn(credential);
  return { connection: { credential }, simulated: undefined };
}

/**
 * Enforce against Azure: the banner always, and on a terminal the question (unless --yes). Returns
 * false when the person said no.
 */
async function confirmEnforce(
  args: CliArguments,
  io: CliIo,
  settings: Settings,
  where: string,
): Promise<boolean> {
  if (args.simulate !== undefined || settings.config.mode !== "enforce") return true;
  io.stderr.write(enforceBanner(settings.config, where, settings.modeSource));
  if (args.yes || io.stdinIsTTY !== true || io.ask === undefined) return true;
  if (args.command === "event" && (args.eventsFrom ?? "-") === "-") {
    throw new InputError(
      "event - read the events from this terminal, so it cannot ask for confirmation: add --yes, or give a FILE",
    );
  }
  const answer = await io.ask("Enforce now? [y/N] ");
  if (isYes(answer)) return true;
  io.stderr.write(
    "autoprotect: not confirmed; nothing was changed (--mode audit shows what would change; --yes skips this question)\n",
  );
  return false;
}

/** Ctrl-C, a termination request or a closed stdout: the first stops new work, a second stops now. */
function interruptions(io: CliIo, stdout: GuardedStream) {
  const stop = new AbortController();
  let signal: Interrupt | undefined;
  let count = 0;
  let forceNow: () => void = () => undefined;
  const forced = new Promise<"forced">((resolve) => {
    forceNow = () => {
      resolve("forced");
    };
  });
  const unsubscribe =
    io.onInterrupt?.((what) => {
      if (what === "EPIPE") {
        if (stdout.closed) return;
        stdout.close();
      } else {
        signal ??= what;
      }
      count += 1;
      if (count === 1) {
        stop.abort();
        if (what !== "EPIPE") {
          io.stderr.write(
            "\nautoprotect: stopping: no new resource is started; writes in flight finish or time out (Ctrl-C again to stop now)\n",
          );
        }
      } else {
        forceNow();
      }
    }) ?? (() => undefined);
  return {
    stop: stop.signal,
    forced,
    unsubscribe,
    /** The signal that interrupted the run (not a closed pipe, which ends it quietly). */
    signal: () => signal,
  };
}

/** Where a run looks, in words, before anything is resolved: for the banner. */
function describeScope(args: CliArguments, config: Config, planned: ReturnType<typeof targetsFor>): string {
  if (planned === "all-visible") return "every subscription this sign-in can see";
  if (planned === "events") return "the resources the events name";
  if (args.command === "reconcile") return args.resourceId ?? "";
  const requested = args.subscriptions.length > 0 ? args.subscriptions : config.subscriptions;
  return `subscription${requested.length === 1 ? "" : "s"} ${requested.join(", ")}`;
}

async function runChecks(args: CliArguments, io: CliIo): Promise<number> {
  const settings = await loadSettings(args, io.env);
  const { config } = settings;
  const planned = targetsFor(args, config);
  const verdicts = args.command === "event" ? await eventVerdicts(args, io) : [];
  // Asked before signing in: nothing has been read yet, and nothing will be written without a yes.
  if (!(await confirmEnforce(args, io, settings, describeScope(args, config, planned)))) return 1;

  const { connection, simulated } = await connect(args, config);
  let app: App;
  const stdout = guard(io.stdout);
  const colour = stdout.isTTY && io.env.NO_COLOR === undefined;
  const output = createOutcomeOutput(args.output, stdout, io.stderr, colour);
  const started = Date.now();
  let targets: ReconcileTarget[] = [];
  try {
    app = createApp({
      config,
      connection,
      storage: { kind: "file", dir: config.stateDir },
      ingestion: config.ingestion === undefined ? undefined : (simulated?.ingestion ?? config.ingestion),
      engine: {
        // Under --simulate the engine (and its rollout controller) keep the simulator's clock.
        ...(simulated === undefined ? {} : { now: simulated.now }),
        onDiscovered: (count) => {
          output.discovered(count);
        },
        onOutcome: (outcome) => {
          output.outcome(outcome);
        },
        onSettled: (resourceId) => {
          output.settled(resourceId);
        },
      },
    });
    if (Array.isArray(planned)) {
      if (args.command === "sweep") {
        const requested = args.subscriptions.length > 0 ? args.subscriptions : config.subscriptions;
        const ids = await resolveSubscriptions(requested, () => app.azure.resources.listSubscriptions());
        for (const id of ids) checkAllowed(id, config);
        targets = ids.map((subscriptionId) => ({ kind: "subscription", subscriptionId }));
      } else {
        targets = planned;
      }
    }
  } catch (error) {
    await simulated?.close();
    throw error;
  }
  return runEngine(args, io, { app, simulated, output, stdout, colour, started, targets, planned, verdicts });
}

interface Prepared {
  readonly app: App;
  readonly simulated: SimulatedAzure | undefined;
  readonly output: OutcomeOutput;
  readonly stdout: GuardedStream;
  readonly colour: boolean;
  readonly started: number;
  readonly targets: ReconcileTarget[];
  readonly planned: ReconcileTarget[] | "all-visible" | "events";
  readonly verdicts: readonly EventVerdict[];
}

/** Runs the engine, stopping on an interruption, then keeps and prints every outcome decided. */
async function runEngine(args: CliArguments, io: CliIo, prepared: Prepared): Promise<number> {
  const { app, simulated, output, stdout, colour, started, planned, verdicts } = prepared;
  const { config } = app;
  const interrupt = interruptions(io, stdout);
  const runId = randomUUID();
  let result: RunResult | undefined;
  let deliveryFailure: string | undefined;
  try {
    const work = async (): Promise<RunResult> => {
      const targets: ReconcileTarget[] =
        planned === "all-visible"
          ? (await app.azure.resources.listSubscriptionIds()).map((subscriptionId) => ({
              kind: "subscription",
              subscriptionId,
            }))
          : prepared.targets;
      if (args.command === "event") {
        // The Event Grid trigger's own path: scope, coalesce, one run per resource named.
        const handled = await dispatchVerdicts(
          verdicts,
          { engine: app.engine, config, coalescer: app.coalescer },
          { runId, trigger: "cli", mode: config.mode },
          { stop: interrupt.stop },
        );
        for (const verdict of handled.verdicts) {
          if (verdict.kind === "ignored") {
            io.stderr.write(
              `autoprotect: ignored ${verdict.eventType} event ${verdict.eventId}: ${verdict.reason}\n`,
            );
          }
        }
        return handled;
      }
      return app.engine.reconcile(
        targets,
        { runId, trigger: "cli", mode: config.mode, correlationId: runId },
        { stop: interrupt.stop },
      );
    };
    const finished = await Promise.race([work(), interrupt.forced]);
    result = finished === "forced" ? undefined : finished;
    output.flush();
    const outcomes = [...output.outcomes];
    if (app.delivery !== undefined) {
      if (result === undefined) {
        // Stopped at once: no time to send, but nothing decided is lost.
        await app.delivery.spool.append(outcomes);
        io.stderr.write(
          `outcomes: ${String(outcomes.length)} kept in the state folder to send on the next run (stopped)\n`,
        );
      } else {
        deliveryFailure = await deliver(outcomes, app.delivery, config.stateDir, io);
      }
    }
    if (simulated !== undefined && args.saveEstate !== undefined) await simulated.save(args.saveEstate);
  } catch (error) {
    output.flush();
    throw error;
  } finally {
    interrupt.unsubscribe();
    await simulated?.close();
  }
  const outcomes = output.outcomes;
  const signal = interrupt.signal();
  if (args.output === "sarif") {
    stdout.write(
      renderSarif(outcomes, {
        version: packageVersion(),
        runId,
        mode: config.mode,
        command: args.command,
        complete: result !== undefined && signal === undefined && result.errors.length === 0,
        endedAt: new Date(),
      }),
    );
  } else if (args.output === "table") {
    stdout.write(`${summarise(outcomes, Date.now() - started, colour)}\n`);
    const next = result === undefined ? undefined : describeRequeue(result.requeue);
    if (next !== undefined) io.stderr.write(`${next}\n`);
  }
  for (const error of result?.errors ?? [])
    io.stderr.write(`autoprotect: ${error.scope}: ${error.code}: ${error.message}\n`);
  if (deliveryFailure !== undefined) io.stderr.write(`autoprotect: ${deliveryFailure}\n`);
  if (signal !== undefined) {
    io.stderr.write(
      `autoprotect: interrupted (${signal}): ${String(outcomes.length)} outcomes decided are above${
        args.saveEstate === undefined || simulated === undefined
          ? ""
          : ` and the estate is saved to ${args.saveEstate}`
      }\n`,
    );
    return EXIT_INTERRUPTED;
  }
  const failing = outcomes.some((o) => args.failOn.includes(o.Status));
  return failing || (result?.errors.length ?? 0) > 0 || deliveryFailure !== undefined ? 1 : 0;
}
