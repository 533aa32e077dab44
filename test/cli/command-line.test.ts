import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/main.js";
import { CHECK_IDS } from "../../src/model/checks.js";
import type { OutcomeRecord } from "../../src/model/outcome.js";
import { BASE_ENV } from "../support/azure.js";
import { cli, records } from "../support/cli.js";
import { PROTECTED_PROPERTIES, SUB_A, SUB_B, cluster, estate, workspace } from "../support/estate.js";

let dir: string;
let estatePath: string;
let named: string;
let env: Record<string, string>;
beforeAll(async () => {
  dir = await mkdtemp(join(process.env.AUTOPROTECT_TEST_TMP ?? tmpdir(), "autoprotect-command-line-"));
  env = { ...BASE_ENV, AUTOPROTECT_STATE_DIR: join(dir, "state") };
  estatePath = join(dir, "estate.json");
  await writeFile(
    estatePath,
    JSON.stringify(estate([cluster("aks-open"), cluster("aks-done", { properties: PROTECTED_PROPERTIES })])),
  );
  // Two subscriptions with names, one name twice in different case: as `az account list` shows them.
  named = join(dir, "named.json");
  const e = estate([cluster("aks-open"), cluster("aks-b", { sub: SUB_B })]);
  e.subscriptions = [
    { subscriptionId: SUB_A, displayName: "Production" },
    { subscriptionId: SUB_B, displayName: "Shared" },
    { subscriptionId: "0a1b2c3d-0000-4000-8000-00000000000c", displayName: "shared" },
  ];
  e.resources.push(workspace());
  e.resources = e.resources.filter((r, i, all) => all.findIndex((x) => x.id === r.id) === i);
  await writeFile(named, JSON.stringify(e));
});

describe("help, version and usage errors", () => {
  it("--version prints the package's version", async () => {
    const result = await cli(["--version"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^autoprotect 0\.\d+\.\d+ \(Node\.js \d+/);
  });

  it("help lists every command, and help COMMAND is COMMAND --help", async () => {
    const overview = await cli(["help"]);
    expect(overview.code).toBe(0);
    for (const command of ["sweep", "reconcile", "event", "report", "rollout", "snapshot"]) {
      expect(overview.stdout).toMatch(new RegExp(`^  ${command} `, "m"));
    }
    const viaHelp = await cli(["help", "sweep"]);
    const viaFlag = await cli(["sweep", "--help"]);
    expect(viaFlag.stdout).toBe(viaHelp.stdout);
    expect(viaHelp.stdout).not.toBe(overview.stdout);
  });

  it("a command's help lists its options and the environment variables it reads", async () => {
    const sweep = (await cli(["sweep", "-h"])).stdout;
    for (const option of [
      "--subscription",
      "--mode",
      "--checks",
      "-o, --output",
      "--fail-on",
      "--yes",
      "--config",
    ]) {
      expect(sweep).toContain(option);
    }
    for (const variable of [
      "AUTOPROTECT_MODE",
      "AUTOPROTECT_WORKSPACE_ID",
      "AUTOPROTECT_AUTHORIZED_IP_RANGES",
    ]) {
      expect(sweep).toContain(variable);
    }
    const report = (await cli(["report", "--help"])).stdout;
    expect(report).toContain("--workspace");
    expect(report).toContain("table|json|html");
    expect(report).not.toContain("--fail-on");
    const rollout = (await cli(["rollout", "--help"])).stdout;
    expect(rollout).toMatch(/rollout pause SERVICE_ID/);
    expect(rollout).toContain("AUTOPROTECT_STATE_DIR");
  });

  it.each([
    [["sweep", "--force"], /^autoprotect: sweep has no option --force$/],
    [["sweep", "--simulate"], /^autoprotect: --simulate needs a value \(ESTATE\.json\)$/],
    [["sweep", "-o", "xml"], /^autoprotect: -o 'xml' is not one of table, json, sarif$/],
    [["sweep", "--json", "-o", "sarif"], /--json contradicts -o sarif/],
    [["sweep", "--fail-on", "broken"], /--fail-on 'broken' is not a status/],
    [["sweep", "--mode", "yolo"], /--mode 'yolo' is not audit or enforce/],
    [["sweep", "--dry-run", "--mode", "enforce"], /--dry-run contradicts --mode enforce/],
    [["sweep", "--checks", "aks.nope"], /--checks: unknown check 'aks.nope'/],
    [
      ["report", "--dry-run"],
      /^autoprotect: report has no option --dry-run \(--dry-run goes with sweep, reconcile or event\)$/,
    ],
    [["destroy"], /^autoprotect: unknown command 'destroy'/],
    [["--simulate", "x", "sweep"], /the command comes first/],
    [[], /^autoprotect: missing command$/],
  ])("%j: two lines, the problem and where the help is, exit 2", async (args, message) => {
    const result = await cli([...args]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(message);
    expect(lines[1]).toMatch(/^Run 'autoprotect help( [a-z]+)?' to see (its options|the commands)\.$/);
    // Not Node's parseArgs text, whose quotes do not balance.
    expect(result.stderr).not.toMatch(/To specify a positional argument/);
  });
});

describe("mode, checks and the settings file", () => {
  it("--mode audit writes nothing; --checks narrows the run to those checks", async () => {
    const result = await cli(
      ["sweep", "--simulate", estatePath, "--mode", "audit", "--checks", "aks.azure-policy", "-o", "json"],
      env,
    );
    expect(result.code).toBe(0);
    const outcomes = records(result.stdout);
    expect(new Set(outcomes.map((o) => o.Check))).toEqual(new Set(["aks.azure-policy"]));
    expect(outcomes.every((o) => o.Mode === "audit")).toBe(true);
    expect(outcomes.map((o) => o.Status).sort()).toEqual(["compliant", "planned"]);
  });

  it("reads autoprotect.json; the environment overrides it and flags override both", async () => {
    const file = join(dir, "autoprotect.json");
    await writeFile(
      file,
      JSON.stringify({
        mode: "audit",
        checks: ["aks.azure-policy", "aks.authorized-ips"],
        authorizedIpRanges: ["198.51.100.0/24"],
      }),
    );
    // The file's settings, with none of them also in the environment (which would override it).
    const { AUTOPROTECT_AUTHORIZED_IP_RANGES: _fromEnv, AUTOPROTECT_CHECKS: _checks, ...withoutRanges } = env;
    const fromFile = records(
      (await cli(["sweep", "--simulate", estatePath, "--config", file, "--json"], withoutRanges)).stdout,
    );
    expect(new Set(fromFile.map((o) => o.Mode))).toEqual(new Set(["audit"]));
    expect(new Set(fromFile.map((o) => o.Check))).toEqual(
      new Set(["aks.azure-policy", "aks.authorized-ips"]),
    );
    expect(
      fromFile.find((o) => o.Status === "planned" && o.Check === "aks.authorized-ips")?.Action,
    ).toContain("198.51.100.0/24");
    const environment = records(
      (
        await cli(["sweep", "--simulate", estatePath, "--config", file, "--json"], {
          ...withoutRanges,
          AUTOPROTECT_CHECKS: "aks.azure-policy",
        })
      ).stdout,
    );
    expect(new Set(environment.map((o) => o.Check))).toEqual(new Set(["aks.azure-policy"]));
    // The environment's ranges win over the file's.
    const ranges = records(
      (await cli(["sweep", "--simulate", estatePath, "--config", file, "--json"], env)).stdout,
    ).find((o) => o.Status === "planned" && o.Check === "aks.authorized-ips");
    expect(ranges?.Action).toContain("203.0.113.0/24");
    const flags = records(
      (
        await cli(
          ["sweep", "--simulate", estatePath, "--config", file, "--json", "--checks", "aks.defender-sensor"],
          { ...env, AUTOPROTECT_CHECKS: "aks.azure-policy" },
        )
      ).stdout,
    );
    expect(new Set(flags.map((o) => o.Check))).toEqual(new Set(["aks.defender-sensor"]));
  });

  it.each([
    [{ mode: "yolo" }, /autoprotect\.json: mode: 'yolo' is not 'enforce' or 'audit'/],
    [{ modes: "audit" }, /autoprotect\.json: unknown setting 'modes' \(known: mode, workspaceId/],
    [{ capacityLimit: { percent: 50 } }, /capacityLimit must be a string, a number/],
  ])("a bad settings file is one line naming the file and the setting: %j", async (content, message) => {
    const file = join(dir, "bad", "autoprotect.json");
    await import("node:fs/promises").then((fs) => fs.mkdir(join(dir, "bad"), { recursive: true }));
    await writeFile(file, JSON.stringify(content));
    const result = await cli(["sweep", "--simulate", estatePath, "--config", file], env);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(message);
  });
});

describe("output for pipelines", () => {
  it("-o json is --json", async () => {
    const a = records(
      (await cli(["sweep", "--simulate", estatePath, "--dry-run", "-o", "json"], env)).stdout,
    );
    const b = records((await cli(["sweep", "--simulate", estatePath, "--dry-run", "--json"], env)).stdout);
    const key = (o: OutcomeRecord): string => `${o.Check} ${o.ResourceId} ${o.Status}`;
    expect(a.map(key).sort()).toEqual(b.map(key).sort());
  });

  it("--fail-on turns planned (or manual) findings into exit 1; the default gates on failed only", async () => {
    const dryRun = ["sweep", "--simulate", estatePath, "--dry-run", "--json"];
    expect((await cli(dryRun, env)).code).toBe(0);
    expect((await cli([...dryRun, "--fail-on", "planned,manual,failed"], env)).code).toBe(1);
    expect((await cli([...dryRun, "--fail-on", "manual"], env)).code).toBe(0);
  });
});

describe("subscriptions as people type them", () => {
  it("the same subscription twice is one run: each check once", async () => {
    const result = await cli(
      [
        "sweep",
        "--simulate",
        estatePath,
        "--subscription",
        SUB_A,
        "--subscription",
        SUB_A.toUpperCase(),
        "--json",
      ],
      { ...env, AUTOPROTECT_STATE_DIR: join(dir, "state-twice") },
    );
    expect(result.code).toBe(0);
    const outcomes = records(result.stdout);
    const keys = outcomes.map((o) => `${o.Check} ${o.ResourceId.toLowerCase()}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(outcomes.filter((o) => o.Status === "remediated")).toHaveLength(4);
  });

  it("takes a subscription's display name, in any case, as az does", async () => {
    const result = await cli(
      ["sweep", "--simulate", named, "--subscription", "production", "--dry-run", "--json"],
      env,
    );
    expect(result.code).toBe(0);
    const subscriptions = new Set(records(result.stdout).map((o) => o.SubscriptionId));
    expect(subscriptions).toEqual(new Set([SUB_A]));
  });

  it.each([
    [
      "Shared",
      /--subscription 'Shared' names 2 subscriptions \(0a1b2c3d-0000-4000-8000-00000000000b, 0a1b2c3d-0000-4000-8000-00000000000c\): give the id/,
    ],
    [
      "Staging",
      /--subscription 'Staging' is neither a subscription id \(GUID\) nor the name of one of the 3 subscriptions/,
    ],
  ])("an ambiguous or unknown name (%s) is one line and nothing run", async (name, message) => {
    const result = await cli(["sweep", "--simulate", named, "--subscription", name, "--json"], env);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(message);
  });

  it("without a sign-in (no --simulate, no az login), one line says what to do", async () => {
    const result = await cli(["sweep", "--dry-run", "--subscription", SUB_A], env);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(
        /^autoprotect: cannot sign in to Azure: run 'az login'.*managed identity.*--simulate ESTATE\.json/,
      ),
    ]);
    expect(result.stderr).not.toMatch(/AggregateAuthenticationError| {4}at /);
  });
});

describe("safe by default: enforce against Azure asks first on a terminal", () => {
  async function person(args: string[], answer: string | undefined, terminal = true) {
    let stdout = "";
    let stderr = "";
    const asked: string[] = [];
    const code = await runCli(args, {
      stdout: { write: (t: string) => (stdout += t) },
      stderr: { write: (t: string) => (stderr += t) },
      env,
      stdinIsTTY: terminal,
      ask: (question) => {
        asked.push(question);
        return Promise.resolve(answer);
      },
    });
    return { code, stdout, stderr, asked };
  }

  it("shows the banner, and no is a clean stop before anything is read or written", async () => {
    const result = await person(["sweep", "--subscription", SUB_A], "n");
    expect(result.asked).toEqual(["Enforce now? [y/N] "]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/ENFORCE mode \(from the default\) against Azure: subscription 0a1b2c3d/);
    expect(result.stderr).toMatch(/add authorized IP ranges 203\.0\.113\.0\/24/);
    expect(result.stderr).toMatch(/not confirmed; nothing was changed/);
    expect(result.stderr).not.toMatch(/cannot sign in/);
    expect(result.stdout).toBe("");
  });

  it("yes goes on (here to the sign-in, which this machine has not)", async () => {
    const result = await person(["sweep", "--subscription", SUB_A], "yes");
    expect(result.asked).toHaveLength(1);
    expect(result.stderr).toMatch(/cannot sign in to Azure/);
  });

  it.each([
    ["--yes", ["sweep", "--subscription", SUB_A, "--yes"], true],
    ["audit", ["sweep", "--subscription", SUB_A, "--mode", "audit"], true],
    ["a pipeline (no terminal)", ["sweep", "--subscription", SUB_A], false],
  ])("does not ask with %s", async (_name, args, terminal) => {
    const result = await person(args, "n", terminal);
    expect(result.asked).toEqual([]);
    expect(result.stderr).toMatch(/cannot sign in to Azure/);
  });

  it("never asks under --simulate, which changes nothing real", async () => {
    const result = await person(["sweep", "--simulate", estatePath, "--json"], "n");
    expect(result.asked).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(/ENFORCE/);
  });
});

it("every check has a line in the sweep's help", async () => {
  const help = (await cli(["help", "sweep"])).stdout;
  for (const check of CHECK_IDS) expect(help).toContain(check);
});
