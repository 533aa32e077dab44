import { createHash } from "node:crypto";
import {
  ROLLOUT_SCHEMA_VERSION,
  type FailureStreak,
  type PendingRollback,
  type RolloutLook,
  type RolloutPause,
  type RolloutState,
  type StepRecord,
} from "./types.js";

/** One service's rollout state as stored, with the version a compare-and-swap must name. */
export interface StoredRollout {
  readonly state: RolloutState;
  /** Opaque: the table entity's ETag, or the file's revision. Compare only for equality. */
  readonly version: string;
}

/** Someone else wrote first: the stored version is not the one the writer read. Re-read and decide again. */
export class RolloutConflictError extends Error {
  override readonly name = "RolloutConflictError";
}

/**
 * The stored state cannot be read or understood. Never treated as "no state": starting over would forget
 * the last batch (what a rollback offboards), a rollback still owed and the pacing. `location` names the
 * file or table entity; the message ends with what a person can do about it, on the same line.
 */
export class RolloutStateCorruptError extends Error {
  override readonly name = "RolloutStateCorruptError";
  constructor(
    readonly location: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(
      `rollout state ${location} is unreadable: ${reason}; to repair, correct that field or delete the ` +
        `record to start this service's rollout over (onboarded APIs stay onboarded; check first that no ` +
        `rollback was owed)`,
      options,
    );
  }
}

/**
 * Durable rollout progress, one record per APIM service. Service ids are ARM ids and compare
 * case-insensitively: `get("/subscriptions/ABC/...")` finds what `put` stored under "/subscriptions/abc/...".
 */
export interface RolloutStateStore {
  get(serviceId: string): Promise<StoredRollout | undefined>;
  /**
   * Compare-and-swap: `expectedVersion` undefined = create only if absent. Returns the new version; throws
   * RolloutConflictError when the stored version differs (or the record exists on create, or is gone on update).
   */
  put(state: RolloutState, expectedVersion: string | undefined): Promise<string>;
  /** Every stored rollout, for sweeps that continue them (which ones are unfinished is the caller's call). */
  list(): Promise<StoredRollout[]>;
}

/** The case-insensitive identity of a service id. */
export function rolloutKey(serviceId: string): string {
  return serviceId.trim().toLowerCase();
}

/** A SHA-256 (hex) of the case-insensitive key: safe as a file name and as a Table Storage RowKey. */
export function rolloutKeyHash(serviceId: string): string {
  return createHash("sha256").update(rolloutKey(serviceId), "utf8").digest("hex");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** What a field must be, and how to say so when it is not. */
interface Kind<T> {
  readonly what: string;
  readonly test: (value: unknown) => value is T;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

const time: Kind<string> = {
  what: "an ISO 8601 time",
  test: (v): v is string => typeof v === "string" && ISO_TIME.test(v) && !Number.isNaN(Date.parse(v)),
};
const count: Kind<number> = {
  what: "a non-negative integer",
  test: (v): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0,
};
const positive: Kind<number> = {
  what: "a positive integer",
  test: (v): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 1,
};
const percent: Kind<number> = {
  what: "a number from 0 to 100",
  test: (v): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= 100,
};
const names: Kind<string[]> = {
  what: "a list of API names",
  test: (v): v is string[] => Array.isArray(v) && v.every((item) => typeof item === "string" && item !== ""),
};
const codes: Kind<string[]> = {
  what: "a list of error codes",
  test: (v): v is string[] => Array.isArray(v) && v.every((item) => typeof item === "string"),
};
const text: Kind<string> = { what: "a string", test: (v): v is string => typeof v === "string" };
const object: Kind<Record<string, unknown>> = { what: "an object", test: isRecord };
const judgement: Kind<"failed" | "measured"> = {
  what: '"failed" or "measured"',
  test: (v): v is "failed" | "measured" => v === "failed" || v === "measured",
};

/** Reads typed fields out of one parsed object, failing with the field's path and what was found. */
function fieldsOf(record: Record<string, unknown>, path: string, fail: (reason: string) => never) {
  const required = <T>(key: string, kind: Kind<T>): T => {
    const value = record[key];
    if (!kind.test(value)) {
      const found = value === undefined ? "missing" : `found ${JSON.stringify(value).slice(0, 60)}`;
      return fail(`${path}${key} is not ${kind.what} (${found})`);
    }
    return value;
  };
  const optional = <T>(key: string, kind: Kind<T>): T | undefined =>
    record[key] === undefined ? undefined : required(key, kind);
  return { required, optional };
}

function readStep(value: Record<string, unknown>, fail: (reason: string) => never): StepRecord {
  const { required, optional } = fieldsOf(value, "lastStep.", fail);
  const applied = optional("applied", object);
  const appliedFields = applied === undefined ? undefined : fieldsOf(applied, "lastStep.applied.", fail);
  return {
    at: required("at", time),
    batch: required("batch", names),
    readingBefore: required("readingBefore", percent),
    ...defined("onboardedBefore", optional("onboardedBefore", count)),
    ...(appliedFields === undefined
      ? {}
      : {
          applied: { at: appliedFields.required("at", time), codes: appliedFields.required("codes", codes) },
        }),
    ...defined("settledAt", optional("settledAt", time)),
    ...defined("judged", optional("judged", judgement)),
  };
}

function readRollback(value: Record<string, unknown>, fail: (reason: string) => never): PendingRollback {
  const { required, optional } = fieldsOf(value, "rollback.", fail);
  return {
    since: required("since", time),
    apis: required("apis", names),
    reason: required("reason", text),
    codes: required("codes", codes),
    ...defined("doneAt", optional("doneAt", time)),
  };
}

function readFailures(value: Record<string, unknown>, fail: (reason: string) => never): FailureStreak {
  const { required } = fieldsOf(value, "failures.", fail);
  return {
    steps: required("steps", positive),
    since: required("since", time),
    lastAt: required("lastAt", time),
    codes: required("codes", codes),
  };
}

function readInProgressSince(
  value: Record<string, unknown>,
  fail: (reason: string) => never,
): Record<string, string> {
  const { required } = fieldsOf(value, "inProgressSince.", fail);
  return Object.fromEntries(Object.keys(value).map((name) => [name, required(name, time)]));
}

function readPause(value: Record<string, unknown>, fail: (reason: string) => never): RolloutPause {
  const { required, optional } = fieldsOf(value, "paused.", fail);
  return {
    since: required("since", time),
    by: required("by", text),
    ...defined("note", optional("note", text)),
  };
}

function readLook(value: Record<string, unknown>, fail: (reason: string) => never): RolloutLook {
  const { required, optional } = fieldsOf(value, "lastLook.", fail);
  return {
    at: required("at", time),
    decision: required("decision", text),
    metric: required("metric", text),
    ...defined("percent", optional("percent", percent)),
    onboarded: required("onboarded", count),
    pending: required("pending", count),
    inProgress: required("inProgress", count),
    ...defined("nextLookAt", optional("nextLookAt", time)),
  };
}

/** `{ key: value }` when the value is defined, else nothing: optional fields stay absent, never `undefined`. */
function defined<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/**
 * Schema versions 2 and 3, field by field: a bad date or number is named, never read as "no value".
 * Version 2 had no pause and no last look (it is upgraded without them).
 */
function readCurrent(
  s: Record<string, unknown>,
  fail: (reason: string) => never,
  version: 2 | 3,
): RolloutState {
  const { required, optional } = fieldsOf(s, "", fail);
  const serviceId = required("serviceId", text);
  if (serviceId === "") fail("serviceId is empty");
  const lastStep = optional("lastStep", object);
  const rollback = optional("rollback", object);
  const failures = optional("failures", object);
  const perApiEstimate = optional("perApiEstimate", percent);
  return {
    schemaVersion: ROLLOUT_SCHEMA_VERSION,
    serviceId,
    batchSize: required("batchSize", positive),
    ...defined("perApiEstimate", perApiEstimate),
    steps: required("steps", count),
    rollbacks: required("rollbacks", count),
    rolledBack: required("rolledBack", names),
    ...defined("notBefore", optional("notBefore", time)),
    ...defined("waitingSince", optional("waitingSince", time)),
    ...defined("lastStep", lastStep === undefined ? undefined : readStep(lastStep, fail)),
    ...defined("rollback", rollback === undefined ? undefined : readRollback(rollback, fail)),
    ...defined("failures", failures === undefined ? undefined : readFailures(failures, fail)),
    inProgressSince: readInProgressSince(required("inProgressSince", object), fail),
    ...defined("lateFinishAt", optional("lateFinishAt", time)),
    ...(version < 3 ? {} : v3Fields(optional("paused", object), optional("lastLook", object), fail)),
  };
}

function v3Fields(
  paused: Record<string, unknown> | undefined,
  lastLook: Record<string, unknown> | undefined,
  fail: (reason: string) => never,
): Pick<RolloutState, "paused" | "lastLook"> {
  return {
    ...defined("paused", paused === undefined ? undefined : readPause(paused, fail)),
    ...defined("lastLook", lastLook === undefined ? undefined : readLook(lastLook, fail)),
  };
}

/**
 * Schema version 1 (no `schemaVersion`), upgraded: its last batch becomes a step applied when it was
 * taken (version 1 applied and measured within the same run), still to be measured if it was not.
 */
function readVersion1(s: Record<string, unknown>, fail: (reason: string) => never): RolloutState {
  const { required, optional } = fieldsOf(s, "", fail);
  const serviceId = required("serviceId", text);
  if (serviceId === "") fail("serviceId is empty");
  const batchSize = Math.max(1, required("batchSize", count));
  const steps = required("steps", count);
  const rollbacks = required("rollbacks", count);
  const lastBatch = required("lastBatch", names);
  const rolledBack = required("rolledBack", names);
  const lastStepAt = optional("lastStepAt", time);
  const readingBefore = optional("readingBeforeLastStep", percent);
  const lastStep: StepRecord | undefined =
    lastStepAt === undefined || lastBatch.length === 0
      ? undefined
      : {
          at: lastStepAt,
          batch: lastBatch,
          readingBefore: readingBefore ?? 0,
          applied: { at: lastStepAt, codes: [] },
          settledAt: lastStepAt,
          ...(readingBefore === undefined ? { judged: "measured" as const } : {}),
        };
  return {
    schemaVersion: ROLLOUT_SCHEMA_VERSION,
    serviceId,
    batchSize,
    ...defined("perApiEstimate", optional("perApiEstimate", percent)),
    steps,
    rollbacks,
    rolledBack,
    ...defined("notBefore", optional("notBefore", time)),
    ...defined("waitingSince", optional("waitingSince", time)),
    ...defined("lastStep", lastStep),
    inProgressSince: {},
  };
}

/** Checks a parsed value is a RolloutState (upgrading an older schema); `location` names where it came from. */
export function toRolloutState(value: unknown, location: string): RolloutState {
  const fail = (reason: string): never => {
    throw new RolloutStateCorruptError(location, reason);
  };
  if (!isRecord(value)) return fail("the state is not a JSON object");
  const version = value.schemaVersion;
  if (version === undefined) return readVersion1(value, fail);
  if (version === 2 || version === ROLLOUT_SCHEMA_VERSION) return readCurrent(value, fail, version);
  return fail(
    `schemaVersion ${JSON.stringify(version)} is not one this autoprotect knows (it writes ` +
      `${String(ROLLOUT_SCHEMA_VERSION)}; a newer version may have written it)`,
  );
}

/** Parses stored JSON text into a RolloutState, or throws RolloutStateCorruptError naming `location`. */
export function parseRolloutState(json: string, location: string): RolloutState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new RolloutStateCorruptError(location, `not valid JSON (${errorMessage(error)})`, { cause: error });
  }
  return toRolloutState(parsed, location);
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
