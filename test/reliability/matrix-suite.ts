import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { faultCode, MATRIX_LIMITS, matrixCells, runCell, type Cell } from "../../bench/fault-matrix.js";

/**
 * Every ARM call kind the engine makes × every fault, persistent and one-off (bench/fault-matrix.ts):
 * no crash, no missing outcome, the fault's code where it persisted, convergence once it cleared, and
 * a hung call ended at its deadline. Two test files split the matrix between the two test workers.
 */
export function describeMatrix(part: (cell: Cell, index: number) => boolean): void {
  const cells = matrixCells().filter(part);
  describe.each(
    cells.map(
      (cell) =>
        [`${cell.call.name} × ${cell.fault} (${cell.persistent ? "persistent" : "once"})`, cell] as const,
    ),
  )("%s", (_name, cell) => {
    it("yields every outcome, reports the fault, converges once it clears, and ends in time", async () => {
      const dir = await mkdtemp(join(process.env.AUTOPROTECT_TEST_TMP ?? tmpdir(), "matrix-"));
      const result = await runCell(cell, dir);
      expect(result.crashed).toBeUndefined();
      expect(result.missing).toEqual([]);
      expect(result.converged).toBe(true);
      // A hung call ends at its deadline; a run makes a handful of calls one after another.
      expect(result.wallMs).toBeLessThan(
        12 * MATRIX_LIMITS.callDeadlineMs + MATRIX_LIMITS.operationDeadlineMs,
      );
      if (cell.persistent && result.hit) {
        expect(result.reported.join(", ")).toContain(faultCode(cell.fault));
        expect(result.reported.filter((r) => !/^(failed|deferred|manual|skipped)( |$)/.test(r))).toEqual([]);
      }
    });
  });
}
