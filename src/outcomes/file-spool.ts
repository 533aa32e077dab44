import { appendFile, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { OutcomeRecord } from "../model/outcome.js";
import type { OutcomeSpool, SpooledRow } from "./delivery.js";

/**
 * The CLI's spool: JSON Lines in the state folder (`outcome-spool.jsonl`, and `outcome-rejected.jsonl`
 * for rows the stream refused). One CLI process drains at a time within itself; the file is rewritten
 * atomically after a drain.
 */
export function createFileSpool(dir: string): OutcomeSpool {
  const path = join(dir, "outcome-spool.jsonl");
  const rejectedPath = join(dir, "outcome-rejected.jsonl");
  let locked = false;

  async function readRows(): Promise<OutcomeRecord[]> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
    return text
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line) as OutcomeRecord);
  }

  return {
    async append(rows) {
      if (rows.length === 0) return;
      await mkdir(dir, { recursive: true });
      await appendFile(path, rows.map((row) => `${JSON.stringify(row)}\n`).join(""));
    },
    async peek(limit) {
      return (await readRows())
        .slice(0, limit)
        .map((row, index): SpooledRow => ({ key: String(index), row }));
    },
    async remove(keys) {
      if (keys.length === 0) return;
      const drop = new Set(keys.map(Number));
      const rows = await readRows();
      const kept = rows.filter((_row, index) => !drop.has(index));
      const temporary = `${path}.${String(process.pid)}.tmp`;
      await writeFile(temporary, kept.map((row) => `${JSON.stringify(row)}\n`).join(""));
      await rename(temporary, path);
    },
    async setAside(rejected) {
      if (rejected.length === 0) return;
      await mkdir(dir, { recursive: true });
      await appendFile(rejectedPath, rejected.map((r) => `${JSON.stringify(r)}\n`).join(""));
    },
    lock() {
      if (locked) return Promise.resolve(undefined);
      locked = true;
      return Promise.resolve(() => {
        locked = false;
        return Promise.resolve();
      });
    },
  };
}
