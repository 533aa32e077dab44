import { withRunDeadline, runTimeLeftMs } from "../azure/call-limits.js";
import type { AzureGateway } from "../azure/index.js";
import { findTagExclusion, isConsumptionTier } from "../checks/index.js";
import type { ConnectedClusterResource } from "../model/arc.js";
import type { CheckId, Finding } from "../model/checks.js";
import { clusterView, type ClusterResource } from "../model/cluster.js";
import { inScope, type Config } from "../model/config.js";
import type { OutcomeRecord } from "../model/outcome.js";
import type { PricingSnapshot } from "../model/pricing.js";
import { parseResourceId, type ParsedResourceId } from "../model/resource-id.js";
import { kindInfo, targetKindInfo, type TargetKind } from "../model/targets.js";
import type { RolloutStateStore } from "../rollout/state-store.js";
import { buildOutcome, type OutcomeFields, type RunInfo } from "../outcomes/record.js";
import { annotateSpan, countOutcomes, inSpan } from "../telemetry/tracing.js";
import { AGREEMENT, createDefenderView, type DefenderView } from "./agreement.js";
import { reconcileApimService } from "./apim.js";
import { reconcileArcCluster } from "./arc.js";
import { reconcileCluster } from "./cluster.js";
import { forEachConcurrently } from "./concurrency.js";
import { budgetExhausted, describeError, outcomeOfError } from "./errors.js";
import { reconcilePlanOverride } from "./plan-override.js";
import { PLAN_CHECKS, reconcilePlan } from "./plans.js";
import { createReadCache, withReadCache, type ReadCache } from "./read-cache.js";
import { requeueRequests, type RequeueRequest } from "./requeue.js";
import type { PlanName, RunContext, RunError, RunOptions } from "./run-context.js";
import { boundWait, waitChanges, waitKey, type WaitLedger } from "./waits.js";

/** What a run is asked to look at. An event or request only names it; the engine reads the world itself. */
export type ReconcileTarget =
  | { readonly kind: "subscription"; readonly subscriptionId: string }
  | { readonly kind: "resource"; readonly resourceId: string };

export interface RunResult {
  readonly outcomes: OutcomeRecord[];
  /** Failures that belong to no single check (e.g. the subscriptions the identity sees cannot be listed). */
  readonly errors: RunError[];
  /** What to look at again and when (a rollout's next step, a busy cluster, a started write), soonest first. */
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
  /**
   * Called with the number of resources of a kind found in a subscription (its two plans, its clusters,
   * its APIM services), before they are reconciled, for progress.
   */
  readonly onDiscovered?: (count: number) => void;
  /**
   * Called when a resource found in a listing (or a plan) is done: every outcome of it, and of its
   * children (an APIM service's APIs), has been emitted. For output that streams per resource.
   */
  readonly onSettled?: (resourceId: string) => void;
  /** Durable rollout progress per APIM service; without it APIM onboarding only reports (never onboards). */
  readonly rolloutStore?: RolloutStateStore;
  /** Since when checks have been waiting; without it waits are not capped (tests of single runs). */
  readonly waits?: WaitLedger;
}

const SUBSCRIPTION_TYPE = "Microsoft.Resources/subscriptions";

/** One run of the engine: a fresh cache of what has been read, shared by every resource the run touches. */
class Run implements RunContext {
  /** The worker's: shared by every run of this engine (read-cache.ts). */
  private readonly shared: ReadCache;
  readonly outcomes: OutcomeRecord[] = [];
  readonly errors: RunError[] = [];
  private readonly groupTags = new Map<string, Promise<Record<string, string> | undefined>>();
  /** Plan name and subscription (lower-case) → whether the plan is on after this run looked at it. */
  private readonly plans = new Map<string, Promise<boolean>>();
  private readonly planUsers = new Set<string>();
  private readonly clusters = new Map<string, Promise<ClusterResource[]>>();
  private readonly connectedClusters = new Map<string, Promise<ConnectedClusterResource[]>>();
  /** Per subscription (lower-case): check and resource → since when it has been waiting. */
  private readonly waits = new Map<string, Promise<Map<string, string>>>();
  private readonly loadedWaits = new Map<string, Map<string, string>>();
  /** Defender for Cloud's assessments and the agreement with them (agreement.ts). */
  private readonly defender: DefenderView;
  /** Looks asked for besides those the outcomes ask for (a fanned-out subscription's services). */
  private readonly looks: RequeueRequest[] = [];

  constructor(
    private readonly engine: EngineOptions & { readonly cache: ReadCache },
    readonly info: RunInfo,
    readonly options: RunOptions,
  ) {
    this.defender = createDefenderView({
      resourceGraph: engine.azure.resourceGraph,
      config: engine.config,
      now: () => this.now(),
      waitingSince: (check, resourceId) =>
        this.loadedWaits.get(resourceId.split("/")[2]?.toLowerCase() ?? "")?.get(waitKey(check, resourceId)),
      unapplied: (finding) => this.unapplied(finding),
    });
    this.shared = engine.cache;
  }

  get azure(): AzureGateway {
    return this.engine.azure;
  }
  get config(): Config {
    return this.engine.config;
  }
  get rolloutStore(): RolloutStateStore | undefined {
    return this.engine.rolloutStore;
  }
  now(): Date {
    return this.engine.now?.() ?? new Date();
  }
  enabled(check: CheckId): boolean {
    return this.config.checks.includes(check);
  }
  recordError(error: RunError): void {
    this.errors.push(error);
  }
  timeLeftMs(): number {
    return this.options.stop?.aborted === true ? 0 : runTimeLeftMs();
  }

  emit(given: OutcomeFields): void {
    const fields = this.defender.annotate(given);
    const known = this.loadedWaits.get(fields.subscriptionId.toLowerCase());
    const since = known?.get(waitKey(fields.check, fields.resourceId));
    const bounded = boundWait(fields, since, this.now(), this.config.deferralCapHours);
    const outcome = buildOutcome(this.info, bounded, this.now());
    this.outcomes.push(outcome);
    this.defender.note(outcome);
    this.engine.onOutcome?.(outcome);
  }

  /** A resource found in a listing is done: its agreement with Defender, then the progress hook. */
  private settled(resourceId: string): void {
    for (const fields of this.defender.settle(resourceId)) this.emit(fields);
    this.engine.onSettled?.(resourceId);
  }

  result(): RunResult {
    const requeue = [...requeueRequests(this.outcomes), ...this.looks].sort(
      (a, b) => a.afterSeconds - b.afterSeconds,
    );
    return { outcomes: this.outcomes, errors: this.errors, requeue };
  }

  /** Loads the subscription's waits once per run, before any of its outcomes is emitted. */
  private loadWaits(subscriptionId: string): Promise<Map<string, string>> {
    const key = subscriptionId.toLowerCase();
    let loaded = this.waits.get(key);
    if (loaded === undefined) {
      const ledger = this.engine.waits;
      loaded = (ledger === undefined ? Promise.resolve([]) : ledger.load(this.info.mode, subscriptionId))
        .catch((error: unknown) => {
          // Without the ledger waits are not capped in this run; everything else goes on.
          const { code, message } = describeError(error);
          this.errors.push({
            scope: `/subscriptions/${subscriptionId}`,
            code,
            message: `reading waits: ${message}`,
          });
          return [];
        })
        .then((entries) => {
          const map = new Map(entries.map((e) => [waitKey(e.check, e.resourceId), e.since] as const));
          this.loadedWaits.set(key, map);
          return map;
        });
      this.waits.set(key, loaded);
    }
    return loaded;
  }

  /** Records which waits started and ended in this run. */
  async saveWaits(): Promise<void> {
    const ledger = this.engine.waits;
    if (ledger === undefined) return;
    const bySubscription = new Map<string, OutcomeRecord[]>();
    for (const outcome of this.outcomes) {
      const key = outcome.SubscriptionId.toLowerCase();
      // Appended in place: a service's run has thousands of outcomes in one subscription.
      const group = bySubscription.get(key);
      if (group === undefined) bySubscription.set(key, [outcome]);
      else group.push(outcome);
    }
    for (const [key, outcomes] of bySubscription) {
      const change = waitChanges(outcomes, this.loadedWaits.get(key) ?? new Map());
      const subscriptionId = outcomes[0]?.SubscriptionId ?? key;
      try {
        await ledger.update(this.info.mode, subscriptionId, change);
      } catch (error) {
        const { code, message } = describeError(error);
        this.errors.push({
          scope: `/subscriptions/${subscriptionId}`,
          code,
          message: `recording waits: ${message}`,
        });
      }
    }
  }

  /** Outcomes for every enabled check of a target that was not reconciled, on the target's id. */
  private emitForTarget(
    id: ParsedResourceId,
    kind: TargetKind,
    body: Pick<OutcomeFields, "status" | "reason" | "details">,
    onlyFirst = false,
  ): void {
    const info = kindInfo(kind);
    const checks = info.checks.filter((c) => this.enabled(c));
    for (const check of onlyFirst ? checks.slice(0, 1) : checks) {
      this.emit({
        subscriptionId: id.subscriptionId,
        resourceId: id.id,
        resourceType: info.resourceType,
        check,
        startedAt: this.now().getTime(),
        ...body,
      });
    }
  }

  async reconcile(target: ReconcileTarget): Promise<void> {
    const id = parseResourceId(
      target.kind === "subscription" ? `/subscriptions/${target.subscriptionId}` : target.resourceId,
    );
    const kind = targetKindInfo(id).kind;
    await this.loadWaits(id.subscriptionId);
    // Scope is checked where the work runs, whatever queued it.
    if (!inScope(this.config, id.subscriptionId)) {
      this.emitForTarget(id, kind, {
        status: "skipped",
        reason: `subscription ${id.subscriptionId} is not in AUTOPROTECT_SUBSCRIPTIONS`,
        details: { scope: "subscriptions" },
      });
      return;
    }
    if (this.timeLeftMs() <= 0) {
      this.emitForTarget(id, kind, budgetExhausted(this.options.stop?.aborted === true));
      return;
    }
    if (this.enabled(AGREEMENT) && kind !== "containers-plan" && kind !== "apis-plan") {
      // One read of the subscription's assessments per run, before its first outcome.
      await this.defender.load(id.subscriptionId, { id: id.id, type: kindInfo(kind).resourceType });
    }
    await this.reconcileKind(id, kind);
    for (const fields of this.defender.settle()) this.emit(fields);
  }

  private async reconcileKind(id: ParsedResourceId, kind: TargetKind): Promise<void> {
    switch (kind) {
      case "subscription":
        await this.reconcileSubscription(id);
        return;
      case "cluster":
        await this.reconcileOneCluster(id);
        return;
      case "arc-cluster":
        await this.reconcileOneArcCluster(id);
        return;
      case "containers-plan":
        await this.planReady(id.subscriptionId, "Containers");
        return;
      case "apis-plan":
        await this.planReady(id.subscriptionId, "Api");
        return;
      case "apim-service":
        await this.reconcileOneService(id, undefined);
        return;
      case "apim-api":
        await this.reconcileOneService(parseResourceId(id.id.replace(/\/apis\/[^/]+$/i, "")), id);
        return;
    }
  }

  /**
   * A run on one cluster looks before it writes: the cluster must exist before the subscription's plan
   * is turned on for it; a cluster that is not there is one `skipped` outcome, and nothing else.
   */
  private async reconcileOneCluster(id: ParsedResourceId): Promise<void> {
    // The plan is read while the cluster is (a read only: nothing is written before the cluster is found).
    const planRead = this.planFirstRead(id.subscriptionId, "Containers");
    let cluster: ClusterResource | undefined;
    try {
      cluster = await this.azure.aks.getCluster(id.id);
    } catch (error) {
      this.emitForTarget(id, "cluster", outcomeOfError(error));
      return;
    }
    if (cluster === undefined) {
      this.emitForTarget(
        id,
        "cluster",
        { status: "skipped", reason: "not found: no such cluster", details: { notFound: true } },
        true,
      );
      return;
    }
    await this.notePlanUserUnlessExcluded(id.id, clusterView(cluster).tags, "Containers");
    // The cluster's own checks do not wait for the plan's (nothing in them depends on it).
    await Promise.all([
      this.planReady(id.subscriptionId, "Containers", planRead),
      this.reconcileAks(id, cluster),
    ]);
  }

  /** An AKS cluster's checks: its one PUT's, and its own Containers plan. */
  private async reconcileAks(id: ParsedResourceId, cluster: ClusterResource): Promise<void> {
    await reconcileCluster(this, id, cluster);
    await reconcilePlanOverride(this, id, cluster);
  }

  /** As for AKS: the connected cluster must exist before the subscription's plan is turned on for it. */
  private async reconcileOneArcCluster(id: ParsedResourceId): Promise<void> {
    let cluster: ConnectedClusterResource | undefined;
    try {
      cluster = await this.azure.arc.getConnectedCluster(id.id);
    } catch (error) {
      this.emitForTarget(id, "arc-cluster", outcomeOfError(error));
      return;
    }
    if (cluster === undefined) {
      this.emitForTarget(
        id,
        "arc-cluster",
        { status: "skipped", reason: "not found: no such connected cluster", details: { notFound: true } },
        true,
      );
      return;
    }
    await this.notePlanUserUnlessExcluded(id.id, cluster.tags, "Containers");
    await this.planReady(id.subscriptionId, "Containers");
    await reconcileArcCluster(this, id, cluster);
  }

  private async reconcileOneService(
    serviceId: ParsedResourceId,
    api: ParsedResourceId | undefined,
  ): Promise<void> {
    const target = api ?? serviceId;
    const kind = api === undefined ? "apim-service" : "apim-api";
    const notFound = (what: string): void => {
      this.emitForTarget(
        target,
        kind,
        { status: "skipped", reason: `not found: ${what}`, details: { notFound: true } },
        true,
      );
    };
    let service;
    let apiExists = true;
    try {
      service = await this.azure.apim.getService(serviceId.id);
      // An API run looks for the API itself before anything is written on its behalf.
      const name = api?.names[1]?.toLowerCase();
      if (service !== undefined && name !== undefined) {
        apiExists = (await this.azure.apim.listApis(service.id)).some((a) => a.name.toLowerCase() === name);
      }
    } catch (error) {
      this.emitForTarget(target, kind, outcomeOfError(error));
      return;
    }
    if (service === undefined) {
      notFound(
        api === undefined
          ? "no such API Management service"
          : "no such API (its API Management service does not exist)",
      );
      return;
    }
    if (!apiExists) {
      notFound("no such API in this API Management service");
      return;
    }
    if (!isConsumptionTier(service)) await this.notePlanUserUnlessExcluded(service.id, service.tags, "Api");
    await this.planReady(serviceId.subscriptionId, "Api");
    await reconcileApimService(this, service.id, service, api?.names[1]);
  }

  private async reconcileSubscription(id: ParsedResourceId): Promise<void> {
    const subscriptionId = id.subscriptionId;
    const plan = (name: PlanName): string =>
      `/subscriptions/${subscriptionId}/providers/Microsoft.Security/pricings/${name}`;
    this.engine.onDiscovered?.(2);
    await this.planReady(subscriptionId, "Containers");
    this.engine.onSettled?.(plan("Containers"));
    await this.reconcileClusters(subscriptionId);
    await this.reconcileConnectedClusters(subscriptionId);
    await this.planReady(subscriptionId, "Api");
    this.engine.onSettled?.(plan("Api"));
    await this.reconcileApimServices(subscriptionId);
  }

  /** A listing that failed: one outcome per check it would have fed, on the subscription. */
  private listingFailed(
    subscriptionId: string,
    checks: readonly CheckId[],
    what: string,
    error: unknown,
  ): void {
    const outcome = outcomeOfError(error, what);
    for (const check of checks.filter((c) => this.enabled(c))) {
      this.emit({
        subscriptionId,
        resourceId: `/subscriptions/${subscriptionId}`,
        resourceType: SUBSCRIPTION_TYPE,
        check,
        startedAt: this.now().getTime(),
        ...outcome,
      });
    }
  }

  private async reconcileApimServices(subscriptionId: string): Promise<void> {
    if (!this.enabled("apim.api-onboarding")) return;
    let services;
    try {
      services = await this.azure.apim.listServices(subscriptionId);
    } catch (error) {
      this.listingFailed(subscriptionId, ["apim.api-onboarding"], "listing API Management services", error);
      return;
    }
    this.engine.onDiscovered?.(services.length);
    if (this.options.apimServices === "queue") {
      for (const service of services) {
        this.looks.push({
          resourceId: service.id,
          afterSeconds: 0,
          reason: "the subscription's sweep: the service's rollout step is a look of its own",
        });
      }
      return;
    }
    await forEachConcurrently(services, this.engine.concurrency ?? 8, async (service) => {
      await reconcileApimService(this, service.id, service, undefined);
      this.settled(service.id);
    });
  }

  private async reconcileClusters(subscriptionId: string): Promise<void> {
    const checks = kindInfo("cluster").checks;
    if (!checks.some((c) => this.enabled(c))) return;
    let clusters: ClusterResource[];
    try {
      clusters = await this.clustersIn(subscriptionId);
    } catch (error) {
      this.listingFailed(subscriptionId, checks, "listing clusters", error);
      return;
    }
    this.engine.onDiscovered?.(clusters.length);
    await forEachConcurrently(clusters, this.engine.concurrency ?? 8, async (cluster) => {
      if (cluster.id === undefined) return;
      await this.reconcileAks(parseResourceId(cluster.id), cluster);
      this.settled(cluster.id);
    });
  }

  private async reconcileConnectedClusters(subscriptionId: string): Promise<void> {
    const checks = kindInfo("arc-cluster").checks;
    if (!checks.some((c) => this.enabled(c))) return;
    let clusters: ConnectedClusterResource[];
    try {
      clusters = await this.connectedClustersIn(subscriptionId);
    } catch (error) {
      this.listingFailed(subscriptionId, checks, "listing connected clusters", error);
      return;
    }
    this.engine.onDiscovered?.(clusters.length);
    await forEachConcurrently(clusters, this.engine.concurrency ?? 8, async (cluster) => {
      if (typeof cluster.id !== "string") return;
      await reconcileArcCluster(this, parseResourceId(cluster.id), cluster);
      this.settled(cluster.id);
    });
  }

  clustersIn(subscriptionId: string): Promise<ClusterResource[]> {
    const key = subscriptionId.toLowerCase();
    let clusters = this.clusters.get(key);
    if (clusters === undefined) {
      clusters = this.azure.aks.listClusters(subscriptionId);
      this.clusters.set(key, clusters);
    }
    return clusters;
  }

  connectedClustersIn(subscriptionId: string): Promise<ConnectedClusterResource[]> {
    const key = subscriptionId.toLowerCase();
    let clusters = this.connectedClusters.get(key);
    if (clusters === undefined) {
      clusters = this.azure.arc.listConnectedClusters(subscriptionId);
      this.connectedClusters.set(key, clusters);
    }
    return clusters;
  }

  notePlanUser(subscriptionId: string, plan: PlanName): void {
    this.planUsers.add(`${plan}/${subscriptionId}`.toLowerCase());
  }

  /**
   * A run on one resource counts it as a user of its plan unless a tag (its own or its group's)
   * excludes it: a run on an excluded resource must not turn a billable plan on, and the plan check
   * then looks for another user, as a sweep's does. Group tags that cannot be read note nothing.
   */
  private async notePlanUserUnlessExcluded(
    resourceId: string,
    tags: Readonly<Record<string, string>> | null | undefined,
    plan: PlanName,
  ): Promise<void> {
    const { subscriptionId, resourceGroup } = parseResourceId(resourceId);
    let groupTags: Record<string, string> | undefined;
    try {
      groupTags = resourceGroup === undefined ? undefined : await this.tagsOf(subscriptionId, resourceGroup);
    } catch {
      return;
    }
    if (findTagExclusion(this.config.excludeTag, tags ?? undefined, groupTags) === undefined) {
      this.notePlanUser(subscriptionId, plan);
    }
  }

  /**
   * `firstRead`: the plan, already being read (in parallel with what the caller needed first). The check
   * is the worker's one in flight for this plan, or its kept answer (read-cache.ts).
   */
  planReady(subscriptionId: string, plan: PlanName, firstRead?: Promise<PricingSnapshot>): Promise<boolean> {
    const key = `${plan}/${subscriptionId}`.toLowerCase();
    let ready = this.plans.get(key);
    if (ready === undefined) {
      const knownUser = this.planUsers.has(key);
      ready = this.shared.planCheck(this.info.mode, plan, subscriptionId, knownUser, () =>
        reconcilePlan(this, subscriptionId, plan, knownUser, firstRead),
      );
      this.plans.set(key, ready);
    }
    return ready;
  }

  /** Starts reading the plan unless this run or the worker already knows the answer; never rejects. */
  private planFirstRead(subscriptionId: string, plan: PlanName): Promise<PricingSnapshot> | undefined {
    if (!this.enabled(PLAN_CHECKS[plan]) || this.plans.has(`${plan}/${subscriptionId}`.toLowerCase())) {
      return undefined;
    }
    if (this.shared.planKnown(this.info.mode, plan, subscriptionId)) return undefined;
    // One read in flight for concurrent runs; not kept (the check that uses it is what is kept).
    const read = this.shared.read(
      `plan-read/${subscriptionId}/${plan}`,
      () => this.azure.security.getPricing(subscriptionId, plan),
      () => false,
    );
    read.catch(() => undefined);
    return read;
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
}

/** Several runs reported as one (a sweep's subscriptions, an event batch's resources). */
export function mergeRunResults(results: readonly RunResult[]): RunResult {
  const requeue = results.flatMap((r) => r.requeue).sort((a, b) => a.afterSeconds - b.afterSeconds);
  return {
    outcomes: results.flatMap((r) => r.outcomes),
    errors: results.flatMap((r) => r.errors),
    requeue,
  };
}

export interface Engine {
  reconcile(targets: readonly ReconcileTarget[], run: RunInfo, options?: RunOptions): Promise<RunResult>;
}

export function createEngine(options: EngineOptions): Engine {
  const clock = (): number => (options.now?.() ?? new Date()).getTime();
  const cache = createReadCache({ ttlMs: options.config.readCacheSeconds * 1000, now: clock });
  const shared = { ...options, azure: withReadCache(options.azure, cache), cache };
  return {
    reconcile(targets, info, runOptions = {}) {
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
          const run = new Run(shared, info, runOptions);
          const work = async (): Promise<void> => {
            for (const target of targets) await run.reconcile(target);
          };
          await (runOptions.deadlineAt === undefined ? work() : withRunDeadline(runOptions.deadlineAt, work));
          await run.saveWaits();
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

export type { PendingOperation, RunError, RunOptions } from "./run-context.js";
