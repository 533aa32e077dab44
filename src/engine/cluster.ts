/**
 * AKS managed clusters: read (with the resource group's tags and the sensor's workspace), plan every
 * cluster check with the pure planners, and apply all changes in ONE PUT of the cluster exactly as it
 * was read, guarded by its ETag. Triggers that must answer quickly start the PUT and confirm it in a
 * later look (`PendingOperation`) instead of waiting minutes for AKS.
 */
import {
  applyClusterChangesToResource,
  describeClusterChanges,
  exclusionReason,
  planClusterProtection,
  resolveSensorWorkspaceId,
} from "../checks/index.js";
import type { ClusterCheckInput, ClusterFinding } from "../checks/index.js";
import { BusyError, ConflictError, NotFoundError } from "../azure/errors.js";
import { RESOURCE_TYPES, type CheckId, type Finding } from "../model/checks.js";
import {
  clusterView,
  type ClusterChange,
  type ClusterResource,
  type WorkspaceSnapshot,
} from "../model/cluster.js";
import type { ParsedResourceId } from "../model/resource-id.js";
import { CLUSTER_CHECK_IDS } from "../model/targets.js";
import type { OutcomeFields } from "../outcomes/record.js";
import { budgetExhausted, describeError, outcomeOfError } from "./errors.js";
import type { PendingOperation, RunContext } from "./run-context.js";

type ChangeFinding = Extract<Finding<ClusterChange>, { verdict: "change" }>;
type OutcomeBody = Pick<OutcomeFields, "status" | "reason" | "action" | "details">;

const MAX_CONFLICT_RETRIES = 3;
const BUSY_RETRY_SECONDS = 300;
/** When a started write is first looked at again: AKS takes minutes, the status is cheap to read. */
const OPERATION_LOOK_SECONDS = 60;
/** Below this much of the run's budget a cluster is not started: it would not finish. */
const MIN_TIME_FOR_A_CLUSTER_MS = 5_000;

interface ClusterRead {
  readonly cluster: ClusterResource;
  readonly input: ClusterCheckInput;
  readonly planned: ClusterFinding[];
  /** The sensor's workspace could not be read: only the check that judges it fails. */
  readonly workspaceError?: unknown;
}

/** One cluster's outcomes: one per enabled check, with ARM's spelling of the id once the cluster is read. */
function outcomes(run: RunContext, id: ParsedResourceId) {
  const startedAt = run.now().getTime();
  const checks = CLUSTER_CHECK_IDS.filter((c) => run.enabled(c));
  let resourceId = id.id;
  let confirming: PendingOperation | undefined;
  const overrides = new Map<CheckId, OutcomeBody>();
  const emit = (check: CheckId, planned: OutcomeBody): void => {
    const given = overrides.get(check) ?? planned;
    // A check a completed earlier write was for, and that complies now, was remediated by that write.
    const body: OutcomeBody =
      confirming?.checks.includes(check) === true && given.status === "compliant"
        ? {
            status: "remediated",
            reason: `${given.reason} (the update autoprotect started at ${confirming.startedAt} has completed)`,
            action: confirming.action,
            details: { ...given.details, operation: confirming },
          }
        : given;
    run.emit({
      subscriptionId: id.subscriptionId,
      resourceId,
      resourceType: RESOURCE_TYPES.managedCluster,
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
    readAs: (cluster: ClusterResource): void => {
      resourceId = cluster.id ?? resourceId;
    },
    confirm: (operation: PendingOperation): void => {
      confirming = operation;
    },
    /** This check's outcome is `body`, whatever its planner said (its input could not be read). */
    override: (check: CheckId, body: OutcomeBody): void => {
      overrides.set(check, body);
    },
    /** Checks that needed the write get `outcome`; the others report their own finding. */
    emitPlanned: (
      planned: readonly ClusterFinding[],
      outcome: (check: CheckId, finding: ChangeFinding) => OutcomeBody,
    ): void => {
      for (const { check, finding } of planned) {
        emit(check, finding.verdict === "change" ? outcome(check, finding) : run.unapplied(finding));
      }
    },
  };
}

/** The sensor's workspace as Azure has it ("none" when no workspace is set): AKS and Arc alike. */
export async function readWorkspace(
  run: RunContext,
  workspaceId: string | undefined,
): Promise<WorkspaceSnapshot> {
  return workspaceId === undefined ? { state: "none" } : run.azure.logAnalytics.getWorkspace(workspaceId);
}

/** Reads what one cluster's checks need (tags, workspace) and plans them. */
async function readAndPlan(
  run: RunContext,
  id: ParsedResourceId,
  cluster: ClusterResource,
): Promise<ClusterRead> {
  const view = clusterView(cluster);
  const resourceGroupTags =
    id.resourceGroup === undefined ? undefined : await run.tagsOf(id.subscriptionId, id.resourceGroup);
  const excluded = exclusionReason(run.config.excludeTag, view.tags, resourceGroupTags) !== undefined;
  // An excluded cluster costs no further reads. A workspace that cannot be read fails only the check
  // that judges it; the others are planned as if there were none to look at.
  let workspace: WorkspaceSnapshot = { state: "none" };
  let workspaceError: unknown;
  if (!excluded) {
    try {
      workspace = await readWorkspace(run, resolveSensorWorkspaceId(view, run.config.workspaceId));
    } catch (error) {
      workspaceError = error;
    }
  }
  const input: ClusterCheckInput = {
    cluster: view,
    workspace,
    config: run.config,
    ...(resourceGroupTags === undefined ? {} : { resourceGroupTags }),
  };
  return {
    cluster,
    input,
    planned: planClusterProtection(input),
    ...(workspaceError === undefined ? {} : { workspaceError }),
  };
}

/**
 * The checks that needed the workspace read fail with its error: the workspace check always, the
 * sensor check when it would have to point the sensor at that workspace. The others stand.
 */
function overrideUnreadWorkspace(out: ReturnType<typeof outcomes>, read: ClusterRead): void {
  const failed = outcomeOfError(read.workspaceError, "reading the sensor's workspace");
  out.override("aks.sensor-workspace", failed);
  const sensor = read.planned.find((p) => p.check === "aks.defender-sensor");
  if (sensor !== undefined && sensor.finding.verdict !== "compliant")
    out.override("aks.defender-sensor", failed);
}

/** AKS refuses a write while another operation runs, or (after our retries) the ETag kept moving on. */
function isBusy(error: unknown): boolean {
  return error instanceof BusyError || error instanceof ConflictError;
}

function writeFailed(error: unknown, finding: ChangeFinding, combinedWrite: string): OutcomeBody {
  if (isBusy(error)) {
    return {
      status: "deferred",
      reason: `the cluster is busy (${describeError(error).code}); will retry`,
      action: finding.action,
      details: { retryAfterSeconds: BUSY_RETRY_SECONDS, error: describeError(error) },
    };
  }
  const outcome = outcomeOfError(error);
  return {
    ...outcome,
    action: finding.action,
    details: { ...outcome.details, error: describeError(error), combinedWrite },
  };
}

/** Compares what the cluster says now with what the write was for: remediated, or not confirmed. */
function confirmWrite(
  run: RunContext,
  read: ClusterRead,
  updated: ClusterResource,
  combinedWrite: string,
): (check: CheckId, finding: ChangeFinding) => OutcomeBody {
  const confirmed = new Map(
    planClusterProtection({ ...read.input, cluster: clusterView(updated) }).map(({ check, finding }) => [
      check,
      finding,
    ]),
  );
  return (check, finding) => {
    const after = confirmed.get(check as ClusterFinding["check"]);
    return after?.verdict === "compliant"
      ? {
          status: "remediated",
          reason: finding.reason,
          action: finding.action,
          details: { ...finding.details, combinedWrite },
        }
      : {
          status: "failed",
          reason: `the change was accepted but not confirmed: ${after?.reason ?? "check missing after write"}`,
          action: finding.action,
          details: { combinedWrite },
        };
  };
}

/** A write that was started and not waited for: its outcome says when it will be confirmed. */
function started(
  run: RunContext,
  id: ParsedResourceId,
  statusUrl: string,
  changes: readonly ClusterFinding[],
  combinedWrite: string,
) {
  const operation: PendingOperation = {
    resourceId: id.id,
    statusUrl,
    checks: changes.map((c) => c.check),
    action: combinedWrite,
    startedAt: run.now().toISOString(),
  };
  return (_check: CheckId, finding: ChangeFinding): OutcomeBody => ({
    status: "deferred",
    reason: `${finding.reason}; the change was accepted by AKS and is confirmed when its operation completes`,
    action: finding.action,
    details: { ...finding.details, combinedWrite, operation, retryAfterSeconds: OPERATION_LOOK_SECONDS },
  });
}

/**
 * Reconciles one cluster (`listed`: as a list returned it, saving a read). Every enabled check ends
 * with exactly one outcome, whatever fails.
 */
export async function reconcileCluster(
  run: RunContext,
  id: ParsedResourceId,
  listed: ClusterResource | undefined,
): Promise<void> {
  const out = outcomes(run, id);
  if (out.checks.length === 0) return;
  if (run.timeLeftMs() < MIN_TIME_FOR_A_CLUSTER_MS) {
    out.emitAll(budgetExhausted(run.options.stop?.aborted === true));
    return;
  }
  const pending = run.options.pendingOperations?.find(
    (p) => p.resourceId.toLowerCase() === id.id.toLowerCase(),
  );
  if (pending !== undefined && (await confirmOperation(run, id, pending, out))) return;

  let snapshot = listed;
  for (let attempt = 1; ; attempt += 1) {
    let read: ClusterRead;
    try {
      const cluster = snapshot ?? (await run.azure.aks.getCluster(id.id));
      if (cluster === undefined) {
        out.emitAll({ status: "skipped", reason: "the cluster no longer exists" });
        return;
      }
      out.readAs(cluster);
      read = await readAndPlan(run, id, cluster);
    } catch (error) {
      out.emitAll(outcomeOfError(error));
      return;
    }
    if (read.workspaceError !== undefined) overrideUnreadWorkspace(out, read);
    const changes = read.planned.filter(({ finding }) => finding.verdict === "change");
    if (changes.length === 0 || run.info.mode === "audit") {
      for (const { check, finding } of read.planned) out.emit(check, run.unapplied(finding));
      return;
    }
    const combinedWrite = describeClusterChanges(
      changes.flatMap(({ finding }) => (finding.verdict === "change" ? [finding.change] : [])),
    );
    const body = applyClusterChangesToResource(
      read.cluster,
      changes.flatMap(({ finding }) => (finding.verdict === "change" ? [finding.change] : [])),
    );
    const eTag = clusterView(read.cluster).eTag;
    try {
      if (run.options.operations === "start") {
        const { statusUrl, accepted } = await run.azure.aks.startPutCluster(id.id, body, eTag);
        out.emitPlanned(
          read.planned,
          statusUrl === ""
            ? confirmWrite(run, read, accepted, combinedWrite)
            : started(run, id, statusUrl, changes, combinedWrite),
        );
        return;
      }
      const updated = await run.azure.aks.putCluster(id.id, body, eTag);
      out.emitPlanned(read.planned, confirmWrite(run, read, updated, combinedWrite));
      return;
    } catch (error) {
      if (error instanceof ConflictError && attempt < MAX_CONFLICT_RETRIES) {
        // Someone else wrote the cluster since we read it: read again and plan again, never overwrite.
        snapshot = undefined;
        continue;
      }
      out.emitPlanned(read.planned, (_check, finding) => writeFailed(error, finding, combinedWrite));
      return;
    }
  }
}

/**
 * Looks at a write an earlier run started; true when that settled the cluster's outcomes. Still
 * running: the checks stay deferred (the wait cap bounds it). Failed: they fail with the operation's
 * error. Succeeded, or unknown to ARM any more: false, and the cluster is reconciled as usual, each
 * check of the write that complies now reported remediated.
 */
async function confirmOperation(
  run: RunContext,
  id: ParsedResourceId,
  pending: PendingOperation,
  out: ReturnType<typeof outcomes>,
): Promise<boolean> {
  let status;
  try {
    status = await run.azure.aks.operationStatus(pending.statusUrl);
  } catch (error) {
    if (error instanceof NotFoundError) return false;
    out.emitAll(outcomeOfError(error, "reading the status of the cluster's update"));
    return true;
  }
  const ownCheck = (check: CheckId): boolean => pending.checks.includes(check);
  if (status.status === "InProgress") {
    for (const check of out.checks) {
      out.emit(check, {
        status: "deferred",
        reason: ownCheck(check)
          ? `the update autoprotect started at ${pending.startedAt} is still running`
          : "the cluster is being updated; this check is looked at when the update has finished",
        ...(ownCheck(check) ? { action: pending.action } : {}),
        details: { operation: pending, retryAfterSeconds: OPERATION_LOOK_SECONDS },
      });
    }
    return true;
  }
  if (status.status !== "Succeeded") {
    for (const check of out.checks) {
      out.emit(check, {
        status: "failed",
        reason: `${status.code}: the update autoprotect started at ${pending.startedAt} ended ${status.status}: ${status.message}`,
        action: ownCheck(check) ? pending.action : "",
        details: { code: status.code, operation: pending },
      });
    }
    return true;
  }
  out.confirm(pending);
  return false;
}
