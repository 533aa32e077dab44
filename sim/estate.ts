/**
 * The estate file: the simulator's input and `--save-estate` output (see the contract's "Estate file").
 * Parsing validates the shape and names exactly what is wrong, with a JSON path.
 */
import { randomBytes } from "node:crypto";
import { readFile, rename, unlink, writeFile } from "node:fs/promises";
import {
  API_COLLECTION_TYPE,
  API_TYPES,
  APIM_API_TYPE,
  APIM_GATEWAY_API_TYPE,
  APIM_SERVICE_TYPE,
  APIM_TIERS,
  APIM_WORKSPACE_API_TYPE,
  parentIdOf,
  parentTypeOf,
} from "./apim.js";
import { arcParentProblem, checkArcResource } from "./arc.js";
import { ASSESSMENT_TYPE, assessmentParentProblem, checkAssessment } from "./defender.js";

export interface Estate {
  subscriptions: EstateSubscription[];
  resources: ArmResource[];
  capacity?: Record<string, { base: number; perApi: number }>;
  /**
   * Rows the Logs Ingestion API accepted, by stream name (`Custom-…`), in arrival order: a saved estate
   * keeps what was ingested, and a simulator started from it serves those rows to queries again.
   */
  logs?: Record<string, EstateLogRow[]>;
  /**
   * The simulated clock's start (ISO 8601 with a zone); it runs at real speed from there. A saved estate
   * carries the clock as the run ended. Without it the simulator keeps real time.
   */
  now?: string;
  /** Faults to inject when the simulator starts; a saved estate carries those not used up (see FaultSpec). */
  faults?: EstateFault[];
}

export const FAULT_KINDS = ["status", "drop-connection", "lro-failed", "lro-stuck", "hang"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * A fault to inject. `path` (a string: the whole decoded path, compared without regard to case; a RegExp:
 * tested as it is) or `pathRegex` (a JavaScript regular expression tested case-insensitively) says which
 * requests it hits, `method` (any case) narrows it, `times` (default 1) counts down with each hit.
 */
export type FaultSpec<Path extends string | RegExp = string | RegExp> = {
  method?: string;
  path?: Path;
  pathRegex?: string;
  times?: number;
} & (
  | { kind: "status"; status: number; code: string; message?: string; retryAfterSeconds?: number }
  | { kind: "drop-connection" }
  | { kind: "lro-failed"; code?: string; message?: string }
  | { kind: "lro-stuck" }
  | { kind: "hang" }
);

/** A fault as the estate file spells it: the fields of `injectFault`, with `path` a string. */
export type EstateFault = FaultSpec<string>;

/** One ingested row: when it was received (ISO 8601) and the row as sent (column → value). */
export interface EstateLogRow {
  receivedAt: string;
  row: Record<string, unknown>;
}

export interface EstateSubscription {
  subscriptionId: string;
  displayName?: string;
  /** Default "Enabled"; ARM also reports "Disabled", "Warned", "PastDue", "Deleted". */
  state?: string;
  /** Default the simulator's fixed tenant id. */
  tenantId?: string;
  /** Plans by name. Containers, Api and VirtualMachines default to Free when not listed. */
  pricings?: Record<string, EstatePricing>;
}

export interface EstatePricingExtension {
  name: string;
  isEnabled: string;
  additionalExtensionProperties?: Record<string, unknown>;
}

export interface EstatePricing {
  pricingTier: string;
  subPlan?: string;
  /** When the plan became Standard (ISO 8601); set by the simulator when absent. */
  enablementTime?: string;
  extensions?: EstatePricingExtension[];
}

export interface ArmResource {
  id: string;
  name: string;
  type: string;
  location?: string | null;
  sku?: Record<string, unknown> | null;
  /** ARM writes null for a resource without tags (and exported inventories keep it). */
  tags?: Record<string, string> | null;
  properties?: Record<string, unknown> | null;
  [k: string]: unknown;
}

export class EstateError extends Error {
  override readonly name = "EstateError";
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TOP_LEVEL_KEYS = new Set(["subscriptions", "resources", "capacity", "logs", "now", "faults"]);
/** The fields each kind of fault takes, after `kind`, `method`, `path`, `pathRegex` and `times`. */
const FAULT_FIELDS: Readonly<Record<FaultKind, readonly string[]>> = {
  status: ["status", "code", "message", "retryAfterSeconds"],
  "drop-connection": [],
  "lro-failed": ["code", "message"],
  "lro-stuck": [],
  hang: [],
};
const FAULT_TARGET_FIELDS = ["kind", "method", "path", "pathRegex", "times"] as const;
const FAULT_METHODS = ["GET", "PUT", "PATCH", "POST", "DELETE"] as const;
/** An ISO 8601 date-time with its zone (a time without one would depend on the machine's). */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;
const LOG_ROW_KEYS = new Set(["receivedAt", "row"]);
/** A data collection rule's custom stream name (sim/logs.ts declares streams the same way). */
const STREAM_NAME = /^Custom-[A-Za-z0-9_]+$/;
const SUBSCRIPTION_KEYS = new Set(["subscriptionId", "displayName", "state", "tenantId", "pricings"]);
const PRICING_KEYS = new Set(["pricingTier", "subPlan", "enablementTime", "extensions"]);
const EXTENSION_KEYS = new Set(["name", "isEnabled", "additionalExtensionProperties"]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (typeof value === "object") return "an object";
  if (typeof value === "number" || typeof value === "boolean") return `the ${typeof value} ${String(value)}`;
  return `a ${typeof value}`;
}

/** `a.b`, `a[3]`, or `a["odd key"]` for keys that are not identifiers. */
function member(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/**
 * The full type of an ARM id ("Microsoft.ApiManagement/service/apis", "Microsoft.Resources/resourceGroups"),
 * or undefined when the id is not shaped like a resource id below a subscription.
 */
export function typeOfResourceId(id: string): string | undefined {
  const segments = id.split("/");
  if (segments[0] !== "" || segments[1]?.toLowerCase() !== "subscriptions") return undefined;
  if (segments.slice(1).some((s) => s.length === 0)) return undefined;
  if (segments.length === 3) return "Microsoft.Resources/subscriptions";
  if (segments.length === 5 && segments[3]?.toLowerCase() === "resourcegroups") {
    return "Microsoft.Resources/resourceGroups";
  }
  // Extension resources nest a provider section below another resource: the last one decides.
  let providerIndex = -1;
  for (let i = 3; i < segments.length; i += 1) {
    if (segments[i]?.toLowerCase() === "providers" && (i - 3) % 2 === 0) providerIndex = i;
  }
  if (providerIndex < 0) return undefined;
  const namespace = segments[providerIndex + 1];
  const pairs = segments.slice(providerIndex + 2);
  if (namespace === undefined || pairs.length === 0 || pairs.length % 2 !== 0) return undefined;
  return [namespace, ...pairs.filter((_, i) => i % 2 === 0)].join("/");
}

class Parser {
  constructor(private readonly source: string) {}

  fail(path: string, problem: string): never {
    throw new EstateError(`${this.source}: ${path} ${problem}`);
  }

  string(parent: Record<string, unknown>, key: string, path: string, required: true): string;
  string(parent: Record<string, unknown>, key: string, path: string, required: false): string | undefined;
  string(parent: Record<string, unknown>, key: string, path: string, required: boolean): string | undefined {
    const at = member(path, key);
    const value = parent[key];
    if (value === undefined) {
      if (required) this.fail(at, "is missing");
      return undefined;
    }
    if (typeof value !== "string") this.fail(at, `must be a string, not ${describe(value)}`);
    if (value.trim().length === 0) this.fail(at, "must not be empty");
    return value;
  }

  /** An optional string of an ARM resource, where ARM may also write null. */
  armString(parent: Record<string, unknown>, key: string, path: string): string | undefined {
    return parent[key] === null ? undefined : this.string(parent, key, path, false);
  }

  record(value: unknown, at: string): Record<string, unknown> {
    if (!isRecord(value)) this.fail(at, `must be an object, not ${describe(value)}`);
    return value;
  }

  onlyKeys(value: Record<string, unknown>, allowed: Set<string>, at: string): void {
    for (const key of Object.keys(value)) {
      if (!allowed.has(key)) {
        this.fail(member(at, key), `is not a known field (expected one of: ${[...allowed].join(", ")})`);
      }
    }
  }

  estate(json: unknown): Estate {
    if (!isRecord(json)) {
      throw new EstateError(`${this.source}: the estate must be a JSON object, not ${describe(json)}`);
    }
    for (const key of Object.keys(json)) {
      if (!TOP_LEVEL_KEYS.has(key)) {
        throw new EstateError(
          `${this.source}: unknown top-level key ${JSON.stringify(key)} (expected ${[...TOP_LEVEL_KEYS].join(", ")})`,
        );
      }
    }
    if (json.subscriptions === undefined) this.fail("subscriptions", "is missing");
    if (!Array.isArray(json.subscriptions)) {
      this.fail("subscriptions", `must be an array, not ${describe(json.subscriptions)}`);
    }
    const subscriptions = json.subscriptions.map((s: unknown, i) =>
      this.subscription(s, `subscriptions[${i}]`),
    );
    const seen = new Map<string, number>();
    subscriptions.forEach((s, i) => {
      const key = s.subscriptionId.toLowerCase();
      const first = seen.get(key);
      if (first !== undefined) {
        this.fail(
          `subscriptions[${i}].subscriptionId`,
          `repeats subscriptions[${first}] ('${s.subscriptionId}')`,
        );
      }
      seen.set(key, i);
    });

    const rawResources = json.resources ?? [];
    if (!Array.isArray(rawResources))
      this.fail("resources", `must be an array, not ${describe(rawResources)}`);
    const ids = new Map<string, number>();
    const resources = rawResources.map((r: unknown, i) => {
      const resource = this.resource(r, `resources[${i}]`, seen);
      const key = resource.id.toLowerCase();
      const first = ids.get(key);
      if (first !== undefined)
        this.fail(`resources[${i}].id`, `repeats resources[${first}].id ('${resource.id}')`);
      ids.set(key, i);
      return resource;
    });
    this.parents(resources);

    const estate: Estate = { subscriptions, resources };
    if (json.capacity !== undefined) estate.capacity = this.capacity(json.capacity);
    if (json.logs !== undefined) estate.logs = this.logs(json.logs);
    if (json.now !== undefined) estate.now = this.now(json.now);
    if (json.faults !== undefined) {
      if (!Array.isArray(json.faults)) this.fail("faults", `must be an array, not ${describe(json.faults)}`);
      estate.faults = json.faults.map((f: unknown, i) => this.fault(f, `faults[${i}]`));
    }
    return estate;
  }

  now(value: unknown): string {
    if (typeof value !== "string" || !ISO_DATE_TIME.test(value.trim()) || Number.isNaN(Date.parse(value))) {
      this.fail(
        "now",
        `must be an ISO 8601 date-time with a zone, such as "2026-03-01T09:00:00Z", not ${describe(value)}`,
      );
    }
    return value.trim();
  }

  /** One fault: the fields its kind takes, one way of naming its path, values `injectFault` accepts. */
  fault(value: unknown, at: string): EstateFault {
    const raw = this.record(value, at);
    const kind = this.string(raw, "kind", at, true);
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) {
      this.fail(`${at}.kind`, `must be one of ${FAULT_KINDS.join(", ")}, not "${kind}"`);
    }
    const fields = [...FAULT_TARGET_FIELDS, ...FAULT_FIELDS[kind as FaultKind]];
    for (const key of Object.keys(raw)) {
      if (!fields.includes(key)) {
        this.fail(
          member(at, key),
          `is not a field of a "${kind}" fault (expected one of: ${fields.join(", ")})`,
        );
      }
    }
    const method = this.string(raw, "method", at, false);
    if (method !== undefined && !(FAULT_METHODS as readonly string[]).includes(method.toUpperCase())) {
      this.fail(`${at}.method`, `must be one of ${FAULT_METHODS.join(", ")}, not "${method}"`);
    }
    const path = this.string(raw, "path", at, false);
    const pathRegex = this.string(raw, "pathRegex", at, false);
    if (path === undefined && pathRegex === undefined) {
      this.fail(at, "needs path (the whole path) or pathRegex (a regular expression)");
    }
    if (path !== undefined && pathRegex !== undefined) {
      this.fail(at, "has both path and pathRegex: give one");
    }
    if (path !== undefined && !path.startsWith("/")) {
      this.fail(`${at}.path`, `must start with "/", not "${path}"`);
    }
    const regexProblem = pathRegex === undefined ? undefined : invalidRegex(pathRegex);
    if (regexProblem !== undefined) {
      this.fail(`${at}.pathRegex`, `is not a valid JavaScript regular expression (${regexProblem})`);
    }
    const times = raw.times;
    if (times !== undefined && (typeof times !== "number" || !Number.isInteger(times) || times < 1)) {
      this.fail(`${at}.times`, `must be a whole number, 1 or more, not ${describe(times)}`);
    }
    if (kind === "status") {
      const status = raw.status;
      if (status === undefined) this.fail(`${at}.status`, "is missing");
      if (typeof status !== "number" || !Number.isInteger(status) || status < 400 || status > 599) {
        this.fail(`${at}.status`, `must be an HTTP error status from 400 to 599, not ${describe(status)}`);
      }
      this.string(raw, "code", at, true);
      const retryAfter = raw.retryAfterSeconds;
      if (
        retryAfter !== undefined &&
        (typeof retryAfter !== "number" || !Number.isFinite(retryAfter) || retryAfter < 0)
      ) {
        this.fail(
          `${at}.retryAfterSeconds`,
          `must be a number of seconds, 0 or more, not ${describe(retryAfter)}`,
        );
      }
    }
    if (kind === "lro-failed") this.string(raw, "code", at, false);
    if (kind === "status" || kind === "lro-failed") {
      if (raw.message !== undefined && typeof raw.message !== "string") {
        this.fail(`${at}.message`, `must be a string, not ${describe(raw.message)}`);
      }
    }
    return structuredClone(raw) as EstateFault;
  }

  /** `logs`: stream name → rows, each `{ receivedAt, row }` (the columns are checked at start, against the rule). */
  logs(value: unknown): Record<string, EstateLogRow[]> {
    const raw = this.record(value, "logs");
    const result: Record<string, EstateLogRow[]> = {};
    for (const [stream, rows] of Object.entries(raw)) {
      const at = member("logs", stream);
      if (!STREAM_NAME.test(stream)) {
        this.fail(at, "is not a custom stream name (Custom- and letters, digits, _)");
      }
      if (!Array.isArray(rows)) this.fail(at, `must be an array, not ${describe(rows)}`);
      result[stream] = rows.map((entry: unknown, i) => {
        const where = `${at}[${String(i)}]`;
        const logRow = this.record(entry, where);
        this.onlyKeys(logRow, LOG_ROW_KEYS, where);
        const receivedAt = this.string(logRow, "receivedAt", where, true);
        if (Number.isNaN(Date.parse(receivedAt))) {
          this.fail(`${where}.receivedAt`, `must be an ISO 8601 date-time, not "${receivedAt}"`);
        }
        if (logRow.row === undefined) this.fail(`${where}.row`, "is missing");
        return { receivedAt, row: structuredClone(this.record(logRow.row, `${where}.row`)) };
      });
    }
    return result;
  }

  subscription(value: unknown, at: string): EstateSubscription {
    const raw = this.record(value, at);
    this.onlyKeys(raw, SUBSCRIPTION_KEYS, at);
    const subscriptionId = this.string(raw, "subscriptionId", at, true);
    if (!GUID.test(subscriptionId)) this.fail(`${at}.subscriptionId`, `'${subscriptionId}' is not a GUID`);
    const result: EstateSubscription = { subscriptionId };
    const displayName = this.string(raw, "displayName", at, false);
    if (displayName !== undefined) result.displayName = displayName;
    const state = this.string(raw, "state", at, false);
    if (state !== undefined) result.state = state;
    const tenantId = this.string(raw, "tenantId", at, false);
    if (tenantId !== undefined) result.tenantId = tenantId;
    if (raw.pricings !== undefined) {
      const pricings = this.record(raw.pricings, `${at}.pricings`);
      const names = new Map<string, string>();
      result.pricings = {};
      for (const [name, pricing] of Object.entries(pricings)) {
        const previous = names.get(name.toLowerCase());
        if (previous !== undefined) {
          this.fail(
            member(`${at}.pricings`, name),
            `repeats ${member(`${at}.pricings`, previous)} (names ignore case)`,
          );
        }
        names.set(name.toLowerCase(), name);
        result.pricings[name] = this.pricing(pricing, member(`${at}.pricings`, name));
      }
    }
    return result;
  }

  pricing(value: unknown, at: string): EstatePricing {
    const raw = this.record(value, at);
    this.onlyKeys(raw, PRICING_KEYS, at);
    const tier = this.string(raw, "pricingTier", at, true);
    const pricingTier = normalizeTier(tier);
    if (pricingTier === undefined)
      this.fail(`${at}.pricingTier`, `must be "Free" or "Standard", not "${tier}"`);
    const result: EstatePricing = { pricingTier };
    const subPlan = this.string(raw, "subPlan", at, false);
    if (subPlan !== undefined) result.subPlan = subPlan;
    const enablementTime = this.string(raw, "enablementTime", at, false);
    if (enablementTime !== undefined) {
      if (Number.isNaN(Date.parse(enablementTime))) {
        this.fail(`${at}.enablementTime`, `must be an ISO 8601 date-time, not "${enablementTime}"`);
      }
      result.enablementTime = enablementTime;
    }
    if (raw.extensions !== undefined) {
      if (!Array.isArray(raw.extensions)) {
        this.fail(`${at}.extensions`, `must be an array, not ${describe(raw.extensions)}`);
      }
      result.extensions = raw.extensions.map((e: unknown, i) => this.extension(e, `${at}.extensions[${i}]`));
    }
    return result;
  }

  extension(value: unknown, at: string): EstatePricingExtension {
    const raw = this.record(value, at);
    this.onlyKeys(raw, EXTENSION_KEYS, at);
    const name = this.string(raw, "name", at, true);
    if (raw.isEnabled === undefined) this.fail(`${at}.isEnabled`, "is missing");
    const isEnabled = normalizeIsEnabled(raw.isEnabled);
    if (isEnabled === undefined) {
      this.fail(`${at}.isEnabled`, `must be the string "True" or "False", not ${describe(raw.isEnabled)}`);
    }
    const result: EstatePricingExtension = { name, isEnabled };
    if (raw.additionalExtensionProperties !== undefined) {
      result.additionalExtensionProperties = this.record(
        raw.additionalExtensionProperties,
        `${at}.additionalExtensionProperties`,
      );
    }
    return result;
  }

  resource(value: unknown, at: string, subscriptions: Map<string, number>): ArmResource {
    const raw = this.record(value, at);
    const id = this.string(raw, "id", at, true);
    const name = this.string(raw, "name", at, true);
    const type = this.string(raw, "type", at, true);
    const idType = typeOfResourceId(id);
    if (idType === undefined) {
      this.fail(
        `${at}.id`,
        `'${id}' is not an ARM resource id ('/subscriptions/{s}/resourceGroups/{rg}/providers/{namespace}/{type}/{name}')`,
      );
    }
    const subscriptionId = id.split("/")[2] ?? "";
    if (!subscriptions.has(subscriptionId.toLowerCase())) {
      this.fail(`${at}.id`, `names subscription '${subscriptionId}', which is not listed in subscriptions`);
    }
    if (idType.toLowerCase() === "microsoft.resources/subscriptions") {
      this.fail(`${at}.id`, `'${id}' is a subscription; list it in subscriptions instead`);
    }
    if (idType.toLowerCase() !== type.toLowerCase()) {
      this.fail(`${at}.type`, `'${type}' does not match its id, which is of type '${idType}'`);
    }
    const lastSegment = id.split("/").at(-1) ?? "";
    if (lastSegment.toLowerCase() !== name.toLowerCase()) {
      this.fail(`${at}.name`, `'${name}' does not match the last segment of its id ('${lastSegment}')`);
    }
    // ARM and exported inventories write null for what a resource does not have.
    this.armString(raw, "location", at);
    for (const key of ["sku", "properties"]) {
      if (raw[key] !== undefined && raw[key] !== null) this.record(raw[key], member(at, key));
    }
    if (raw.tags !== undefined && raw.tags !== null) {
      const tags = this.record(raw.tags, `${at}.tags`);
      for (const [tag, tagValue] of Object.entries(tags)) {
        if (typeof tagValue !== "string") {
          this.fail(member(`${at}.tags`, tag), `must be a string, not ${describe(tagValue)}`);
        }
      }
    }
    this.typeSpecific(raw, type, at);
    return structuredClone(raw) as ArmResource;
  }

  /** API Management and Defender for APIs resources: the fields the simulator serves from. */
  typeSpecific(raw: Record<string, unknown>, type: string, at: string): void {
    const lower = type.toLowerCase();
    const props = isRecord(raw.properties) ? raw.properties : {};
    if (lower === APIM_SERVICE_TYPE.toLowerCase()) {
      this.string(raw, "location", at, true);
      if (raw.sku === undefined)
        this.fail(`${at}.sku`, `is missing (an APIM service has a tier: ${APIM_TIERS.join(", ")})`);
      const sku = this.record(raw.sku, `${at}.sku`);
      const name = this.string(sku, "name", `${at}.sku`, true);
      if (!APIM_TIERS.some((t) => t.toLowerCase() === name.toLowerCase())) {
        this.fail(`${at}.sku.name`, `must be one of ${APIM_TIERS.join(", ")}, not "${name}"`);
      }
      const capacity = sku.capacity;
      if (
        capacity !== undefined &&
        (typeof capacity !== "number" || !Number.isInteger(capacity) || capacity < 0)
      ) {
        this.fail(
          `${at}.sku.capacity`,
          `must be a whole number of units, 0 or more, not ${describe(capacity)}`,
        );
      }
      const additional = props.additionalLocations;
      if (additional !== undefined && additional !== null) {
        if (!Array.isArray(additional)) {
          this.fail(`${at}.properties.additionalLocations`, `must be an array, not ${describe(additional)}`);
        }
        additional.forEach((entry: unknown, i) => {
          const where = `${at}.properties.additionalLocations[${i}]`;
          this.string(this.record(entry, where), "location", where, true);
        });
      }
    }
    if (
      lower === APIM_API_TYPE.toLowerCase() ||
      lower === APIM_GATEWAY_API_TYPE.toLowerCase() ||
      lower === APIM_WORKSPACE_API_TYPE.toLowerCase()
    ) {
      const where = `${at}.properties`;
      const apiType = this.armString(props, "type", where);
      const createType = this.armString(props, "apiType", where);
      for (const [key, value] of [
        ["type", apiType],
        ["apiType", createType],
      ] as const) {
        if (value !== undefined && !(API_TYPES as readonly string[]).includes(value.toLowerCase())) {
          this.fail(`${where}.${key}`, `must be one of ${API_TYPES.join(", ")}, not "${value}"`);
        }
      }
      if (
        apiType !== undefined &&
        createType !== undefined &&
        apiType.toLowerCase() !== createType.toLowerCase()
      ) {
        this.fail(`${where}.apiType`, `"${createType}" contradicts ${where}.type "${apiType}"`);
      }
      if (props.isCurrent !== undefined && props.isCurrent !== null && typeof props.isCurrent !== "boolean") {
        this.fail(`${where}.isCurrent`, `must be true or false, not ${describe(props.isCurrent)}`);
      }
      this.armString(props, "displayName", where);
      if (props.path !== undefined && props.path !== null && typeof props.path !== "string") {
        this.fail(`${where}.path`, `must be a string, not ${describe(props.path)}`);
      }
    }
    if (lower === API_COLLECTION_TYPE.toLowerCase()) {
      this.armString(props, "provisioningState", `${at}.properties`);
    }
    checkArcResource(raw, type, at, (path, problem) => this.fail(path, problem));
    if (lower === ASSESSMENT_TYPE.toLowerCase()) {
      checkAssessment(raw, at, (path, problem) => this.fail(path, problem));
    }
  }

  /** API Management children and API collections need their parent in the estate. */
  parents(resources: readonly ArmResource[]): void {
    const types = new Map(resources.map((r) => [r.id.toLowerCase(), r.type.toLowerCase()]));
    const ids = new Set(types.keys());
    resources.forEach((resource, i) => {
      const arcProblem = arcParentProblem(resource, types);
      if (arcProblem !== undefined) this.fail(`resources[${i}].id`, arcProblem);
      const assessed = assessmentParentProblem(resource, ids);
      if (assessed !== undefined) this.fail(`resources[${i}].id`, assessed);
      const parentId = parentIdOf(resource.id, resource.type);
      const parentType = parentTypeOf(resource.type);
      if (parentId === undefined || parentType === undefined) return;
      const found = types.get(parentId.toLowerCase());
      if (found !== parentType.toLowerCase()) {
        this.fail(
          `resources[${i}].id`,
          `needs its parent '${parentId}' (${parentType}) in resources` +
            (found === undefined ? ", which does not list it" : `, where it has type '${found}'`),
        );
      }
      if (resource.type.toLowerCase() === APIM_GATEWAY_API_TYPE.toLowerCase()) {
        // A gateway's API link names an API of the same service.
        const serviceId = parentId.split("/").slice(0, -2).join("/");
        const apiId = `${serviceId}/apis/${resource.name}`;
        if (types.get(apiId.toLowerCase()) !== APIM_API_TYPE.toLowerCase()) {
          this.fail(`resources[${i}].id`, `links API '${apiId}', which is not in resources`);
        }
      }
    });
  }

  capacity(value: unknown): Record<string, { base: number; perApi: number }> {
    const raw = this.record(value, "capacity");
    const result: Record<string, { base: number; perApi: number }> = {};
    for (const [id, entry] of Object.entries(raw)) {
      const at = member("capacity", id);
      const model = this.record(entry, at);
      this.onlyKeys(model, new Set(["base", "perApi"]), at);
      const numbers: number[] = [];
      for (const key of ["base", "perApi"]) {
        const n = model[key];
        if (n === undefined) this.fail(`${at}.${key}`, "is missing");
        if (typeof n !== "number" || !Number.isFinite(n) || n < 0) {
          this.fail(`${at}.${key}`, `must be a number of percent, 0 or more, not ${describe(n)}`);
        }
        numbers.push(n);
      }
      result[id] = { base: numbers[0] ?? 0, perApi: numbers[1] ?? 0 };
    }
    return result;
  }
}

/** Why `source` is not a regular expression, or undefined when it is one. */
export function invalidRegex(source: string): string | undefined {
  try {
    new RegExp(source, "i");
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

export function normalizeTier(tier: string): "Free" | "Standard" | undefined {
  const lower = tier.toLowerCase();
  if (lower === "free") return "Free";
  if (lower === "standard") return "Standard";
  return undefined;
}

export function normalizeIsEnabled(value: unknown): "True" | "False" | undefined {
  if (typeof value !== "string") return undefined;
  const lower = value.toLowerCase();
  if (lower === "true") return "True";
  if (lower === "false") return "False";
  return undefined;
}

/** Validates an estate (already parsed JSON) and returns a normalised deep copy. `source` prefixes messages. */
export function parseEstate(json: unknown, source: string): Estate {
  return new Parser(source).estate(json);
}

export async function loadEstateFile(path: string): Promise<Estate> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new EstateError(`${path}: cannot read file (${code})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new EstateError(`${path}: not valid JSON (${(error as Error).message})`);
  }
  return parseEstate(json, path);
}

/** Pretty JSON, written to a temporary file beside the target and renamed over it. */
export async function saveEstateFile(path: string, estate: Estate): Promise<void> {
  const temporary = `${path}.${process.pid.toString()}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeFile(temporary, `${JSON.stringify(estate, null, 2)}\n`, "utf8");
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}
