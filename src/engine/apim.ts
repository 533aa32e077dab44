import {
  inventoryApis,
  isSeparateApi,
  planApiOnboarding,
  serviceRefusal,
  type ApiInventory,
  type ApiOnboardingFinding,
  type PlannedApi,
  type RolloutGate,
} from "../checks/index.js";
import {
  AzureApiError,
  BusyError,
  ConflictError,
  DeadlineExceededError,
  isNotFound,
} from "../azure/errors.js";
import type {
  ApiCollectionSnapshot,
  ApimServiceSnapshot,
  ApimServiceView,
  CapacityReading,
} from "../model/apim.js";
import { RESOURCE_TYPES, type CheckId } from "../model/checks.js";
import type { Mode } from "../model/outcome.js";
import { parseResourceId, type ParsedResourceId } from "../model/resource-id.js";
import type { OutcomeFields } from "../outcomes/record.js";
import { decideRolloutStep, recordApplied, rolloutNeedsLook } from "../rollout/controller.js";
import { rolloutSettings } from "../rollout/settings.js";
import { RolloutConflictError, type StoredRollout } from "../rollout/state-store.js";
import type { AppliedStep, RolloutDecision, RolloutSettings, RolloutState } from "../rollout/types.js";
import { forEachConcurrently } from "./concurrency.js";
import { budgetExhausted, describeError, outcomeOfError } from "./errors.js";
import type { RunContext } from "./run-context.js";

const CHECK: CheckId = "apim.api-onboarding";
/** A read that failed (a listing, the rollout state, the capacity metric) is tried again after this long. */
const READ_RETRY_SECONDS = 300;
const SERVICE_BUSY_RETRY_SECONDS = 300;
const PLAN_RETRY_SECONDS = 600;
const CONFLICT_RETRY_SECONDS = 60;
/** An onboarding whose PUT returned before it finished is looked at again after this long. */
const UNFINISHED_RETRY_SECONDS = 120;
/** A rollback DELETE that failed is tried again after this long (the controller retries it on every run). */
const ROLLBACK_RETRY_SECONDS = 120;
/** Below this much of the run's budget no rollout step is started: its writes would not finish. */
const MIN_TIME_FOR_A_STEP_MS = 5_000;
/** Onboarding calls in flight at once within one step (a step is already a small batch). */
const ONBOARDING_CONCURRENCY = 4;

type OutcomeBody = Pick<OutcomeFields, "status" | "reason" | "action" | "details">;

/**
 * Whether an Azure error means "busy now, try again later" rather than a failure: the service is in
 * another operation, or the collection changed under us. Throttling is outcomeOfError's to report,
 * with the wait Azure named.
 */
export function isBusy(error: unknown): boolean {
  return error instanceof BusyError || error instanceof ConflictError;
}

// ---------------------------------------------------------------------------------------------
// One rollout step: read the state and the capacity, decide, claim, apply, record

/** What a rollout step touches, so the same sequence runs against Azure or against a model of it. */
export interface RolloutPorts {
  readonly mode: Mode;
  now(): Date;
  getState(): Promise<StoredRollout | undefined>;
  /** Compare-and-swap: throws RolloutConflictError when the stored version is not `version`. */
  putState(state: RolloutState, version: string | undefined): Promise<string>;
  readCapacity(): Promise<CapacityReading>;
  /** A long-running PUT; returns the collection as it ended (or as it stood when the wait ended). */
  onboard(apiName: string): Promise<ApiCollectionSnapshot>;
  offboard(apiName: string): Promise<void>;
}

/** What became of one write of a step. */
export type WriteResult =
  | { readonly kind: "onboarded" }
  /** Still running when its PUT returned, or we stopped waiting for it (`error`: the deadline). */
  | { readonly kind: "unfinished"; readonly state: string; readonly error?: unknown }
  | { readonly kind: "failed"; readonly error: unknown }
  | { readonly kind: "offboarded" }
  | { readonly kind: "not-offboarded"; readonly error: unknown };

export interface RolloutRun {
  readonly gate: RolloutGate | undefined;
  /** Lower-cased API name → what its write did (enforce mode only). */
  readonly writes: ReadonlyMap<string, WriteResult>;
}

/**
 * The gate when the state or the capacity could not be read: `failed` with the code (a damaged state
 * needs a person, and its error says what to do; a transient failure is looked at again), or held when
 * Azure asked to come back later.
 */
function readFailure(error: unknown): RolloutGate {
  const { status, reason, details = {} } = outcomeOfError(error);
  const retry = details.retryAfterSeconds;
  if (status === "deferred" && typeof retry === "number") {
    return { kind: "held", reason, retryAfterSeconds: retry, details };
  }
  return { kind: "failed", reason, details };
}

/**
 * Reads the stored state and the capacity, decides, and in enforce mode claims the step with a
 * compare-and-swap before any write (a duplicate run loses it and writes nothing), offboards what a
 * rollback owes, onboards the batch, and records what came of it with a second compare-and-swap. Audit
 * mode stops after the decision: the same reads and the same decision, no write and no state update.
 */
export async function runRolloutStep(
  ports: RolloutPorts,
  serviceId: string,
  inventory: Pick<ApiInventory, "pending" | "onboarded" | "inProgress">,
  settings: RolloutSettings,
): Promise<RolloutRun> {
  const none = new Map<string, WriteResult>();
  let stored: StoredRollout | undefined;
  let reading: CapacityReading;
  try {
    stored = await ports.getState();
    const waiting = inventory.pending.length + inventory.inProgress.length > 0;
    if (!waiting && !rolloutNeedsLook(stored?.state, ports.now(), settings)) {
      return { gate: undefined, writes: none };
    }
    reading = await ports.readCapacity();
  } catch (error) {
    return { gate: readFailure(error), writes: none };
  }
  const decision = decideRolloutStep({
    serviceId,
    now: ports.now(),
    state: stored?.state,
    reading,
    ...inventory,
    settings,
  });
  const gate: RolloutGate = { kind: "decided", decision };
  if (ports.mode === "audit") return { gate, writes: none };
  let version: string;
  try {
    version = await ports.putState(decision.nextState, stored?.version);
  } catch (error) {
    if (error instanceof RolloutConflictError) {
      const reason = "another run is taking this rollout step";
      return { gate: { kind: "held", reason, retryAfterSeconds: CONFLICT_RETRY_SECONDS }, writes: none };
    }
    return { gate: readFailure(error), writes: none };
  }
  const writes = await applyDecision(ports, decision);
  try {
    await ports.putState(recordApplied(decision.nextState, decision, applied(writes, ports.now())), version);
  } catch {
    // Lost (a conflict, the store down): the next run reads the same facts back from Azure.
  }
  return { gate, writes };
}

/** Offboards what a rollback owes (absent counts as done), then onboards the batch. */
async function applyDecision(
  ports: RolloutPorts,
  decision: RolloutDecision,
): Promise<Map<string, WriteResult>> {
  const writes = new Map<string, WriteResult>();
  await forEachConcurrently(decision.offboard, ONBOARDING_CONCURRENCY, async (name) => {
    try {
      await ports.offboard(name);
      writes.set(name.toLowerCase(), { kind: "offboarded" });
    } catch (error) {
      writes.set(
        name.toLowerCase(),
        isNotFound(error) ? { kind: "offboarded" } : { kind: "not-offboarded", error },
      );
    }
  });
  await forEachConcurrently(decision.onboard, ONBOARDING_CONCURRENCY, async (name) => {
    try {
      const collection = await ports.onboard(name);
      writes.set(name.toLowerCase(), onboardResult(collection));
    } catch (error) {
      // Stopped waiting (the operation's, the call's or the run's deadline): the PUT may have been
      // accepted, so it is treated as running; the next listing says what became of it.
      const unfinished = error instanceof DeadlineExceededError;
      writes.set(
        name.toLowerCase(),
        unfinished ? { kind: "unfinished", state: "Unknown", error } : { kind: "failed", error },
      );
    }
  });
  return writes;
}

function onboardResult(collection: ApiCollectionSnapshot): WriteResult {
  const state = collection.provisioningState;
  switch (state.toLowerCase()) {
    case "succeeded":
      return { kind: "onboarded" };
    case "failed":
    case "canceled":
      return {
        kind: "failed",
        error: new AzureApiError(`onboarding ended ${state}`, `Onboarding${state}`, undefined),
      };
    default:
      return { kind: "unfinished", state };
  }
}

function applied(writes: ReadonlyMap<string, WriteResult>, at: Date): AppliedStep {
  const entries = [...writes.entries()];
  const codeOf = (error: unknown): string => describeError(error).code;
  return {
    at,
    unfinished: entries.filter(([, w]) => w.kind === "unfinished").map(([name]) => name),
    onboardCodes: entries.flatMap(([, w]) => (w.kind === "failed" ? [codeOf(w.error)] : [])),
    notOffboarded: entries.filter(([, w]) => w.kind === "not-offboarded").map(([name]) => name),
    offboardCodes: entries.flatMap(([, w]) => (w.kind === "not-offboarded" ? [codeOf(w.error)] : [])),
  };
}

// ---------------------------------------------------------------------------------------------
// The reconciler: read the view, decide, apply, emit

/** The service, its APIs and, unless it is refused outright, their workspaces, gateways and collections. */
async function readServiceView(
  run: RunContext,
  id: ParsedResourceId,
  listed: ApimServiceSnapshot | undefined,
): Promise<ApimServiceView | undefined> {
  const service = listed ?? (await run.azure.apim.getService(id.id));
  if (service === undefined) return undefined;
  const resourceGroupTags =
    id.resourceGroup === undefined ? undefined : await run.tagsOf(id.subscriptionId, id.resourceGroup);
  const apis = await run.azure.apim.listApis(service.id);
  const nothingMore = {
    workspaceApis: [],
    selfHostedGatewaysByApi: new Map<string, string[]>(),
    collections: new Map<string, ApiCollectionSnapshot>(),
  };
  // Refusals need no further reads.
  if (serviceRefusal(service, resourceGroupTags, run.config.excludeTag) !== undefined) {
    return { service, resourceGroupTags, apis, ...nothingMore };
  }
  const [workspaceApis, selfHostedGatewaysByApi, collections] = await Promise.all([
    run.azure.apim.listWorkspaceApis(service.id),
    run.azure.apim.listSelfHostedGatewayAssignments(service.id),
    run.azure.security
      .listApiCollections(service.id)
      .then((list) => new Map(list.map((c) => [c.apiName.toLowerCase(), c] as const))),
  ]);
  return { service, resourceGroupTags, apis, workspaceApis, selfHostedGatewaysByApi, collections };
}

/** The rollout's say for this service: held before deciding (service busy, plan off, no store), or a step. */
async function decideRollout(
  run: RunContext,
  service: ApimServiceSnapshot,
  inventory: ApiInventory,
): Promise<RolloutRun> {
  const none: RolloutRun = { gate: undefined, writes: new Map() };
  if (inventory.eligible.length === 0) return none;
  const waiting = inventory.pending.length + inventory.inProgress.length > 0;
  const hold = (reason: string, retryAfterSeconds: number): RolloutRun =>
    waiting ? { gate: { kind: "held", reason, retryAfterSeconds }, writes: new Map() } : none;
  const state = service.provisioningState ?? "Succeeded";
  if (waiting && state.toLowerCase() !== "succeeded") {
    return hold(
      `the API Management service is ${state}; onboarding waits until it has finished`,
      SERVICE_BUSY_RETRY_SECONDS,
    );
  }
  if (waiting && !(await run.planReady(parseResourceId(service.id).subscriptionId, "Api"))) {
    return hold("waiting for the Defender for APIs plan to be on in this subscription", PLAN_RETRY_SECONDS);
  }
  if (run.timeLeftMs() < MIN_TIME_FOR_A_STEP_MS) {
    const { reason, details = {} } = budgetExhausted(run.options.stop?.aborted === true);
    const retry =
      typeof details.retryAfterSeconds === "number" ? details.retryAfterSeconds : READ_RETRY_SECONDS;
    return { gate: { kind: "held", reason, retryAfterSeconds: retry, details }, writes: new Map() };
  }
  const store = run.rolloutStore;
  if (store === undefined) {
    return hold(
      "no rollout state store is configured, so onboarding cannot be paced safely",
      PLAN_RETRY_SECONDS,
    );
  }
  const ports: RolloutPorts = {
    mode: run.info.mode,
    now: () => run.now(),
    getState: () => store.get(service.id),
    putState: (next, version) => store.put(next, version),
    readCapacity: () => run.azure.monitor.readApimCapacity(service, run.now()),
    onboard: (name) => run.azure.security.onboardApi(service.id, name),
    offboard: (name) => run.azure.security.offboardApi(service.id, name),
  };
  return runRolloutStep(ports, service.id, inventory, rolloutSettings(run.config));
}

/** A finding reported as it stands: audit mode, or nothing was written for it. */
function reported(run: RunContext, finding: ApiOnboardingFinding): OutcomeBody {
  if (finding.verdict === "failed") {
    return { status: "failed", reason: finding.reason, details: finding.details };
  }
  return run.unapplied(finding);
}

/** The outcome of an API this run wrote for, from what the write did. */
function written(planned: PlannedApi, write: WriteResult): OutcomeBody {
  const { finding } = planned;
  const details = finding.details ?? {};
  const action = finding.verdict === "change" ? finding.action : undefined;
  const withAction = action === undefined ? {} : { action };
  switch (write.kind) {
    case "onboarded":
      return {
        status: "remediated",
        reason: "was not onboarded to Defender for APIs",
        ...withAction,
        details,
      };
    case "unfinished": {
      const stopped = write.error === undefined ? undefined : describeError(write.error);
      return {
        status: "deferred",
        reason:
          stopped === undefined
            ? "onboarding to Defender for APIs is in progress"
            : `onboarding to Defender for APIs was started; ${stopped.message} (${stopped.code})`,
        ...withAction,
        details: {
          ...details,
          ...stopped,
          collectionState: write.state,
          retryAfterSeconds: UNFINISHED_RETRY_SECONDS,
        },
      };
    }
    case "failed": {
      if (isBusy(write.error)) {
        const error = describeError(write.error);
        return {
          status: "deferred",
          reason: `the service is busy (${error.code}); the next rollout step tries again`,
          ...withAction,
          details: { ...details, ...error, retryAfterSeconds: SERVICE_BUSY_RETRY_SECONDS },
        };
      }
      const outcome = outcomeOfError(write.error);
      return { ...outcome, ...withAction, details: { ...details, ...outcome.details } };
    }
    case "offboarded":
      return {
        status: "deferred",
        reason: `offboarded again: ${finding.reason}`,
        ...withAction,
        details: { ...details, rolledBack: true, retryAfterSeconds: ROLLBACK_RETRY_SECONDS },
      };
    case "not-offboarded": {
      const error = describeError(write.error);
      if (finding.verdict === "manual") {
        return { status: "manual", reason: finding.reason, details: { ...details, ...error } };
      }
      return {
        status: "deferred",
        reason: `${finding.reason}; offboarding it failed (${error.code}) and is retried`,
        ...withAction,
        details: { ...details, ...error, rolledBack: false, retryAfterSeconds: ROLLBACK_RETRY_SECONDS },
      };
    }
  }
}

/** Writes this reconciler's outcomes; with `focusApi`, only that API's and those of APIs this run wrote for. */
function outcomeWriter(run: RunContext, id: ParsedResourceId, focusApi: string | undefined) {
  const startedAt = run.now().getTime();
  const focus = focusApi?.toLowerCase();
  const focusedId = focusApi === undefined ? undefined : `${id.id}/apis/${focusApi}`;
  const emit = (resourceId: string, resourceType: string, body: OutcomeBody): void => {
    run.emit({
      subscriptionId: id.subscriptionId,
      resourceId,
      resourceType,
      check: CHECK,
      startedAt,
      ...body,
    });
  };
  return {
    /** The service, its APIs or its collections could not be read: one outcome on what was asked about. */
    unreadable(error: unknown): void {
      const body: OutcomeBody = outcomeOfError(
        error,
        "reading the API Management service, its APIs and collections",
      );
      if (focusedId !== undefined) emit(focusedId, RESOURCE_TYPES.apimApi, body);
      else emit(id.id, RESOURCE_TYPES.apimService, body);
    },
    missing(reason: string): void {
      if (focusedId !== undefined) emit(focusedId, RESOURCE_TYPES.apimApi, { status: "skipped", reason });
    },
    planned(planned: PlannedApi, body: OutcomeBody, wrote: boolean): void {
      if (focus !== undefined && planned.api.name.toLowerCase() !== focus && !wrote) return;
      const reason = planned.note === undefined ? body.reason : `${body.reason}; ${planned.note}`;
      emit(planned.api.id, planned.resourceType, { ...body, reason });
    },
  };
}

/**
 * Reconciles one API Management service: every current API gets one `apim.api-onboarding` outcome;
 * eligible ones are onboarded to Defender for APIs one rollout step per run. With `focusApi`, only that
 * API's outcome and those of APIs this run changed are written.
 */
export async function reconcileApimService(
  run: RunContext,
  serviceId: string,
  listed: ApimServiceSnapshot | undefined,
  focusApi: string | undefined,
): Promise<void> {
  if (!run.enabled(CHECK)) return;
  const id = parseResourceId(serviceId);
  const out = outcomeWriter(run, id, focusApi);
  let view: ApimServiceView | undefined;
  try {
    view = await readServiceView(run, id, listed);
  } catch (error) {
    out.unreadable(error);
    return;
  }
  if (view === undefined) {
    out.missing("the API Management service no longer exists");
    return;
  }
  const focus = focusApi?.toLowerCase();
  if (focus !== undefined && !view.apis.some((a) => isSeparateApi(a) && a.name.toLowerCase() === focus)) {
    // A run about one API acts on that API: gone, it is one outcome and no rollout step.
    out.missing("the API no longer exists");
    return;
  }
  const inventory = inventoryApis(view, run.config.excludeTag);
  const { gate, writes } = await decideRollout(run, view.service, inventory);
  for (const planned of planApiOnboarding(inventory, gate)) {
    const write = writes.get(planned.api.name.toLowerCase());
    out.planned(
      planned,
      write === undefined ? reported(run, planned.finding) : written(planned, write),
      write !== undefined,
    );
  }
}
