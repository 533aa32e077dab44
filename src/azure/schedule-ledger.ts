import { createHash } from "node:crypto";
import { isRestError } from "@azure/core-rest-pipeline";
import { ScheduleConflictError, type LedgerEntry, type ScheduleLedger } from "../dispatch/scheduler.js";
import { createTableOnce, tableClientFor, type TableOptions } from "./tables.js";

export const DEFAULT_SCHEDULE_TABLE = "AutoprotectSchedule";

/**
 * The schedule ledger in Azure Table Storage, beside the rollout state: one entity per resource
 * (PartitionKey "schedule", RowKey the SHA-256 of the lower-cased id), replaced with If-Match. A look
 * that runs holds a lease in the same entity (LeaseId, LeaseUntil).
 */
export function createTableScheduleLedger(options: TableOptions): ScheduleLedger {
  const client = tableClientFor(options, DEFAULT_SCHEDULE_TABLE);
  const ensureTable = createTableOnce(client);
  const rowKey = (resourceId: string): string =>
    createHash("sha256").update(resourceId.toLowerCase(), "utf8").digest("hex");
  const PARTITION = "schedule";

  return {
    async get(resourceId) {
      await ensureTable();
      try {
        const entity = await client.getEntity<{
          ResourceId: string;
          Token: string;
          DueAt: string;
          LeaseId?: string;
          LeaseUntil?: string;
        }>(PARTITION, rowKey(resourceId));
        if (entity.etag === "") return undefined;
        const lease =
          typeof entity.LeaseId === "string" && entity.LeaseId !== "" && typeof entity.LeaseUntil === "string"
            ? { id: entity.LeaseId, until: entity.LeaseUntil }
            : undefined;
        return {
          entry: {
            resourceId: entity.ResourceId,
            token: entity.Token,
            dueAt: entity.DueAt,
            ...(lease === undefined ? {} : { lease }),
          },
          version: entity.etag,
        };
      } catch (error) {
        if (isRestError(error) && error.statusCode === 404) return undefined;
        throw error;
      }
    },
    async put(entry: LedgerEntry, expectedVersion) {
      await ensureTable();
      const entity = {
        partitionKey: PARTITION,
        rowKey: rowKey(entry.resourceId),
        ResourceId: entry.resourceId,
        Token: entry.token,
        DueAt: entry.dueAt,
        // Replace drops the columns a put leaves out: an entry without a lease has none.
        ...(entry.lease === undefined ? {} : { LeaseId: entry.lease.id, LeaseUntil: entry.lease.until }),
      };
      try {
        const written =
          expectedVersion === undefined
            ? await client.createEntity(entity)
            : await client.updateEntity(entity, "Replace", { etag: expectedVersion });
        return written.etag;
      } catch (error) {
        if (isRestError(error) && (error.statusCode === 409 || error.statusCode === 412)) {
          throw new ScheduleConflictError(`the schedule of ${entry.resourceId} changed meanwhile`);
        }
        throw error;
      }
    },
  };
}
