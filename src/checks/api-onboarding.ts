import type {
  ApiCollectionSnapshot,
  ApiSnapshot,
  ApimServiceSnapshot,
  ApimServiceView,
} from "../model/apim.js";
import type { Finding } from "../model/checks.js";
import type { RolloutDecision } from "../rollout/types.js";
import { exclusionReason } from "./exclusion.js";

/** API types Defender for APIs cannot onboard: it analyses REST APIs only. */
const UNSUPPORTED_API_TYPES = new Set(["soap", "graphql", "websocket", "grpc", "odata"]);

export type ApiEligibility =
  | { readonly eligible: true; readonly note?: string; readonly details: Record<string, unknown> }
  | { readonly eligible: false; readonly reason: string; readonly details: Record<string, unknown> };

/** A non-current revision (`echo-api;rev=2`) is the same API as its current revision, not another one to onboard. */
export function isSeparateApi(api: ApiSnapshot): boolean {
  return !api.name.includes(";rev=") && api.isCurrent !== false;
}

export function isConsumptionTier(service: ApimServiceSnapshot): boolean {
  return service.sku.name.toLowerCase() === "consumption";
}

/** Whether Defender for APIs can onboard this API, and what an operator should know about it. */
export function apiEligibility(
  service: ApimServiceSnapshot,
  api: ApiSnapshot,
  placement: { readonly inWorkspace: boolean; readonly selfHostedGateways: readonly string[] },
): ApiEligibility {
  if (isConsumptionTier(service)) {
    return {
      eligible: false,
      reason: "Defender for APIs does not support the API Management Consumption tier",
      details: { sku: service.sku.name },
    };
  }
  if (placement.inWorkspace) {
    return {
      eligible: false,
      reason: "Defender for APIs does not support APIs in API Management workspaces",
      details: {},
    };
  }
  const apiType = api.apiType?.toLowerCase();
  if (apiType !== undefined && UNSUPPORTED_API_TYPES.has(apiType)) {
    return {
      eligible: false,
      reason: `Defender for APIs supports REST APIs only; this is a ${apiType} API`,
      details: { apiType: api.apiType },
    };
  }
  if (placement.selfHostedGateways.length > 0) {
    return {
      eligible: true,
      note: `Defender for APIs does not analyse traffic through self-hosted gateways (${placement.selfHostedGateways.join(", ")}); only traffic through the managed gateway is covered`,
      details: { selfHostedGateways: [...placement.selfHostedGateways] },
    };
  }
  return { eligible: true, details: {} };
}

// ---------------------------------------------------------------------------------------------
// The planner: one finding per API, from a view of the service and the rollout's decision

/** The write an onboarding finding asks for: a collection PUT, or a rollback's DELETE. */
export interface ApiCollectionChange {
  readonly kind: "onboard" | "offboard";
  readonly apiName: string;
}

/** A finding, or `failed` when what the rollout needs could not be read (its state, the capacity). */
export type ApiOnboardingFinding =
  | Finding<ApiCollectionChange>
  | { readonly verdict: "failed"; readonly reason: string; readonly details: Record<string, unknown> };

export interface PlannedApi {
  readonly api: ApiSnapshot;
  readonly resourceType: string;
  readonly finding: ApiOnboardingFinding;
  /** What an operator should know whatever its status (self-hosted gateways): the outcome's reason ends with it. */
  readonly note?: string;
}

interface EligibleApi {
  readonly api: ApiSnapshot;
  readonly note: string | undefined;
  readonly details: Record<string, unknown>;
  readonly collection: ApiCollectionSnapshot | undefined;
}

/** Where each API of a service stands before the rollout decides: what the controller reads. */
export interface ApiInventory {
  readonly skipped: readonly PlannedApi[];
  readonly eligible: readonly EligibleApi[];
  /** Eligible API names: not onboarded, onboarded (collection Succeeded), onboarding running. */
  readonly pending: readonly string[];
  readonly onboarded: readonly string[];
  readonly inProgress: readonly string[];
}

/** What the rollout said for this service: a decision, a hold before deciding, or a failure to read. */
export type RolloutGate =
  | { readonly kind: "decided"; readonly decision: RolloutDecision }
  | {
      readonly kind: "held";
      readonly reason: string;
      readonly retryAfterSeconds: number;
      readonly details?: Record<string, unknown>;
    }
  | { readonly kind: "failed"; readonly reason: string; readonly details: Record<string, unknown> };

export const API_TYPE = "Microsoft.ApiManagement/service/apis";
export const WORKSPACE_API_TYPE = "Microsoft.ApiManagement/service/workspaces/apis";
/** How soon to look again at an onboarding still running when no decision was taken. */
const IN_PROGRESS_RETRY_SECONDS = 300;

function collectionState(collection: ApiCollectionSnapshot | undefined): string | undefined {
  return collection?.provisioningState.toLowerCase();
}

function isRunning(collection: ApiCollectionSnapshot | undefined): boolean {
  const state = collectionState(collection);
  return state !== undefined && state !== "succeeded" && state !== "failed" && state !== "canceled";
}

/**
 * Why no API of this service can be onboarded, before reading anything more: the service is excluded
 * by tag, or on a tier Defender for APIs does not support. Undefined when its APIs may be.
 */
export function serviceRefusal(
  service: ApimServiceSnapshot,
  resourceGroupTags: Readonly<Record<string, string>> | undefined,
  excludeTag: string,
): string | undefined {
  return (
    exclusionReason(excludeTag, service.tags, resourceGroupTags) ??
    (isConsumptionTier(service)
      ? "Defender for APIs does not support the API Management Consumption tier"
      : undefined)
  );
}

/** Sorts a service's APIs into skipped ones (with the reason) and eligible ones, pending, onboarded or running. */
export function inventoryApis(view: ApimServiceView, excludeTag: string): ApiInventory {
  const { service } = view;
  const apis = view.apis.filter(isSeparateApi);
  const refused = serviceRefusal(service, view.resourceGroupTags, excludeTag);
  if (refused !== undefined) {
    const skipped = apis.map((api) => ({
      api,
      resourceType: API_TYPE,
      finding: { verdict: "skipped" as const, reason: refused, details: { sku: service.sku.name } },
    }));
    return { skipped, eligible: [], pending: [], onboarded: [], inProgress: [] };
  }
  const skipped: PlannedApi[] = [];
  for (const api of view.workspaceApis.filter(isSeparateApi)) {
    const verdict = apiEligibility(service, api, { inWorkspace: true, selfHostedGateways: [] });
    if (!verdict.eligible) {
      skipped.push({ api, resourceType: WORKSPACE_API_TYPE, finding: { verdict: "skipped", ...verdict } });
    }
  }
  const eligible: EligibleApi[] = [];
  for (const api of apis) {
    const selfHostedGateways = view.selfHostedGatewaysByApi.get(api.name.toLowerCase()) ?? [];
    const verdict = apiEligibility(service, api, { inWorkspace: false, selfHostedGateways });
    if (!verdict.eligible) {
      skipped.push({ api, resourceType: API_TYPE, finding: { verdict: "skipped", ...verdict } });
      continue;
    }
    const collection = view.collections.get(api.name.toLowerCase());
    eligible.push({ api, note: verdict.note, details: verdict.details, collection });
  }
  const names = (test: (c: ApiCollectionSnapshot | undefined) => boolean): string[] =>
    eligible.filter((e) => test(e.collection)).map((e) => e.api.name);
  return {
    skipped,
    eligible,
    onboarded: names((c) => collectionState(c) === "succeeded"),
    inProgress: names(isRunning),
    pending: names((c) => collectionState(c) !== "succeeded" && !isRunning(c)),
  };
}

/** What the rollout decision means for one eligible API. */
function decidedFinding(entry: EligibleApi, decision: RolloutDecision): Finding<ApiCollectionChange> {
  const name = entry.api.name;
  const step = decision.details;
  const status = decision.perApi.get(name);
  const collection =
    entry.collection === undefined ? {} : { collectionState: entry.collection.provisioningState };
  switch (status?.kind) {
    case "onboard":
      return {
        verdict: "change",
        reason: `not onboarded to Defender for APIs; ${status.reason}`,
        action: `onboard ${name} to Defender for APIs`,
        change: { kind: "onboard", apiName: name },
        details: { step },
      };
    case "rolled-back":
      return {
        verdict: "change",
        reason: status.reason,
        action: `offboard ${name} from Defender for APIs (roll back the last step)`,
        change: { kind: "offboard", apiName: name },
        details: { step, rolledBack: true, retryAfterSeconds: status.retryAfterSeconds },
      };
    case "waiting":
      return {
        verdict: "deferred",
        reason: status.reason,
        retryAfterSeconds: status.retryAfterSeconds,
        details: { step, ...collection },
      };
    case "manual":
      return { verdict: "manual", reason: status.reason, details: { step, ...collection } };
    case undefined:
      return collectionState(entry.collection) === "succeeded"
        ? { verdict: "compliant", reason: "onboarded to Defender for APIs" }
        : // The controller speaks for every API that is not onboarded; this only guards a gap.
          {
            verdict: "deferred",
            reason: "queued for a later rollout step",
            retryAfterSeconds: IN_PROGRESS_RETRY_SECONDS,
            details: { step },
          };
  }
}

/** An API whose outcome did not wait on the rollout: onboarded, or running when no decision was taken. */
function undecidedFinding(
  entry: EligibleApi,
  gate: Exclude<RolloutGate, { kind: "decided" }> | undefined,
): ApiOnboardingFinding {
  const state = collectionState(entry.collection);
  if (state === "succeeded") return { verdict: "compliant", reason: "onboarded to Defender for APIs" };
  if (gate?.kind === "failed") return { verdict: "failed", reason: gate.reason, details: gate.details };
  if (isRunning(entry.collection)) {
    return {
      verdict: "deferred",
      reason: "onboarding to Defender for APIs is in progress",
      retryAfterSeconds: IN_PROGRESS_RETRY_SECONDS,
      details: { collectionState: entry.collection?.provisioningState },
    };
  }
  return gate === undefined
    ? {
        verdict: "deferred",
        reason: "queued for a later rollout step",
        retryAfterSeconds: IN_PROGRESS_RETRY_SECONDS,
      }
    : {
        verdict: "deferred",
        reason: gate.reason,
        retryAfterSeconds: gate.retryAfterSeconds,
        details: gate.details ?? {},
      };
}

function withDetails(finding: ApiOnboardingFinding, entry: EligibleApi): ApiOnboardingFinding {
  return { ...finding, details: { ...entry.details, ...finding.details } };
}

/**
 * One finding per API of the service: skipped ones with the reason, and for eligible ones what the
 * rollout decided (onboard now, offboard as a rollback, wait, or a person's turn), or why it could not
 * decide. `gate` is undefined when nothing waits on the rollout (every eligible API onboarded).
 */
export function planApiOnboarding(inventory: ApiInventory, gate: RolloutGate | undefined): PlannedApi[] {
  return [
    ...inventory.skipped,
    ...inventory.eligible.map((entry) => ({
      api: entry.api,
      resourceType: API_TYPE,
      ...(entry.note === undefined ? {} : { note: entry.note }),
      finding: withDetails(
        gate?.kind === "decided" ? decidedFinding(entry, gate.decision) : undecidedFinding(entry, gate),
        entry,
      ),
    })),
  ];
}
