import type { AzureGateway } from "../azure/index.js";
import type { ConnectedClusterResource } from "../model/arc.js";
import type { CheckId, Finding } from "../model/checks.js";
import type { ClusterResource } from "../model/cluster.js";
import type { Config } from "../model/config.js";
import type { OutcomeFields, RunInfo } from "../outcomes/record.js";
import type { RolloutStateStore } from "../rollout/state-store.js";

export type PlanName = "Containers" | "Api";

/** A failure that belongs to no single check (e.g. the subscriptions the identity sees cannot be listed). */
export interface RunError {
  readonly scope: string;
  readonly code: string;
  readonly message: string;
}

/** A cluster write an earlier run started and did not wait for: the look that confirms it. */
export interface PendingOperation {
  readonly resourceId: string;
  /** Where ARM reports the operation's status (Azure-AsyncOperation or Location). */
  readonly statusUrl: string;
  /** The checks the write was for, and what it did. */
  readonly checks: readonly CheckId[];
  readonly action: string;
  readonly startedAt: string;
}

/** How one run may spend its time. */
export interface RunOptions {
  /** Epoch milliseconds by which the run must have finished: the trigger's budget. */
  readonly deadlineAt?: number;
  /**
   * `wait` (default): a long-running write is awaited to its end. `start`: it is started and its end
   * confirmed by a later look (`PendingOperation`), for triggers that must answer quickly.
   */
  readonly operations?: "wait" | "start";
  /** Writes started by earlier runs on the targets of this one, to confirm. */
  readonly pendingOperations?: readonly PendingOperation[];
  /**
   * Aborted when the run is asked to stop (the CLI's Ctrl-C): no new resource is started, and each one
   * left gets the outcome of a run out of time (`deferred`), saying it was interrupted. Writes in flight
   * finish or reach their deadline.
   */
  readonly stop?: AbortSignal;
  /**
   * How a run on a subscription treats its API Management services: `inline` (default) takes each
   * service's rollout step in this run; `queue` asks for a look of its own at each (`RunResult.requeue`,
   * due at once), so a sweep fanned out over the queue spreads the services over instances too.
   */
  readonly apimServices?: "inline" | "queue";
}

/** What one run shares with the per-kind reconcilers: configuration, Azure, caches and the outcome stream. */
export interface RunContext {
  readonly azure: AzureGateway;
  readonly config: Config;
  readonly info: RunInfo;
  readonly options: RunOptions;
  readonly rolloutStore: RolloutStateStore | undefined;
  now(): Date;
  enabled(check: CheckId): boolean;
  emit(fields: OutcomeFields): void;
  /** A failure that belongs to no check (rare: every check's failure is its outcome). */
  recordError(error: RunError): void;
  /** Status, reason, action and details for a finding that is reported rather than applied. */
  unapplied<C>(finding: Finding<C>): Pick<OutcomeFields, "status" | "reason" | "action" | "details">;
  /** A resource group's tags, read once per run; undefined when the group does not exist. */
  tagsOf(subscriptionId: string, resourceGroup: string): Promise<Record<string, string> | undefined>;
  /** The subscription's clusters, listed once per run. */
  clustersIn(subscriptionId: string): Promise<ClusterResource[]>;
  /** The subscription's Arc-enabled (connected) clusters, listed once per run. */
  connectedClustersIn(subscriptionId: string): Promise<ConnectedClusterResource[]>;
  /**
   * Whether the subscription's plan is on after this run looked at it (fixing it in enforce mode); in
   * audit mode, whether it would be. Resources that depend on the plan wait for it.
   */
  planReady(subscriptionId: string, plan: PlanName): Promise<boolean>;
  /** Notes that a resource in scope and not excluded uses the plan, so the plan check need not list them. */
  notePlanUser(subscriptionId: string, plan: PlanName): void;
  /** Milliseconds left in the run's budget (Infinity without one). */
  timeLeftMs(): number;
}
