/**
 * Defender for Cloud's security assessments in the estate, and how the simulated Defender keeps them:
 * as the estate holds them until the configuration they judge changes through the simulator, then,
 * `lag` later, from that configuration (Defender's refresh lag). An assessment whose resource nothing
 * writes stays as the estate says: a configured sensor whose assessment is Unhealthy (it cannot reach
 * Defender) stays Unhealthy.
 *
 * Shapes: ARM's (Microsoft.Security 2021-06-01 ListAssessments example): id
 * `{resourceId}/providers/Microsoft.Security/assessments/{key}`, `properties.displayName`,
 * `properties.status` (`code` Healthy | Unhealthy | NotApplicable, `cause`, `description`,
 * `firstEvaluationDate`, `statusChangeDate`) and `properties.resourceDetails`, which the REST API spells
 * `source`/`id` and Resource Graph `Source`/`Id`: the estate may use either, each API answers in its own.
 */
import type { ArmResource } from "./estate.js";
import { SIM_CALLER } from "./events.js";
import { normalizeId, type SimState } from "./state.js";

export const ASSESSMENT_TYPE = "Microsoft.Security/assessments";
export const ASSESSMENT_STATUSES = ["Healthy", "Unhealthy", "NotApplicable"] as const;
const EXTENSION_TYPE = "Microsoft.KubernetesConfiguration/extensions";
const COLLECTION_TYPE = "Microsoft.Security/apiCollections";
/** What the simulated Defender waits after a change before it assesses again, unless told otherwise. */
export const DEFAULT_ASSESSMENT_LAG_MINUTES = 30;

/** Each simulator's lag (SimulatorOptions.assessmentLagMinutes), in ms; null: never assesses again. */
const LAGS = new WeakMap<SimState, number | null>();

export function setAssessmentLag(state: SimState, minutes: number | null | undefined): void {
  LAGS.set(state, minutes === null ? null : (minutes ?? DEFAULT_ASSESSMENT_LAG_MINUTES) * 60_000);
}

export function assessmentLag(state: SimState): number | null {
  const lag = LAGS.get(state);
  return lag === undefined ? DEFAULT_ASSESSMENT_LAG_MINUTES * 60_000 : lag;
}

type Props = Readonly<Record<string, unknown>>;

function record(value: unknown): Props {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Props) : {};
}

function same(a: unknown, b: string): boolean {
  return typeof a === "string" && a.toLowerCase() === b.toLowerCase();
}

/** The resource an assessment judges: its id up to the last `/providers/Microsoft.Security/assessments/`. */
export function assessedResourceId(assessmentId: string): string | undefined {
  const index = assessmentId.toLowerCase().lastIndexOf("/providers/microsoft.security/assessments/");
  return index > 0 ? assessmentId.slice(0, index) : undefined;
}

function extensionsOf(state: SimState, clusterId: string, extensionType: string): ArmResource[] {
  return state
    .list(EXTENSION_TYPE, clusterId)
    .filter((e) => same(record(e.properties).extensionType, extensionType));
}

function succeeded(resource: ArmResource): boolean {
  const provisioning = record(resource.properties).provisioningState;
  return provisioning === undefined || same(provisioning, "Succeeded");
}

function apiCollection(state: SimState, apiId: string): ArmResource | undefined {
  const service = apiId.replace(/\/apis\/[^/]+$/i, "");
  const api = apiId.split("/").at(-1) ?? "";
  return state.get(`${service}/providers/${COLLECTION_TYPE}/${api}`);
}

/** Defender's rule for one assessment: what it calls Healthy, and which writes change what it judges. */
interface Rule {
  readonly key?: string;
  readonly displayName?: string;
  healthy(state: SimState, resource: ArmResource): boolean;
  /** The resources whose writes (systemData.lastModifiedAt) change the verdict. */
  inputs(state: SimState, resource: ArmResource): ArmResource[];
}

const cluster = (check: (props: Props) => boolean): Pick<Rule, "healthy" | "inputs"> => ({
  healthy: (_state, resource) => check(record(resource.properties)),
  inputs: (_state, resource) => [resource],
});

const arcExtension = (extensionType: string): Pick<Rule, "healthy" | "inputs"> => ({
  healthy: (state, resource) => extensionsOf(state, resource.id, extensionType).some(succeeded),
  inputs: (state, resource) => [resource, ...extensionsOf(state, resource.id, extensionType)],
});

/** The assessments the simulated Defender re-evaluates (keys as the recommendations reference links them). */
const RULES: readonly Rule[] = [
  {
    key: "56a83a6e-c417-42ec-b567-1e6fcb3d09a9",
    ...cluster((p) => record(record(record(p.securityProfile).defender).securityMonitoring).enabled === true),
  },
  {
    key: "08e628db-e2ed-4793-bc91-d13e684401c3",
    ...cluster((p) =>
      Object.entries(record(p.addonProfiles)).some(
        ([name, addon]) => same(name, "azurepolicy") && record(addon).enabled === true,
      ),
    ),
  },
  {
    key: "1a2b5b4c-f80d-46e7-ac81-b51a9fb363de",
    ...cluster((p) => {
      const access = record(p.apiServerAccessProfile);
      const ranges = access.authorizedIPRanges;
      return access.enablePrivateCluster === true || (Array.isArray(ranges) && ranges.length > 0);
    }),
  },
  { key: "3ef9848c-c2c8-4ff3-8b9c-4c8eb8ddfce6", ...arcExtension("microsoft.azuredefender.kubernetes") },
  { key: "0642d770-b189-42ef-a2ce-9dcc3ec6c169", ...arcExtension("microsoft.policyinsights") },
  {
    displayName: "Azure API Management APIs should be onboarded to Defender for APIs",
    healthy: (state, api) => {
      const collection = apiCollection(state, api.id);
      return collection !== undefined && succeeded(collection);
    },
    inputs: (state, api) => [api, ...[apiCollection(state, api.id)].filter((c) => c !== undefined)],
  },
];

function ruleOf(assessment: ArmResource): Rule | undefined {
  const name = record(assessment.properties).displayName;
  return RULES.find((rule) =>
    rule.key === undefined ? same(name, rule.displayName ?? "") : same(assessment.name, rule.key),
  );
}

/** Per simulator: when each resource (lower-case id) was last written through it, epoch ms. */
const WRITES = new WeakMap<SimState, Map<string, number>>();

function writesOf(state: SimState): Map<string, number> {
  let writes = WRITES.get(state);
  if (writes === undefined) {
    writes = new Map();
    WRITES.set(state, writes);
  }
  return writes;
}

/** When the resource was last written: through this simulator, else as its `systemData` says. */
function modifiedAt(state: SimState, resource: ArmResource): number | undefined {
  const written = writesOf(state).get(normalizeId(resource.id));
  const stamped = Date.parse(String(record(resource.systemData).lastModifiedAt));
  const times = [written, Number.isFinite(stamped) ? stamped : undefined].filter(
    (t): t is number => t !== undefined,
  );
  return times.length === 0 ? undefined : Math.max(...times);
}

/** Records an accepted write (PUT, PATCH) of the resource at `path`, for Defender's lag. */
export function noteWrite(state: SimState, path: string): void {
  writesOf(state).set(normalizeId(path), state.now().getTime());
}

/**
 * ARM stamps `systemData` on what it writes: an export carries it for the resources written through
 * the simulator, so that a simulator started from it measures Defender's lag from the same moment.
 */
function stampWrites(state: SimState): void {
  for (const [id, at] of writesOf(state)) {
    const resource = state.get(id);
    if (resource === undefined) continue;
    const stamp = new Date(at).toISOString();
    if (record(resource.systemData).lastModifiedAt === stamp) continue;
    resource.systemData = {
      ...record(resource.systemData),
      lastModifiedBy: SIM_CALLER.appId,
      lastModifiedByType: "Application",
      lastModifiedAt: stamp,
    };
  }
}

/**
 * The status Defender shows now: as stored, or, once `lagMs` has passed since the latest write to
 * what the assessment judges (after its last status change), what the configuration says. A status
 * `NotApplicable` stays. `lagMs` null: the simulated Defender never assesses again.
 */
export function currentStatus(state: SimState, assessment: ArmResource, lagMs: number | null): Props {
  const status = record(record(assessment.properties).status);
  const rule = ruleOf(assessment);
  const resourceId = assessedResourceId(assessment.id);
  const resource = resourceId === undefined ? undefined : state.get(resourceId);
  if (lagMs === null || rule === undefined || resource === undefined || same(status.code, "NotApplicable")) {
    return status;
  }
  const changes = rule
    .inputs(state, resource)
    .map((r) => modifiedAt(state, r))
    .filter((t): t is number => t !== undefined);
  const changedAt = changes.length === 0 ? undefined : Math.max(...changes);
  const since = Date.parse(String(status.statusChangeDate ?? status.firstEvaluationDate));
  if (changedAt === undefined || (Number.isFinite(since) && changedAt <= since)) return status;
  if (state.now().getTime() < changedAt + lagMs) return status;
  const code = rule.healthy(state, resource) ? "Healthy" : "Unhealthy";
  if (same(status.code, code)) return status;
  const { cause: _cause, description: _description, ...rest } = status;
  return { ...rest, code, statusChangeDate: new Date(changedAt + lagMs).toISOString() };
}

/** The assessment as the REST API answers it: `resourceDetails` as `source`/`id`, the current status. */
export function restAssessment(state: SimState, assessment: ArmResource, lagMs: number | null): ArmResource {
  const props = record(assessment.properties);
  const details = record(props.resourceDetails);
  return {
    ...structuredClone(assessment),
    properties: {
      ...structuredClone(props),
      resourceDetails: {
        source: details.source ?? details.Source ?? "Azure",
        id: details.id ?? details.Id ?? assessedResourceId(assessment.id),
      },
      status: structuredClone(currentStatus(state, assessment, lagMs)),
    },
  };
}

/** The assessment as Resource Graph's `securityresources` holds it (lower-case type, `Source`/`Id`). */
export function graphRow(
  state: SimState,
  assessment: ArmResource,
  lagMs: number | null,
): Record<string, unknown> {
  const props = record(assessment.properties);
  const details = record(props.resourceDetails);
  const segments = assessment.id.split("/");
  return {
    id: assessment.id,
    name: assessment.name,
    type: ASSESSMENT_TYPE.toLowerCase(),
    tenantId: "",
    kind: "",
    location: "",
    resourceGroup: segments[3]?.toLowerCase() === "resourcegroups" ? (segments[4] ?? "").toLowerCase() : "",
    subscriptionId: segments[2] ?? "",
    managedBy: "",
    sku: null,
    plan: null,
    properties: {
      ...structuredClone(props),
      resourceDetails: {
        Source: details.Source ?? details.source ?? "Azure",
        Id: details.Id ?? details.id ?? assessedResourceId(assessment.id),
      },
      status: structuredClone(currentStatus(state, assessment, lagMs)),
    },
    tags: null,
    identity: null,
    zones: null,
    extendedLocation: null,
  };
}

/** Every assessment in these subscriptions (lower-case ids), in estate order. */
export function assessmentsIn(state: SimState, subscriptions: ReadonlySet<string>): ArmResource[] {
  return state
    .all()
    .filter(
      (r) => same(r.type, ASSESSMENT_TYPE) && subscriptions.has((r.id.split("/")[2] ?? "").toLowerCase()),
    );
}

/** An export holds what Defender says at that moment, and when what it judges was written. */
export function settleAssessments(state: SimState, lagMs: number | null): void {
  stampWrites(state);
  for (const assessment of state.all().filter((r) => same(r.type, ASSESSMENT_TYPE))) {
    const status = currentStatus(state, assessment, lagMs);
    if (status !== record(record(assessment.properties).status)) {
      assessment.properties = { ...record(assessment.properties), status: structuredClone(status) };
    }
  }
}

type Fail = (path: string, problem: string) => never;

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;

/** The fields the routes serve from, checked as the estate is parsed. */
export function checkAssessment(raw: Props, at: string, fail: Fail): void {
  const id = typeof raw.id === "string" ? raw.id : "";
  const resourceId = assessedResourceId(id);
  if (resourceId === undefined || !resourceId.toLowerCase().includes("/providers/")) {
    fail(
      `${at}.id`,
      "must be {resourceId}/providers/Microsoft.Security/assessments/{key}, under the resource it judges",
    );
  }
  const props = record(raw.properties);
  const status = record(props.status);
  if (!ASSESSMENT_STATUSES.some((s) => same(status.code, s))) {
    fail(
      `${at}.properties.status.code`,
      `must be one of ${ASSESSMENT_STATUSES.join(", ")}, not ${JSON.stringify(status.code)}`,
    );
  }
  for (const key of ["statusChangeDate", "firstEvaluationDate"]) {
    const value = status[key];
    if (value !== undefined && value !== null && (typeof value !== "string" || !ISO.test(value))) {
      fail(`${at}.properties.status.${key}`, "must be an ISO 8601 date-time with a zone");
    }
  }
  for (const key of ["cause", "description"]) {
    if (status[key] !== undefined && status[key] !== null && typeof status[key] !== "string") {
      fail(`${at}.properties.status.${key}`, "must be a string");
    }
  }
  if (props.displayName !== undefined && typeof props.displayName !== "string") {
    fail(`${at}.properties.displayName`, "must be a string");
  }
  const details = record(props.resourceDetails);
  const detailsId = details.Id ?? details.id;
  if (
    detailsId !== undefined &&
    (typeof detailsId !== "string" || normalizeId(detailsId) !== normalizeId(resourceId))
  ) {
    fail(
      `${at}.properties.resourceDetails`,
      `names ${JSON.stringify(detailsId)}, not the resource its id is under ('${resourceId}')`,
    );
  }
}

/** Why an assessment lacks the resource it judges, or undefined. */
export function assessmentParentProblem(resource: ArmResource, ids: ReadonlySet<string>): string | undefined {
  if (!same(resource.type, ASSESSMENT_TYPE)) return undefined;
  const resourceId = assessedResourceId(resource.id) ?? "";
  return ids.has(normalizeId(resourceId))
    ? undefined
    : `needs the resource it judges, '${resourceId}', in resources, which does not list it`;
}
