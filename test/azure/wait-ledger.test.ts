import { describe, expect, it } from "vitest";
import { createTableWaitLedger } from "../../src/azure/wait-ledger.js";
import type { WaitEntry } from "../../src/engine/waits.js";
import { useAzurite } from "../support/azurite.js";
import { clusterId, SUB_A } from "../support/estate.js";

const azurite = useAzurite();

const waits = (from: number, count: number, since: string): WaitEntry[] =>
  Array.from({ length: count }, (_, i) => ({
    check: "aks.defender-sensor",
    resourceId: clusterId(`aks-${String(from + i)}`),
    since,
  }));

describe("the wait ledger in Table Storage (Azurite)", () => {
  it("starts and ends hundreds of waits at once, and a wait another run started keeps its start", async () => {
    const ledger = createTableWaitLedger({
      connectionString: azurite().connectionString,
      tableName: "WaitsBatch",
    });
    await ledger.update("enforce", SUB_A, { start: waits(0, 250, "2026-11-01T00:00:00.000Z"), end: [] });
    expect(await ledger.load("enforce", SUB_A)).toHaveLength(250);

    // A run that had not seen the first 50 starts them again, with 50 new ones in the same transaction.
    await ledger.update("enforce", SUB_A, { start: waits(200, 100, "2026-11-02T00:00:00.000Z"), end: [] });
    const loaded = new Map((await ledger.load("enforce", SUB_A)).map((w) => [w.resourceId, w.since]));
    expect(loaded.size).toBe(300);
    expect(loaded.get(clusterId("aks-210"))).toBe("2026-11-01T00:00:00.000Z");
    expect(loaded.get(clusterId("aks-260"))).toBe("2026-11-02T00:00:00.000Z");

    // Ending waits that are already gone is no error.
    await ledger.update("enforce", SUB_A, { start: [], end: waits(0, 320, "") });
    expect(await ledger.load("enforce", SUB_A)).toEqual([]);
  });
});
