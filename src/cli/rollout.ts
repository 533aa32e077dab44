/**
 * `autoprotect rollout status|pause|resume`: where each API Management instance's onboarding stands,
 * and a person's hold on it. The pause lives in the rollout state itself (the CLI's state folder, or
 * the Functions app's Table Storage), written with the same compare-and-swap as every step, so every
 * trigger honours it and a step racing with a pause either happened before it or not at all.
 */
import { hostname, userInfo } from "node:os";
import { DefaultAzureCredential } from "@azure/identity";
import { createTableStateStore } from "../azure/table-state-store.js";
import { storageFromEnv } from "../functions/runtime.js";
import type { Config } from "../model/config.js";
import { parseResourceId, ResourceIdError } from "../model/resource-id.js";
import { targetKind } from "../model/targets.js";
import { initialRolloutState } from "../rollout/controller.js";
import { createFileStateStore } from "../rollout/file-state-store.js";
import { rolloutSettings } from "../rollout/settings.js";
import { RolloutConflictError, type RolloutStateStore, type StoredRollout } from "../rollout/state-store.js";
import type { RolloutPause, RolloutState } from "../rollout/types.js";
import type { CliArguments } from "./args.js";
import type { CliIo } from "./io.js";
import { checkSignIn, ScopeError } from "./scope.js";
import { loadSettings } from "./settings.js";

/** The store the command reads and writes, and where it is (for messages). */
async function storeFor(
  args: CliArguments,
  io: CliIo,
  config: Config,
): Promise<{ store: RolloutStateStore; where: string }> {
  if (args.storageAccount === undefined && !args.tableStorage) {
    return { store: createFileStateStore(config.stateDir), where: `the state folder ${config.stateDir}` };
  }
  const env =
    args.storageAccount === undefined
      ? io.env
      : { ...io.env, AzureWebJobsStorage__accountName: args.storageAccount };
  const credential = new DefaultAzureCredential();
  const { tables } = storageFromEnv(env, credential);
  if ("credential" in tables) await checkSignIn(credential);
  const where =
    "endpoint" in tables ? `Table Storage ${tables.endpoint}` : "Table Storage (AzureWebJobsStorage)";
  return { store: createTableStateStore(tables), where };
}

function serviceIdOf(args: CliArguments): string {
  const raw = args.serviceId ?? "";
  try {
    const parsed = parseResourceId(raw);
    if (targetKind(parsed) !== "apim-service")
      throw new ScopeError(`'${raw}' is not an API Management service id`);
    return parsed.id;
  } catch (error) {
    if (error instanceof ResourceIdError) throw new ScopeError(error.message);
    throw new ScopeError(
      `'${raw}' is not an API Management service id (/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ApiManagement/service/{name})`,
    );
  }
}

/** A status row: the state in people's terms. */
export interface RolloutStatusRow {
  readonly serviceId: string;
  readonly state: "paused" | "rolling back" | "onboarding" | "done" | "not started";
  readonly paused: RolloutPause | null;
  readonly onboarded: number | null;
  readonly pending: number | null;
  readonly inProgress: number | null;
  readonly batchSize: number;
  readonly steps: number;
  readonly rollbacks: number;
  readonly rollbackOwed: number;
  readonly lastReading: {
    readonly metric: string;
    readonly percent: number | null;
    readonly at: string;
  } | null;
  readonly lastDecision: string | null;
  /** When the next step may be taken (ISO 8601), or why not. */
  readonly nextStep: string;
  readonly failedSteps: number;
}

function later(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Date.parse(a) >= Date.parse(b) ? a : b;
}

export function statusRow(state: RolloutState, intervalMinutes: number): RolloutStatusRow {
  const look = state.lastLook;
  const owed = state.rollback?.apis.length ?? 0;
  const paced =
    state.lastStep === undefined
      ? undefined
      : new Date(Date.parse(state.lastStep.at) + intervalMinutes * 60_000).toISOString();
  const done = look !== undefined && look.pending === 0 && look.inProgress === 0;
  const nextStep =
    state.paused !== undefined
      ? "paused: none until resumed"
      : state.rollback !== undefined
        ? "after the rollback"
        : done
          ? "none: nothing left to onboard"
          : (later(state.notBefore, paced) ?? "at the next run");
  return {
    serviceId: state.serviceId,
    state:
      state.paused !== undefined
        ? "paused"
        : state.rollback !== undefined
          ? "rolling back"
          : done
            ? "done"
            : state.steps === 0
              ? "not started"
              : "onboarding",
    paused: state.paused ?? null,
    onboarded: look?.onboarded ?? null,
    pending: look?.pending ?? null,
    inProgress: look?.inProgress ?? null,
    batchSize: state.batchSize,
    steps: state.steps,
    rollbacks: state.rollbacks,
    rollbackOwed: owed,
    lastReading:
      look === undefined ? null : { metric: look.metric, percent: look.percent ?? null, at: look.at },
    lastDecision: look?.decision ?? null,
    nextStep,
    failedSteps: state.failures?.steps ?? 0,
  };
}

function count(value: number | null): string {
  return value === null ? "?" : String(value);
}

function renderStatus(rows: readonly RolloutStatusRow[], where: string): string {
  if (rows.length === 0) return `No API rollout has started yet (${where}).\n`;
  const lines: string[] = [];
  for (const row of rows) {
    const name = row.serviceId.split("/").at(-1) ?? row.serviceId;
    lines.push(`${name}  ${row.serviceId}`);
    lines.push(`  state        ${row.state}`);
    if (row.paused !== null) {
      const note = row.paused.note === undefined ? "" : `: ${row.paused.note}`;
      lines.push(`  paused       since ${row.paused.since} by ${row.paused.by}${note}`);
    }
    lines.push(
      `  APIs         ${count(row.onboarded)} onboarded, ${count(row.pending)} pending, ${count(row.inProgress)} in progress`,
    );
    lines.push(`  batch size   ${String(row.batchSize)} (after ${String(row.steps)} steps)`);
    const reading = row.lastReading;
    lines.push(
      `  last reading ${
        reading === null
          ? "none yet"
          : `${reading.percent === null ? "no data" : `${String(reading.percent)}%`} ${reading.metric} at ${reading.at} (${row.lastDecision ?? "?"})`
      }`,
    );
    lines.push(`  next step    ${row.nextStep}`);
    lines.push(
      `  rollbacks    ${String(row.rollbacks)}${row.rollbackOwed > 0 ? `, ${String(row.rollbackOwed)} API(s) still to offboard` : ""}${
        row.failedSteps > 0 ? `; ${String(row.failedSteps)} failed step(s) in a row` : ""
      }`,
    );
    lines.push("");
  }
  return `${lines.join("\n")}(${where}; counts as the last enforce run saw them)\n`;
}

/** Who paused: the person at this terminal, on this machine. */
function whoAmI(): string {
  let user = "someone";
  try {
    user = userInfo().username;
  } catch {
    // no user database entry (a container): say so plainly
  }
  return `${user} on ${hostname()} (autoprotect CLI)`;
}

/** Applies `change` to the service's state with compare-and-swap, reading again when someone else wrote. */
async function update(
  store: RolloutStateStore,
  serviceId: string,
  change: (current: StoredRollout | undefined) => RolloutState | undefined,
): Promise<RolloutState | undefined> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await store.get(serviceId);
    const next = change(current);
    if (next === undefined) return current?.state;
    try {
      await store.put(next, current?.version);
      return next;
    } catch (error) {
      if (!(error instanceof RolloutConflictError)) throw error;
    }
  }
  throw new ScopeError(`the rollout state of ${serviceId} keeps changing under this write; try again`);
}

export async function runRollout(args: CliArguments, io: CliIo): Promise<number> {
  const { config } = await loadSettings(args, io.env);
  const serviceId = args.serviceId === undefined ? undefined : serviceIdOf(args);
  const { store, where } = await storeFor(args, io, config);
  const settings = rolloutSettings(config);
  if (args.rolloutAction === "status") {
    const stored =
      serviceId === undefined
        ? await store.list()
        : [await store.get(serviceId)].filter((s) => s !== undefined);
    if (serviceId !== undefined && stored.length === 0) {
      io.stdout.write(
        args.json ? "[]\n" : `No rollout state for ${serviceId} (${where}): no step has been taken yet.\n`,
      );
      return 0;
    }
    const rows = stored
      .map((s) => statusRow(s.state, settings.intervalMinutes))
      .sort((a, b) => a.serviceId.toLowerCase().localeCompare(b.serviceId.toLowerCase()));
    io.stdout.write(args.json ? `${JSON.stringify(rows, null, 2)}\n` : renderStatus(rows, where));
    return 0;
  }
  const id = serviceId ?? "";
  if (args.rolloutAction === "pause") {
    let already: RolloutState["paused"];
    const state = await update(store, id, (current) => {
      already = current?.state.paused;
      if (already !== undefined) return undefined;
      const base = current?.state ?? initialRolloutState(id, settings);
      const note = args.note?.trim();
      return {
        ...base,
        paused: { since: new Date().toISOString(), by: whoAmI(), ...(note ? { note } : {}) },
      };
    });
    io.stdout.write(
      already !== undefined
        ? `The rollout of ${id} was already paused since ${already.since} by ${already.by}.\n`
        : `Paused the rollout of ${id} (${where}): no onboarding step until 'autoprotect rollout resume ${id}'. ` +
            `Its APIs waiting for a step are reported deferred with the pause in the reason.\n`,
    );
    return state === undefined ? 1 : 0;
  }
  const resumed = { was: false };
  await update(store, id, (current) => {
    if (current?.state.paused === undefined) return undefined;
    resumed.was = true;
    const { paused: _resumed, ...rest } = current.state;
    return rest;
  });
  io.stdout.write(
    resumed.was
      ? `Resumed the rollout of ${id} (${where}): the next run (a queued look within 15 minutes, the timer sweep, or autoprotect reconcile ${id}) takes the next step when capacity allows.\n`
      : `The rollout of ${id} is not paused (${where}).\n`,
  );
  return 0;
}
