import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEstate } from "../../sim/index.js";
import { runCli, type Interrupt } from "../../src/cli/main.js";
import { kindInfo } from "../../src/model/targets.js";
import { apimApi, apimService, SUB } from "../support/sim.js";
import { BASE_ENV } from "../support/azure.js";
import { bundleCli, runCliProcess } from "../support/cli-process.js";
import { cluster, estate } from "../support/estate.js";
import { records } from "../support/cli.js";

const CLUSTERS = 40;
let dir: string;
let big: string;
let mixed: string;
let run = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(process.env.AUTOPROTECT_TEST_TMP ?? tmpdir(), "autoprotect-streaming-"));
  big = join(dir, "big.json");
  await writeFile(
    big,
    JSON.stringify(
      estate(Array.from({ length: CLUSTERS }, (_, i) => cluster(`aks-${String(i).padStart(3, "0")}`))),
    ),
  );
  // Clusters, an APIM service and its APIs in one subscription: every kind the progress counts.
  mixed = join(dir, "mixed.json");
  const service = apimService("apim-dev", "Developer");
  await writeFile(
    mixed,
    JSON.stringify({
      subscriptions: [{ subscriptionId: SUB }],
      resources: [
        ...Array.from({ length: 20 }, (_, i) => cluster(`aks-${String(i)}`, { sub: SUB })),
        service,
        apimApi("apim-dev", "orders"),
        apimApi("apim-dev", "payments"),
      ],
    }),
  );
});

function envFor(): Record<string, string> {
  run += 1;
  return { ...BASE_ENV, AUTOPROTECT_STATE_DIR: join(dir, `state-${String(run)}`) };
}

/** The CLI in-process with interruptions we send, and every write to stdout kept apart. */
async function interruptible(
  args: string[],
  when: (writes: string[], interrupt: (what: Interrupt) => void) => void,
  terminal = false,
) {
  const writes: string[] = [];
  let stderr = "";
  let listener: ((what: Interrupt) => void) | undefined;
  const code = await runCli(args, {
    stdout: {
      write: (t: string) => {
        writes.push(t);
        when(writes, (what) => listener?.(what));
      },
      isTTY: terminal,
    },
    stderr: { write: (t: string) => (stderr += t), isTTY: terminal },
    env: envFor(),
    onInterrupt: (l) => {
      listener = l;
      return () => {
        listener = undefined;
      };
    },
  });
  return { code, writes, stdout: writes.join(""), stderr };
}

describe("table output streams per resource", () => {
  it("prints each resource's block as it is done, then the summary", async () => {
    const result = await interruptible(["sweep", "--simulate", big, "--mode", "audit"], () => undefined);
    expect(result.code).toBe(0);
    // One write per resource block (two plans and the clusters), and the summary: not one write at the end.
    expect(result.writes.length).toBe(2 + CLUSTERS + 1);
    expect(result.writes.at(-1)).toMatch(/^\d+ checks on \d+ resources: /);
    for (const block of result.writes.slice(0, -1)) expect(block.match(/^\S/gm)).toHaveLength(1);
  });

  it("counts every kind of resource in the progress bar on a terminal, and steps aside for each block", async () => {
    let stderr = "";
    let stdout = "";
    const code = await runCli(["sweep", "--simulate", mixed, "--mode", "audit"], {
      stdout: { write: (t: string) => (stdout += t), isTTY: true },
      stderr: { write: (t: string) => (stderr += t), isTTY: true },
      env: { ...envFor(), NO_COLOR: "1" },
    });
    expect(code).toBe(0);
    // Two plans, twenty clusters, one APIM service (its APIs settle with it).
    expect(stderr).toContain("23/23 resources");
    expect(stderr).toContain("\r\u001b[2K");
    expect(stdout).toContain("orders");
  });
});

describe("interrupted: every outcome decided is printed and kept, and the run ends with 130", () => {
  it("Ctrl-C stops new work; every check still has its outcome and the estate is saved", async () => {
    const saved = join(dir, "after-interrupt.json");
    let sent = false;
    const result = await interruptible(
      ["sweep", "--simulate", big, "--save-estate", saved, "-o", "json"],
      (_writes, interrupt) => {
        if (!sent) {
          sent = true;
          interrupt("SIGINT");
        }
      },
    );
    expect(result.code).toBe(130);
    expect(result.stderr).toMatch(/stopping: no new resource is started/);
    expect(result.stderr).toMatch(
      /interrupted \(SIGINT\): \d+ outcomes decided are above and the estate is saved/,
    );
    const outcomes = records(result.stdout);
    const interrupted = outcomes.filter((o) => o.Details.code === "RunInterrupted");
    expect(interrupted.length).toBeGreaterThan(0);
    for (const o of interrupted) {
      expect(o.Status).toBe("deferred");
      expect(o.Reason).toMatch(/interrupted before this check started/);
    }
    // Every cluster still has one outcome per check: decided, or deferred as interrupted.
    const clusterChecks = kindInfo("cluster").checks.length;
    const clusters = outcomes.filter((o) => o.ResourceType.toLowerCase().endsWith("managedclusters"));
    expect(clusters).toHaveLength(CLUSTERS * clusterChecks);
    // What was written is in the saved estate, which the simulator loads again.
    const after = JSON.parse(await readFile(saved, "utf8")) as unknown;
    expect(parseEstate(after, saved).resources.length).toBeGreaterThan(CLUSTERS);
  });

  it("a second Ctrl-C stops at once, even with a write that hangs", async () => {
    const hanging = join(dir, "hanging.json");
    const e = JSON.parse(await readFile(big, "utf8")) as { faults?: unknown[] };
    e.faults = [{ kind: "hang", method: "PUT", pathRegex: "managedClusters", times: 1000 }];
    await writeFile(hanging, JSON.stringify(e));
    const saved = join(dir, "after-hang.json");
    let sent = 0;
    const started = Date.now();
    const result = await interruptible(
      ["sweep", "--simulate", hanging, "--save-estate", saved, "-o", "json"],
      (_writes, interrupt) => {
        if (sent === 0) {
          sent = 1;
          interrupt("SIGINT");
          setTimeout(() => {
            interrupt("SIGINT");
          }, 300);
        }
      },
    );
    expect(result.code).toBe(130);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(records(result.stdout).length).toBeGreaterThan(0);
    expect(existsSync(saved)).toBe(true);
  });

  it("a closed stdout (EPIPE) ends quietly: nothing more is written, the estate is saved, exit as decided", async () => {
    const saved = join(dir, "after-epipe.json");
    const result = await interruptible(
      ["sweep", "--simulate", big, "--save-estate", saved, "-o", "json", "--mode", "audit"],
      (writes, interrupt) => {
        if (writes.length === 1) interrupt("EPIPE");
      },
    );
    expect(result.code).toBe(0);
    expect(result.writes).toHaveLength(1);
    expect(result.stderr).toBe("");
    expect(existsSync(saved)).toBe(true);
  });
});

describe("the autoprotect process", () => {
  let bundled: Awaited<ReturnType<typeof bundleCli>> | undefined;
  let entry = "";
  beforeAll(async () => {
    bundled = await bundleCli();
    entry = bundled.entry;
  }, 60_000);
  afterAll(async () => {
    await bundled?.remove();
  });

  it("sweep -o json | head -1: no crash, no stack trace, exit 0, the estate saved", async () => {
    const saved = join(dir, "process-epipe.json");
    const result = await runCliProcess(
      entry,
      ["sweep", "--simulate", big, "--save-estate", saved, "-o", "json"],
      envFor(),
      (_chunk, child) => {
        // The reader reads one record and goes away.
        child.stdout?.destroy();
      },
    );
    expect(result.stderr).not.toMatch(/EPIPE|Error| {4}at /);
    expect(result.code).toBe(0);
    expect(records(result.stdout.split("\n")[0] ?? "")).toHaveLength(1);
    expect(existsSync(saved)).toBe(true);
  });

  it("SIGINT mid-sweep: exit 130, the outcomes decided printed, the estate saved", async () => {
    const saved = join(dir, "process-sigint.json");
    let sent = false;
    const result = await runCliProcess(
      entry,
      ["sweep", "--simulate", big, "--save-estate", saved, "-o", "json"],
      envFor(),
      (_chunk, child) => {
        if (!sent) {
          sent = true;
          child.kill("SIGINT");
        }
      },
    );
    expect(result.code).toBe(130);
    expect(result.stderr).toMatch(/interrupted \(SIGINT\)/);
    expect(records(result.stdout).length).toBeGreaterThan(0);
    expect(existsSync(saved)).toBe(true);
  });
});
