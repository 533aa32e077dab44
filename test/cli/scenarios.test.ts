import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { Estate } from "../../sim/index.js";
import type { OutcomeRecord } from "../../src/model/outcome.js";
import { apimApi, apimService, SUB } from "../support/sim.js";
import { BASE_ENV } from "../support/azure.js";
import { cli, records } from "../support/cli.js";
import { PROTECTED_PROPERTIES, SUB_A, cluster, clusterId, estate } from "../support/estate.js";

const MINUTE = 60_000;

/** Outcomes of one check by the last segment of their resource id. */
function statusOf(outcomes: readonly OutcomeRecord[], check: string): Record<string, string> {
  return Object.fromEntries(
    outcomes.filter((o) => o.Check === check).map((o) => [o.ResourceId.split("/").at(-1) ?? "", o.Status]),
  );
}

async function saved(path: string): Promise<Estate> {
  return JSON.parse(await readFile(path, "utf8")) as Estate;
}

let dir: string;
let run = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(process.env.AUTOPROTECT_TEST_TMP ?? tmpdir(), "autoprotect-scenarios-"));
});

/** A file in this suite's folder, and an environment with a state folder of its own. */
async function scenario(estateJson: unknown): Promise<{ path: string; env: Record<string, string> }> {
  run += 1;
  const path = join(dir, `estate-${String(run)}.json`);
  await writeFile(path, JSON.stringify(estateJson));
  return { path, env: { ...BASE_ENV, AUTOPROTECT_STATE_DIR: join(dir, `state-${String(run)}`) } };
}

describe("time from the command line: the estate's now and --advance", () => {
  it("takes a rollout's next step only once --advance has moved the shared clock past the pause", async () => {
    const service = apimService("apim-dev", "Developer");
    const { path, env } = await scenario({
      subscriptions: [{ subscriptionId: SUB, pricings: { Api: { pricingTier: "Standard" } } }],
      resources: [service, ...[0, 1, 2, 3, 4, 5].map((i) => apimApi("apim-dev", `api-00${String(i)}`))],
      capacity: { [service.id]: { base: 10, perApi: 0.2 } },
      now: "2026-11-25T10:00:30Z",
    });
    const paced = { ...env, AUTOPROTECT_ROLLOUT_INTERVAL_MINUTES: "10" };
    const after1 = join(dir, "rollout-1.json");

    const first = await cli(
      ["reconcile", service.id, "--simulate", path, "--save-estate", after1, "--json"],
      paced,
    );
    expect(first.code).toBe(0);
    const firstOutcomes = records(first.stdout);
    expect(statusOf(firstOutcomes, "apim.api-onboarding")).toMatchObject({
      "api-000": "remediated",
      "api-001": "remediated",
      "api-002": "deferred",
    });
    // The engine stamps its outcomes with the simulated clock, which started at the estate's now.
    for (const outcome of firstOutcomes) expect(outcome.TimeGenerated).toMatch(/^2026-11-25T10:0[01]:/);
    const savedNow = Date.parse((await saved(after1)).now ?? "");
    expect(savedNow).toBeGreaterThanOrEqual(Date.parse("2026-11-25T10:00:30Z"));
    expect(savedNow).toBeLessThan(Date.parse("2026-11-25T10:01:30Z"));

    // Straight away, the pause between steps holds the rest back.
    const again = await cli(["reconcile", service.id, "--simulate", after1, "--json"], paced);
    const waiting = records(again.stdout).find((o) => o.ResourceId.endsWith("/api-002"));
    expect(waiting?.Status).toBe("deferred");
    expect(waiting?.Reason).toMatch(/next rollout step, not before 2026-11-25T10:10:/);

    // Ten minutes later on the simulated clock, the next step goes.
    const after2 = join(dir, "rollout-2.json");
    const later = await cli(
      ["reconcile", service.id, "--simulate", after1, "--advance", "10m", "--save-estate", after2, "--json"],
      paced,
    );
    expect(later.code).toBe(0);
    const laterOutcomes = records(later.stdout);
    expect(statusOf(laterOutcomes, "apim.api-onboarding")).toMatchObject({
      "api-000": "compliant",
      "api-002": "remediated",
    });
    for (const outcome of laterOutcomes) {
      expect(Date.parse(outcome.TimeGenerated)).toBeGreaterThanOrEqual(savedNow + 10 * MINUTE);
    }
    expect(Date.parse((await saved(after2)).now ?? "")).toBeGreaterThanOrEqual(savedNow + 10 * MINUTE);
  });

  it("moves real time forward when the estate has no now, and the saved estate then carries the clock", async () => {
    const { path, env } = await scenario(estate([cluster("aks-open")]));
    const out = join(dir, "advanced-real.json");
    const before = Date.now();
    const result = await cli(
      ["sweep", "--simulate", path, "--advance", "1d", "--dry-run", "--json", "--save-estate", out],
      env,
    );
    expect(result.code).toBe(0);
    const day = 24 * 60 * MINUTE;
    for (const outcome of records(result.stdout)) {
      expect(Date.parse(outcome.TimeGenerated)).toBeGreaterThanOrEqual(before + day);
    }
    expect(Date.parse((await saved(out)).now ?? "")).toBeGreaterThanOrEqual(before + day);
  });
});

describe("faults from the estate file", () => {
  it("uses them up in the run and writes back the rest; the next run continues from there", async () => {
    const unused = { kind: "drop-connection", method: "DELETE", pathRegex: "^/subscriptions/", times: 2 };
    const { path, env } = await scenario({
      ...estate([cluster("aks-open"), cluster("aks-done", { properties: PROTECTED_PROPERTIES })]),
      faults: [
        {
          kind: "status",
          method: "PUT",
          path: clusterId("aks-open").toUpperCase(),
          status: 400,
          code: "SimulatedBadRequest",
          message: "a rehearsed refusal",
        },
        unused,
      ],
    });
    const after = join(dir, "faults-1.json");
    const first = await cli(["sweep", "--simulate", path, "--json", "--save-estate", after], env);
    expect(first.code).toBe(1);
    const failed = records(first.stdout).filter((o) => o.Status === "failed");
    expect(failed.map((o) => o.ResourceId)).toEqual(new Array(3).fill(clusterId("aks-open")));
    for (const outcome of failed) {
      expect(outcome.Reason).toBe("SimulatedBadRequest: a rehearsed refusal");
      expect(outcome.Details).toMatchObject({ code: "SimulatedBadRequest" });
    }
    expect((await saved(after)).faults).toEqual([unused]);

    const after2 = join(dir, "faults-2.json");
    const second = await cli(["sweep", "--simulate", after, "--json", "--save-estate", after2], env);
    expect(second.code).toBe(0);
    expect(statusOf(records(second.stdout), "aks.azure-policy")).toEqual({
      "aks-open": "remediated",
      "aks-done": "compliant",
    });
    expect((await saved(after2)).faults).toEqual([unused]);
  });
});

describe("every wait ends: hung calls and stuck operations from the estate", () => {
  it("ends a run whose reads hang at the call's deadline, with an outcome for every check it could not make", async () => {
    const { path, env } = await scenario({
      ...estate([cluster("aks-open")]),
      faults: [{ kind: "hang", pathRegex: "/managedClusters$", times: 10 }],
    });
    const started = Date.now();
    const result = await cli(["sweep", "--simulate", path, "--json"], {
      ...env,
      AUTOPROTECT_CALL_TIMEOUT_SECONDS: "1",
      AUTOPROTECT_CALL_DEADLINE_SECONDS: "2",
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.code).toBe(1);
    const outcomes = records(result.stdout);
    // The listing hung: each check it would have fed fails on the subscription, with the code.
    const listing = outcomes.filter((o) => o.Check.startsWith("aks."));
    expect(listing.map((o) => o.Check).sort()).toEqual([
      "aks.authorized-ips",
      "aks.azure-policy",
      "aks.containers-plan-override",
      "aks.defender-sensor",
      "aks.sensor-workspace",
    ]);
    for (const outcome of listing) {
      expect(outcome).toMatchObject({ Status: "failed", ResourceId: `/subscriptions/${SUB_A}` });
      expect(outcome.Details).toMatchObject({ code: "DeadlineExceeded" });
    }
  });

  it("turns a deferral that lasts past the cap into manual with its last reason, and keeps it there", async () => {
    const { path, env } = await scenario({
      ...estate([cluster("aks-busy", { properties: { provisioningState: "Upgrading" } })]),
      now: "2026-11-25T10:00:00Z",
    });
    const day1 = join(dir, "cap-1.json");
    const first = await cli(["sweep", "--simulate", path, "--json", "--save-estate", day1], env);
    expect(statusOf(records(first.stdout), "aks.azure-policy")).toEqual({ "aks-busy": "deferred" });

    // Still busy 23 hours on: still deferred. Past 24 hours: a person must look.
    const day2 = join(dir, "cap-2.json");
    const second = await cli(
      ["sweep", "--simulate", day1, "--advance", "23h", "--json", "--save-estate", day2],
      env,
    );
    expect(statusOf(records(second.stdout), "aks.azure-policy")).toEqual({ "aks-busy": "deferred" });
    const day3 = join(dir, "cap-3.json");
    const third = await cli(
      ["sweep", "--simulate", day2, "--advance", "2h", "--json", "--save-estate", day3],
      env,
    );
    const capped = records(third.stdout).find(
      (o) => o.Check === "aks.azure-policy" && o.ResourceId === clusterId("aks-busy"),
    );
    expect(capped?.Status).toBe("manual");
    expect(capped?.Reason).toMatch(/^still waiting after 1 day\(s\) \(since 2026-11-25T10:00:0\d/);
    expect(capped?.Reason).toContain("Upgrading");
    expect(capped?.Details).toMatchObject({
      waitingSince: expect.stringMatching(/^2026-11-25T10:00/) as unknown,
    });
    // It stays manual while the wait lasts; the next run does not start a new 24 hours.
    const fourth = await cli(["sweep", "--simulate", day3, "--advance", "1h", "--json"], env);
    expect(statusOf(records(fourth.stdout), "aks.azure-policy")).toEqual({ "aks-busy": "manual" });
  });

  it("stops waiting for an update that stays in progress, and defers the checks it was for", async () => {
    const { path, env } = await scenario({
      ...estate([cluster("aks-open")]),
      faults: [{ kind: "lro-stuck", method: "PUT", pathRegex: "/managedClusters/aks-open$" }],
    });
    const started = Date.now();
    const result = await cli(["reconcile", clusterId("aks-open"), "--simulate", path, "--json"], {
      ...env,
      AUTOPROTECT_OPERATION_TIMEOUT_SECONDS: "2",
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.code).toBe(0);
    const deferred = records(result.stdout).filter((o) => o.Status === "deferred");
    expect(deferred.map((o) => o.Check).sort()).toEqual([
      "aks.authorized-ips",
      "aks.azure-policy",
      "aks.defender-sensor",
    ]);
    expect(deferred[0]?.Reason).toMatch(/still running after 2 s/);
  });
});

describe("estates as ARM and inventories write them", () => {
  it("sweeps clusters with null tags and null property members like any other", async () => {
    const nulls = {
      ...cluster("aks-nulls", {
        properties: { securityProfile: null, addonProfiles: null, apiServerAccessProfile: null },
      }),
      tags: null,
    };
    const { path, env } = await scenario(estate([nulls]));
    const out = join(dir, "nulls.json");
    const result = await cli(["sweep", "--simulate", path, "--json", "--save-estate", out], env);
    expect(result.code).toBe(0);
    expect(statusOf(records(result.stdout), "aks.defender-sensor")).toEqual({ "aks-nulls": "remediated" });
    const written = (await saved(out)).resources.find((r) => r.name === "aks-nulls");
    expect(written?.tags).toBeNull();
    expect(written?.properties).toMatchObject({ addonProfiles: { azurepolicy: { enabled: true } } });
  });
});

describe("bad scenarios: exit 2, one line naming the problem, nothing run", () => {
  const base = estate([cluster("aks-open")]);
  const cases: [string, unknown, RegExp][] = [
    [
      "a now without a zone",
      { ...base, now: "2026-11-25T10:00:00" },
      /: now must be an ISO 8601 date-time with a zone/,
    ],
    [
      "an unknown fault kind",
      {
        ...base,
        faults: [
          { kind: "status", path: "/x", status: 500, code: "X" },
          { kind: "slow", path: "/x" },
        ],
      },
      /: faults\[1\]\.kind must be one of status, drop-connection, lro-failed, lro-stuck, hang, not "slow"$/,
    ],
    [
      "a pathRegex that does not compile",
      { ...base, faults: [{ kind: "hang", pathRegex: "managedClusters/(" }] },
      /: faults\[0\]\.pathRegex is not a valid JavaScript regular expression/,
    ],
    [
      "a field the fault's kind does not take",
      { ...base, faults: [{ kind: "lro-stuck", path: "/x", code: "Stuck" }] },
      /: faults\[0\]\.code is not a field of a "lro-stuck" fault/,
    ],
  ];
  for (const [name, json, message] of cases) {
    it(name, async () => {
      const { path, env } = await scenario(json);
      const result = await cli(["sweep", "--simulate", path, "--json"], env);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr.trim()).toMatch(new RegExp(`^autoprotect: ${path.replace(/[.\\/]/g, "\\$&")}`));
      expect(result.stderr.trim()).toMatch(message);
    });
  }

  const usage: [string, (estatePath: string) => string[], RegExp][] = [
    [
      "--advance with two units",
      (p) => ["sweep", "--simulate", p, "--advance", "1h30m"],
      /--advance '1h30m' is not a duration/,
    ],
    [
      "--advance with a space",
      (p) => ["sweep", "--simulate", p, "--advance", "10 m"],
      /--advance '10 m' is not a duration/,
    ],
    [
      "--advance in weeks",
      (p) => ["sweep", "--simulate", p, "--advance", "2w"],
      /a unit s, m, h or d \(90s, 10m, 2h, 1d\)/,
    ],
    ["--advance past ten years", (p) => ["sweep", "--simulate", p, "--advance", "3651d"], /at most 3650d/],
    ["--advance without --simulate", () => ["sweep", "--advance", "10m"], /--advance needs --simulate/],
    [
      "--advance with report",
      (p) => ["report", "--workspace", SUB, "--simulate", p, "--advance", "1d"],
      /report has no option --advance \(--advance goes with sweep, reconcile or event\)/,
    ],
  ];
  for (const [name, args, message] of usage) {
    it(name, async () => {
      const { path, env } = await scenario(base);
      const result = await cli([...args(path), "--json"], env);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr.split("\n")[0]).toMatch(/^autoprotect: /);
      expect(result.stderr.split("\n")[0]).toMatch(message);
    });
  }
});
