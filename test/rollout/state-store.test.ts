import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TableClient } from "@azure/data-tables";
import ts from "typescript";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { createTableStateStore } from "../../src/azure/table-state-store.js";
import { createFileStateStore } from "../../src/rollout/file-state-store.js";
import {
  RolloutConflictError,
  RolloutStateCorruptError,
  rolloutKeyHash,
  toRolloutState,
  type RolloutStateStore,
} from "../../src/rollout/state-store.js";
import type { RolloutState } from "../../src/rollout/types.js";
import { startAzurite, type Azurite } from "../support/azurite.js";

function serviceId(subscription: string = randomUUID(), name = `apim-${randomUUID().slice(0, 8)}`): string {
  return `/subscriptions/${subscription}/resourceGroups/rg-apis/providers/Microsoft.ApiManagement/service/${name}`;
}

function sampleState(id: string, overrides: Partial<RolloutState> = {}): RolloutState {
  return {
    schemaVersion: 3,
    serviceId: id,
    batchSize: 2,
    steps: 0,
    rollbacks: 0,
    rolledBack: [],
    inProgressSince: {},
    ...overrides,
  };
}

/** What the shared suite needs from a store's backing: a new instance on it (a restart), and a way to damage it. */
interface Backing {
  open(): RolloutStateStore;
  /** Damages the stored record of `id`; returns text the error must contain (the file or entity). */
  corrupt(id: string): Promise<string>;
}

/** The behaviour every RolloutStateStore must have, run against each implementation. */
function storeContract(newBacking: () => Promise<Backing>): void {
  let backing: Backing;
  let store: RolloutStateStore;
  beforeEach(async () => {
    backing = await newBacking();
    store = backing.open();
  });

  it("answers undefined for a service it has never stored", async () => {
    expect(await store.get(serviceId())).toBeUndefined();
    expect(await store.list()).toEqual([]);
  });

  it("creates only if absent: a second create conflicts and the first state stays", async () => {
    const id = serviceId();
    const version = await store.put(sampleState(id, { batchSize: 3 }), undefined);
    await expect(store.put(sampleState(id, { batchSize: 9 }), undefined)).rejects.toBeInstanceOf(
      RolloutConflictError,
    );
    expect(await store.get(id)).toEqual({ state: sampleState(id, { batchSize: 3 }), version });
  });

  it("updates with the current version, and the version changes", async () => {
    const id = serviceId();
    const v1 = await store.put(sampleState(id), undefined);
    const next = sampleState(id, {
      batchSize: 4,
      steps: 1,
      lastStep: {
        at: "2025-01-01T00:10:00.000Z",
        batch: ["orders", "payments"],
        readingBefore: 12.5,
        applied: { at: "2025-01-01T00:10:04.000Z", codes: ["Conflict"] },
      },
      rollback: { since: "2025-01-01T00:00:00.000Z", apis: ["legacy"], reason: "capacity", codes: [] },
      failures: {
        steps: 1,
        since: "2025-01-01T00:00:00Z",
        lastAt: "2025-01-01T00:00:00Z",
        codes: ["Conflict"],
      },
      inProgressSince: { orders: "2025-01-01T00:10:00.000Z" },
    });
    const v2 = await store.put(next, v1);
    expect(v2).not.toBe(v1);
    expect(await store.get(id)).toEqual({ state: next, version: v2 });
    const v3 = await store.put({ ...next, steps: 2 }, v2);
    expect(new Set([v1, v2, v3]).size).toBe(3);
  });

  it("refuses an update from a stale version, and one of a record that does not exist", async () => {
    const id = serviceId();
    const v1 = await store.put(sampleState(id), undefined);
    const v2 = await store.put(sampleState(id, { steps: 1 }), v1);
    await expect(store.put(sampleState(id, { steps: 99 }), v1)).rejects.toBeInstanceOf(RolloutConflictError);
    expect(await store.get(id)).toEqual({ state: sampleState(id, { steps: 1 }), version: v2 });
    await expect(store.put(sampleState(serviceId(), { steps: 1 }), v2)).rejects.toBeInstanceOf(
      RolloutConflictError,
    );
  });

  it("treats service ids case-insensitively", async () => {
    const subscription = randomUUID().toUpperCase();
    const upper = serviceId(subscription, "APIM-Contoso");
    const lower = upper.toLowerCase();
    const v1 = await store.put(sampleState(upper), undefined);
    expect((await store.get(lower))?.version).toBe(v1);
    await expect(store.put(sampleState(lower), undefined)).rejects.toBeInstanceOf(RolloutConflictError);
    const v2 = await store.put(sampleState(lower, { steps: 1 }), v1);
    expect(await store.get(upper)).toEqual({ state: sampleState(lower, { steps: 1 }), version: v2 });
    expect(await store.list()).toHaveLength(1);
  });

  it("lists every stored rollout with its current version", async () => {
    const shared = randomUUID();
    const ids = [serviceId(shared), serviceId(shared), serviceId()];
    const versions = new Map<string, string>();
    for (const id of ids) versions.set(id, await store.put(sampleState(id), undefined));
    const id0 = ids[0] ?? "";
    versions.set(id0, await store.put(sampleState(id0, { steps: 1 }), versions.get(id0)));
    const listed = await store.list();
    expect(listed.map((s) => s.state.serviceId).sort()).toEqual([...ids].sort());
    for (const entry of listed) expect(entry.version).toBe(versions.get(entry.state.serviceId));
  });

  it("survives a restart: a new instance sees the state and accepts its version", async () => {
    const id = serviceId();
    const v1 = await store.put(sampleState(id, { steps: 3, rolledBack: ["legacy"] }), undefined);
    const restarted = backing.open();
    expect(await restarted.get(id)).toEqual({
      state: sampleState(id, { steps: 3, rolledBack: ["legacy"] }),
      version: v1,
    });
    const v2 = await restarted.put(sampleState(id, { steps: 4 }), v1);
    await expect(store.put(sampleState(id, { steps: 4 }), v1)).rejects.toBeInstanceOf(RolloutConflictError);
    expect((await store.get(id))?.version).toBe(v2);
  });

  it("lets exactly one of two concurrent writers from the same version win", async () => {
    const id = serviceId();
    const creates = await Promise.allSettled([
      store.put(sampleState(id, { batchSize: 1 }), undefined),
      backing.open().put(sampleState(id, { batchSize: 2 }), undefined),
    ]);
    const created = oneWinner(creates);
    const base = await store.get(id);
    expect(base?.version).toBe(created.value);

    for (let round = 0; round < 5; round++) {
      const current = await store.get(id);
      if (current === undefined) throw new Error("state vanished");
      const a = { ...current.state, steps: current.state.steps + 1, rolledBack: [`a${round}`] };
      const b = { ...current.state, steps: current.state.steps + 1, rolledBack: [`b${round}`] };
      const results = await Promise.allSettled([
        store.put(a, current.version),
        backing.open().put(b, current.version),
      ]);
      const winner = oneWinner(results);
      const after = await store.get(id);
      expect(after?.version).toBe(winner.value);
      expect(after?.state).toEqual(results[0].status === "fulfilled" ? a : b);
    }
    expect((await store.get(id))?.state.steps).toBe(5);
  });

  it("round-trips a long state (thousands of rolled-back API names)", async () => {
    const id = serviceId();
    const rolledBack = Array.from({ length: 3000 }, (_, i) => `api-${i}-${"x".repeat(30)}`);
    const state = sampleState(id, { rolledBack, perApiEstimate: 0.25, waitingSince: "2025-01-01T00:00:00Z" });
    const v1 = await store.put(state, undefined);
    expect(await backing.open().get(id)).toEqual({ state, version: v1 });
  });

  it("reports a damaged record by name instead of starting over", async () => {
    const id = serviceId();
    await store.put(sampleState(id), undefined);
    const named = await backing.corrupt(id);
    const restarted = backing.open();
    await expect(restarted.get(id)).rejects.toBeInstanceOf(RolloutStateCorruptError);
    await expect(restarted.get(id)).rejects.toThrow(named);
    await expect(restarted.list()).rejects.toThrow(named);
    // Never a silent fresh start: a create either names the damage or conflicts (then a re-read names it).
    const created = restarted.put(sampleState(id), undefined);
    await expect(created).rejects.toThrow();
    const reason: unknown = await created.catch((error: unknown) => error);
    if (!(reason instanceof RolloutConflictError)) expect(String(reason)).toContain(named);
  });
}

function oneWinner(results: PromiseSettledResult<string>[]): PromiseFulfilledResult<string> {
  const won = results.filter((r): r is PromiseFulfilledResult<string> => r.status === "fulfilled");
  const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  expect(won).toHaveLength(1);
  expect(lost).toHaveLength(1);
  expect(lost[0]?.reason).toBeInstanceOf(RolloutConflictError);
  const winner = won[0];
  if (winner === undefined) throw new Error("no winner");
  return winner;
}

describe("reading a stored rollout state", () => {
  const id = serviceId();
  const valid = sampleState(id, {
    batchSize: 4,
    steps: 2,
    perApiEstimate: 0.5,
    lastStep: { at: "2026-11-25T10:00:00.000Z", batch: ["orders"], readingBefore: 30, judged: "measured" },
    rollback: { since: "2026-11-25T10:05:00Z", apis: ["orders"], reason: "capacity", codes: ["Conflict"] },
    inProgressSince: { billing: "2026-11-25T09:00:00+01:00" },
  });
  const read = (value: unknown) => toRolloutState(value, "file /state/x.json");

  it("accepts a valid state as it is", () => {
    expect(read(JSON.parse(JSON.stringify(valid)))).toEqual(valid);
  });

  const damaged: [string, Record<string, unknown>, string][] = [
    [
      "a date that is not one",
      { lastStep: { ...valid.lastStep, at: "yesterday" } },
      'lastStep.at is not an ISO 8601 time (found "yesterday")',
    ],
    ["an impossible date", { notBefore: "2026-13-45T99:00:00Z" }, "notBefore is not an ISO 8601 time"],
    [
      "a reading out of range",
      { lastStep: { ...valid.lastStep, readingBefore: 140 } },
      "lastStep.readingBefore is not a number from 0 to 100",
    ],
    ["a batch size of zero", { batchSize: 0 }, "batchSize is not a positive integer (found 0)"],
    ["a list that is not one", { rolledBack: "orders" }, "rolledBack is not a list of API names"],
    [
      "a rollback without its APIs",
      { rollback: { since: "2026-11-25T10:05:00Z", reason: "x", codes: [] } },
      "rollback.apis is not a list of API names (missing)",
    ],
    [
      "a running onboarding without a time",
      { inProgressSince: { billing: 12 } },
      "inProgressSince.billing is not an ISO 8601 time",
    ],
    ["a newer schema", { schemaVersion: 4 }, "schemaVersion 4 is not one this autoprotect knows"],
  ];
  for (const [what, change, message] of damaged) {
    it(`refuses ${what}, naming the field and how to repair it`, () => {
      const attempt = () => read({ ...valid, ...change });
      expect(attempt).toThrow(RolloutStateCorruptError);
      expect(attempt).toThrow(`rollout state file /state/x.json is unreadable: ${message}`);
      expect(attempt).toThrow(
        /; to repair, correct that field or delete the record to start this service's rollout over/,
      );
    });
  }

  it("upgrades a version 1 state: its last batch becomes a step applied when it was taken", () => {
    const v1 = {
      serviceId: id,
      batchSize: 4,
      lastStepAt: "2026-11-25T10:00:00.000Z",
      lastBatch: ["orders", "billing"],
      readingBeforeLastStep: 30,
      perApiEstimate: 0.4,
      steps: 3,
      rollbacks: 1,
      rolledBack: ["legacy"],
    };
    expect(read(v1)).toEqual(
      sampleState(id, {
        batchSize: 4,
        perApiEstimate: 0.4,
        steps: 3,
        rollbacks: 1,
        rolledBack: ["legacy"],
        lastStep: {
          at: "2026-11-25T10:00:00.000Z",
          batch: ["orders", "billing"],
          readingBefore: 30,
          applied: { at: "2026-11-25T10:00:00.000Z", codes: [] },
          settledAt: "2026-11-25T10:00:00.000Z",
        },
      }),
    );
    // Already measured (no reading kept), and after a rollback (no batch): nothing left to judge.
    expect(read({ ...v1, readingBeforeLastStep: undefined }).lastStep?.judged).toBe("measured");
    expect(read({ ...v1, lastBatch: [] }).lastStep).toBeUndefined();
    expect(() => read({ ...v1, lastStepAt: "soon" })).toThrow("lastStepAt is not an ISO 8601 time");
  });
});

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "autoprotect-state-"));
  tempDirs.push(dir);
  return dir;
}

let azurite: Azurite | undefined;
let azuriteProblem: string | undefined;
try {
  azurite = await startAzurite();
} catch (error) {
  // Azurite is a devDependency: in CI it must start, so a failure there is a failure, not a skip.
  if (process.env.CI) throw error;
  azuriteProblem = error instanceof Error ? error.message : String(error);
  console.warn(`Azurite could not start, so the table store tests are skipped: ${azuriteProblem}`);
}

afterAll(async () => {
  await azurite?.stop();
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe("file state store", () => {
  storeContract(async () => {
    const dir = await tempDir();
    return {
      open: () => createFileStateStore(dir),
      corrupt: async (id) => {
        const file = join(dir, "rollouts", `${rolloutKeyHash(id)}.json`);
        await writeFile(file, '{"format": 1, "revision": 2, "state": {"serviceId"');
        return file;
      },
    };
  });

  it("keeps one file per service and leaves no temp or lock files behind", async () => {
    const dir = await tempDir();
    const store = createFileStateStore(dir);
    const id = serviceId();
    let version = await store.put(sampleState(id), undefined);
    for (let i = 1; i <= 3; i++) version = await store.put(sampleState(id, { steps: i }), version);
    await store.put(sampleState(serviceId()), undefined);
    const files = await readdir(join(dir, "rollouts"));
    expect(files).toHaveLength(2);
    for (const name of files) expect(name).toMatch(/^[0-9a-f]{64}\.json$/);
    const content = JSON.parse(
      await readFile(join(dir, "rollouts", `${rolloutKeyHash(id)}.json`), "utf8"),
    ) as Record<string, unknown>;
    expect(content).toMatchObject({ format: 1, revision: 4, serviceId: id, state: { steps: 3 } });
    expect(version).toBe("4");
  });

  it("names a file that is valid JSON but not a rollout state", async () => {
    const dir = await tempDir();
    const store = createFileStateStore(dir);
    const id = serviceId();
    await store.put(sampleState(id), undefined);
    const file = join(dir, "rollouts", `${rolloutKeyHash(id)}.json`);
    await writeFile(
      file,
      JSON.stringify({ format: 1, revision: 1, state: { serviceId: id, batchSize: "2" } }),
    );
    await expect(store.get(id)).rejects.toThrow(`rollout state file ${file} is unreadable: batchSize`);
    const other = serviceId();
    await writeFile(file, JSON.stringify({ format: 1, revision: 1, state: sampleState(other) }));
    await expect(store.get(id)).rejects.toThrow(`holds the state of ${other}`);
  });

  it("breaks a lock left by a writer that died, and waits for a live one", async () => {
    const dir = await tempDir();
    const id = serviceId();
    const store = createFileStateStore(dir, { staleLockMs: 30_000, lockTimeoutMs: 300 });
    const lock = join(dir, "rollouts", `${rolloutKeyHash(id)}.lock`);
    await mkdir(join(dir, "rollouts"), { recursive: true });

    await writeFile(lock, "held by a live writer");
    const started = Date.now();
    await expect(store.put(sampleState(id), undefined)).rejects.toThrow(lock);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);

    const longAgo = new Date(Date.now() - 60_000);
    await utimes(lock, longAgo, longAgo);
    const version = await store.put(sampleState(id), undefined);
    expect(await store.get(id)).toEqual({ state: sampleState(id), version });
    expect(await readdir(join(dir, "rollouts"))).toEqual([`${rolloutKeyHash(id)}.json`]);
  });

  describe("between processes", () => {
    let transpiled: Promise<string> | undefined;
    const modules = (): Promise<string> => (transpiled ??= transpileFileStore());

    it("lets exactly one of two processes writing from the same version win", async () => {
      const dir = await tempDir();
      const id = serviceId();
      const store = createFileStateStore(dir);
      await store.put(sampleState(id), undefined);
      const results = await runWriters(await modules(), ["once", "once"], dir, id);
      expect(results.map((r) => r.wins).sort()).toEqual([0, 1]);
      expect((await store.get(id))?.state).toMatchObject({ steps: 1 });
      expect((await store.get(id))?.version).toBe("2");
    });

    it("loses no update when two processes keep incrementing", async () => {
      const dir = await tempDir();
      const id = serviceId();
      const store = createFileStateStore(dir);
      await store.put(sampleState(id), undefined);
      const perWriter = 40;
      const results = await runWriters(await modules(), ["loop", "loop"], dir, id, perWriter);
      expect(results.map((r) => r.wins)).toEqual([perWriter, perWriter]);
      const final = await store.get(id);
      expect(final?.state.steps).toBe(2 * perWriter);
      expect(final?.version).toBe(String(2 * perWriter + 1));
    });
  });
});

describe.skipIf(azurite === undefined)(
  `table state store (Azurite)${azuriteProblem === undefined ? "" : `: skipped, ${azuriteProblem}`}`,
  () => {
    const connectionString = (): string => {
      if (azurite === undefined) throw new Error("Azurite is not running");
      return azurite.connectionString;
    };
    const tableName = (): string => `rollout${randomUUID().replaceAll("-", "").slice(0, 20)}`;

    storeContract(() => {
      const name = tableName();
      const raw = TableClient.fromConnectionString(connectionString(), name, {
        allowInsecureConnection: true,
      });
      return Promise.resolve({
        // Alternate the ways in: a connection string, and a TableClient given.
        open: (() => {
          let n = 0;
          return () =>
            n++ % 2 === 0
              ? createTableStateStore({ connectionString: connectionString(), tableName: name })
              : createTableStateStore({ tableClient: raw });
        })(),
        corrupt: async (id) => {
          const partitionKey = /\/subscriptions\/([^/]+)/.exec(id.toLowerCase())?.[1] ?? "_";
          const rowKey = rolloutKeyHash(id);
          await raw.updateEntity({ partitionKey, rowKey, State: "{not json" }, "Merge");
          return `entity ${partitionKey}/${rowKey} in table ${name}`;
        },
      });
    });

    it("stores the original id, the subscription as PartitionKey and a hash as RowKey", async () => {
      const name = tableName();
      const store = createTableStateStore({ connectionString: connectionString(), tableName: name });
      const subscription = randomUUID().toUpperCase();
      const id = serviceId(subscription, "Contoso-APIM");
      await store.put(sampleState(id), undefined);
      const raw = TableClient.fromConnectionString(connectionString(), name, {
        allowInsecureConnection: true,
      });
      const entities = [];
      for await (const entity of raw.listEntities()) entities.push(entity);
      expect(entities).toHaveLength(1);
      expect(entities[0]).toMatchObject({
        partitionKey: subscription.toLowerCase(),
        rowKey: rolloutKeyHash(id),
        ServiceId: id,
        StateParts: 1,
        State: JSON.stringify(sampleState(id)),
      });
    });
  },
);

/**
 * The child processes run the real file store: its two modules, transpiled (types stripped) into a temp
 * directory, since plain `node` cannot import TypeScript on every supported version.
 */
async function transpileFileStore(): Promise<string> {
  const out = await tempDir();
  await mkdir(join(out, "rollout"));
  await writeFile(join(out, "package.json"), '{ "type": "module" }\n');
  for (const name of ["types", "state-store", "file-state-store"]) {
    const source = await readFile(
      fileURLToPath(new URL(`../../src/rollout/${name}.ts`, import.meta.url)),
      "utf8",
    );
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: {
        module: ts.ModuleKind.ES2022,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: true,
      },
    });
    await writeFile(join(out, "rollout", `${name}.js`), outputText);
  }
  await writeFile(join(out, "writer.js"), WRITER);
  return out;
}

/**
 * A writer process: reads the state, says "ready", waits for "go" on stdin, then either makes one
 * compare-and-swap from what it read ("once") or increments `steps` N times, re-reading after each conflict
 * ("loop"). Prints its wins and conflicts as JSON.
 */
const WRITER = `
import { createFileStateStore } from "./rollout/file-state-store.js";
const [mode, dir, serviceId, countText] = process.argv.slice(2);
const store = createFileStateStore(dir);
const first = await store.get(serviceId);
const go = new Promise((resolve) => process.stdin.once("data", resolve));
process.stdout.write("ready\\n");
await go;
let wins = 0;
let conflicts = 0;
if (mode === "once") {
  try {
    await store.put({ ...first.state, steps: first.state.steps + 1 }, first.version);
    wins++;
  } catch (error) {
    if (error.name !== "RolloutConflictError") throw error;
    conflicts++;
  }
} else {
  while (wins < Number(countText)) {
    const current = await store.get(serviceId);
    try {
      await store.put({ ...current.state, steps: current.state.steps + 1 }, current.version);
      wins++;
    } catch (error) {
      if (error.name !== "RolloutConflictError") throw error;
      conflicts++;
    }
  }
}
process.stdout.write(JSON.stringify({ wins, conflicts }) + "\\n");
process.exit(0);
`;

interface WriterResult {
  readonly wins: number;
  readonly conflicts: number;
}

async function runWriters(
  moduleDir: string,
  modes: readonly ("once" | "loop")[],
  dir: string,
  id: string,
  count = 1,
): Promise<WriterResult[]> {
  const children = modes.map((mode) => {
    const child = spawn(process.execPath, [join(moduleDir, "writer.js"), mode, dir, id, String(count)], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const ready = new Promise<void>((resolve) => {
      child.stdout.on("data", (chunk: string) => {
        stdout += chunk;
        if (stdout.includes("ready\n")) resolve();
      });
    });
    const done = new Promise<WriterResult>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code) => {
        const last = stdout.trim().split("\n").at(-1) ?? "";
        if (code === 0 && last.startsWith("{")) resolve(JSON.parse(last) as WriterResult);
        else reject(new Error(`writer exited ${String(code)}: ${stderr}${stdout}`));
      });
    });
    return { child, ready, done };
  });
  // Both have read the state before either writes: a real race from the same version.
  await Promise.race([Promise.all(children.map((c) => c.ready)), Promise.any(children.map((c) => c.done))]);
  for (const { child } of children) child.stdin.write("go\n");
  return Promise.all(children.map((c) => c.done));
}
