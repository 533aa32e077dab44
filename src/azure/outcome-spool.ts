import { randomUUID } from "node:crypto";
import { isRestError } from "@azure/core-rest-pipeline";
import type { OutcomeRecord } from "../model/outcome.js";
import type { CorruptEntry, OutcomeSpool, SpooledRow, SpoolLock } from "../outcomes/delivery.js";
import { withOutcomeId } from "../outcomes/record.js";
import { createTableOnce, tableClientFor, type TableOptions } from "./tables.js";

export const DEFAULT_SPOOL_TABLE = "AutoprotectOutcomeSpool";

/** A string property holds 32K UTF-16 characters; a row that needs more continues in Row1, Row2, … */
const PART_CHARS = 30_000;
const LOCK_SECONDS = 120;

/**
 * The Functions app's spool in Table Storage. Rows: PartitionKey "spool", RowKey = time of spooling
 * (zero-padded milliseconds) + a sequence + a random suffix, so a key-ordered scan is the spooling
 * order. Refused rows: PartitionKey "rejected". Entries whose Row is not a JSON object (damaged):
 * moved to PartitionKey "corrupt", with the problem. The drain lock: PartitionKey "lock", RowKey
 * "drain", with a lease that the drainer renews between batches and that expires, so a worker that
 * died mid-drain does not block the spool forever.
 */
export function createTableSpool(options: TableOptions): OutcomeSpool {
  const client = tableClientFor(options, DEFAULT_SPOOL_TABLE);
  const ensureTable = createTableOnce(client);
  let sequence = 0;
  const keyNow = (): string => {
    sequence = (sequence + 1) % 1_000_000;
    return `${String(Date.now()).padStart(15, "0")}-${String(sequence).padStart(6, "0")}-${randomUUID().slice(0, 8)}`;
  };
  const parts = (json: string): Record<string, string> => {
    const properties: Record<string, string> = {};
    for (let i = 0; i * PART_CHARS < json.length || i === 0; i += 1) {
      properties[i === 0 ? "Row" : `Row${String(i)}`] = json.slice(i * PART_CHARS, (i + 1) * PART_CHARS);
    }
    return properties;
  };
  const joinParts = (entity: Record<string, unknown>): string => {
    let json = "";
    for (let i = 0; ; i += 1) {
      const part = entity[i === 0 ? "Row" : `Row${String(i)}`];
      if (typeof part !== "string") return json;
      json += part;
    }
  };

  return {
    async append(rows) {
      if (rows.length === 0) return;
      await ensureTable();
      // Sequential: each key must sort after the previous one.
      for (const row of rows) {
        await client.createEntity({ partitionKey: "spool", rowKey: keyNow(), ...parts(JSON.stringify(row)) });
      }
    },
    async peek(limit) {
      await ensureTable();
      const rows: SpooledRow[] = [];
      const corrupt: CorruptEntry[] = [];
      const entities = client.listEntities({
        queryOptions: { filter: "PartitionKey eq 'spool'" },
      });
      for await (const entity of entities) {
        const key = entity.rowKey ?? "";
        const text = joinParts(entity);
        const row = parseRow(text);
        if (typeof row === "string") corrupt.push({ key, text, problem: `entry ${key}: ${row}` });
        else rows.push({ key, row });
        if (rows.length >= limit) break;
      }
      return { rows, corrupt };
    },
    async remove(keys) {
      await ensureTable();
      for (const key of keys) {
        try {
          await client.deleteEntity("spool", key);
        } catch (error) {
          if (!(isRestError(error) && error.statusCode === 404)) throw error;
        }
      }
    },
    async setAside(rejected) {
      if (rejected.length === 0) return;
      await ensureTable();
      for (const { row, reason } of rejected) {
        await client.createEntity({
          partitionKey: "rejected",
          rowKey: keyNow(),
          Reason: reason.slice(0, PART_CHARS),
          ...parts(JSON.stringify(row)),
        });
      }
    },
    async setAsideCorrupt(entries) {
      await ensureTable();
      for (const { key, text, problem } of entries) {
        try {
          await client.createEntity({
            partitionKey: "corrupt",
            rowKey: key,
            Problem: problem.slice(0, PART_CHARS),
            ...parts(text),
          });
        } catch (error) {
          // Set aside before, by a worker that stopped before removing it from the spool.
          if (!(isRestError(error) && error.statusCode === 409)) throw error;
        }
        await client.deleteEntity("spool", key).catch((error: unknown) => {
          if (!(isRestError(error) && error.statusCode === 404)) throw error;
        });
      }
      return `table ${client.tableName}, PartitionKey "corrupt"`;
    },
    async lock(): Promise<SpoolLock | undefined> {
      await ensureTable();
      const until = new Date(Date.now() + LOCK_SECONDS * 1000).toISOString();
      const holder = randomUUID();
      try {
        const current = await client.getEntity<{ Until: string }>("lock", "drain");
        if (Date.parse(current.Until) > Date.now()) return undefined;
        await client.updateEntity(
          { partitionKey: "lock", rowKey: "drain", Until: until, Holder: holder },
          "Replace",
          {
            etag: current.etag,
          },
        );
      } catch (error) {
        if (!isRestError(error)) throw error;
        if (error.statusCode === 412 || error.statusCode === 409) return undefined;
        if (error.statusCode !== 404) throw error;
        try {
          await client.createEntity({ partitionKey: "lock", rowKey: "drain", Until: until, Holder: holder });
        } catch (createError) {
          if (isRestError(createError) && createError.statusCode === 409) return undefined;
          throw createError;
        }
      }
      return {
        async renew() {
          try {
            const current = await client.getEntity<{ Holder: string }>("lock", "drain");
            if (current.Holder !== holder) return false;
            const extended = new Date(Date.now() + LOCK_SECONDS * 1000).toISOString();
            await client.updateEntity(
              { partitionKey: "lock", rowKey: "drain", Until: extended, Holder: holder },
              "Replace",
              { etag: current.etag },
            );
            return true;
          } catch (error) {
            if (isRestError(error) && (error.statusCode === 404 || error.statusCode === 412)) return false;
            throw error;
          }
        },
        async release() {
          try {
            const current = await client.getEntity<{ Holder: string }>("lock", "drain");
            if (current.Holder === holder) await client.deleteEntity("lock", "drain", { etag: current.etag });
          } catch (error) {
            if (!(isRestError(error) && (error.statusCode === 404 || error.statusCode === 412))) throw error;
          }
        },
      };
    },
  };
}

/** The row an entry holds, or why it holds none. */
function parseRow(text: string): OutcomeRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `not JSON (${(error as Error).message})`;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not a JSON object";
  return withOutcomeId(value as OutcomeRecord);
}
