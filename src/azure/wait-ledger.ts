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
      for (const entry of change.start) {
        try {
          await client.createEntity({
            partitionKey,
            rowKey: rowKey(entry),
            Check: entry.check,
            ResourceId: entry.resourceId,
            Since: entry.since,
          });
        } catch (error) {
          // Another run started this wait first: its start stands.
          if (!(isRestError(error) && error.statusCode === 409)) throw error;
        }
      }
      for (const entry of change.end) {
        try {
          await client.deleteEntity(partitionKey, rowKey(entry));
        } catch (error) {
          if (!(isRestError(error) && error.statusCode === 404)) throw error;
        }
      }
    },
  };
}
