import type { TableEntity, TableEntityResult } from "@azure/data-tables";
import { isRestError } from "@azure/core-rest-pipeline";
import {
  RolloutConflictError,
  RolloutStateCorruptError,
  parseRolloutState,
  rolloutKey,
  rolloutKeyHash,
  type RolloutStateStore,
  type StoredRollout,
} from "../rollout/state-store.js";
import type { RolloutState } from "../rollout/types.js";
import { createTableOnce, tableClientFor, type TableOptions } from "./tables.js";

/** Kept for callers that name the options by the store they first served. */
export type TableStateStoreOptions = TableOptions;

export const DEFAULT_ROLLOUT_TABLE = "AutoprotectRollouts";

/**
 * Table entity per service: PartitionKey = subscription id (lower case), RowKey = SHA-256 of the lower-cased
 * service id (keys cannot hold `/`), `ServiceId` = the id as written, `State` = the RolloutState as JSON.
 * A string property holds at most 64 KiB (32K UTF-16 characters), so a long state continues in `State1`,
 * `State2`, ... (`StateParts` says how many): `rolledBack` can list many API names.
 */
const FORMAT = 1;
const PART_CHARS = 30_000;
/** An entity holds at most 1 MiB and 255 properties. */
const MAX_PARTS = 16;

type RolloutEntity = Record<string, string | number>;

export function createTableStateStore(options: TableStateStoreOptions): RolloutStateStore {
  const client = tableClientFor(options, DEFAULT_ROLLOUT_TABLE);
  const ensureTable = createTableOnce(client);

  const where = (partitionKey: string, rowKey: string): string =>
    `entity ${partitionKey}/${rowKey} in table ${client.tableName}`;

  function toStored(entity: TableEntityResult<Record<string, unknown>>): StoredRollout {
    const partitionKey = entity.partitionKey ?? "?";
    const rowKey = entity.rowKey ?? "?";
    const location = where(partitionKey, rowKey);
    if (entity.Format !== FORMAT) {
      throw new RolloutStateCorruptError(location, `unknown format ${String(entity.Format)}`);
    }
    const parts = entity.StateParts ?? 1;
    if (typeof parts !== "number" || !Number.isInteger(parts) || parts < 1 || parts > MAX_PARTS) {
      throw new RolloutStateCorruptError(location, "StateParts is not a valid count");
    }
    let json = "";
    for (let i = 0; i < parts; i++) {
      const part = entity[i === 0 ? "State" : `State${i}`];
      if (typeof part !== "string")
        throw new RolloutStateCorruptError(location, `State part ${i} is missing`);
      json += part;
    }
    const state = parseRolloutState(json, location);
    if (rolloutKeyHash(state.serviceId) !== rowKey) {
      throw new RolloutStateCorruptError(location, `holds the state of ${state.serviceId}, another service`);
    }
    return { state, version: entity.etag };
  }

  function toEntity(state: RolloutState): TableEntity<RolloutEntity> {
    const json = JSON.stringify(state);
    const parts = Math.max(1, Math.ceil(json.length / PART_CHARS));
    if (parts > MAX_PARTS) {
      throw new Error(
        `rollout state of ${state.serviceId} is ${json.length} characters, more than a table entity holds`,
      );
    }
    const entity: TableEntity<RolloutEntity> = {
      partitionKey: partitionKeyOf(state.serviceId),
      rowKey: rolloutKeyHash(state.serviceId),
      Format: FORMAT,
      ServiceId: state.serviceId,
      StateParts: parts,
    };
    for (let i = 0; i < parts; i++) {
      entity[i === 0 ? "State" : `State${i}`] = json.slice(i * PART_CHARS, (i + 1) * PART_CHARS);
    }
    return entity;
  }

  return {
    async get(serviceId) {
      await ensureTable();
      try {
        const entity = await client.getEntity(partitionKeyOf(serviceId), rolloutKeyHash(serviceId));
        return toStored(entity);
      } catch (error) {
        if (isRestError(error) && error.statusCode === 404) return undefined;
        throw error;
      }
    },

    async put(state, expectedVersion) {
      if (rolloutKey(state.serviceId) === "") throw new TypeError("a rollout state needs a serviceId");
      await ensureTable();
      const entity = toEntity(state);
      try {
        const response =
          expectedVersion === undefined
            ? await client.createEntity(entity)
            : await client.updateEntity(entity, "Replace", { etag: expectedVersion });
        if (response.etag === undefined) {
          throw new Error(`table ${client.tableName} answered a write of ${state.serviceId} without an ETag`);
        }
        return response.etag;
      } catch (error) {
        if (isRestError(error)) {
          // 409 on create: it exists. 412: the ETag moved on. 404 on update: the version named is gone.
          if (
            (expectedVersion === undefined && error.statusCode === 409) ||
            (expectedVersion !== undefined && (error.statusCode === 412 || error.statusCode === 404))
          ) {
            throw new RolloutConflictError(
              expectedVersion === undefined
                ? `rollout state of ${state.serviceId} already exists`
                : `rollout state of ${state.serviceId} is no longer at version ${expectedVersion}`,
              { cause: error },
            );
          }
        }
        throw error;
      }
    },

    async list() {
      await ensureTable();
      const stored: StoredRollout[] = [];
      for await (const entity of client.listEntities()) {
        stored.push(toStored(entity));
      }
      return stored;
    },
  };
}

/** The subscription id of an ARM id, lower case; ids without one share the partition "_". */
function partitionKeyOf(serviceId: string): string {
  const match = /^\/subscriptions\/([0-9a-z-]{1,64})(\/|$)/.exec(rolloutKey(serviceId));
  return match?.[1] ?? "_";
}
