/**
 * Two real processes (child_process) sharing a state folder deliver to the simulator's Logs Ingestion
 * endpoint at the same moment, with a large backlog in the spool: no row lands twice. And a process
 * killed while draining leaves a lock that the next one takes over at once, losing nothing.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Simulator } from "../../sim/index.js";
import { deliverOutcomes, type DeliveryReport } from "../../src/outcomes/delivery.js";
import { createFileSpool } from "../../src/outcomes/file-spool.js";
import { OUTCOME_STREAM } from "../../src/outcomes/schema.js";
import { outcome, RULE, startIngestion, uploaderFor } from "../support/outcomes.js";

const BACKLOG = 600;
const EACH = 20;

let work = "";
let worker = "";
let caFile = "";
let sim: Simulator;

beforeAll(async () => {
  work = await mkdtemp(join(process.env.AUTOPROTECT_TEST_TMP ?? tmpdir(), "spool-processes-"));
  worker = join(work, "worker.mjs");
  // CommonJS dependencies inside an ES module need `require`: made from the bundle's own URL.
  await build({
    entryPoints: [new URL("../support/spool-worker.ts", import.meta.url).pathname],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile: worker,
    logLevel: "error",
    banner: {
      js: 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);',
    },
  });
  // Every answer a little late, so the two deliveries overlap.
  sim = await startIngestion({}, 40);
  caFile = join(work, "ca.pem");
  await writeFile(caFile, sim.ca);
}, 60_000);
afterAll(async () => {
  await sim.close();
});

interface Worker {
  readonly child: ChildProcessWithoutNullStreams;
  readonly ready: Promise<void>;
  readonly done: Promise<DeliveryReport>;
}

function startWorker(dir: string, outcomesFile: string): Worker {
  const child = spawn(process.execPath, [worker, dir, sim.endpoint, caFile, RULE, outcomesFile]);
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
  const done = new Promise<DeliveryReport>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      const last = stdout.trim().split("\n").at(-1) ?? "";
      if (code === 0 && last.startsWith("{")) resolve(JSON.parse(last) as DeliveryReport);
      else reject(new Error(`worker exited ${String(code ?? signal)}: ${stderr}${stdout}`));
    });
  });
  return { child, ready, done };
}

/** A state folder whose spool holds a backlog, and one outcomes file per worker. */
async function trialFolder(trial: string, workers: number): Promise<{ dir: string; files: string[] }> {
  const dir = join(work, trial);
  const { mkdir } = await import("node:fs/promises");
  await mkdir(dir);
  const backlog = Array.from({ length: BACKLOG }, (_, n) => outcome(n, `${trial}-backlog`));
  await writeFile(join(dir, "outcome-spool.jsonl"), backlog.map((o) => `${JSON.stringify(o)}\n`).join(""));
  const files: string[] = [];
  for (let w = 0; w < workers; w += 1) {
    const file = join(work, `${trial}-worker-${String(w)}.json`);
    await writeFile(
      file,
      JSON.stringify(Array.from({ length: EACH }, (_, n) => outcome(n, `${trial}-w${String(w)}`))),
    );
    files.push(file);
  }
  return { dir, files };
}

/** The rows of this trial that landed, by OutcomeId. */
function landedIds(trial: string): string[] {
  return sim
    .ingested(OUTCOME_STREAM)
    .map((r) => String(r.row.OutcomeId))
    .filter((id) => id.startsWith(`${trial}-`));
}

async function locks(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.includes("lock"));
}

describe("two CLI processes sharing a state folder", () => {
  it.each([["trial-1"], ["trial-2"], ["trial-3"]])(
    "deliver at the same moment: every row lands once (%s)",
    async (trial) => {
      const { dir, files } = await trialFolder(trial, 2);
      const workers = files.map((file) => startWorker(dir, file));
      await Promise.all(workers.map((w) => w.ready));
      for (const { child } of workers) child.stdin.write("go\n");
      const reports = await Promise.all(workers.map((w) => w.done));

      // One drained the backlog; the other queued its rows behind it. Whatever the drainer had
      // finished with before those arrived waits for the next delivery.
      const after = await deliverOutcomes([], { uploader: uploaderFor(sim), spool: createFileSpool(dir) });
      const total = BACKLOG + 2 * EACH;
      expect(reports.reduce((sum, r) => sum + r.sent, 0) + after.sent).toBe(total);
      const ids = landedIds(trial);
      expect(ids).toHaveLength(total);
      expect(new Set(ids).size).toBe(total);
      expect(after.spooled).toBe(0);
      expect(await locks(dir)).toEqual([]);
    },
  );

  it("a process killed while draining: the next one takes its lock over at once, and nothing is lost", async () => {
    const trial = "killed";
    const { dir, files } = await trialFolder(trial, 2);
    const [first, second] = files;
    const killed = startWorker(dir, first ?? "");
    await killed.ready;
    killed.child.stdin.write("go\n");
    // Killed as soon as it holds the drain lock, in the middle of its delivery.
    const lockPath = join(dir, "outcome-spool.lock");
    const holder = async (): Promise<unknown> => {
      try {
        return JSON.parse(await readFile(lockPath, "utf8"));
      } catch {
        return undefined;
      }
    };
    for (let i = 0; i < 1000 && (await holder()) === undefined; i += 1) await sleep(2);
    killed.child.kill("SIGKILL");
    await killed.done.catch(() => undefined);
    expect(await holder()).toMatchObject({ pid: killed.child.pid });

    const next = startWorker(dir, second ?? "");
    await next.ready;
    next.child.stdin.write("go\n");
    const report = await next.done;
    expect(report.spooled).toBe(0);
    // The killed process's own outcomes were never kept (it died before saying anything about them);
    // the backlog and the second process's rows all landed, each OutcomeId at least once.
    const ids = new Set(landedIds(trial));
    for (let n = 0; n < BACKLOG; n += 1) expect(ids.has(`${trial}-backlog-${String(n)}`)).toBe(true);
    for (let n = 0; n < EACH; n += 1) expect(ids.has(`${trial}-w1-${String(n)}`)).toBe(true);
    expect(await locks(dir)).toEqual([]);
  });
});
