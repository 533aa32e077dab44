/**
 * What runs in one worker share: a short-lived cache of reads that every event would otherwise repeat
 * (a resource group's tags, a workspace, a subscription's API Management services, Defender for
 * Cloud's assessments in a subscription), and one plan check per plan and subscription in flight at a
 * time. A burst of creation events then costs the cluster's read and its write, not four more reads
 * each, and turns each plan on once.
 *
 * What is safe to keep, and why:
 * - Only inputs of decisions whose write carries its own guard: a cluster is written with the ETag it
 *   was read with (a cached tag or workspace can make a write late, never make it overwrite anything),
 *   and a plan is read again right before it is written and once after (plans.ts). Nothing cached is
 *   the body of a write. Defender's assessments decide no write at all (defender.agreement only
 *   reports), and Defender itself takes hours to reassess: a minute's reuse changes no verdict, and a
 *   burst of events costs one Resource Graph query per subscription, not one each (Resource Graph
 *   allows a user about 15 queries in 5 seconds).
 * - A plan check's answer is kept only for the Containers plan, and only when the plan is on: cluster
 *   writes do not depend on it. The Defender for APIs plan gates API onboarding writes, so its answer
 *   is never kept; concurrent runs only share the check in flight.
 * - Entries expire after `ttlMs` (AUTOPROTECT_READ_CACHE_SECONDS, 60 s by default); a read that found
 *   nothing (404) is never kept and drops what was; a cluster write refused for a stale ETag (412) or
 *   a missing resource drops the cluster's group tags and the workspaces; our own plan write drops that
 *   plan's entry. A failed read is not kept either: the next run reads again.
 */
import type { AzureGateway } from "../azure/index.js";
import { ConflictError, NotFoundError } from "../azure/errors.js";
import type { ApimServiceSnapshot } from "../model/apim.js";
import type { WorkspaceSnapshot } from "../model/cluster.js";
import type { Mode } from "../model/outcome.js";
import { parseResourceId } from "../model/resource-id.js";
import type { PlanName } from "./run-context.js";

export const DEFAULT_READ_CACHE_SECONDS = 60;

/** Entries past which expired ones are swept out (at most once per expiry period). */
const PRUNE_ABOVE = 1000;

/** Plans whose "on" is kept between runs (see above: only where no write depends on it). */
const KEPT_PLAN_ANSWERS: Readonly<Record<PlanName, boolean>> = { Containers: true, Api: false };

export interface ReadCache {
  /** The value under `key`, loaded once by whoever asks first; kept when `keep` says so, for the cache's life. */
  read<T>(key: string, load: () => Promise<T>, keep: (value: T) => boolean): Promise<T>;
  /** Drops the entry under `key`, and every entry under a key that starts with `key` when it ends with "/". */
  evict(key: string): void;
  /**
   * Whether the plan is on, by one check per mode, plan, subscription and kind of caller in flight at a
   * time (`check` runs only when no answer is kept and none is in flight).
   */
  planCheck(
    mode: Mode,
    plan: PlanName,
    subscriptionId: string,
    knownUser: boolean,
    check: () => Promise<boolean>,
  ): Promise<boolean>;
  /** Whether the plan's answer is kept, or its check in flight (a caller need not start reading it). */
  planKnown(mode: Mode, plan: PlanName, subscriptionId: string): boolean;
}

interface Entry {
  value: Promise<unknown>;
  /** Epoch ms after which the entry is gone; Infinity while its load is in flight. */
  expiresAt: number;
}

export function createReadCache(options: { readonly ttlMs: number; readonly now?: () => number }): ReadCache {
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();

  let nextPrune = 0;
  /** Drops expired entries now and then: a worker that sweeps a tenant reads many groups once each. */
  const prune = (at: number): void => {
    if (entries.size < PRUNE_ABOVE || at < nextPrune) return;
    nextPrune = at + options.ttlMs;
    for (const [key, entry] of entries) if (entry.expiresAt <= at) entries.delete(key);
  };

  const read = <T>(rawKey: string, load: () => Promise<T>, keep: (value: T) => boolean): Promise<T> => {
    const key = rawKey.toLowerCase();
    const at = now();
    prune(at);
    const known = entries.get(key);
    if (known !== undefined && known.expiresAt > at) return known.value as Promise<T>;
    const entry: Entry = { value: Promise.resolve(), expiresAt: Number.POSITIVE_INFINITY };
    const value = (async () => load())().then(
      (loaded) => {
        if (entries.get(key) === entry) {
          if (keep(loaded) && options.ttlMs > 0) entry.expiresAt = now() + options.ttlMs;
          else entries.delete(key);
        }
        return loaded;
      },
      (error: unknown) => {
        if (entries.get(key) === entry) entries.delete(key);
        throw error;
      },
    );
    entry.value = value;
    entries.set(key, entry);
    return value;
  };

  const evict = (rawKey: string): void => {
    const key = rawKey.toLowerCase();
    if (!key.endsWith("/")) {
      entries.delete(key);
      return;
    }
    for (const k of [...entries.keys()]) if (k.startsWith(key)) entries.delete(k);
  };

  return {
    read,
    evict,
    planKnown(mode, plan, subscriptionId) {
      const prefix = `/${mode}/${plan}/${subscriptionId}`.toLowerCase();
      const fresh = (key: string): boolean => (entries.get(key)?.expiresAt ?? 0) > now();
      return (
        fresh(`plan-on${prefix}`) || fresh(`plan-check${prefix}/true`) || fresh(`plan-check${prefix}/false`)
      );
    },
    planCheck(mode, plan, subscriptionId, knownUser, check) {
      const kept = `plan-on/${mode}/${plan}/${subscriptionId}`;
      const answer = entries.get(kept.toLowerCase());
      if (answer !== undefined && answer.expiresAt > now()) return answer.value as Promise<boolean>;
      // In flight: shared by runs of the same kind (a run that knows of a user of the plan asks more).
      return read(
        `plan-check/${mode}/${plan}/${subscriptionId}/${String(knownUser)}`,
        check,
        () => false,
      ).then((on) => {
        if (on && KEPT_PLAN_ANSWERS[plan])
          void read(
            kept,
            () => Promise.resolve(true),
            () => true,
          );
        return on;
      });
    },
  };
}

const groupKey = (subscriptionId: string, resourceGroup: string): string =>
  `tags/${subscriptionId}/${resourceGroup}`;
const workspaceKey = (workspaceId: string): string => `workspace/${workspaceId}`;
const servicesKey = (subscriptionId: string): string => `apim-services/${subscriptionId}`;
const assessmentsKey = (subscriptionIds: readonly string[]): string =>
  `assessments/${[...subscriptionIds].sort().join(",")}`;

/**
 * The gateway with its reads of group tags, workspaces, API Management service lists and Defender's
 * assessments kept in
 * `cache`, and every write of ours dropping what it may have made stale. Everything else goes to Azure.
 */
export function withReadCache(azure: AzureGateway, cache: ReadCache): AzureGateway {
  const clusterWriteRefused = (clusterId: string, error: unknown): never => {
    if (error instanceof ConflictError || error instanceof NotFoundError) {
      const { subscriptionId, resourceGroup } = parseResourceId(clusterId);
      if (resourceGroup !== undefined) cache.evict(groupKey(subscriptionId, resourceGroup));
      cache.evict(workspaceKey(""));
    }
    throw error;
  };
  return {
    ...azure,
    resources: {
      ...azure.resources,
      getResourceGroupTags: (subscriptionId, resourceGroup) =>
        cache.read(
          groupKey(subscriptionId, resourceGroup),
          () => azure.resources.getResourceGroupTags(subscriptionId, resourceGroup),
          (tags) => tags !== undefined,
        ),
    },
    logAnalytics: {
      ...azure.logAnalytics,
      getWorkspace: (workspaceId) =>
        cache.read<WorkspaceSnapshot>(
          workspaceKey(workspaceId),
          () => azure.logAnalytics.getWorkspace(workspaceId),
          (workspace) => workspace.state === "found",
        ),
    },
    apim: {
      ...azure.apim,
      listServices: (subscriptionId) =>
        cache.read<ApimServiceSnapshot[]>(
          servicesKey(subscriptionId),
          () => azure.apim.listServices(subscriptionId),
          () => true,
        ),
      getService: async (serviceId) => {
        const service = await azure.apim.getService(serviceId);
        if (service === undefined) cache.evict(servicesKey(parseResourceId(serviceId).subscriptionId));
        return service;
      },
    },
    aks: {
      ...azure.aks,
      putCluster: (clusterId, body, eTag) =>
        azure.aks
          .putCluster(clusterId, body, eTag)
          .catch((error: unknown) => clusterWriteRefused(clusterId, error)),
      startPutCluster: (clusterId, body, eTag) =>
        azure.aks
          .startPutCluster(clusterId, body, eTag)
          .catch((error: unknown) => clusterWriteRefused(clusterId, error)),
    },
    resourceGraph: {
      ...azure.resourceGraph,
      listDefenderAssessments: (subscriptionIds) =>
        cache.read(
          assessmentsKey(subscriptionIds),
          () => azure.resourceGraph.listDefenderAssessments(subscriptionIds),
          () => true,
        ),
    },
    security: {
      ...azure.security,
      putPricing: (subscriptionId, plan, update) => {
        cache.evict(`plan-on/`);
        return azure.security.putPricing(subscriptionId, plan, update);
      },
    },
  };
}
