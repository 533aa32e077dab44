/**
 * Arc-enabled (connected) clusters: read the cluster, its resource group's tags and its extensions,
 * plan each check with the pure planners, and create what is missing, one extension PUT per check. An
 * extension PUT is a long-running operation: the CLI waits for it (within the operation deadline);
 * triggers start it and report the checks `deferred` with the operation, and a queued look confirms it.
 * Whatever the write did is judged from the extensions read back afterwards, never from the write.
 */
import {
  arcCheckSkipped,
  arcWorkspaceToRead,
  planArcCluster,
  type ArcCheckId,
  type ArcCheckInput,
  type ArcFinding,
} from "../checks/arc-extensions.js";
import type { OperationStatus } from "../azure/arm-rest.js";
import { BusyError, ConflictError, NotFoundError, OperationFailedError } from "../azure/errors.js";
import {
  connectedClusterView,
  extensionView,
  type ConnectedClusterResource,
  type ExtensionInstall,
} from "../model/arc.js";
import { RESOURCE_TYPES, type CheckId, type Finding } from "../model/checks.js";
import type { WorkspaceSnapshot } from "../model/cluster.js";
import type { ParsedResourceId } from "../model/resource-id.js";
import { ARC_CLUSTER_CHECK_IDS } from "../model/targets.js";
import type { OutcomeFields } from "../outcomes/record.js";
import { readWorkspace } from "./cluster.js";
import { budgetExhausted, describeError, outcomeOfError } from "./errors.js";
import type { PendingOperation, RunContext } from "./run-context.js";

type OutcomeBody = Pick<OutcomeFields, "status" | "reason" | "action" | "details">;
type ChangeFinding = Extract<Finding<ExtensionInstall>, { verdict: "change" }>;

const BUSY_RETRY_SECONDS = 300;
/** When a started install is first looked at again: extensions take a minute or more to install. */
const OPERATION_LOOK_SECONDS = 60;
const MIN_TIME_FOR_A_CLUSTER_MS = 5_000;

interface ArcRead {
  readonly input: ArcCheckInput;
  readonly planned: ArcFinding[];
  /** The sensor's workspace could not be read: only the sensor check fails. */
  readonly workspaceError?: unknown;
}

/** What a write did for one check: finished (judge it by reading back), started, or refused. */
type WriteResult =
  | { readonly kind: "finished" }
  | { readonly kind: "started"; readonly statusUrl: string }
  | { readonly kind: "refused"; readonly error: unknown };

function emitter(run: RunContext, id: ParsedResourceId) {
  const startedAt = run.now().getTime();
  let resourceId = id.id;
  const checks = ARC_CLUSTER_CHECK_IDS.filter((c) => run.enabled(c));
  const emit = (check: CheckId, body: OutcomeBody): void => {
    run.emit({
      subscriptionId: id.subscriptionId,
      resourceId,
      resourceType: RESOURCE_TYPES.connectedCluster,
      check,
      startedAt,
      ...body,
    });
  };
  return {
    checks,
    emit,
    emitAll: (body: OutcomeBody): void => {
      for (const check of checks) emit(check, body);
    },
    readAs: (cluster: ConnectedClusterResource): void => {
      resourceId = typeof cluster.id === "string" ? cluster.id : resourceId;
    },
  };
}

/** Reads what the cluster's checks need and plans them; an excluded cluster costs no further reads. */
async function readAndPlan(
  run: RunContext,
  id: ParsedResourceId,
  cluster: ConnectedClusterResource,
): Promise<ArcRead> {
  const resourceGroupTags =
    id.resourceGroup === undefined ? undefined : await run.tagsOf(id.subscriptionId, id.resourceGroup);
  const base = {
    cluster: connectedClusterView(cluster, id.id),
    config: run.config,
    ...(resourceGroupTags === undefined ? {} : { resourceGroupTags }),
  };
  const applies = ARC_CLUSTER_CHECK_IDS.some(
    (check) => run.enabled(check) && arcCheckSkipped(check, base) === undefined,
  );
  const extensions = applies ? (await run.azure.arc.listExtensions(id.id)).map(extensionView) : [];
  let workspace: WorkspaceSnapshot = { state: "none" };
  let workspaceError: unknown;
  try {
    workspace = await readWorkspace(run, arcWorkspaceToRead({ ...base, extensions }));
  } catch (error) {
    workspaceError = error;
  }
  const input: ArcCheckInput = { ...base, extensions, workspace };
  return {
    input,
    planned: planArcCluster(input),
    ...(workspaceError === undefined ? {} : { workspaceError }),
  };
}

function isBusy(error: unknown): boolean {
  return error instanceof BusyError || error instanceof ConflictError;
}

function refused(error: unknown, finding: ChangeFinding): OutcomeBody {
  if (isBusy(error)) {
    return {
      status: "deferred",
      reason: `the extension could not be installed now (${describeError(error).code}); will retry`,
      action: finding.action,
      details: { retryAfterSeconds: BUSY_RETRY_SECONDS, error: describeError(error) },
    };
  }
  const outcome = outcomeOfError(error);
  return { ...outcome, action: finding.action, details: { ...outcome.details, error: describeError(error) } };
}

/**
 * Creates the missing extensions, all at once: the CLI waits for each operation, a trigger only starts
 * it. An operation that ended Failed is not an error here: the extension read back says what happened.
 */
async function install(
  run: RunContext,
  id: ParsedResourceId,
  changes: readonly { check: ArcCheckId; finding: ChangeFinding }[],
): Promise<Map<ArcCheckId, WriteResult>> {
  const results = await Promise.all(
    changes.map(async ({ check, finding }): Promise<[ArcCheckId, WriteResult]> => {
      try {
        if (run.options.operations === "start") {
          const { statusUrl } = await run.azure.arc.startInstallExtension(id.id, finding.change);
          return [check, statusUrl === "" ? { kind: "finished" } : { kind: "started", statusUrl }];
        }
        await run.azure.arc.installExtension(id.id, finding.change);
        return [check, { kind: "finished" }];
      } catch (error) {
        if (error instanceof OperationFailedError) return [check, { kind: "finished" }];
        return [check, { kind: "refused", error }];
      }
    }),
  );
  return new Map(results);
}

/** A check's outcome once its install has finished, from what the extensions say now. */
function judged(
  after: Finding<ExtensionInstall>,
  finding: ChangeFinding,
  unapplied: OutcomeBody,
): OutcomeBody {
  if (after.verdict === "compliant") {
    return {
      status: "remediated",
      reason: finding.reason,
      action: finding.action,
      details: finding.details ?? {},
    };
  }
  if (after.verdict === "change") {
    return {
      status: "failed",
      reason: `the install was accepted but the extension is not there: ${after.reason}`,
      action: finding.action,
      details: { code: "ExtensionNotInstalled" },
    };
  }
  // Failed (manual, with its statuses), still installing (deferred): as the extension says.
  return { ...unapplied, action: finding.action };
}

function startedBody(finding: ChangeFinding, operation: PendingOperation): OutcomeBody {
  return {
    status: "deferred",
    reason: `${finding.reason}; the install was accepted and is confirmed when its operation completes`,
    action: finding.action,
    details: { ...finding.details, operation, retryAfterSeconds: OPERATION_LOOK_SECONDS },
  };
}

/** The cluster's checks as planned now, each against what an earlier started install says. */
function confirmed(
  read: ArcRead,
  pending: PendingOperation,
  status: OperationStatus,
): Map<ArcCheckId, OutcomeBody> {
  const bodies = new Map<ArcCheckId, OutcomeBody>();
  for (const { check, finding } of read.planned) {
    if (!pending.checks.includes(check)) continue;
    const since = `the install autoprotect started at ${pending.startedAt}`;
    if (finding.verdict === "compliant") {
      bodies.set(check, {
        status: "remediated",
        reason: `${finding.reason} (${since} has completed)`,
        action: pending.action,
        details: { ...finding.details, operation: pending },
      });
    } else if (
      finding.verdict === "deferred" ||
      (finding.verdict === "change" && status.status === "InProgress")
    ) {
      bodies.set(check, {
        status: "deferred",
        reason: `${since} is still running`,
        action: pending.action,
        details: { ...finding.details, operation: pending, retryAfterSeconds: OPERATION_LOOK_SECONDS },
      });
    } else if (finding.verdict === "change" && (status.status === "Failed" || status.status === "Canceled")) {
      // The extension is gone and the install failed: it is not tried again in this run.
      bodies.set(check, {
        status: "failed",
        reason: `${status.code}: ${since} ended ${status.status}: ${status.message}`,
        action: pending.action,
        details: { code: status.code, operation: pending },
      });
    }
  }
  return bodies;
}

/** Every check of the cluster reported, in order; `decided` overrides the planner where it says. */
function emitPlanned(
  run: RunContext,
  out: ReturnType<typeof emitter>,
  read: ArcRead,
  decided: ReadonlyMap<ArcCheckId, OutcomeBody>,
): void {
  for (const { check, finding } of read.planned) {
    out.emit(check, decided.get(check) ?? run.unapplied(finding));
  }
}

async function readBack(run: RunContext, id: ParsedResourceId, read: ArcRead): Promise<ArcRead> {
  const extensions = (await run.azure.arc.listExtensions(id.id)).map(extensionView);
  const input = { ...read.input, extensions };
  return { ...read, input, planned: planArcCluster(input) };
}

/** Installs what is missing and reports every check from what the extensions say afterwards. */
async function applyChanges(
  run: RunContext,
  id: ParsedResourceId,
  out: ReturnType<typeof emitter>,
  read: ArcRead,
  decided: Map<ArcCheckId, OutcomeBody>,
): Promise<void> {
  const changes = read.planned.flatMap(({ check, finding }) =>
    finding.verdict === "change" && !decided.has(check) ? [{ check, finding }] : [],
  );
  const results = await install(run, id, changes);
  const started = changes.filter(({ check }) => results.get(check)?.kind === "started");
  // A queued look carries one operation per resource: the first install's status URL stands for all
  // the installs started here; each check is judged by its own extension, the URL read only to tell
  // an install that failed and left nothing from one to make again.
  const firstStarted = started[0];
  if (firstStarted !== undefined) {
    const result = results.get(firstStarted.check);
    const operation: PendingOperation = {
      resourceId: id.id,
      statusUrl: result?.kind === "started" ? result.statusUrl : "",
      checks: started.map(({ check }) => check),
      action: started.map(({ finding }) => finding.action).join("; "),
      startedAt: run.now().toISOString(),
    };
    for (const { check, finding } of started) decided.set(check, startedBody(finding, operation));
  }
  for (const { check, finding } of changes) {
    const result = results.get(check);
    if (result?.kind === "refused") decided.set(check, refused(result.error, finding));
  }
  const finished = changes.filter(({ check }) => results.get(check)?.kind === "finished");
  if (finished.length > 0) {
    try {
      const after = await readBack(run, id, read);
      for (const { check, finding } of finished) {
        const now = after.planned.find((p) => p.check === check)?.finding;
        if (now !== undefined) decided.set(check, judged(now, finding, run.unapplied(now)));
      }
    } catch (error) {
      const failed = outcomeOfError(error, "reading the extensions back after installing");
      for (const { check, finding } of finished) decided.set(check, { ...failed, action: finding.action });
    }
  }
  emitPlanned(run, out, read, decided);
}

/**
 * Reconciles one connected cluster (`listed`: as a list returned it, saving a read). Every enabled
 * check ends with exactly one outcome, whatever fails.
 */
export async function reconcileArcCluster(
  run: RunContext,
  id: ParsedResourceId,
  listed: ConnectedClusterResource | undefined,
): Promise<void> {
  const out = emitter(run, id);
  if (out.checks.length === 0) return;
  if (run.timeLeftMs() < MIN_TIME_FOR_A_CLUSTER_MS) {
    out.emitAll(budgetExhausted());
    return;
  }
  let read: ArcRead;
  try {
    const cluster = listed ?? (await run.azure.arc.getConnectedCluster(id.id));
    if (cluster === undefined) {
      out.emitAll({ status: "skipped", reason: "the connected cluster no longer exists" });
      return;
    }
    out.readAs(cluster);
    read = await readAndPlan(run, id, cluster);
  } catch (error) {
    out.emitAll(outcomeOfError(error));
    return;
  }
  const decided = new Map<ArcCheckId, OutcomeBody>();
  if (read.workspaceError !== undefined) {
    const sensor = read.planned.find((p) => p.check === "arc.defender-sensor");
    if (
      sensor !== undefined &&
      sensor.finding.verdict !== "compliant" &&
      sensor.finding.verdict !== "skipped"
    ) {
      decided.set(
        "arc.defender-sensor",
        outcomeOfError(read.workspaceError, "reading the sensor's workspace"),
      );
    }
  }
  const pending = run.options.pendingOperations?.find(
    (p) => p.resourceId.toLowerCase() === id.id.toLowerCase(),
  );
  if (pending !== undefined) {
    try {
      const status = await run.azure.arc.operationStatus(pending.statusUrl);
      for (const [check, body] of confirmed(read, pending, status)) decided.set(check, body);
    } catch (error) {
      if (!(error instanceof NotFoundError)) {
        out.emitAll(outcomeOfError(error, "reading the status of the extension install"));
        return;
      }
    }
  }
  if (run.info.mode === "audit") {
    emitPlanned(run, out, read, decided);
    return;
  }
  await applyChanges(run, id, out, read, decided);
}
