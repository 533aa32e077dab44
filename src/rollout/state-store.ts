import { createHash } from "node:crypto";
import type { RolloutState } from "./types.js";

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
 * the last batch (what a rollback offboards) and the pacing. `location` names the file or table entity.
 */
export class RolloutStateCorruptError extends Error {
  override readonly name = "RolloutStateCorruptError";
  constructor(
    readonly location: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`rollout state ${location} is unreadable: ${reason}`, options);
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

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

function optional(value: unknown, check: (v: unknown) => boolean): boolean {
  return value === undefined || check(value);
}

const isString = (v: unknown): boolean => typeof v === "string";
const isFiniteNumber = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v);

/** Checks a parsed value is a RolloutState; `location` names where it came from in the error. */
export function toRolloutState(value: unknown, location: string): RolloutState {
  const fail = (reason: string): never => {
    throw new RolloutStateCorruptError(location, reason);
  };
  if (!isRecord(value)) return fail("the state is not a JSON object");
  const s = value;
  if (typeof s.serviceId !== "string" || s.serviceId === "") fail("serviceId is missing");
  if (!isCount(s.batchSize)) fail("batchSize is not a non-negative integer");
  if (!isCount(s.steps)) fail("steps is not a non-negative integer");
  if (!isCount(s.rollbacks)) fail("rollbacks is not a non-negative integer");
  if (!isStringArray(s.lastBatch)) fail("lastBatch is not a list of API names");
  if (!isStringArray(s.rolledBack)) fail("rolledBack is not a list of API names");
  if (!optional(s.lastStepAt, isString)) fail("lastStepAt is not a string");
  if (!optional(s.waitingSince, isString)) fail("waitingSince is not a string");
  if (!optional(s.notBefore, isString)) fail("notBefore is not a string");
  if (!optional(s.readingBeforeLastStep, isFiniteNumber)) fail("readingBeforeLastStep is not a number");
  if (!optional(s.perApiEstimate, isFiniteNumber)) fail("perApiEstimate is not a number");
  return value as unknown as RolloutState;
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
