import { randomUUID } from "node:crypto";
import { mkdir, open, readFile, readdir, rename, stat, unlink, link } from "node:fs/promises";
import type { Stats } from "node:fs";
import { basename, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { RolloutState } from "./types.js";
import {
  RolloutConflictError,
  RolloutStateCorruptError,
  errorMessage,
  rolloutKey,
  rolloutKeyHash,
  toRolloutState,
  type RolloutStateStore,
  type StoredRollout,
} from "./state-store.js";

/**
 * The CLI's rollout store: one JSON file per APIM service under `<dir>/rollouts/`, named by the SHA-256 of
 * the lower-cased service id. One file per service rather than one for all: writers for different services
 * never wait on each other, a damaged file stops one service's rollout and not every one, and each write
 * stays small.
 *
 * File: `{ "format": 1, "revision": N, "serviceId": ..., "updatedAt": ..., "state": {...} }`. The version is
 * the revision, which only grows (a content hash would let A→B→A pass a stale compare-and-swap).
 *
 * Compare-and-swap holds across processes: a writer takes `<hash>.lock` with `open(..., "wx")`, re-reads the
 * revision, and writes a temp file that it renames over the state (readers never see half a file). A lock
 * older than `staleLockMs` is left over from a crashed writer and is broken; a write holds it for
 * milliseconds.
 */
export interface FileStateStoreOptions {
  /** How long a writer waits for another writer's lock before giving up (default 10 s). */
  readonly lockTimeoutMs?: number;
  /** A lock file older than this is from a writer that died and is broken (default 30 s). */
  readonly staleLockMs?: number;
}

const FORMAT = 1;
const STATE_FILE = /^[0-9a-f]{64}\.json$/;

interface StateFile {
  readonly format: number;
  readonly revision: number;
  readonly serviceId: string;
  readonly updatedAt: string;
  readonly state: RolloutState;
}

export function createFileStateStore(dir: string, options: FileStateStoreOptions = {}): RolloutStateStore {
  const root = join(dir, "rollouts");
  const lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
  const staleLockMs = options.staleLockMs ?? 30_000;

  const statePath = (serviceId: string): string => join(root, `${rolloutKeyHash(serviceId)}.json`);

  async function readStateFile(path: string, expectedKey?: string): Promise<StoredRollout | undefined> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if (isErrno(error, "ENOENT")) return undefined;
      throw new RolloutStateCorruptError(`file ${path}`, `cannot be read (${errorMessage(error)})`, {
        cause: error,
      });
    }
    return parseStateFile(text, path, expectedKey);
  }

  async function acquireLock(lockPath: string): Promise<string> {
    const token = randomUUID();
    const deadline = Date.now() + lockTimeoutMs;
    for (;;) {
      try {
        const handle = await open(lockPath, "wx");
        try {
          await handle.writeFile(
            JSON.stringify({ token, pid: process.pid, at: new Date().toISOString() }),
            "utf8",
          );
        } catch (error) {
          // A full disk: no empty lock left behind to block every writer until it goes stale.
          await handle.close().catch(() => undefined);
          await unlink(lockPath).catch(() => undefined);
          throw error;
        }
        await handle.close();
        return token;
      } catch (error) {
        if (!isErrno(error, "EEXIST")) throw error;
      }
      let held: Stats;
      try {
        held = await stat(lockPath);
      } catch (error) {
        if (isErrno(error, "ENOENT")) continue; // released meanwhile: try again at once
        throw error;
      }
      if (Date.now() - held.mtimeMs > staleLockMs) {
        await breakStaleLock(lockPath, held);
        continue;
      }
      if (Date.now() >= deadline) {
        throw new Error(
          `rollout state lock ${lockPath} is still held after ${lockTimeoutMs} ms by another autoprotect ` +
            `run; if none is running, delete the lock file`,
        );
      }
      await sleep(5 + Math.floor(Math.random() * 20));
    }
  }

  /**
   * Moves the stale lock aside (rename is atomic: of two breakers only one moves it). If what was moved is not
   * the lock judged stale, a third writer had just taken the place: its lock is put back with link(), which
   * never overwrites.
   */
  async function breakStaleLock(lockPath: string, observed: Stats): Promise<void> {
    const aside = `${lockPath}.${process.pid}.${randomUUID()}.stale`;
    try {
      await rename(lockPath, aside);
    } catch (error) {
      if (isErrno(error, "ENOENT")) return;
      throw error;
    }
    try {
      const moved = await stat(aside);
      if (moved.ino !== observed.ino || moved.mtimeMs !== observed.mtimeMs) {
        await link(aside, lockPath).catch((error: unknown) => {
          if (!isErrno(error, "EEXIST")) throw error;
        });
      }
    } finally {
      await unlink(aside).catch(() => undefined);
    }
  }

  async function releaseLock(lockPath: string, token: string): Promise<void> {
    try {
      const text = await readFile(lockPath, "utf8");
      // Only our own lock: if ours was broken as stale, the file now belongs to someone else.
      if (text.includes(token)) await unlink(lockPath);
    } catch (error) {
      if (!isErrno(error, "ENOENT")) throw error;
    }
  }

  async function writeAtomically(path: string, content: string): Promise<void> {
    const temp = `${path}.${process.pid}.${randomUUID()}.tmp`;
    try {
      const handle = await open(temp, "wx");
      try {
        await handle.writeFile(content, "utf8");
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, path);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    // Make the rename itself durable; not every platform lets a directory be opened for this.
    try {
      const dirHandle = await open(root, "r");
      try {
        await dirHandle.sync();
      } finally {
        await dirHandle.close();
      }
    } catch {
      // best effort
    }
  }

  return {
    async get(serviceId) {
      return readStateFile(statePath(serviceId), rolloutKey(serviceId));
    },

    async put(state, expectedVersion) {
      if (rolloutKey(state.serviceId) === "") throw new TypeError("a rollout state needs a serviceId");
      await mkdir(root, { recursive: true });
      const path = statePath(state.serviceId);
      const lockPath = `${path.slice(0, -".json".length)}.lock`;
      const token = await acquireLock(lockPath);
      try {
        const current = await readStateFile(path, rolloutKey(state.serviceId));
        if (current?.version !== expectedVersion) {
          throw new RolloutConflictError(
            current === undefined
              ? `rollout state of ${state.serviceId} was expected at version ${String(expectedVersion)} but is absent`
              : expectedVersion === undefined
                ? `rollout state of ${state.serviceId} already exists (version ${current.version})`
                : `rollout state of ${state.serviceId} is at version ${current.version}, not ${expectedVersion}`,
          );
        }
        const revision = current === undefined ? 1 : Number(current.version) + 1;
        const file: StateFile = {
          format: FORMAT,
          revision,
          serviceId: state.serviceId,
          updatedAt: new Date().toISOString(),
          state,
        };
        await writeAtomically(path, `${JSON.stringify(file, null, 2)}\n`);
        return String(revision);
      } finally {
        await releaseLock(lockPath, token);
      }
    },

    async list() {
      let names: string[];
      try {
        names = await readdir(root);
      } catch (error) {
        if (isErrno(error, "ENOENT")) return [];
        throw error;
      }
      const stored: StoredRollout[] = [];
      for (const name of names.filter((n) => STATE_FILE.test(n)).sort()) {
        const entry = await readStateFile(join(root, name));
        if (entry !== undefined) stored.push(entry);
      }
      return stored;
    },
  };
}

function parseStateFile(text: string, path: string, expectedKey: string | undefined): StoredRollout {
  const location = `file ${path}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new RolloutStateCorruptError(location, `not valid JSON (${errorMessage(error)})`, { cause: error });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new RolloutStateCorruptError(location, "not a JSON object");
  }
  const file = parsed as Partial<Record<keyof StateFile, unknown>>;
  if (file.format !== FORMAT) {
    throw new RolloutStateCorruptError(
      location,
      `unknown format ${file.format === undefined ? "(none)" : JSON.stringify(file.format)}`,
    );
  }
  if (typeof file.revision !== "number" || !Number.isSafeInteger(file.revision) || file.revision < 1) {
    throw new RolloutStateCorruptError(location, "revision is not a positive integer");
  }
  const state = toRolloutState(file.state, location);
  const key = rolloutKey(state.serviceId);
  if (
    `${rolloutKeyHash(key)}.json` !== basename(path) ||
    (expectedKey !== undefined && key !== expectedKey)
  ) {
    throw new RolloutStateCorruptError(location, `holds the state of ${state.serviceId}, another service`);
  }
  return { state, version: String(file.revision) };
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
