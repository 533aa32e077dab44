import { randomUUID } from "node:crypto";
import type { Stats } from "node:fs";
import { link, lstat, open, readFile, rename, unlink, utimes } from "node:fs/promises";
import { hostname } from "node:os";

/**
 * A lock between processes that share a folder: a file created with `open(path, "wx")` (only one
 * creator wins), holding who took it. It is stale, and taken over, when its holder's process is gone
 * (same host: `kill(pid, 0)` says so at once) or when it was not renewed for `staleMs` (a holder on
 * another host, or one that hangs); a lock with no readable holder (its writer died before writing it)
 * is stale after a few seconds. The holder renews it on a timer while it runs, so a slow but live
 * holder is never taken over. A lock that cannot be written (a full disk) is removed at once, never
 * left behind empty.
 */
export interface FileLock {
  /** Whether the lock is still this holder's (another may have judged it stale); renews it when it is. */
  renew(): Promise<boolean>;
  /** Removes the lock if it is still this holder's. Never throws: a lock left behind is stale by its pid. */
  release(): Promise<void>;
}

export interface FileLockOptions {
  /** A lock not renewed for this long is taken over. */
  readonly staleMs: number;
}

interface Holder {
  readonly pid: number;
  readonly host: string;
  readonly token: string;
  readonly at: string;
}

/** How long a lock whose holder cannot be read may be in the making. */
const UNREADABLE_GRACE_MS = 5_000;
/** Attempts to take a free or stale lock before saying it is held (others are taking it too). */
const ATTEMPTS = 5;

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

function parseHolder(text: string): Holder | undefined {
  try {
    const value = JSON.parse(text) as Partial<Holder> | null;
    if (typeof value?.pid !== "number" || typeof value.host !== "string" || typeof value.token !== "string")
      return undefined;
    return { pid: value.pid, host: value.host, token: value.token, at: String(value.at) };
  } catch {
    return undefined;
  }
}

/** Whether a process of this host is running; EPERM means it is, under another user. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isErrno(error, "EPERM");
  }
}

/** The lock file as seen now, or undefined when there is none. */
async function look(path: string): Promise<{ stats: Stats; text: string } | undefined> {
  try {
    const stats = await lstat(path);
    return { stats, text: await readFile(path, "utf8") };
  } catch (error) {
    if (isErrno(error, "ENOENT")) return undefined;
    throw error;
  }
}

function isStale(seen: { stats: Stats; text: string }, staleMs: number): boolean {
  const age = Date.now() - seen.stats.mtimeMs;
  const holder = parseHolder(seen.text);
  if (holder === undefined) return age > Math.min(staleMs, UNREADABLE_GRACE_MS);
  if (holder.host === hostname() && !isRunning(holder.pid)) return true;
  return age > staleMs;
}

/**
 * Moves a stale lock aside (rename is atomic: of two takers, one moves it). If what moved is not the
 * lock judged stale, a third process had just taken the place: its lock is put back with link(),
 * which never overwrites.
 */
async function takeOver(path: string, seen: { stats: Stats; text: string }): Promise<void> {
  const aside = `${path}.${String(process.pid)}.${randomUUID()}.stale`;
  try {
    await rename(path, aside);
  } catch (error) {
    if (isErrno(error, "ENOENT")) return;
    throw error;
  }
  try {
    const moved = await look(aside);
    if (moved !== undefined && (moved.stats.ino !== seen.stats.ino || moved.text !== seen.text)) {
      await link(aside, path).catch((error: unknown) => {
        if (!isErrno(error, "EEXIST")) throw error;
      });
    }
  } finally {
    await unlink(aside).catch(() => undefined);
  }
}

/** Creates the lock file with its holder; undefined when it exists. On a failed write, no file remains. */
async function create(path: string, holder: Holder): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, "wx");
  } catch (error) {
    if (isErrno(error, "EEXIST")) return false;
    throw error;
  }
  try {
    await handle.writeFile(JSON.stringify(holder), "utf8");
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw error;
  }
  await handle.close();
  return true;
}

/** Takes the lock when it is free or stale; undefined while a live holder has it. */
export async function tryLock(path: string, options: FileLockOptions): Promise<FileLock | undefined> {
  const holder: Holder = {
    pid: process.pid,
    host: hostname(),
    token: randomUUID(),
    at: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
    if (await create(path, holder)) return heldLock(path, holder.token, options.staleMs);
    const seen = await look(path);
    if (seen === undefined) continue; // released meanwhile
    if (!isStale(seen, options.staleMs)) return undefined;
    await takeOver(path, seen);
  }
  return undefined;
}

function heldLock(path: string, token: string, staleMs: number): FileLock {
  const isOurs = async (): Promise<boolean> => {
    try {
      return parseHolder(await readFile(path, "utf8"))?.token === token;
    } catch (error) {
      if (isErrno(error, "ENOENT")) return false;
      throw error;
    }
  };
  const touch = async (): Promise<void> => {
    const now = new Date();
    await utimes(path, now, now).catch(() => undefined);
  };
  // Renewed while held, so only a holder that is gone or hangs (its event loop stuck) goes stale.
  const timer = setInterval(
    () => {
      void isOurs()
        .then((ours) => (ours ? touch() : undefined))
        .catch(() => undefined);
    },
    Math.max(10, Math.floor(staleMs / 4)),
  );
  timer.unref();
  return {
    async renew() {
      if (!(await isOurs())) return false;
      await touch();
      return true;
    },
    async release() {
      clearInterval(timer);
      try {
        if (await isOurs()) await unlink(path);
      } catch {
        // Left behind, it is stale as soon as this process ends.
      }
    },
  };
}
