/**
 * The fault matrix: every kind of ARM call the engine makes × every kind of fault Azure throws at it,
 * persistent and one-off, through the simulator and the real SDK clients. Each cell runs one
 * enforce-mode sweep (and a reconcile of one cluster and one API, so single reads are hit too) with the fault in
 * place, then clears it and runs again until the estate converges, and records:
 *
 * - whether the run crashed (it must not: every failure is an outcome);
 * - how many (check, resource) pairs got no outcome at all (must be 0: an outcome on an enclosing
 *   scope, e.g. the subscription when its clusters could not be listed, covers what it prevented);
 * - which non-compliant statuses and codes the faulted run reported;
 * - whether the estate converged within four clean runs 20 minutes apart, the last one writing
 *   nothing (a cluster an update left Failed is first reconciled by a person, as Azure requires);
 * - the faulted run's wall time, against the deadline a hung call must respect.
 *
 * `npm run reliability` prints the table for docs/reliability.md; test/reliability asserts the same
 * invariants for every cell.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  apimApiResource,
  apimServiceResource,
  clusterExtension,
  connectedCluster,
  logAnalyticsWorkspace,
  managedCluster,
} from "../sim/builders.js";
import type { ArmResource, Estate, FaultSpec, Simulator } from "../sim/index.js";
import { startSimulator } from "../sim/index.js";
import { createArmRestClient } from "../src/azure/arm-rest.js";
import { createAzureGateway } from "../src/azure/index.js";
import { simulatorCredential } from "../src/cli/simulate.js";
import { createEngine, type ReconcileTarget } from "../src/engine/engine.js";
import { loadConfig } from "../src/model/config.js";
import type { OutcomeRecord } from "../src/model/outcome.js";
import { createFileStateStore } from "../src/rollout/file-state-store.js";

export const MATRIX_SUB = "5d0e4b7a-1c2f-4e3a-9b8c-7d6e5f4a3b2c";
const RG = "rg-aks";
const APIM_RG = "rg-apim";
const clusterId = (name: string): string =>
  `/subscriptions/${MATRIX_SUB}/resourceGroups/${RG}/providers/Microsoft.ContainerService/managedClusters/${name}`;
const WORKSPACE_ID = `/subscriptions/${MATRIX_SUB}/resourceGroups/rg-monitor/providers/Microsoft.OperationalInsights/workspaces/law-matrix`;
const SERVICE_ID = `/subscriptions/${MATRIX_SUB}/resourceGroups/${APIM_RG}/providers/Microsoft.ApiManagement/service/apim-matrix`;
const API_NAMES = ["orders", "payments"];
const arcId = (name: string): string =>
  `/subscriptions/${MATRIX_SUB}/resourceGroups/rg-edge/providers/Microsoft.Kubernetes/connectedClusters/${name}`;
const CLUSTER_PLAN = "/providers/Microsoft\\.Security/pricings/Containers$";

/** One kind of ARM call the engine makes, by method and the path it goes to. */
export interface CallKind {
  readonly name: string;
  readonly method: string;
  readonly pathRegex: string;
  /** Long-running: an `lro-failed` fault applies. */
  readonly longRunning?: boolean;
}

export const CALL_KINDS: readonly CallKind[] = [
  {
    name: "GET Containers plan",
    method: "GET",
    pathRegex: "^/subscriptions/[^/]+/providers/Microsoft\\.Security/pricings/Containers$",
  },
  {
    name: "PUT Containers plan",
    method: "PUT",
    pathRegex: "^/subscriptions/[^/]+/providers/Microsoft\\.Security/pricings/Containers$",
  },
  { name: "GET Api plan", method: "GET", pathRegex: "/providers/Microsoft\\.Security/pricings/Api$" },
  { name: "PUT Api plan", method: "PUT", pathRegex: "/providers/Microsoft\\.Security/pricings/Api$" },
  {
    name: "list clusters",
    method: "GET",
    pathRegex: "/providers/Microsoft\\.ContainerService/managedClusters$",
  },
  { name: "GET cluster", method: "GET", pathRegex: "/managedClusters/aks-[a-z]+$" },
  { name: "PUT cluster", method: "PUT", pathRegex: "/managedClusters/aks-[a-z]+$", longRunning: true },
  {
    name: "GET cluster operation",
    method: "GET",
    pathRegex: "/providers/Microsoft\\.ContainerService/locations/[^/]+/operations/",
  },
  { name: "GET resource group", method: "GET", pathRegex: "^/subscriptions/[^/]+/resourcegroups/[^/]+$" },
  {
    name: "GET workspace",
    method: "GET",
    pathRegex: "/providers/Microsoft\\.OperationalInsights/workspaces/[^/]+$",
  },
  { name: "list APIM services", method: "GET", pathRegex: "/providers/Microsoft\\.ApiManagement/service$" },
  {
    name: "GET APIM service",
    method: "GET",
    pathRegex: "/providers/Microsoft\\.ApiManagement/service/apim-matrix$",
  },
  { name: "list APIs", method: "GET", pathRegex: "/service/apim-matrix/apis$" },
  // A Developer instance may run self-hosted gateways: their APIs are read before any onboarding.
  { name: "list self-hosted gateways", method: "GET", pathRegex: "/service/apim-matrix/gateways$" },
  {
    name: "list API collections",
    method: "GET",
    pathRegex: "/providers/Microsoft\\.Security/apiCollections$",
  },
  {
    name: "PUT API collection",
    method: "PUT",
    pathRegex: "/providers/Microsoft\\.Security/apiCollections/[^/]+$",
    longRunning: true,
  },
  { name: "read capacity metrics", method: "POST", pathRegex: "/metrics:getBatch$" },
  {
    name: "read connected clusters",
    method: "GET",
    pathRegex: "/providers/Microsoft\\.Kubernetes/connectedClusters(/arc-[a-z]+)?$",
  },
  {
    name: "list extensions",
    method: "GET",
    pathRegex: "/providers/Microsoft\\.KubernetesConfiguration/extensions$",
  },
  {
    name: "PUT extension",
    method: "PUT",
    pathRegex: "/providers/Microsoft\\.KubernetesConfiguration/extensions/[^/]+$",
    longRunning: true,
  },
  {
    name: "GET extension or its operation",
    method: "GET",
    pathRegex: "/providers/Microsoft\\.KubernetesConfiguration/extensions/[^/]+(/operations/[^/]+)?$",
  },
  { name: "GET cluster's own plan", method: "GET", pathRegex: `/managedClusters/aks-[a-z]+${CLUSTER_PLAN}` },
  {
    name: "DELETE cluster's own plan",
    method: "DELETE",
    pathRegex: `/managedClusters/aks-[a-z]+${CLUSTER_PLAN}`,
  },
  {
    name: "query Defender assessments",
    method: "POST",
    pathRegex: "^/providers/Microsoft\\.ResourceGraph/resources$",
  },
];

export type FaultName =
  "429 Retry-After 120 s" | "409" | "412" | "500" | "LRO Failed" | "dropped connection" | "hang";

export const FAULTS: readonly FaultName[] = [
  "429 Retry-After 120 s",
  "409",
  "412",
  "500",
  "LRO Failed",
  "dropped connection",
  "hang",
];

export interface Cell {
  readonly call: CallKind;
  readonly fault: FaultName;
  readonly persistent: boolean;
}

/** Every cell: LRO faults only on long-running calls. */
export function matrixCells(): Cell[] {
  return CALL_KINDS.flatMap((call) =>
    FAULTS.filter((fault) => fault !== "LRO Failed" || call.longRunning === true).flatMap((fault) =>
      [true, false].map((persistent) => ({ call, fault, persistent })),
    ),
  );
}

/** The code a cell's fault shows up as in outcomes. */
export function faultCode(fault: FaultName): string {
  switch (fault) {
    case "429 Retry-After 120 s":
      return "TooManyRequests";
    case "409":
      return "Conflict";
    case "412":
      return "PreconditionFailed";
    case "500":
      return "InternalServerError";
    case "LRO Failed":
      return "SimulatedOperationFailed";
    case "dropped connection":
      return "ECONNRESET";
    case "hang":
      return "DeadlineExceeded";
  }
}

function faultSpec(cell: Cell): FaultSpec {
  const times = cell.persistent ? 1000 : 1;
  const target = { method: cell.call.method, pathRegex: cell.call.pathRegex, times };
  switch (cell.fault) {
    case "429 Retry-After 120 s":
      return { ...target, kind: "status", status: 429, code: "TooManyRequests", retryAfterSeconds: 120 };
    case "409":
      return { ...target, kind: "status", status: 409, code: "Conflict" };
    case "412":
      return { ...target, kind: "status", status: 412, code: "PreconditionFailed" };
    case "500":
      return { ...target, kind: "status", status: 500, code: "InternalServerError" };
    case "LRO Failed":
      return {
        ...target,
        kind: "lro-failed",
        code: "SimulatedOperationFailed",
        message: "the operation failed",
      };
    case "dropped connection":
      return { ...target, kind: "drop-connection" };
    case "hang":
      return { ...target, kind: "hang" };
  }
}

function cluster(name: string, properties: Record<string, unknown>): ArmResource {
  return managedCluster(clusterId(name), { properties });
}

export function matrixEstate(): Estate {
  const apis = API_NAMES.map((name) => apimApiResource(`${SERVICE_ID}/apis/${name}`, { displayName: name }));
  return {
    subscriptions: [{ subscriptionId: MATRIX_SUB }],
    resources: [
      logAnalyticsWorkspace(WORKSPACE_ID),
      cluster("aks-open", { addonProfiles: {} }),
      cluster("aks-done", {
        addonProfiles: { azurepolicy: { enabled: true } },
        securityProfile: {
          defender: { logAnalyticsWorkspaceResourceId: WORKSPACE_ID, securityMonitoring: { enabled: true } },
        },
        apiServerAccessProfile: { authorizedIPRanges: ["198.51.100.0/24"] },
      }),
      apimServiceResource(SERVICE_ID, "Developer"),
      ...apis,
      arcCluster("arc-open"),
      arcCluster("arc-done"),
      arcExtension("arc-done", "microsoft.azuredefender.kubernetes", {
        logAnalyticsWorkspaceResourceID: WORKSPACE_ID,
      }),
      arcExtension("arc-done", "microsoft.policyinsights", {}),
      {
        // aks-done's own plan turns Defender off for it; the matrix removes it (AUTOPROTECT_REMOVE_PLAN_OVERRIDES).
        id: `${clusterId("aks-done")}/providers/Microsoft.Security/pricings/Containers`,
        name: "Containers",
        type: "Microsoft.Security/pricings",
        properties: { pricingTier: "Free" },
      },
      ...assessments(),
    ],
    capacity: { [SERVICE_ID]: { base: 10, perApi: 1 } },
  };
}

/** Defender's assessment of a resource, Healthy since before the runs. */
function healthy(resourceId: string, key: string) {
  return {
    id: `${resourceId}/providers/Microsoft.Security/assessments/${key}`,
    name: key,
    type: "Microsoft.Security/assessments",
    properties: {
      displayName: key,
      resourceDetails: { Source: "Azure", Id: resourceId },
      status: { code: "Healthy", statusChangeDate: "2026-11-01T00:00:00Z" },
    },
  };
}

/**
 * What Defender says of the protected resources (Healthy: the agreement agrees); the open ones it has
 * not assessed, so a first run's remediations leave no agreement waiting for Defender to catch up and a
 * fault the SDK's retry absorbs still reads "all compliant".
 */
function assessments(): ArmResource[] {
  return [
    ...[
      "56a83a6e-c417-42ec-b567-1e6fcb3d09a9",
      "08e628db-e2ed-4793-bc91-d13e684401c3",
      "1a2b5b4c-f80d-46e7-ac81-b51a9fb363de",
    ].map((key) => healthy(clusterId("aks-done"), key)),
    ...["3ef9848c-c2c8-4ff3-8b9c-4c8eb8ddfce6", "0642d770-b189-42ef-a2ce-9dcc3ec6c169"].map((key) =>
      healthy(arcId("arc-done"), key),
    ),
  ];
}

function arcCluster(name: string): ArmResource {
  return connectedCluster(arcId(name));
}

function arcExtension(cluster: string, extensionType: string, settings: Record<string, string>): ArmResource {
  const name = extensionType === "microsoft.policyinsights" ? "azurepolicy" : extensionType;
  return clusterExtension(arcId(cluster), name, extensionType, { configurationSettings: settings });
}

/** The (check, resource) pairs a sweep of the matrix estate must report on. */
function expectedPairs(): [string, string][] {
  const clusters = ["aks-open", "aks-done"].map(clusterId);
  return [
    [
      "defender.containers-plan",
      `/subscriptions/${MATRIX_SUB}/providers/Microsoft.Security/pricings/Containers`,
    ],
    ["defender.apis-plan", `/subscriptions/${MATRIX_SUB}/providers/Microsoft.Security/pricings/Api`],
    ...clusters.flatMap((id) =>
      [
        "aks.defender-sensor",
        "aks.azure-policy",
        "aks.authorized-ips",
        "aks.sensor-workspace",
        "aks.containers-plan-override",
      ].map((check): [string, string] => [check, id]),
    ),
    ...["arc-open", "arc-done"].flatMap((name) =>
      ["arc.defender-sensor", "arc.azure-policy"].map((check): [string, string] => [check, arcId(name)]),
    ),
    ...API_NAMES.map((name): [string, string] => ["apim.api-onboarding", `${SERVICE_ID}/apis/${name}`]),
    ...[
      ...clusters,
      arcId("arc-open"),
      arcId("arc-done"),
      ...API_NAMES.map((n) => `${SERVICE_ID}/apis/${n}`),
    ].map((id): [string, string] => ["defender.agreement", id]),
  ];
}

/** Pairs without an outcome on the resource or on a scope that encloses it. */
export function missingOutcomes(outcomes: readonly OutcomeRecord[]): [string, string][] {
  return expectedPairs().filter(
    ([check, id]) =>
      !outcomes.some(
        (o) =>
          o.Check === check &&
          (o.ResourceId.toLowerCase() === id.toLowerCase() ||
            id.toLowerCase().startsWith(`${o.ResourceId.toLowerCase()}/`)),
      ),
  );
}

/** Limits short enough for a matrix of hangs to finish in seconds; the defaults are 30 s and 2 min. */
export const MATRIX_LIMITS = {
  attemptTimeoutMs: 250,
  callDeadlineMs: 750,
  maxRetryAfterSeconds: 5,
  operationDeadlineMs: 3_000,
};

export interface CellResult {
  readonly cell: Cell;
  readonly crashed: string | undefined;
  readonly missing: [string, string][];
  /** `status code` of every outcome of the faulted run that is neither compliant, remediated nor skipped. */
  readonly reported: string[];
  /** Whether the fault was hit at all. */
  readonly hit: boolean;
  readonly converged: boolean;
  readonly wallMs: number;
}

function codeOf(outcome: OutcomeRecord): string {
  const details = outcome.Details as { code?: unknown; error?: { code?: unknown } };
  const code = details.code ?? details.error?.code;
  return typeof code === "string" ? code : "";
}

/** A clock the runs and the simulator share, moved on between runs so pacing and metrics see time pass. */
function matrixClock(): { now: () => Date; advance: (ms: number) => void } {
  let at = Date.parse("2026-11-25T10:00:00Z");
  return {
    now: () => new Date(at),
    advance: (ms) => {
      at += ms;
    },
  };
}

function gateway(sim: Simulator) {
  return createAzureGateway({
    credential: simulatorCredential,
    endpoint: sim.endpoint,
    tlsCa: sim.ca,
    pollIntervalMs: 5,
    retry: { retryDelayInMs: 5, maxRetryDelayInMs: 20 },
    metricsEndpoint: () => sim.endpoint,
    limits: MATRIX_LIMITS,
  });
}

/**
 * What a person does for a cluster left Failed by an update that failed (`az aks update` with no
 * change): the cluster is written again as it is and its state settles. autoprotect itself never
 * writes a Failed cluster.
 */
async function reconcileFailedCluster(sim: Simulator, outcomes: readonly OutcomeRecord[]): Promise<void> {
  const failed = new Set(
    outcomes
      .filter((o) => o.Status === "manual" && /provisioning state Failed/.test(o.Reason))
      .map((o) => o.ResourceId),
  );
  const azure = gateway(sim);
  for (const id of failed) {
    const cluster = await azure.aks.getCluster(id);
    if (cluster !== undefined) await azure.aks.putCluster(id, cluster, undefined);
  }
  // An extension whose install failed: a person deletes it (`az k8s-extension delete`) for it to be installed again.
  const client = createArmRestClient({
    credential: simulatorCredential,
    endpoint: sim.endpoint,
    tlsCa: sim.ca,
  });
  for (const outcome of outcomes) {
    const name = /^the .* extension '([^']+)' is (Failed|Canceled)/.exec(outcome.Reason)?.[1];
    if (outcome.Status !== "manual" || name === undefined) continue;
    const path = `${outcome.ResourceId}/providers/Microsoft.KubernetesConfiguration/extensions/${name}`;
    await client.pathUnchecked(path).delete({ queryParameters: { "api-version": "2024-11-01" } });
  }
}

async function run(sim: Simulator, stateDir: string, targets: readonly ReconcileTarget[], now: () => Date) {
  const azure = gateway(sim);
  const config = loadConfig({
    AUTOPROTECT_WORKSPACE_ID: WORKSPACE_ID,
    AUTOPROTECT_AUTHORIZED_IP_RANGES: "203.0.113.0/24",
    AUTOPROTECT_ROLLOUT_INTERVAL_MINUTES: "0",
    AUTOPROTECT_REMOVE_PLAN_OVERRIDES: "true",
  });
  const engine = createEngine({ azure, config, now, rolloutStore: createFileStateStore(stateDir) });
  return engine.reconcile(targets, {
    runId: "matrix",
    trigger: "cli",
    mode: "enforce",
    correlationId: "matrix",
  });
}

export async function runCell(cell: Cell, stateDir: string): Promise<CellResult> {
  const clock = matrixClock();
  const sim = await startSimulator({ estate: matrixEstate(), clock: clock.now });
  const targets: ReconcileTarget[] = [
    { kind: "subscription", subscriptionId: MATRIX_SUB },
    { kind: "resource", resourceId: clusterId("aks-open") },
    { kind: "resource", resourceId: arcId("arc-open") },
    { kind: "resource", resourceId: `${SERVICE_ID}/apis/${API_NAMES[0] ?? "orders"}` },
  ];
  try {
    sim.injectFault(faultSpec(cell));
    const before = sim.requests.length;
    const started = performance.now();
    let outcomes: OutcomeRecord[] = [];
    let crashed: string | undefined;
    try {
      outcomes = (await run(sim, stateDir, targets, clock.now)).outcomes;
    } catch (error) {
      crashed = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
    const wallMs = performance.now() - started;
    const hit = sim.requests.slice(before).some((r) => r.fault !== undefined);
    sim.clearFaults();
    let converged = false;
    let last = outcomes;
    for (let attempt = 0; attempt < 4 && !converged; attempt += 1) {
      // Time passes between runs, as between a sweep and the queued looks after it.
      clock.advance(20 * 60_000);
      await reconcileFailedCluster(sim, last);
      const from = sim.requests.length;
      const again = await run(sim, stateDir, targets, clock.now);
      last = again.outcomes;
      // The metrics batch API (the rollout watches its last step for an hour) and Resource Graph's
      // query API (Defender's assessments) are POSTs that only read.
      const writes = sim.requests
        .slice(from)
        .filter(
          (r) =>
            r.method !== "GET" &&
            !r.path.endsWith("metrics:getBatch") &&
            !r.path.endsWith("/Microsoft.ResourceGraph/resources"),
        );
      converged =
        writes.length === 0 &&
        again.outcomes.every((o) => o.Status === "compliant" || o.Status === "skipped");
    }
    return {
      cell,
      crashed,
      missing: missingOutcomes(outcomes),
      reported: [
        ...new Set(
          outcomes
            // Skipped says "does not apply" (an agreement with nothing to compare, here), never a fault.
            .filter((o) => o.Status !== "compliant" && o.Status !== "remediated" && o.Status !== "skipped")
            .map((o) => `${o.Status} ${codeOf(o)}`.trim()),
        ),
      ].sort(),
      hit,
      converged,
      wallMs,
    };
  } finally {
    await sim.close();
  }
}

/** The matrix as docs/reliability.md shows it. */
export function formatMatrix(results: readonly CellResult[]): string {
  const lines = [
    "| call | fault | persistent | faulted run reports | missing | converged | wall ms |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of results) {
    const reported =
      r.crashed !== undefined ? `CRASH ${r.crashed}` : r.reported.join(", ") || "all compliant";
    lines.push(
      `| ${r.cell.call.name} | ${r.cell.fault} | ${r.cell.persistent ? "yes" : "once"} | ${r.hit ? reported : `(not called) ${reported}`} | ${String(r.missing.length)} | ${r.converged ? "yes" : "NO"} | ${String(Math.round(r.wallMs))} |`,
    );
  }
  const crashed = results.filter((r) => r.crashed !== undefined).length;
  const missing = results.reduce((n, r) => n + r.missing.length, 0);
  const stuck = results.filter((r) => !r.converged).length;
  const slowest = Math.max(...results.map((r) => r.wallMs));
  lines.push(
    "",
    `${String(results.length)} cells: ${String(crashed)} crashed, ${String(missing)} missing outcomes, ` +
      `${String(stuck)} did not converge; slowest faulted run ${String(Math.round(slowest))} ms ` +
      `(call deadline ${String(MATRIX_LIMITS.callDeadlineMs)} ms).`,
  );
  return lines.join("\n");
}

/** `node dist/bench/fault-matrix.js`: runs every cell and prints the table. */
async function main(): Promise<void> {
  const results: CellResult[] = [];
  for (const cell of matrixCells()) {
    const dir = await mkdtemp(join(tmpdir(), "autoprotect-matrix-"));
    try {
      results.push(await runCell(cell, dir));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  process.stdout.write(`${formatMatrix(results)}\n`);
}

if (process.argv[1]?.endsWith("fault-matrix.js") === true) {
  main().catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exitCode = 1;
  });
}
