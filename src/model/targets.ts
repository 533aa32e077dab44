/**
 * The kinds of thing autoprotect reconciles, in one table: what ARM type each is, which checks a run
 * on it writes outcomes for, and which of them are subscription-wide plans it depends on. Events,
 * requests, the queue, poison handling and the CLI ask this table instead of knowing kinds themselves.
 */
import { RESOURCE_TYPES, type CheckId } from "./checks.js";
import type { ParsedResourceId } from "./resource-id.js";

export type TargetKind =
  "subscription" | "cluster" | "arc-cluster" | "apim-service" | "apim-api" | "containers-plan" | "apis-plan";

export interface TargetKindInfo {
  readonly kind: TargetKind;
  /** What the outcomes of a run on this kind carry as ResourceType. */
  readonly resourceType: string;
  /** Every check a run on this kind writes an outcome for (when enabled). */
  readonly checks: readonly CheckId[];
  /** Whether an id is of this kind. */
  matches(id: ParsedResourceId): boolean;
}

const SUBSCRIPTION_TYPE = "Microsoft.Resources/subscriptions";

function isType(id: ParsedResourceId, type: string): boolean {
  return id.type.toLowerCase() === type.toLowerCase();
}

function isPlan(id: ParsedResourceId, plan: string): boolean {
  return isType(id, RESOURCE_TYPES.pricing) && id.names.length === 1 && id.names[0]?.toLowerCase() === plan;
}

export const CLUSTER_CHECK_IDS = [
  "aks.defender-sensor",
  "aks.azure-policy",
  "aks.authorized-ips",
  "aks.sensor-workspace",
] as const satisfies readonly CheckId[];

/** What a run on an AKS cluster reports: the checks of its one PUT, then its resource-level plan. */
export const AKS_CLUSTER_CHECK_IDS = [
  ...CLUSTER_CHECK_IDS,
  "aks.containers-plan-override",
] as const satisfies readonly CheckId[];

/** What a run on an Arc-enabled cluster reports: one check per cluster extension. */
export const ARC_CLUSTER_CHECK_IDS = [
  "arc.defender-sensor",
  "arc.azure-policy",
] as const satisfies readonly CheckId[];

export const TARGET_KINDS: readonly TargetKindInfo[] = [
  {
    kind: "subscription",
    resourceType: SUBSCRIPTION_TYPE,
    checks: [
      "defender.containers-plan",
      ...AKS_CLUSTER_CHECK_IDS,
      ...ARC_CLUSTER_CHECK_IDS,
      "defender.apis-plan",
      "apim.api-onboarding",
      "defender.agreement",
    ],
    matches: (id) => isType(id, SUBSCRIPTION_TYPE),
  },
  {
    kind: "cluster",
    resourceType: RESOURCE_TYPES.managedCluster,
    checks: AKS_CLUSTER_CHECK_IDS,
    matches: (id) => isType(id, RESOURCE_TYPES.managedCluster) && id.resourceGroup !== undefined,
  },
  {
    kind: "arc-cluster",
    resourceType: RESOURCE_TYPES.connectedCluster,
    checks: ARC_CLUSTER_CHECK_IDS,
    matches: (id) => isType(id, RESOURCE_TYPES.connectedCluster) && id.resourceGroup !== undefined,
  },
  {
    kind: "apim-service",
    resourceType: RESOURCE_TYPES.apimService,
    checks: ["apim.api-onboarding"],
    matches: (id) => isType(id, RESOURCE_TYPES.apimService) && id.resourceGroup !== undefined,
  },
  {
    kind: "apim-api",
    resourceType: RESOURCE_TYPES.apimApi,
    checks: ["apim.api-onboarding"],
    matches: (id) => isType(id, RESOURCE_TYPES.apimApi) && id.resourceGroup !== undefined,
  },
  {
    kind: "containers-plan",
    resourceType: RESOURCE_TYPES.pricing,
    checks: ["defender.containers-plan"],
    matches: (id) => id.resourceGroup === undefined && isPlan(id, "containers"),
  },
  {
    kind: "apis-plan",
    resourceType: RESOURCE_TYPES.pricing,
    checks: ["defender.apis-plan"],
    matches: (id) => id.resourceGroup === undefined && isPlan(id, "api"),
  },
];

export class UnsupportedTargetError extends Error {
  override readonly name = "UnsupportedTargetError";
}

/** The kind of a parsed id, or UnsupportedTargetError naming what autoprotect does reconcile. */
export function targetKindInfo(id: ParsedResourceId): TargetKindInfo {
  const info = TARGET_KINDS.find((k) => k.matches(id));
  if (info !== undefined) return info;
  throw new UnsupportedTargetError(
    `'${id.id}' is a ${id.type}; autoprotect reconciles subscriptions, ${RESOURCE_TYPES.managedCluster}, ` +
      `${RESOURCE_TYPES.connectedCluster}, ${RESOURCE_TYPES.apimService}, ${RESOURCE_TYPES.apimApi} ` +
      "and the Containers and Api plans",
  );
}

export function targetKind(id: ParsedResourceId): TargetKind {
  return targetKindInfo(id).kind;
}

/** Throws UnsupportedTargetError unless autoprotect knows how to reconcile this id. */
export function assertReconcilable(id: ParsedResourceId): void {
  targetKindInfo(id);
}

/** The table row of a kind. */
export function kindInfo(kind: TargetKind): TargetKindInfo {
  const info = TARGET_KINDS.find((k) => k.kind === kind);
  if (info === undefined) throw new TypeError(`unknown target kind ${kind}`);
  return info;
}
