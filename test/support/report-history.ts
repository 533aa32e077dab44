/**
 * A simulated workspace with a history worth reporting on: the sample estate swept through the real
 * CLI (its outcomes delivered to the simulated Log Analytics workspace) every 10 simulated minutes for
 * a while, then once a day; a traffic spike on the production API Management instance after its first
 * rollout steps, so the controller rolls a step back; a write refused once (AuthorizationFailed) and
 * one refused every time (RequestDisallowedByPolicy); plus event-driven remediation chains (an Event
 * Grid run, a queued retry), which the CLI cannot produce (its trigger is `cli`), written as the
 * engine writes them.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Estate } from "../../sim/index.js";
import type { CheckId, Status } from "../../src/model/checks.js";
import type { OutcomeRecord, Trigger } from "../../src/model/outcome.js";
import { buildOutcome } from "../../src/outcomes/record.js";
import { OUTCOME_STREAM } from "../../src/outcomes/schema.js";
import { cli } from "./cli.js";

/** The sample estate's Log Analytics workspace (its customer id), which the simulated query API answers for. */
export const SAMPLE_WORKSPACE = "5f0a7a0e-3b8c-4f1e-9a55-2f5c6d7e8f90";
export const SAMPLE_SUBSCRIPTION = "7d3c1f52-8a4e-4b6a-9c2d-0a1b2c3d4e5a";
export const PROD_APIM = `/subscriptions/${SAMPLE_SUBSCRIPTION}/resourceGroups/rg-apis/providers/Microsoft.ApiManagement/service/apim-contoso-prod`;
/** The simulated clock's start: the history's first sweep. */
export const HISTORY_START = "2026-03-02T08:00:00.000Z";

export function historyEnv(stateDir: string): Record<string, string> {
  return {
    AUTOPROTECT_MODE: "enforce",
    AUTOPROTECT_WORKSPACE_ID: `/subscriptions/${SAMPLE_SUBSCRIPTION}/resourceGroups/rg-monitoring/providers/Microsoft.OperationalInsights/workspaces/law-security`,
    AUTOPROTECT_AUTHORIZED_IP_RANGES: "203.0.113.0/24",
    AUTOPROTECT_STATE_DIR: stateDir,
    // Under --simulate outcomes go to the simulator's own Logs Ingestion endpoint, with this rule id.
    AUTOPROTECT_INGESTION_ENDPOINT: "https://dce-autoprotect-demo.westeurope-1.ingest.monitor.azure.com",
    AUTOPROTECT_DCR_ID: "dcr-00000000000000000000000000de0000",
  };
}

async function readEstate(path: string): Promise<Estate> {
  return JSON.parse(await readFile(path, "utf8")) as Estate;
}

/** Event Grid chains on the sample's clusters: the event's run defers (cluster busy), a queued look remediates. */
function eventChains(start: number): OutcomeRecord[] {
  const cluster = (group: string, name: string): string =>
    `/subscriptions/${SAMPLE_SUBSCRIPTION}/resourceGroups/${group}/providers/Microsoft.ContainerService/managedClusters/${name}`;
  const outcomes: OutcomeRecord[] = [];
  // Cluster, check, minutes into the history, seconds from the event's run to the remediation.
  const chains: [string, CheckId, number, number][] = [
    [cluster("rg-platform", "aks-open"), "aks.defender-sensor", 35, 240],
    [cluster("rg-platform", "aks-open"), "aks.azure-policy", 35, 240],
    [cluster("rg-payments", "aks-payments"), "aks.defender-sensor", 50, 620],
    [cluster("rg-platform", "aks-private-mixedcase"), "aks.azure-policy", 70, 95],
  ];
  for (const [index, [resourceId, check, minutesIn, seconds]] of chains.entries()) {
    const correlationId = `evt-${String(index + 1).padStart(4, "0")}-0000-4000-8000-000000000000`;
    const at = start + minutesIn * 60_000;
    const row = (trigger: Trigger, status: Status, time: number, runId: string): OutcomeRecord =>
      buildOutcome(
        { runId, trigger, mode: "enforce", correlationId },
        {
          subscriptionId: SAMPLE_SUBSCRIPTION,
          resourceId,
          resourceType: "Microsoft.ContainerService/managedClusters",
          check,
          status,
          reason:
            status === "deferred"
              ? "the cluster is Updating: looking again in 60 seconds"
              : `${check} turned on`,
          action: status === "remediated" ? `turn ${check} on` : "",
          details: status === "deferred" ? { retryAfterSeconds: 60 } : {},
          startedAt: time - 1500,
        },
        new Date(time),
      );
    outcomes.push(row("eventgrid", "deferred", at, `run-evt-${String(index)}`));
    outcomes.push(row("queue", "remediated", at + seconds * 1000, `run-queue-${String(index)}`));
  }
  return outcomes;
}

export interface History {
  /** The estate file holding the history (resources, clock, logs). */
  readonly estatePath: string;
  readonly sweeps: number;
}

const CLUSTERS = "/managedClusters";
/** Writes Azure refuses: once on one cluster, every time on another. */
const FAULTS = [
  {
    kind: "status",
    method: "PUT",
    pathRegex: `${CLUSTERS}/aks-open$`,
    status: 403,
    code: "AuthorizationFailed",
    message:
      "The client does not have authorization to perform action 'Microsoft.ContainerService/managedClusters/write'.",
    times: 1,
  },
  {
    kind: "status",
    method: "PUT",
    pathRegex: `${CLUSTERS}/aks-legacy-basic-lb$`,
    status: 403,
    code: "RequestDisallowedByPolicy",
    message: "Resource 'aks-legacy-basic-lb' was disallowed by policy.",
    times: 1000,
  },
];

/**
 * What changes in the world after a sweep: a traffic spike on the production instance and its end;
 * the cluster that was updating done (third day).
 */
function changeAfter(
  sweep: number,
  at: { quick: number; spikeAfter: number },
): ((estate: Estate) => Estate) | undefined {
  const load =
    (base: number) =>
    (estate: Estate): Estate => {
      const capacity = { ...(estate.capacity ?? {}) };
      capacity[PROD_APIM] = { ...(capacity[PROD_APIM] ?? { base: 38, perApi: 4 }), base };
      return { ...estate, capacity };
    };
  if (sweep === at.spikeAfter) return load(84);
  if (sweep === at.spikeAfter + 3) return load(38);
  if (sweep === at.quick + 3) {
    return (estate) => ({
      ...estate,
      resources: estate.resources.map((r) =>
        r.name === "aks-payments-updating"
          ? { ...r, properties: { ...r.properties, provisioningState: "Succeeded" } }
          : r,
      ),
    });
  }
  return undefined;
}

/**
 * Sweeps `samples/estate.json` through the CLI, saving the estate each time: `quick` sweeps 10
 * simulated minutes apart, then `daily` sweeps a day apart. After sweep `spikeAfter` the production
 * instance's base load jumps (a traffic spike: the step on trial goes over the critical level and is
 * rolled back), and it falls back three sweeps later. Before the last sweep its rollout is paused.
 */
export async function buildHistory(dir: string, quick = 8, daily = 4, spikeAfter = 2): Promise<History> {
  const estatePath = join(dir, "history-estate.json");
  const sample = await readEstate(new URL("../../samples/estate.json", import.meta.url).pathname);
  await writeFile(estatePath, JSON.stringify({ ...sample, now: HISTORY_START, faults: FAULTS }));
  const env = historyEnv(join(dir, "state"));
  const sweeps = quick + daily;
  for (let sweep = 1; sweep <= sweeps; sweep += 1) {
    // Before the last sweep a person pauses the production instance's rollout (a busy period ahead).
    if (sweep === sweeps) {
      const paused = await cli(["rollout", "pause", PROD_APIM, "--note", "quarter-end freeze"], env);
      if (paused.code !== 0) throw new Error(`rollout pause exited ${String(paused.code)}: ${paused.stderr}`);
    }
    const advance = sweep === 1 ? [] : ["--advance", sweep <= quick ? "10m" : "1d"];
    const result = await cli(
      ["sweep", "--simulate", estatePath, "--save-estate", estatePath, ...advance],
      env,
    );
    if (result.code !== 0 && result.code !== 1)
      throw new Error(`sweep ${String(sweep)} exited ${String(result.code)}: ${result.stderr}`);
    const change = changeAfter(sweep, { quick, spikeAfter });
    if (change !== undefined)
      await writeFile(estatePath, JSON.stringify(change(await readEstate(estatePath))));
  }
  const estate = await readEstate(estatePath);
  const logs = estate.logs ?? {};
  const chains = eventChains(Date.parse(HISTORY_START)).map((row) => ({
    receivedAt: new Date(Date.parse(row.TimeGenerated) + 2000).toISOString(),
    row: { ...row },
  }));
  await writeFile(
    estatePath,
    JSON.stringify({
      ...estate,
      logs: { ...logs, [OUTCOME_STREAM]: [...(logs[OUTCOME_STREAM] ?? []), ...chains] },
    }),
  );
  return { estatePath, sweeps };
}
