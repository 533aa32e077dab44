import { apiEligibility, exclusionReason, isConsumptionTier, isSeparateApi } from "../checks/index.js";
import { AzureApiError } from "../azure/errors.js";
import type { ApiCollectionSnapshot, ApiSnapshot, ApimServiceSnapshot } from "../model/apim.js";
import { RESOURCE_TYPES, type CheckId } from "../model/checks.js";
import { parseResourceId } from "../model/resource-id.js";
import type { OutcomeFields } from "../outcomes/record.js";
import { decideRolloutStep } from "../rollout/controller.js";
import { rolloutSettings } from "../rollout/settings.js";
import { RolloutConflictError } from "../rollout/state-store.js";
import type { RolloutDecision } from "../rollout/types.js";
import { forEachConcurrently } from "./concurrency.js";
import { describeError, failureReason } from "./errors.js";
import type { RunContext } from "./run-context.js";

const CHECK: CheckId = "apim.api-onboarding";
const WORKSPACE_API_TYPE = "Microsoft.ApiManagement/service/workspaces/apis";
const SERVICE_BUSY_RETRY_SECONDS = 300;
const PLAN_RETRY_SECONDS = 600;
const CONFLICT_RETRY_SECONDS = 60;
/** Onboarding calls in flight at once within one step (a step is already a small batch). */
const ONBOARDING_CONCURRENCY = 4;

type OutcomeBody = Pick<OutcomeFields, "status" | "reason" | "action" | "details">;

interface ApiView {
  readonly api: ApiSnapshot;
  readonly note: string | undefined;
  readonly details: Record<string, unknown>;
}

function succeeded(collection: ApiCollectionSnapshot | undefined): boolean {
  return collection?.provisioningState.toLowerCase() === "succeeded";
}

function running(collection: ApiCollectionSnapshot | undefined): boolean {
  const state = collection?.provisioningState.toLowerCase();
  return state !== undefined && state !== "succeeded" && state !== "failed" && state !== "canceled";
}

function withNote(reason: string, note: string | undefined): string {
  return note === undefined ? reason : `${reason}; ${note}`;
}

/**
 * Reconciles one API Management service: every current API gets one `apim.api-onboarding`
 * outcome; eligible ones are onboarded to Defender for APIs one controller step per run.
 * With `focusApi`, only that API's outcome and those of APIs this run changed are written.
 */
export async function reconcileApimService(
  run: RunContext,
  serviceId: string,
  listed: ApimServiceSnapshot | undefined,
  focusApi: string | undefined,
): Promise<void> {
  if (!run.enabled(CHECK)) return;
  const startedAt = run.now().getTime();
  const parsed = parseResourceId(serviceId);
  const changed = new Set<string>();
  const emit = (resourceId: string, resourceType: string, apiName: string, body: OutcomeBody): void => {
    if (
      focusApi !== undefined &&
      apiName.toLowerCase() !== focusApi.toLowerCase() &&
      !changed.has(apiName.toLowerCase())
    ) {
      return;
    }
    run.emit({
      subscriptionId: parsed.subscriptionId,
      resourceId,
      resourceType,
      check: CHECK,
      startedAt,
      ...body,
    });
  };
  const emitApi = (view: ApiView, body: OutcomeBody): void => {
    emit(view.api.id, RESOURCE_TYPES.apimApi, view.api.name, {
      ...body,
      reason: withNote(body.reason, view.note),
      details: { ...view.details, ...body.details },
    });
  };
  const focusedId = focusApi === undefined ? undefined : `${parsed.id}/apis/${focusApi}`;
  const failService = (error: unknown): void => {
    if (focusedId !== undefined && focusApi !== undefined) {
      emit(focusedId, RESOURCE_TYPES.apimApi, focusApi, {
        status: "failed",
        reason: failureReason(error),
        details: describeError(error),
      });
    } else {
      const { code, message } = describeError(error);
      run.recordError({ scope: parsed.id, code, message: `reading API Management service: ${message}` });
    }
  };

  let service: ApimServiceSnapshot | undefined;
  let apis: ApiSnapshot[];
  let groupTags: Record<string, string> | undefined;
  try {
    service = listed ?? (await run.azure.apim.getService(parsed.id));
    if (service === undefined) {
      if (focusedId !== undefined && focusApi !== undefined) {
        emit(focusedId, RESOURCE_TYPES.apimApi, focusApi, {
          status: "skipped",
          reason: "the API Management service no longer exists",
        });
      }
      return;
    }
    groupTags =
      parsed.resourceGroup === undefined
        ? undefined
        : await run.tagsOf(parsed.subscriptionId, parsed.resourceGroup);
    apis = (await run.azure.apim.listApis(service.id)).filter(isSeparateApi);
  } catch (error) {
    failService(error);
    return;
  }
  if (
    focusApi !== undefined &&
    !apis.some((a) => a.name.toLowerCase() === focusApi.toLowerCase()) &&
    focusedId
  ) {
    emit(focusedId, RESOURCE_TYPES.apimApi, focusApi, {
      status: "skipped",
      reason: "the API no longer exists",
    });
  }

  // Refusals that need no further reads.
  const excluded = exclusionReason(run.config.excludeTag, service.tags, groupTags);
  if (excluded !== undefined || isConsumptionTier(service)) {
    for (const api of apis) {
      const verdict = apiEligibility(service, api, { inWorkspace: false, selfHostedGateways: [] });
      const reason = excluded ?? (verdict.eligible ? "" : verdict.reason);
      emit(api.id, RESOURCE_TYPES.apimApi, api.name, {
        status: "skipped",
        reason,
        details: { sku: service.sku.name },
      });
    }
    return;
  }

  let workspaceApis: ApiSnapshot[];
  let gateways: Map<string, string[]>;
  let collections: Map<string, ApiCollectionSnapshot>;
  try {
    [workspaceApis, gateways, collections] = await Promise.all([
      run.azure.apim.listWorkspaceApis(service.id),
      run.azure.apim.listSelfHostedGatewayAssignments(service.id),
      run.azure.security
        .listApiCollections(service.id)
        .then((list) => new Map(list.map((c) => [c.apiName.toLowerCase(), c] as const))),
    ]);
  } catch (error) {
    failService(error);
    return;
  }

  for (const api of workspaceApis.filter(isSeparateApi)) {
    const verdict = apiEligibility(service, api, { inWorkspace: true, selfHostedGateways: [] });
    if (!verdict.eligible) {
      emit(api.id, WORKSPACE_API_TYPE, api.name, {
        status: "skipped",
        reason: verdict.reason,
        details: verdict.details,
      });
    }
  }

  // Every eligible API ends with exactly one outcome, decided below and written at the end.
  const views = new Map<string, ApiView>();
  const decided = new Map<string, OutcomeBody>();
  const pending: string[] = [];
  const onboarded: string[] = [];
  const inProgress: string[] = [];
  for (const api of apis) {
    const verdict = apiEligibility(service, api, {
      inWorkspace: false,
      selfHostedGateways: gateways.get(api.name.toLowerCase()) ?? [],
    });
    if (!verdict.eligible) {
      emit(api.id, RESOURCE_TYPES.apimApi, api.name, {
        status: "skipped",
        reason: verdict.reason,
        details: verdict.details,
      });
      continue;
    }
    views.set(api.name, { api, note: verdict.note, details: verdict.details });
    const collection = collections.get(api.name.toLowerCase());
    if (succeeded(collection)) {
      onboarded.push(api.name);
      decided.set(api.name, { status: "compliant", reason: "onboarded to Defender for APIs" });
    } else if (running(collection)) {
      inProgress.push(api.name);
      decided.set(api.name, {
        status: "deferred",
        reason: "onboarding to Defender for APIs is in progress",
        details: {
          retryAfterSeconds: SERVICE_BUSY_RETRY_SECONDS,
          collectionState: collection?.provisioningState,
        },
      });
    } else {
      pending.push(api.name);
    }
  }

  await decideAndApply(run, service, { pending, onboarded, inProgress }, decided, changed);
  for (const [name, body] of decided) {
    const view = views.get(name);
    if (view !== undefined) emitApi(view, body);
  }
}

/** Takes this run's rollout step for the service (or says why not), filling in an outcome for each API it touches. */
async function decideAndApply(
  run: RunContext,
  service: ApimServiceSnapshot,
  apis: { pending: string[]; onboarded: string[]; inProgress: string[] },
  decided: Map<string, OutcomeBody>,
  changed: Set<string>,
): Promise<void> {
  const { pending, onboarded, inProgress } = apis;
  const setPending = (body: OutcomeBody): void => {
    for (const name of pending) decided.set(name, body);
  };
  const wait = (reason: string, retryAfterSeconds: number, details: Record<string, unknown> = {}): void => {
    setPending({ status: "deferred", reason, details: { ...details, retryAfterSeconds } });
  };

  if (pending.length === 0 && inProgress.length === 0) return;
  const state = service.provisioningState ?? "Succeeded";
  if (state.toLowerCase() !== "succeeded") {
    wait(
      `the API Management service is ${state}; onboarding waits until it has finished`,
      SERVICE_BUSY_RETRY_SECONDS,
    );
    return;
  }
  if (run.info.mode === "audit") {
    for (const name of pending) {
      decided.set(name, {
        status: "planned",
        reason: "not onboarded to Defender for APIs",
        action: `onboard ${name} to Defender for APIs, gradually while capacity allows`,
      });
    }
    return;
  }
  if (!(await run.planReady(parseResourceId(service.id).subscriptionId, "Api"))) {
    wait("waiting for the Defender for APIs plan to be on in this subscription", PLAN_RETRY_SECONDS);
    return;
  }
  const store = run.rolloutStore;
  if (store === undefined) {
    wait("no rollout state store is configured, so onboarding cannot be paced safely", PLAN_RETRY_SECONDS);
    return;
  }

  let decision: RolloutDecision;
  try {
    const stored = await store.get(service.id);
    const reading = await run.azure.monitor.readApimCapacity(service, run.now());
    decision = decideRolloutStep({
      serviceId: service.id,
      now: run.now(),
      state: stored?.state,
      reading,
      pending,
      onboarded,
      inProgress,
      settings: rolloutSettings(run.config),
    });
    // Claim the step before acting: a duplicate or concurrent run loses the compare-and-swap and does nothing.
    await store.put(decision.nextState, stored?.version);
  } catch (error) {
    if (error instanceof RolloutConflictError) {
      wait("another run is taking this rollout step", CONFLICT_RETRY_SECONDS);
      return;
    }
    setPending({ status: "failed", reason: failureReason(error), details: describeError(error) });
    return;
  }

  const step = decision.details;
  for (const [name, status] of decision.perApi) {
    if (status.kind === "manual")
      decided.set(name, { status: "manual", reason: status.reason, details: { step } });
    if (status.kind === "waiting" || status.kind === "rolled-back") {
      decided.set(name, {
        status: "deferred",
        reason: status.reason,
        details: {
          step,
          retryAfterSeconds: status.retryAfterSeconds,
          rolledBack: status.kind === "rolled-back",
        },
      });
    }
  }
  const retryAfterSeconds = decision.nextLookSeconds ?? PLAN_RETRY_SECONDS;
  const onboarding = new Set(decision.onboard);
  for (const name of pending) {
    if (!decided.has(name) && !onboarding.has(name)) {
      decided.set(name, {
        status: "deferred",
        reason: "queued for a later rollout step",
        details: { step, retryAfterSeconds },
      });
    }
  }
  for (const name of decision.offboard) {
    if (decided.get(name)?.status !== "deferred") {
      decided.set(name, {
        status: "deferred",
        reason: "offboarded again: capacity passed the critical level after its rollout step",
        details: { step, retryAfterSeconds, rolledBack: true },
      });
    }
  }
  for (const name of [...decision.offboard, ...decision.onboard]) changed.add(name.toLowerCase());

  await forEachConcurrently(decision.offboard, ONBOARDING_CONCURRENCY, async (name) => {
    try {
      await run.azure.security.offboardApi(service.id, name);
    } catch (error) {
      decided.set(name, {
        status: "failed",
        reason: `rollback: ${failureReason(error)}`,
        details: describeError(error),
      });
    }
  });
  await forEachConcurrently(decision.onboard, ONBOARDING_CONCURRENCY, async (name) => {
    const action = `onboard ${name} to Defender for APIs`;
    try {
      const collection = await run.azure.security.onboardApi(service.id, name);
      decided.set(
        name,
        succeeded(collection)
          ? {
              status: "remediated",
              reason: "was not onboarded to Defender for APIs",
              action,
              details: { step },
            }
          : {
              status: "failed",
              reason: `onboarding ended ${collection.provisioningState}`,
              action,
              details: { step },
            },
      );
    } catch (error) {
      const busy =
        error instanceof AzureApiError && (error.statusCode === 409 || error.code === "OperationNotAllowed");
      decided.set(
        name,
        busy
          ? {
              status: "deferred",
              reason: `the service is busy (${describeError(error).code}); will retry`,
              action,
              details: { retryAfterSeconds: SERVICE_BUSY_RETRY_SECONDS },
            }
          : {
              status: "failed",
              reason: failureReason(error),
              action,
              details: { ...describeError(error), step },
            },
      );
    }
  });
}
