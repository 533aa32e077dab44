import { createHash } from "node:crypto";
import { isRestError } from "@azure/core-rest-pipeline";
import { isCheckId } from "../model/checks.js";
import type { WaitEntry, WaitLedger } from "../engine/waits.js";
import { createTableOnce, tableClientFor, type TableOptions } from "./tables.js";

export const DEFAULT_WAIT_TABLE = "AutoprotectWaits";

/**
 * The wait ledger in Azure Table Storage, beside the rollout state and the schedule: one partition per
 * mode and subscription (read in one query per subscription a run touches), one entity per check and
 * resource that is waiting. An entity that is already there keeps its start: concurrent runs agree on it.
 */
export function createTableWaitLedger(options: TableOptions): WaitLedger {
  const client = tableClientFor(options, DEFAULT_WAIT_TABLE);
  const ensureTable = createTableOnce(client);
  const partition = (mode: string, subscriptionId: string): string =>
    `${mode}-${subscriptionId.toLowerCase()}`;
  const rowKey = (entry: Pick<WaitEntry, "check" | "resourceId">): string =>
    createHash("sha256").update(`${entry.check} ${entry.resourceId.toLowerCase()}`, "utf8").digest("hex");

  return {
    async load(mode, subscriptionId) {
      await ensureTable();
      const entries: WaitEntry[] = [];
      const filter = `PartitionKey eq '${partition(mode, subscriptionId)}'`;
      for await (const entity of client.listEntities<{ Check: string; ResourceId: string; Since: string }>({
        queryOptions: { filter },
      })) {
        if (
          isCheckId(entity.Check) &&
          typeof entity.ResourceId === "string" &&
          typeof entity.Since === "string"
        ) {
          entries.push({ check: entity.Check, resourceId: entity.ResourceId, since: entity.Since });
        }
      }
      return entries;
    },
    async update(mode, subscriptionId, change) {
      await ensureTable();
      const partitionKey = partition(mode, subscriptionId);
      const started = change.start.map((entry) => ({
        partitionKey,
        rowKey: rowKey(entry),
        Check: entry.check,
        ResourceId: entry.resourceId,
        Since: entry.since,
      }));
      // A run that defers a service's thousand APIs starts a thousand waits: in transactions of up to
      // 100 (one partition), one entity at a time only where a transaction hits one another run started.
      for (const batch of batches(started)) {
        try {
          await client.submitTransaction(batch.map((entity) => ["create", entity]));
        } catch (error) {
          if (!isRestError(error) || (error.statusCode !== 409 && error.statusCode !== 400)) throw error;
          for (const entity of batch) {
            try {
              await client.createEntity(entity);
            } catch (single) {
              // Another run started this wait first: its start stands.
              if (!(isRestError(single) && single.statusCode === 409)) throw single;
            }
          }
        }
      }
      for (const batch of batches(change.end.map((entry) => rowKey(entry)))) {
        try {
          await client.submitTransaction(batch.map((key) => ["delete", { partitionKey, rowKey: key }]));
        } catch (error) {
          if (!isRestError(error) || (error.statusCode !== 404 && error.statusCode !== 400)) throw error;
          for (const key of batch) {
            try {
              await client.deleteEntity(partitionKey, key);
            } catch (single) {
              if (!(isRestError(single) && single.statusCode === 404)) throw single;
            }
          }
        }
      }
    },
  };
}

/** Table Storage takes at most 100 operations in one transaction. */
const TRANSACTION_SIZE = 100;

function batches<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += TRANSACTION_SIZE) out.push(items.slice(i, i + TRANSACTION_SIZE));
  return out;
}
