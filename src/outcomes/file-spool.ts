import { createHash, randomUUID } from "node:crypto";
import { mkdir, open, readFile, readdir, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { OutcomeRecord } from "../model/outcome.js";
import type { CorruptEntry, OutcomeSpool, SpooledRow } from "./delivery.js";
import { tryLock } from "./file-lock.js";
import { withOutcomeId } from "./record.js";

export interface FileSpoolOptions {
  /** A drain lock not renewed for this long is taken over: its holder hangs, or runs on another host. */
  readonly staleLockMs?: number;
}

/** The drainer renews its lock every quarter of this; only a holder that is gone or stuck misses it. */
const DEFAULT_STALE_LOCK_MS = 5 * 60_000;

/**
 * The CLI's spool, in the state folder:
 *
 * - `outcome-spool.jsonl`: the rows waiting, oldest first, one JSON object a line. Only the holder of
 *   the drain lock changes it, and always by writing a whole new file and renaming it over the old one,
 *   so it never holds half a line of ours, even when the disk fills up.
 * - `outcome-spool.incoming/`: rows spooled by anyone, one file per append, written the same way;
 *   the drain lock's holder moves them into the spool (in name order: oldest first) before reading it.
 *   Appending needs no lock, so a run that finds another one draining just leaves its rows here.
 * - `outcome-spool.lock`: the drain lock (src/outcomes/file-lock.ts), so two CLI processes sharing the
 *   folder never send the same rows.
 * - `outcome-rejected.jsonl`: rows the stream refused, with why.
 * - `outcome-corrupt.jsonl`: lines of the spool that were not a row (cut short, edited by hand), each
 *   kept whole with why, once moved out of the spool.
 */
export function createFileSpool(dir: string, options: FileSpoolOptions = {}): OutcomeSpool {
  const path = join(dir, "outcome-spool.jsonl");
  const incoming = join(dir, "outcome-spool.incoming");
  const lockPath = join(dir, "outcome-spool.lock");
  const rejectedPath = join(dir, "outcome-rejected.jsonl");
  const corruptPath = join(dir, "outcome-corrupt.jsonl");
  const staleMs = options.staleLockMs ?? DEFAULT_STALE_LOCK_MS;

  /** Rows spooled by anyone, moved into the spool file (the drain lock's holder only). */
  async function mergeIncoming(): Promise<string> {
    const current = await readText(path);
    let names: string[];
    try {
      names = (await readdir(incoming)).filter((name) => name.endsWith(".jsonl")).sort();
    } catch (error) {
      if (isErrno(error, "ENOENT")) return current;
      throw error;
    }
    if (names.length === 0) return current;
    let text = current;
    for (const name of names) {
      const more = await readText(join(incoming, name));
      text += text === "" || text.endsWith("\n") ? more : `\n${more}`;
    }
    await writeAtomically(path, text);
    // Only once the spool holds them: a crash in between leaves them in both, and the spool then holds
    // them twice, which peek and remove treat as one (same key); never in neither.
    for (const name of names) await unlink(join(incoming, name)).catch(() => undefined);
    return text;
  }

  async function rewrite(drop: ReadonlySet<string>): Promise<void> {
    const kept = linesOf(await readText(path)).filter((line) => !drop.has(entryOf(line).key));
    await writeAtomically(path, kept.map((line) => `${line}\n`).join(""));
  }

  return {
    async append(rows) {
      if (rows.length === 0) return;
      await mkdir(incoming, { recursive: true });
      const name = `${String(Date.now()).padStart(15, "0")}-${String(process.pid)}-${randomUUID()}.jsonl`;
      await writeAtomically(join(incoming, name), rows.map((row) => `${JSON.stringify(row)}\n`).join(""));
    },
    async peek(limit) {
      const rows: SpooledRow[] = [];
      const corrupt: CorruptEntry[] = [];
      const seen = new Set<string>();
      for (const [index, line] of linesOf(await mergeIncoming()).entries()) {
        if (rows.length >= limit) break;
        const entry = entryOf(line);
        if (seen.has(entry.key)) continue; // the same outcome twice: sent once, removed with its key
        seen.add(entry.key);
        if ("row" in entry) rows.push(entry);
        else
          corrupt.push({
            key: entry.key,
            text: line,
            problem: `line ${String(index + 1)}: ${entry.problem}`,
          });
      }
      return { rows, corrupt };
    },
    async remove(keys) {
      if (keys.length > 0) await rewrite(new Set(keys));
    },
    async setAside(rejected) {
      if (rejected.length === 0) return;
      await appendWhole(rejectedPath, rejected.map((r) => `${JSON.stringify(r)}\n`).join(""));
    },
    async setAsideCorrupt(entries) {
      if (entries.length === 0) return corruptPath;
      const at = new Date().toISOString();
      await appendWhole(
        corruptPath,
        entries.map((e) => `${JSON.stringify({ at, problem: e.problem, line: e.text })}\n`).join(""),
      );
      await rewrite(new Set(entries.map((e) => e.key)));
      return corruptPath;
    },
    async lock() {
      await mkdir(dir, { recursive: true });
      return tryLock(lockPath, { staleMs });
    },
  };
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if (isErrno(error, "ENOENT")) return "";
    throw error;
  }
}

function linesOf(text: string): string[] {
  return text.split("\n").filter((line) => line.trim() !== "");
}

/**
 * The row on a line, keyed by its OutcomeId (so removing it is right whatever else changed in the
 * file), or why the line is not one, keyed by the line's hash.
 */
function entryOf(line: string): SpooledRow | { key: string; problem: string } {
  const corrupt = (problem: string) => ({
    key: `corrupt:${createHash("sha256").update(line).digest("hex")}`,
    problem,
  });
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return corrupt(`not JSON (${(error as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return corrupt("not a JSON object");
  const row = withOutcomeId(value as OutcomeRecord);
  return { key: row.OutcomeId, row };
}

/** Writes a whole new file and renames it into place: readers see the old file or the new one, never half. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = `${path}.${String(process.pid)}.${randomUUID()}.tmp`;
  try {
    const handle = await open(temporary, "wx");
    try {
      await handle.writeFile(text, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

/** Appends to a file by rewriting it whole, so a full disk leaves it as it was. */
async function appendWhole(path: string, text: string): Promise<void> {
  const current = await readText(path);
  await writeAtomically(
    path,
    current === "" || current.endsWith("\n") ? current + text : `${current}\n${text}`,
  );
}
