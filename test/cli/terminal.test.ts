import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASE_ENV } from "../support/azure.js";
import { bundleCli } from "../support/cli-process.js";
import { SUB_A, cluster, estate } from "../support/estate.js";

/**
 * The CLI on a pseudo-terminal (Python's pty module): what a person at a terminal sees and types. The
 * confirmation prompt and the progress bar only exist there.
 */
const root = fileURLToPath(new URL("../..", import.meta.url));
const run = promisify(execFile);

interface Screen {
  readonly code: number;
  readonly screen: string;
  readonly answered: boolean;
  readonly timedOut: boolean;
}

let bundled: Awaited<ReturnType<typeof bundleCli>> | undefined;
let dir: string;
beforeAll(async () => {
  bundled = await bundleCli();
  dir = await mkdtemp(join(process.env.AUTOPROTECT_TEST_TMP ?? tmpdir(), "autoprotect-terminal-"));
}, 60_000);
afterAll(async () => {
  await bundled?.remove();
});

async function onTerminal(
  args: string[],
  answer?: string,
  extraEnv: Record<string, string> = {},
): Promise<Screen> {
  const spec = {
    argv: [process.execPath, bundled?.entry ?? "", ...args],
    cwd: root,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      TERM: "xterm",
      ...BASE_ENV,
      AUTOPROTECT_STATE_DIR: join(dir, "state"),
      ...extraEnv,
    },
    prompt: "Enforce now? [y/N]",
    answer,
    timeout: 60,
  };
  const { stdout } = await run("python3", [join(root, "test/support/pty-run.py"), JSON.stringify(spec)], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout) as Screen;
}

describe("on a terminal", () => {
  it("enforce against Azure shows the banner and asks; n stops before anything is read", async () => {
    const result = await onTerminal(["sweep", "--subscription", SUB_A], "n\r");
    expect(result.timedOut).toBe(false);
    expect(result.answered).toBe(true);
    expect(result.screen).toMatch(
      /autoprotect: ENFORCE mode \(from the default\) against Azure: subscription 0a1b2c3d-0000-4000-8000-00000000000a/,
    );
    expect(result.screen).toMatch(/It may:\r?\n {2}- turn on Defender for Containers/);
    expect(result.screen).toContain("Enforce now? [y/N] ");
    expect(result.screen).toMatch(/not confirmed; nothing was changed/);
    expect(result.screen).not.toMatch(/cannot sign in/);
    expect(result.code).toBe(1);
  });

  it("y goes on: here to the sign-in, which fails in one line naming az login and --simulate", async () => {
    const result = await onTerminal(["sweep", "--subscription", SUB_A], "y\r");
    expect(result.answered).toBe(true);
    expect(result.screen).toMatch(/cannot sign in to Azure: run 'az login'.*--simulate/);
    expect(result.code).toBe(2);
  });

  it("--yes does not ask", async () => {
    const result = await onTerminal(["sweep", "--subscription", SUB_A, "--yes"]);
    expect(result.screen).toMatch(/ENFORCE mode/);
    expect(result.screen).not.toContain("Enforce now?");
    expect(result.code).toBe(2);
  });

  it("a large simulated sweep draws the progress bar over every resource, then the table and summary", async () => {
    const path = join(dir, "thirty.json");
    await writeFile(
      path,
      JSON.stringify(
        estate(Array.from({ length: 30 }, (_, i) => cluster(`aks-${String(i).padStart(2, "0")}`))),
      ),
    );
    const result = await onTerminal(["sweep", "--simulate", path, "--mode", "audit"], undefined, {
      NO_COLOR: "1",
    });
    expect(result.code).toBe(0);
    expect(result.screen).not.toContain("Enforce now?");
    expect(result.screen).toMatch(/\[[#.]{30}\] \d+\/32 resources/);
    expect(result.screen).toContain("\r\u001b[2K");
    expect(result.screen).toMatch(/aks-29 {2}\/subscriptions\//);
    expect(result.screen).toMatch(/\d+ checks on 32 resources: /);
  });
});
