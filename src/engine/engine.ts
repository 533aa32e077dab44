import {
  applyClusterChanges,
  describeClusterChanges,
  exclusionReason,
  isConsumptionTier,
  planClusterProtection,
  planApisPlan,
  planContainersPlan,
  resolveSensorWorkspaceId,
} from "../checks/index.js";
import type { ClusterCheckInput, ClusterFinding } from "../checks/index.js";
import type { AzureGateway, ManagedClusterModel } from "../azure/index.js";
import { AzureApiError } from "../azure/errors.js";
import { RESOURCE_TYPES, type CheckId, type Finding, type Status } from "../model/checks.js";
import type { ApimServiceSnapshot } from "../model/apim.js";
import type { ClusterChange, WorkspaceSnapshot } from "../model/cluster.js";
import type { Config } from "../model/config.js";
import type { OutcomeRecord } from "../model/outcome.js";
import type { PricingSnapshot, PricingUpdate } from "../model/pricing.js";
import type { RolloutStateStore } from "../rollout/state-store.js";
import { parseResourceId, pricingId, type ParsedResourceId } from "../model/resource-id.js";
import { buildOutcome, type OutcomeFields, type RunInfo } from "../outcomes/record.js";
import { forEachConcurrently } from "./concurrency.js";
import { describeError, failureReason } from "./errors.js";
import { reconcileApimService } from "./apim.js";
import type { PlanName, RunContext } from "./run-context.js";
import { armInventory, type Inventory } from "./inventory.js";
import { requeueRequests, type RequeueRequest } from "./requeue.js";
import { annotateSpan, countOutcomes, inSpan } from "../telemetry/tracing.js";

/** What a run is asked to look at. An event or request only names it; the engine reads the world itself. */
export type ReconcileTarget =
  | { readonly kind: "subscription"; readonly subscriptionId: string }
  | { readonly kind: "resource"; readonly resourceId: string };

export interface RunError {
  readonly scope: string;
  readonly code: string;
  readonly message: string;
}

export interface RunResult {
  readonly outcomes: OutcomeRecord[];
  /** Failures that belong to no single check (e.g. a subscription whose clusters cannot be listed). */
  readonly errors: RunError[];
  /** The soonest any deferred outcome asks to be looked at again. */
  readonly requeueAfterSeconds: number | undefined;
  /** What to look at again and when (a rollout's next step, a busy cluster), soonest first. */
  readonly requeue: RequeueRequest[];
}

export interface EngineOptions {
  readonly azure: AzureGateway;
  readonly config: Config;
  readonly now?: () => Date;
  /** Clusters reconciled in parallel within one subscription. */
  readonly concurrency?: number;
  /** Called as each outcome is decided, for progress and streaming sinks. */
  readonly onOutcome?: (outcome: OutcomeRecord) => void;
  /** Called with the number of clusters found in a subscription, before they are reconciled (for progress). */
  readonly onDiscovered?: (count: number) => void;
  readonly inventory?: Inventory;
  /** Durable rollout progress per APIM service; without it APIM onboarding only reports (never onboards). */
  readonly rolloutStore?: RolloutStateStore;
}

export class UnsupportedTargetError extends Error {
  override readonly name = "UnsupportedTargetError";
}

type TargetKind = "subscription" | "cluster" | "apim-service" | "apim-api" | "containers-plan" | "apis-plan";

/** What kind of target an id is, or UnsupportedTargetError when the engine does not reconcile it. */
export function targetKind(id: ParsedResourceId): TargetKind {
  const type = id.type.toLowerCase();
  const plan = id.names[0]?.toLowerCase();
  if (type === "microsoft.resources/subscriptions") return "subscription";
  if (type === RESOURCE_TYPES.managedCluster.toLowerCase()) return "cluster";
  if (type === RESOURCE_TYPES.apimService.toLowerCase()) return "apim-service";
  if (type === RESOURCE_TYPES.apimApi.toLowerCase()) return "apim-api";
  if (type === RESOURCE_TYPES.pricing.toLowerCase() && plan === "containers") return "containers-plan";
  if (type === RESOURCE_TYPES.pricing.toLowerCase() && plan === "api") return "apis-plan";
  throw new UnsupportedTargetError(
    `'${id.id}' is a ${id.type}; autoprotect reconciles subscriptions, ${RESOURCE_TYPES.managedCluster}, ` +
      `${RESOURCE_TYPES.apimService}, ${RESOURCE_TYPES.apimApi} and the Containers and Api plans`,
  );
}

/** Throws UnsupportedTargetError unless the engine knows how to reconcile this id. */
export function assertReconcilable(id: ParsedResourceId): void {
  targetKind(id);
}

const CLUSTER_CHECKS: readonly CheckId[] = [
  "aks.defender-sensor",
  "aks.azure-policy",
  "aks.authorized-ips",
  "aks.sensor-workspace",
];
type ChangeFinding = Extract<Finding<ClusterChange>, { verdict: "change" }>;

const MAX_CONFLICT_RETRIES = 3;
const BUSY_RETRY_SECONDS = 300;

/** One run of the engine: a fresh cache of what has been read, shared by every resource the run touches. */
class Run implements RunContext {
  readonly outcomes: OutcomeRecord[] = [];
  readonly errors: RunError[] = [];
  private readonly groupTags = new Map<string, Promise<Record<string, string> | undefined>>();
  private readonly workspaces = new Map<string, Promise<WorkspaceSnapshot>>();
  /** Plan name and subscription (lower-case) → whether the plan is on after this run looked at it. */
  private readonly plans = new Map<string, Promise<boolean>>();
  private readonly apimServices = new Map<string, Promise<ApimServiceSnapshot[]>>();

  constructor(
    private readonly options: EngineOptions,
    readonly info: RunInfo,
  ) {}

  get azure(): AzureGateway {
    return this.options.azure;
  }
  get config(): Config {
    return this.options.config;
  }
  get rolloutStore(): RolloutStateStore | undefined {
    return this.options.rolloutStore;
  }
  now(): Date {
    return this.options.now?.() ?? new Date();
  }
  enabled(check: CheckId): boolean {
    return this.config.checks.includes(check);
  }
  recordError(error: RunError): void {
    this.errors.push(error);
  }

  emit(fields: OutcomeFields): void {
    const outcome = buildOutcome(this.info, fields, this.now());
    this.outcomes.push(outcome);
    this.options.onOutcome?.(outcome);
  }

  result(): RunResult {
    const requeue = requeueRequests(this.outcomes);
    return {
      outcomes: this.outcomes,
      errors: this.errors,
      requeueAfterSeconds: requeue[0]?.afterSeconds,
      requeue,
    };
  }

  async reconcile(target: ReconcileTarget): Promise<void> {
    if (target.kind === "subscription") {
      await this.reconcileSubscription(target.subscriptionId);
      return;
    }
    const parsed = parseResourceId(target.resourceId);
    // Each plan is fixed before the resources that depend on it.
    switch (targetKind(parsed)) {
      case "subscription":
        await this.reconcileSubscription(parsed.subscriptionId);
        return;
      case "cluster":
        await this.planReady(parsed.subscriptionId, "Containers");
        await this.reconcileCluster(parsed, undefined);
        return;
      case "containers-plan":
        await this.planReady(parsed.subscriptionId, "Containers");
        return;
      case "apis-plan":
        await this.planReady(parsed.subscriptionId, "Api");
        return;
      case "apim-service":
        await this.planReady(parsed.subscriptionId, "Api");
        await reconcileApimService(this, parsed.id, undefined, undefined);
        return;
      case "apim-api": {
        await this.planReady(parsed.subscriptionId, "Api");
        const serviceId = parsed.id.replace(/\/apis\/[^/]+$/i, "");
        await reconcileApimService(this, serviceId, undefined, parsed.names[1]);
        return;
      }
    }
  }

  async reconcileSubscription(subscriptionId: string): Promise<void> {
    await this.planReady(subscriptionId, "Containers");
    await this.reconcileClusters(subscriptionId);
    await this.planReady(subscriptionId, "Api");
    await this.reconcileApimServices(subscriptionId);
  }

  /** The subscription's API Management services, listed once per run (the plan check and the sweep share it). */
  private servicesIn(subscriptionId: string): Promise<ApimServiceSnapshot[]> {
    const key = subscriptionId.toLowerCase();
    let services = this.apimServices.get(key);
    if (services === undefined) {
      services = this.azure.apim.listServices(subscriptionId);
      this.apimServices.set(key, services);
    }
    return services;
  }

  /** Services Defender for APIs could protect: not Consumption, not excluded by tag. */
  private async supportedServiceCount(subscriptionId: string): Promise<number> {
    let count = 0;
    for (const service of await this.servicesIn(subscriptionId)) {
      if (isConsumptionTier(service)) continue;
      const group = parseResourceId(service.id).resourceGroup;
      const groupTags = group === undefined ? undefined : await this.tagsOf(subscriptionId, group);
      if (exclusionReason(this.config.excludeTag, service.tags, groupTags) === undefined) count += 1;
    }
    return count;
  }

  private async reconcileApimServices(subscriptionId: string): Promise<void> {
    if (!this.enabled("apim.api-onboarding")) return;
    let services;
    try {
      services = await this.servicesIn(subscriptionId);
    } catch (error) {
      const { code, message } = describeError(error);
      this.errors.push({
        scope: `/subscriptions/${subscriptionId}`,
        code,
        message: `listing API Management services: ${message}`,
      });
      return;
    }
    this.options.onDiscovered?.(0);
    await forEachConcurrently(services, this.options.concurrency ?? 8, (service) =>
      reconcileApimService(this, service.id, service, undefined),
    );
  }

  private async reconcileClusters(subscriptionId: string): Promise<void> {
    if (!CLUSTER_CHECKS.some((c) => this.enabled(c))) return;
    let clusters: ManagedClusterModel[];
    try {
      clusters = await (this.options.inventory ?? armInventory(this.azure)).clustersIn(subscriptionId);
    } catch (error) {
      const { code, message } = describeError(error);
      this.errors.push({
        scope: `/subscriptions/${subscriptionId}`,
        code,
        message: `listing clusters: ${message}`,
      });
      return;
    }
    this.options.onDiscovered?.(clusters.length);
    await forEachConcurrently(clusters, this.options.concurrency ?? 8, async (cluster) => {
      if (cluster.id !== undefined) await this.reconcileCluster(parseResourceId(cluster.id), cluster);
    });
  }

  /**
   * Checks (and in enforce mode fixes) a subscription's Defender plan, once per run, and says
   * whether it is on afterwards: resources that depend on it wait for it.
   */
  planReady(subscriptionId: string, plan: PlanName): Promise<boolean> {
    const key = `${plan}/${subscriptionId}`.toLowerCase();
    let ready = this.plans.get(key);
    if (ready === undefined) {
      ready = this.reconcilePlan(subscriptionId, plan);
      this.plans.set(key, ready);
    }
    return ready;
  }

  private async reconcilePlan(subscriptionId: string, plan: PlanName): Promise<boolean> {
    const check: CheckId = plan === "Containers" ? "defender.containers-plan" : "defender.apis-plan";
    if (!this.enabled(check)) return true;
    const base = {
      subscriptionId,
      resourceId: pricingId(subscriptionId, plan),
      resourceType: RESOURCE_TYPES.pricing,
      check,
      startedAt: this.now().getTime(),
    };
    try {
      const pricing = await this.azure.security.getPricing(subscriptionId, plan);
      // Counting services costs a list call, only needed when the APIs plan would be turned on.
      const supportedServices =
        plan === "Api" && planApisPlan(pricing, this.config.apiSubPlan).verdict === "change"
          ? await this.supportedServiceCount(subscriptionId)
          : undefined;
      const planner = (snapshot: PricingSnapshot): Finding<PricingUpdate> =>
        plan === "Containers"
          ? planContainersPlan(snapshot)
          : planApisPlan(snapshot, this.config.apiSubPlan, supportedServices);
      const finding = planner(pricing);
      if (finding.verdict !== "change" || this.info.mode === "audit") {
        this.emit({ ...base, ...this.unapplied(finding) });
        return finding.verdict === "compliant";
      }
      const updated = await this.azure.security.putPricing(subscriptionId, plan, finding.change);
      const outcome = confirmPricing(updated, finding, planner);
      this.emit({ ...base, ...outcome });
      return outcome.status === "remediated";
    } catch (error) {
      this.emit({ ...base, status: "failed", reason: failureReason(error), details: describeError(error) });
      return false;
    }
  }

  /** Status, reason and action for a finding that is reported rather than applied. */
  unapplied<C>(finding: Finding<C>): Pick<OutcomeFields, "status" | "reason" | "action" | "details"> {
    const details = { ...(finding.details ?? {}) };
    switch (finding.verdict) {
      case "change":
        return { status: "planned", reason: finding.reason, action: finding.action, details };
      case "deferred":
        return {
          status: "deferred",
          reason: finding.reason,
          details: { ...details, retryAfterSeconds: finding.retryAfterSeconds },
        };
      default:
        return { status: finding.verdict, reason: finding.reason, details };
    }
  }

  async tagsOf(subscriptionId: string, resourceGroup: string): Promise<Record<string, string> | undefined> {
    const key = `${subscriptionId}/${resourceGroup}`.toLowerCase();
    let tags = this.groupTags.get(key);
    if (tags === undefined) {
      tags = this.azure.resources.getResourceGroupTags(subscriptionId, resourceGroup);
      this.groupTags.set(key, tags);
    }
    return tags;
  }

  private async workspace(workspaceId: string | undefined): Promise<WorkspaceSnapshot> {
    if (workspaceId === undefined) return { state: "none" };
    const key = workspaceId.toLowerCase();
    let workspace = this.workspaces.get(key);
    if (workspace === undefined) {
      workspace = this.azure.logAnalytics.getWorkspace(workspaceId);
      this.workspaces.set(key, workspace);
    }
    return workspace;
  }

  async reconcileCluster(id: ParsedResourceId, listed: ManagedClusterModel | undefined): Promise<void> {
    const startedAt = this.now().getTime();
    const checks = CLUSTER_CHECKS.filter((c) => this.enabled(c));
    if (checks.length === 0) return;
    // Outcomes carry the id as ARM spells it, once the cluster has been read (events may spell it otherwise).
    let resourceId = id.id;
    const base = (check: CheckId): Omit<OutcomeFields, "status" | "reason"> => ({
      subscriptionId: id.subscriptionId,
      resourceId,
      resourceType: RESOURCE_TYPES.managedCluster,
      check,
      startedAt,
    });
    const emitAll = (status: Status, reason: string, details: Record<string, unknown> = {}): void => {
      for (const check of checks) this.emit({ ...base(check), status, reason, details });
    };
    /** Checks that needed the write get `outcome`; the others report their own finding. */
    const emitWriteOutcome = (
      planned: readonly ClusterFinding[],
      outcome: (
        check: ClusterFinding["check"],
        finding: ChangeFinding,
      ) => Pick<OutcomeFields, "status" | "reason" | "action" | "details">,
    ): void => {
      for (const { check, finding } of planned) {
        this.emit({
          ...base(check),
          ...(finding.verdict === "change" ? outcome(check, finding) : this.unapplied(finding)),
        });
      }
    };

    let snapshot = listed;
    for (let attempt = 1; ; attempt += 1) {
      let read:
        { cluster: ManagedClusterModel; input: ClusterCheckInput; planned: ClusterFinding[] } | undefined;
      try {
        read = await this.readAndPlanCluster(id, snapshot);
      } catch (error) {
        emitAll("failed", failureReason(error), describeError(error));
        return;
      }
      if (read === undefined) {
        emitAll("skipped", "the cluster no longer exists");
        return;
      }
      const { cluster, input, planned } = read;
      resourceId = cluster.id ?? resourceId;
      const changes = planned.flatMap(({ finding }) =>
        finding.verdict === "change" ? [finding.change] : [],
      );
      if (changes.length === 0 || this.info.mode === "audit") {
        for (const { check, finding } of planned) this.emit({ ...base(check), ...this.unapplied(finding) });
        return;
      }

      const combinedWrite = describeClusterChanges(changes);
      let updated: ManagedClusterModel;
      try {
        updated = await this.azure.aks.putCluster(id.id, applyClusterChanges(cluster, changes), cluster.eTag);
      } catch (error) {
        const conflict = error instanceof AzureApiError && error.statusCode === 412;
        if (conflict && attempt < MAX_CONFLICT_RETRIES) {
          // Someone else wrote the cluster since we read it: read again and plan again, never overwrite.
          snapshot = undefined;
          continue;
        }
        const busy = conflict || (error instanceof AzureApiError && error.code === "OperationNotAllowed");
        emitWriteOutcome(planned, (_check, finding) =>
          busy
            ? {
                status: "deferred",
                reason: `the cluster is busy (${describeError(error).code}); will retry`,
                action: finding.action,
                details: { retryAfterSeconds: BUSY_RETRY_SECONDS, error: describeError(error) },
              }
            : {
                status: "failed",
                reason: failureReason(error),
                action: finding.action,
                details: { error: describeError(error), combinedWrite },
              },
        );
        return;
      }

      const confirmed = new Map(
        planClusterProtection({ ...input, cluster: updated }).map(({ check, finding }) => [check, finding]),
      );
      emitWriteOutcome(planned, (check, finding) => {
        const after = confirmed.get(check);
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
      });
      return;
    }
  }

  /** Reads what one cluster's checks need (tags, workspace) and plans them; undefined when the cluster is gone. */
  private async readAndPlanCluster(
    id: ParsedResourceId,
    snapshot: ManagedClusterModel | undefined,
  ): Promise<
    { cluster: ManagedClusterModel; input: ClusterCheckInput; planned: ClusterFinding[] } | undefined
  > {
    const cluster = snapshot ?? (await this.azure.aks.getCluster(id.id));
    if (cluster === undefined) return undefined;
    const resourceGroupTags =
      id.resourceGroup === undefined ? undefined : await this.tagsOf(id.subscriptionId, id.resourceGroup);
    const excluded = exclusionReason(this.config.excludeTag, cluster.tags, resourceGroupTags) !== undefined;
    // An excluded cluster costs no further reads.
    const workspace: WorkspaceSnapshot = excluded
      ? { state: "none" }
      : await this.workspace(resolveSensorWorkspaceId(cluster, this.config.workspaceId));
    const input: ClusterCheckInput = {
      cluster,
      workspace,
      config: this.config,
      ...(resourceGroupTags === undefined ? {} : { resourceGroupTags }),
    };
    return { cluster, input, planned: planClusterProtection(input) };
  }
}

function isEnabled(value: string | undefined): boolean {
  return value?.toLowerCase() === "true";
}

/** A plan write is confirmed when the plan now complies and no required extension reports a failed operation. */
function confirmPricing(
  updated: PricingSnapshot,
  finding: Extract<Finding<unknown>, { verdict: "change" }>,
  planner: (pricing: PricingSnapshot) => Finding<PricingUpdate>,
): Pick<OutcomeFields, "status" | "reason" | "action" | "details"> & { status: Status } {
  const after = planner(updated);
  const failedExtension = (updated.properties.extensions ?? []).find(
    (e) => isEnabled(e.isEnabled) && e.operationStatus?.code?.toLowerCase() === "failed",
  );
  if (after.verdict === "compliant" && failedExtension === undefined) {
    return {
      status: "remediated",
      reason: finding.reason,
      action: finding.action,
      details: { ...finding.details },
    };
  }
  return {
    status: "failed",
    reason:
      failedExtension === undefined
        ? `the plan write was accepted but not confirmed: ${after.reason}`
        : `ExtensionOperationFailed: ${failedExtension.name}: ${failedExtension.operationStatus?.message ?? "failed"}`,
    action: finding.action,
    details: { ...finding.details },
  };
}

/** Several runs reported as one (a sweep's subscriptions, an event batch's resources). */
export function mergeRunResults(results: readonly RunResult[]): RunResult {
  const requeue = results.flatMap((r) => r.requeue).sort((a, b) => a.afterSeconds - b.afterSeconds);
  return {
    outcomes: results.flatMap((r) => r.outcomes),
    errors: results.flatMap((r) => r.errors),
    requeue,
    requeueAfterSeconds: requeue[0]?.afterSeconds,
  };
}

export interface Engine {
  reconcile(targets: readonly ReconcileTarget[], run: RunInfo): Promise<RunResult>;
}

export function createEngine(options: EngineOptions): Engine {
  return {
    reconcile(targets, info) {
      // One trace per run, correlated with what caused it (an event id, a request id).
      return inSpan(
        "autoprotect.run",
        {
          "autoprotect.run_id": info.runId,
          "autoprotect.trigger": info.trigger,
          "autoprotect.mode": info.mode,
          "autoprotect.correlation_id": info.correlationId,
          "autoprotect.targets": targets.length,
        },
        async () => {
          const run = new Run(options, info);
          for (const target of targets) await run.reconcile(target);
          const result = run.result();
          annotateSpan({
            "autoprotect.outcomes": result.outcomes.length,
            "autoprotect.failed": result.outcomes.filter((o) => o.Status === "failed").length,
            "autoprotect.errors": result.errors.length,
          });
          countOutcomes(result.outcomes);
          return result;
        },
      );
    },
  };
}

export { CLUSTER_CHECKS };
