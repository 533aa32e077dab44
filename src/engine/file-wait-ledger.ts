import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { createHash, randomUUID } from "node:crypto";
import { join } from "node:path";
import { isCheckId } from "../model/checks.js";
import { waitKey, type WaitEntry, type WaitLedger } from "./waits.js";

/**
 * The CLI's wait ledger: one JSON file per mode and subscription under `<dir>/waits/`, replaced whole
 * through a temporary file and a rename, so a reader never sees half a file. Two CLI processes writing
 * the same subscription at once may lose one's update; that only restarts a wait's clock, it never
 * ends a wait early. A file that cannot be understood is read as empty, for the same reason.
 */
export function createFileWaitLedger(dir: string): WaitLedger {
  const root = join(dir, "waits");
  const path = (mode: string, subscriptionId: string): string =>
    join(
      root,
      `${mode}-${createHash("sha256").update(subscriptionId.toLowerCase()).digest("hex").slice(0, 32)}.json`,
    );

  async function read(file: string): Promise<WaitEntry[]> {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
    try {
      const parsed = JSON.parse(text) as { waits?: unknown };
      if (!Array.isArray(parsed.waits)) return [];
      return parsed.waits.filter(
        (w): w is WaitEntry =>
          typeof w === "object" &&
          w !== null &&
          isCheckId((w as WaitEntry).check) &&
          typeof (w as WaitEntry).resourceId === "string" &&
          typeof (w as WaitEntry).since === "string",
      );
    } catch {
      return [];
    }
  }

  return {
    load: (mode, subscriptionId) => read(path(mode, subscriptionId)),
    async update(mode, subscriptionId, change) {
      if (change.start.length === 0 && change.end.length === 0) return;
      const file = path(mode, subscriptionId);
      const waits = new Map((await read(file)).map((w) => [waitKey(w.check, w.resourceId), w]));
      for (const entry of change.start) {
        const key = waitKey(entry.check, entry.resourceId);
        if (!waits.has(key)) waits.set(key, entry);
      }
      for (const entry of change.end) waits.delete(waitKey(entry.check, entry.resourceId));
      await mkdir(root, { recursive: true });
      const temp = `${file}.${randomUUID()}.tmp`;
      await writeFile(
        temp,
        `${JSON.stringify({ format: 1, subscriptionId, mode, waits: [...waits.values()] }, null, 1)}\n`,
      );
      await rename(temp, file);
    },
  };
}
