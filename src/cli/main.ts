import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { DefaultAzureCredential } from "@azure/identity";
import { createApp } from "../app.js";
import type { AzureConnection } from "../azure/index.js";
import { dispatchVerdicts } from "../dispatch/events.js";
import type { ReconcileTarget, RunResult } from "../engine/engine.js";
import { EventPayloadError, parseEvents, parsePayloadText, type EventVerdict } from "../events/parse.js";
import { ConfigError, inScope, loadConfig, type Config } from "../model/config.js";
import type { OutcomeRecord } from "../model/outcome.js";
import { isSubscriptionIdValid, parseResourceId, ResourceIdError } from "../model/resource-id.js";
import { assertReconcilable, UnsupportedTargetError } from "../model/targets.js";
import { parseCliArguments, USAGE, UsageError, type CliArguments } from "./args.js";
import { deliver } from "./deliver.js";
import type { CliIo } from "./io.js";
import { describeRequeue, ProgressBar, renderTable, summarise } from "./render.js";
import { runReport } from "./report.js";
import { EstateInputError, startSimulatedAzure, type SimulatedAzure } from "./simulate.js";

export type { CliIo, OutputStream } from "./io.js";

/** Bad usage or bad input: exit 2 with one line, before anything is written anywhere. */
class InputError extends Error {}

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

function targetsFor(args: CliArguments, config: Config): ReconcileTarget[] | "all-visible" {
  if (args.command === "event") return [];
  if (args.command === "reconcile") {
    const resourceId = args.resourceId ?? "";
    let parsed;
    try {
      parsed = parseResourceId(resourceId);
    } catch (error) {
      if (error instanceof ResourceIdError) throw new InputError(error.message);
      throw error;
    }
    try {
      assertReconcilable(parsed);
    } catch (error) {
      if (error instanceof UnsupportedTargetError) throw new InputError(error.message);
      throw error;
    }
    checkAllowed(parsed.subscriptionId, config);
    return [{ kind: "resource", resourceId: parsed.id }];
  }
  const requested = args.subscriptions.length > 0 ? args.subscriptions : config.subscriptions;
  for (const subscriptionId of requested) {
    if (!isSubscriptionIdValid(subscriptionId)) {
      throw new InputError(`--subscription '${subscriptionId}' is not a subscription id (GUID)`);
    }
    checkAllowed(subscriptionId, config);
  }
  if (requested.length === 0) return "all-visible";
  return requested.map((subscriptionId) => ({ kind: "subscription", subscriptionId }));
}

function checkAllowed(subscriptionId: string, config: Config): void {
  if (!inScope(config, subscriptionId)) {
    throw new InputError(`subscription '${subscriptionId}' is outside AUTOPROTECT_SUBSCRIPTIONS`);
  }
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const fail = (message: string): number => {
    io.stderr.write(`autoprotect: ${message}\n`);
    return 2;
  };

  let args: CliArguments;
  let config: Config;
  let targets: ReconcileTarget[] | "all-visible";
  let verdicts: EventVerdict[] = [];
  try {
    const parsed = parseCliArguments(argv);
    if (parsed === "help") {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    args = parsed;
    // The report only reads Log Analytics: no engine, no targets.
    if (args.command === "report") return await runReport(args, io);
    config = loadConfig(args.dryRun ? { ...io.env, AUTOPROTECT_MODE: "audit" } : io.env);
    targets = targetsFor(args, config);
    if (args.command === "event") verdicts = await eventVerdicts(args, io);
  } catch (error) {
    if (error instanceof UsageError) return fail(`${error.message}\n${USAGE}`);
    if (error instanceof ConfigError || error instanceof InputError) return fail(error.message);
    throw error;
  }

  let simulated: SimulatedAzure | undefined;
  let connection: AzureConnection;
  if (args.simulate !== undefined) {
    try {
      simulated = await startSimulatedAzure(args.simulate, {
        ...(config.ingestion === undefined ? {} : { ingestion: config.ingestion }),
        advanceMs: args.advanceMs,
      });
    } catch (error) {
      if (error instanceof EstateInputError) return fail(error.message);
      throw error;
    }
    connection = simulated.connection;
  } else {
    connection = { credential: new DefaultAzureCredential() };
  }

  const started = Date.now();
  const colour = io.stdout.isTTY === true && io.env.NO_COLOR === undefined;
  const progress = new ProgressBar(io.stderr);
  const outcomes: OutcomeRecord[] = [];
  let result: RunResult;
  let deliveryFailure: string | undefined;
  try {
    // The CLI keeps durable state (rollout progress, waits, the outcome spool) in its state folder, so
    // the next run continues from it. Under --simulate outcomes land in the simulated workspace.
    const app = createApp({
      config,
      connection,
      storage: { kind: "file", dir: config.stateDir },
      ingestion: config.ingestion === undefined ? undefined : (simulated?.ingestion ?? config.ingestion),
      engine: {
        // Under --simulate the engine (and its rollout controller) keep the simulator's clock.
        ...(simulated === undefined ? {} : { now: simulated.now }),
        onDiscovered: (count) => {
          progress.addTotal(count);
        },
        onOutcome: (outcome) => {
          outcomes.push(outcome);
          if (args.json) io.stdout.write(`${JSON.stringify(outcome)}\n`);
          progress.resourceDone(outcome.ResourceId, outcome.Check.startsWith("aks."));
        },
      },
    });
    const { azure, engine } = app;
    const resolved: ReconcileTarget[] =
      targets === "all-visible"
        ? (await azure.resources.listSubscriptionIds()).map((subscriptionId) => ({
            kind: "subscription",
            subscriptionId,
          }))
        : targets;
    const runId = randomUUID();
    if (args.command === "event") {
      // The Event Grid trigger's own path: scope, coalesce, one run per resource named.
      const handled = await dispatchVerdicts(
        verdicts,
        { engine, config, coalescer: app.coalescer },
        { runId, trigger: "cli", mode: config.mode },
      );
      for (const verdict of handled.verdicts) {
        if (verdict.kind === "ignored") {
          io.stderr.write(
            `autoprotect: ignored ${verdict.eventType} event ${verdict.eventId}: ${verdict.reason}\n`,
          );
        }
      }
      result = handled;
    } else {
      result = await engine.reconcile(resolved, {
        runId,
        trigger: "cli",
        mode: config.mode,
        correlationId: runId,
      });
    }
    progress.finish();
    if (app.delivery !== undefined)
      deliveryFailure = await deliver(outcomes, app.delivery, config.stateDir, io);
    if (simulated !== undefined && args.saveEstate !== undefined) await simulated.save(args.saveEstate);
  } catch (error) {
    progress.finish();
    throw error;
  } finally {
    await simulated?.close();
  }

  if (!args.json) {
    io.stdout.write(renderTable(outcomes, colour));
    io.stdout.write(`${summarise(outcomes, Date.now() - started, colour)}\n`);
    const next = describeRequeue(result.requeue);
    if (next !== undefined) io.stderr.write(`${next}\n`);
  }
  for (const error of result.errors)
    io.stderr.write(`autoprotect: ${error.scope}: ${error.code}: ${error.message}\n`);
  if (deliveryFailure !== undefined) io.stderr.write(`autoprotect: ${deliveryFailure}\n`);
  const failed = outcomes.some((o) => o.Status === "failed") || result.errors.length > 0;
  return failed || deliveryFailure !== undefined ? 1 : 0;
}
