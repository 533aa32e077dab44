/**
 * The CLI's spool in the state folder: damaged lines moved aside, never fatal; the drain lock between
 * processes, and how a stale one is taken over.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { lstat, mkdir, mkdtemp, readFile, readdir, utimes, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import type { Simulator } from "../../sim/index.js";
import { deliverOutcomes } from "../../src/outcomes/delivery.js";
import { tryLock } from "../../src/outcomes/file-lock.js";
import { createFileSpool } from "../../src/outcomes/file-spool.js";
import { withOutcomeId } from "../../src/outcomes/record.js";
import { OUTCOME_STREAM } from "../../src/outcomes/schema.js";
import { BASE_ENV } from "../support/azure.js";
import { cli } from "../support/cli.js";
import { cluster, estate } from "../support/estate.js";
import { landed, outcome, RULE, startIngestion, uploaderFor } from "../support/outcomes.js";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function sim(): Promise<Simulator> {
  const s = await startIngestion();
  closers.push(() => s.close());
  return s;
}

function stateDir(): Promise<string> {
  return mkdtemp(join(process.env.AUTOPROTECT_TEST_TMP ?? tmpdir(), "spool-"));
}

const line = (value: unknown): string => `${JSON.stringify(value)}\n`;

/** The pid of a process that has ended. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.once("exit", resolve));
  expect(child.pid).toBeDefined();
  return child.pid ?? 0;
}

async function writeLock(path: string, holder: object | string, ageMs = 0): Promise<void> {
  await writeFile(path, typeof holder === "string" ? holder : JSON.stringify(holder));
  const at = new Date(Date.now() - ageMs);
  await utimes(path, at, at);
}

describe("a damaged spool", () => {
  it("moves each damaged line aside (reported, kept whole), sends the rows around it, and goes on", async () => {
    const s = await sim();
    const dir = await stateDir();
    const { OutcomeId: _none, ...older } = outcome(2);
    const damaged = ["{not json", "42", '{"TimeGenerated":"2026-11-25T10:00'];
    await writeFile(
      join(dir, "outcome-spool.jsonl"),
      // The last line cut short, as a write interrupted by a crash leaves it.
      line(outcome(1)) + `${damaged[0] ?? ""}\n` + line(older) + `${damaged[1] ?? ""}\n` + (damaged[2] ?? ""),
    );
    const deps = { uploader: uploaderFor(s), spool: createFileSpool(dir) };

    const report = await deliverOutcomes([outcome(3)], deps);
    expect(report).toMatchObject({ sent: 3, spooled: 0, rejected: [] });
    expect(report.corrupt.map((c) => c.problem)).toEqual([
      expect.stringMatching(/^line 2: not JSON/),
      "line 4: not a JSON object",
      expect.stringMatching(/^line 5: not JSON/),
    ]);
    const keptIn = join(dir, "outcome-corrupt.jsonl");
    expect(report.corrupt.every((c) => c.keptIn === keptIn)).toBe(true);
    const kept = (await readFile(keptIn, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { line: string; problem: string });
    expect(kept.map((k) => k.line)).toEqual(damaged);

    // In order; the row spooled before OutcomeId existed got one from its content.
    expect(landed(s)).toEqual(["outcome 1", "outcome 2", "outcome 3"]);
    const sent = s.ingested(OUTCOME_STREAM).map((r) => r.row);
    expect(sent[1]?.OutcomeId).toBe(withOutcomeId(older as ReturnType<typeof outcome>).OutcomeId);

    // Nothing left: the next delivery has nothing to report.
    expect(await deliverOutcomes([], deps)).toEqual({ sent: 0, spooled: 0, rejected: [], corrupt: [] });
    expect(await readFile(join(dir, "outcome-spool.jsonl"), "utf8")).toBe("");
  });

  it("sends a row spooled twice once", async () => {
    const s = await sim();
    const dir = await stateDir();
    await writeFile(join(dir, "outcome-spool.jsonl"), line(outcome(1)) + line(outcome(2)) + line(outcome(1)));
    const report = await deliverOutcomes([], { uploader: uploaderFor(s), spool: createFileSpool(dir) });
    expect(report).toMatchObject({ sent: 2, spooled: 0 });
    expect(landed(s)).toEqual(["outcome 1", "outcome 2"]);
  });
});

describe("a CLI run over a damaged spool", () => {
  it("says so on stderr, sends the rest, saves the estate and exits 0", async () => {
    const dir = await stateDir();
    const state = join(dir, "state");
    await mkdir(state);
    await writeFile(
      join(state, "outcome-spool.jsonl"),
      `${line(outcome(1))}{"cut short\n${line(outcome(2))}`,
    );
    const estatePath = join(dir, "estate.json");
    await writeFile(estatePath, JSON.stringify(estate([cluster("aks-a")])));
    const saved = join(dir, "saved.json");
    const result = await cli(["sweep", "--simulate", estatePath, "--json", "--save-estate", saved], {
      ...BASE_ENV,
      AUTOPROTECT_STATE_DIR: state,
      AUTOPROTECT_INGESTION_ENDPOINT: "https://dce-autoprotect.westeurope-1.ingest.monitor.azure.com",
      AUTOPROTECT_DCR_ID: RULE,
    });
    expect(result.code, result.stderr).toBe(0);
    const printed = result.stdout.trim().split("\n").length;
    expect(result.stderr).toContain(`outcomes: ${String(printed + 2)} sent to Log Analytics`);
    expect(result.stderr).toContain(
      `autoprotect: a damaged entry of the outcome spool was moved to ${join(state, "outcome-corrupt.jsonl")}: line 2: not JSON`,
    );
    const logs = (
      JSON.parse(await readFile(saved, "utf8")) as { logs: Record<string, { row: { Reason: string } }[]> }
    ).logs[OUTCOME_STREAM];
    expect(logs?.slice(0, 2).map((r) => r.row.Reason)).toEqual(["outcome 1", "outcome 2"]);
    expect(logs).toHaveLength(printed + 2);
  });
});

describe("the drain lock", () => {
  it("a live holder keeps it: a second delivery leaves its rows for the holder (or the next delivery)", async () => {
    const s = await sim();
    const dir = await stateDir();
    const holder = await tryLock(join(dir, "outcome-spool.lock"), { staleMs: 60_000 });
    expect(holder).toBeDefined();
    const deps = { uploader: uploaderFor(s), spool: createFileSpool(dir) };

    expect(await deliverOutcomes([outcome(1), outcome(2)], deps)).toMatchObject({ sent: 0, spooled: 2 });
    expect(landed(s)).toEqual([]);
    expect(await readdir(join(dir, "outcome-spool.incoming"))).toHaveLength(1);

    await holder?.release();
    expect(await deliverOutcomes([outcome(3)], deps)).toMatchObject({ sent: 3, spooled: 0 });
    expect(landed(s)).toEqual(["outcome 1", "outcome 2", "outcome 3"]);
    expect(await readdir(join(dir, "outcome-spool.incoming"))).toEqual([]);
    expect((await readdir(dir)).filter((name) => name.includes("lock"))).toEqual([]);
  });

  it("a lock whose process is gone is taken over at once", async () => {
    const dir = await stateDir();
    const path = join(dir, "outcome-spool.lock");
    await writeLock(path, { pid: await deadPid(), host: hostname(), token: "gone", at: "" });
    const lock = await tryLock(path, { staleMs: 60_000 });
    expect(lock).toBeDefined();
    expect(JSON.parse(await readFile(path, "utf8"))).toMatchObject({ pid: process.pid });
    await lock?.release();
  });

  it("a lock not renewed within the bound is taken over (a holder on another host, or one that hangs)", async () => {
    const dir = await stateDir();
    const path = join(dir, "outcome-spool.lock");
    const elsewhere = { pid: 1, host: `not-${hostname()}`, token: "far", at: "" };
    await writeLock(path, elsewhere, 5_000);
    expect(await tryLock(path, { staleMs: 60_000 })).toBeUndefined();
    await writeLock(path, elsewhere, 120_000);
    const lock = await tryLock(path, { staleMs: 60_000 });
    expect(lock).toBeDefined();
    await lock?.release();
  });

  it("a lock whose holder cannot be read (its writer died first) is stale after a few seconds", async () => {
    const dir = await stateDir();
    const path = join(dir, "outcome-spool.lock");
    await writeLock(path, "", 1_000);
    expect(await tryLock(path, { staleMs: 60_000 })).toBeUndefined();
    await writeLock(path, "", 6_000);
    const lock = await tryLock(path, { staleMs: 60_000 });
    expect(lock).toBeDefined();
    await lock?.release();
  });

  it("the holder renews it while it runs, so a slow but live holder is not judged stale", async () => {
    const dir = await stateDir();
    const path = join(dir, "outcome-spool.lock");
    const lock = await tryLock(path, { staleMs: 200 });
    await sleep(500);
    expect(Date.now() - (await lstat(path)).mtimeMs).toBeLessThan(200);
    expect(await tryLock(path, { staleMs: 200 })).toBeUndefined();
    await lock?.release();
  });

  it("a holder whose lock was taken over hears so, and does not remove the new holder's lock", async () => {
    const dir = await stateDir();
    const path = join(dir, "outcome-spool.lock");
    const lock = await tryLock(path, { staleMs: 60_000 });
    expect(await lock?.renew()).toBe(true);
    const other = { pid: process.pid, host: hostname(), token: randomUUID(), at: "" };
    await writeLock(path, other);
    expect(await lock?.renew()).toBe(false);
    await lock?.release();
    expect(JSON.parse(await readFile(path, "utf8"))).toEqual(other);
  });

  it("is held per state folder: another folder's spool drains meanwhile", async () => {
    const s = await sim();
    const [a, b] = [await stateDir(), await stateDir()];
    const holder = await tryLock(join(a, "outcome-spool.lock"), { staleMs: 60_000 });
    const report = await deliverOutcomes([outcome(1)], {
      uploader: uploaderFor(s),
      spool: createFileSpool(b),
    });
    expect(report).toMatchObject({ sent: 1 });
    await holder?.release();
  });
});
