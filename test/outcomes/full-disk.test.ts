/**
 * A full disk under the state folder. node:fs/promises is replaced for this file only: in a folder
 * marked full, what needs new space fails with ENOSPC as the kernel fails it (a new directory; the
 * data of a write, after the file was created or emptied), and the rest (reading, renaming, removing)
 * works, as it does on a full disk.
 */
import { mkdir, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Simulator } from "../../sim/index.js";
import { deliver } from "../../src/cli/deliver.js";
import { deliverOutcomes, SpoolError } from "../../src/outcomes/delivery.js";
import { createFileSpool } from "../../src/outcomes/file-spool.js";
import { createFileStateStore } from "../../src/rollout/file-state-store.js";
import { BASE_ENV } from "../support/azure.js";
import { cli } from "../support/cli.js";
import { cluster, estate } from "../support/estate.js";
import { landed, outcome, RULE, startIngestion, uploaderFor } from "../support/outcomes.js";

const disk = vi.hoisted(() => ({
  /** Paths (or path prefixes) on the full disk. */
  full: [] as string[],
}));

vi.mock("node:fs/promises", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs/promises")>();
  const isFull = (path: unknown): boolean => disk.full.some((prefix) => String(path).startsWith(prefix));
  const enospc = (syscall: string, path: unknown): NodeJS.ErrnoException =>
    Object.assign(new Error(`ENOSPC: no space left on device, ${syscall} '${String(path)}'`), {
      code: "ENOSPC",
      errno: -28,
      syscall,
      path: String(path),
    });
  const WRITES = new Set(["write", "writeFile", "appendFile", "writev"]);
  const mocked = {
    ...real,
    mkdir: async (...args: Parameters<typeof real.mkdir>) => {
      const [path] = args;
      if (isFull(path) && !existsSync(String(path))) throw enospc("mkdir", path);
      return real.mkdir(...args);
    },
    writeFile: async (...args: Parameters<typeof real.writeFile>) => {
      const [path] = args;
      if (!isFull(path)) return real.writeFile(...args);
      await real.writeFile(path, "");
      throw enospc("write", path);
    },
    appendFile: async (...args: Parameters<typeof real.appendFile>) => {
      const [path] = args;
      if (!isFull(path)) return real.appendFile(...args);
      await real.appendFile(path, "");
      throw enospc("write", path);
    },
    open: async (...args: Parameters<typeof real.open>) => {
      const handle = await real.open(...args);
      if (!isFull(args[0])) return handle;
      return new Proxy(handle, {
        get(target, property) {
          if (typeof property === "string" && WRITES.has(property)) {
            return () => Promise.reject(enospc("write", args[0]));
          }
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    },
  };
  return { ...mocked, default: mocked };
});

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  disk.full = [];
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function sim(): Promise<Simulator> {
  const s = await startIngestion();
  closers.push(() => s.close());
  return s;
}

function folder(): Promise<string> {
  return mkdtemp(join(process.env.AUTOPROTECT_TEST_TMP ?? tmpdir(), "full-"));
}

/** Lock files, temporary files and stale-lock leftovers: none may remain. */
async function leftovers(dir: string): Promise<string[]> {
  const names = await readdir(dir, { recursive: true });
  return names.filter((name) => /lock|\.tmp$|\.stale$/.test(name));
}

describe("a full disk", () => {
  it("is not hidden by the test's fs: the spool really cannot be written", async () => {
    const dir = await folder();
    disk.full = [dir];
    await expect(writeFile(join(dir, "x"), "data")).rejects.toMatchObject({ code: "ENOSPC" });
    expect(await readFile(join(dir, "x"), "utf8")).toBe("");
  });

  it("with Log Analytics down: the delivery says how many outcomes it could not keep, the spool stays as it was, no lock remains", async () => {
    const s = await sim();
    const dir = await folder();
    const deps = { uploader: uploaderFor(s), spool: createFileSpool(dir) };
    s.setIngestionDown(true, { retryAfterSeconds: 0 });
    expect(await deliverOutcomes([outcome(1), outcome(2)], deps)).toMatchObject({ sent: 0, spooled: 2 });
    const before = await readFile(join(dir, "outcome-spool.jsonl"), "utf8");

    disk.full = [dir];
    const error: unknown = await deliverOutcomes([outcome(3), outcome(4)], deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SpoolError);
    expect(error).toMatchObject({ unkept: 2, done: { sent: 0 } });
    expect((error as Error).message).toMatch(/^cannot lock the spool: ENOSPC/);
    expect(await readFile(join(dir, "outcome-spool.jsonl"), "utf8")).toBe(before);
    expect(await leftovers(dir)).toEqual([]);

    // Space again, service back: what was kept goes; 3 and 4 exist only in that run's output.
    disk.full = [];
    s.setIngestionDown(false);
    expect(await deliverOutcomes([outcome(5)], deps)).toMatchObject({ sent: 3, spooled: 0 });
    expect(landed(s)).toEqual(["outcome 1", "outcome 2", "outcome 5"]);
  });

  it("with Log Analytics up: this run's outcomes still go, and the error says nothing was lost", async () => {
    const s = await sim();
    const dir = await folder();
    disk.full = [dir];
    const error: unknown = await deliverOutcomes([outcome(1), outcome(2)], {
      uploader: uploaderFor(s),
      spool: createFileSpool(dir),
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ unkept: 0, done: { sent: 2 } });
    expect(landed(s)).toEqual(["outcome 1", "outcome 2"]);
    expect(await leftovers(dir)).toEqual([]);
  });

  it("filling up after the lock was taken: the lock is released, no half-written file remains", async () => {
    const s = await sim();
    const dir = await folder();
    // Only the spool's files are on the full disk: the lock can be taken, nothing can be kept.
    disk.full = [join(dir, "outcome-spool.jsonl"), join(dir, "outcome-spool.incoming")];
    s.setIngestionDown(true, { retryAfterSeconds: 0 });
    const error: unknown = await deliverOutcomes([outcome(1)], {
      uploader: uploaderFor(s),
      spool: createFileSpool(dir),
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ unkept: 1 });
    expect((error as Error).message).toMatch(/^cannot keep unsent outcomes in the spool: ENOSPC/);
    expect(await leftovers(dir)).toEqual([]);
  });

  it("the CLI's line says how many of the run's outcomes were neither sent nor kept", async () => {
    const s = await sim();
    const dir = await folder();
    s.setIngestionDown(true, { retryAfterSeconds: 0 });
    disk.full = [dir];
    let stderr = "";
    const failure = await deliver(
      [outcome(1), outcome(2), outcome(3)],
      { uploader: uploaderFor(s), spool: createFileSpool(dir) },
      dir,
      { stdout: { write: () => true }, stderr: { write: (t: string) => (stderr += t) }, env: {} },
    );
    expect(stderr).toBe("outcomes: 0 sent to Log Analytics\n");
    expect(failure).toMatch(
      new RegExp(
        `^outcomes: the spool in ${dir} cannot be written: cannot lock the spool: ENOSPC: no space left on device, write .*; 3 of this run's outcomes were neither sent nor kept \\(they are in the output above\\)$`,
      ),
    );
  });

  it("a rollout state write leaves no empty lock file behind", async () => {
    const dir = await folder();
    await mkdir(join(dir, "rollouts"));
    disk.full = [dir];
    const store = createFileStateStore(dir);
    const serviceId = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim";
    await expect(
      store.put(
        {
          schemaVersion: 3,
          serviceId,
          batchSize: 1,
          steps: 0,
          rollbacks: 0,
          rolledBack: [],
          inProgressSince: {},
        },
        undefined,
      ),
    ).rejects.toMatchObject({ code: "ENOSPC" });
    expect(await leftovers(dir)).toEqual([]);
  });
});

describe("a CLI run with the state folder on a full disk", () => {
  const env = (stateDir: string) => ({
    ...BASE_ENV,
    AUTOPROTECT_STATE_DIR: stateDir,
    AUTOPROTECT_INGESTION_ENDPOINT: "https://dce-autoprotect.westeurope-1.ingest.monitor.azure.com",
    AUTOPROTECT_DCR_ID: RULE,
  });

  it.each([["--json"], ["the table"]])(
    "prints every outcome (%s), saves the estate, and ends with one line naming the problem (exit 1)",
    async (output) => {
      const work = await folder();
      const stateDir = join(work, "state");
      const estatePath = join(work, "estate.json");
      await writeFile(estatePath, JSON.stringify(estate([cluster("aks-a"), cluster("aks-b")])));
      const saved = join(work, "saved.json");
      disk.full = [stateDir];
      const args = ["sweep", "--simulate", estatePath, "--save-estate", saved];
      const result = await cli(output === "--json" ? [...args, "--json"] : args, env(stateDir));

      expect(result.code).toBe(1);
      if (output === "--json") {
        const records = result.stdout.trim().split("\n");
        expect(records.length).toBeGreaterThan(4);
        expect(records.every((r) => (JSON.parse(r) as { OutcomeId?: string }).OutcomeId !== undefined)).toBe(
          true,
        );
      } else {
        expect(result.stdout).toContain("aks-a");
        expect(result.stdout).toContain("aks-b");
      }
      const lines = result.stderr.trimEnd().split("\n");
      expect(lines.at(-1)).toMatch(
        /^autoprotect: outcomes: the spool in .* cannot be written: cannot lock the spool: ENOSPC: no space left on device.*; none of this run's outcomes was lost$/,
      );
      expect(lines.filter((l) => l.includes("ENOSPC"))).toHaveLength(1);
      expect(result.stderr).not.toContain("unexpected error");
      // They went to the simulated workspace, and the saved estate carries them.
      const logs = (JSON.parse(await readFile(saved, "utf8")) as { logs?: Record<string, unknown[]> }).logs;
      expect(Object.values(logs ?? {})[0]?.length).toBeGreaterThan(4);
      expect(existsSync(stateDir) ? await leftovers(stateDir) : []).toEqual([]);
    },
  );

  it("with Log Analytics failing too, the last line says how many outcomes exist only in the output", async () => {
    const work = await folder();
    const stateDir = join(work, "state");
    const estatePath = join(work, "estate.json");
    const ingestionDown = {
      kind: "status",
      pathRegex: "^/dataCollectionRules/",
      status: 503,
      code: "ServiceUnavailable",
      retryAfterSeconds: 0,
      times: 100,
    };
    await writeFile(estatePath, JSON.stringify({ ...estate([cluster("aks-a")]), faults: [ingestionDown] }));
    disk.full = [stateDir];
    const result = await cli(["sweep", "--simulate", estatePath, "--json"], env(stateDir));
    expect(result.code).toBe(1);
    const printed = result.stdout.trim().split("\n").length;
    expect(result.stderr.trimEnd().split("\n").at(-1)).toMatch(
      new RegExp(
        `^autoprotect: outcomes: the spool in .* cannot be written: cannot lock the spool: ENOSPC.*; ${String(printed)} of this run's outcomes were neither sent nor kept \\(they are in the output above\\)$`,
      ),
    );
    expect(existsSync(stateDir) ? await leftovers(stateDir) : []).toEqual([]);
  });
});
