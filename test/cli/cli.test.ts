import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { SIMULATED_WORKSPACE_ID } from "../../src/cli/simulate.js";
import { CHECK_IDS, STATUSES } from "../../src/model/checks.js";
import { OUTCOME_FIELDS } from "../../src/model/outcome.js";
import { BASE_ENV } from "../support/azure.js";
import { cli, records } from "../support/cli.js";
import { PROTECTED_PROPERTIES, SUB_A, cluster, clusterId, estate } from "../support/estate.js";

let dir: string;
let estatePath: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "autoprotect-cli-"));
  estatePath = join(dir, "estate.json");
  await writeFile(
    estatePath,
    JSON.stringify(estate([cluster("aks-open"), cluster("aks-done", { properties: PROTECTED_PROPERTIES })])),
  );
});

describe("autoprotect CLI", () => {
  it("sweep --dry-run --json prints contract records as JSON Lines and changes nothing", async () => {
    const saved = join(dir, "after-dry-run.json");
    const result = await cli([
      "sweep",
      "--simulate",
      estatePath,
      "--dry-run",
      "--json",
      "--save-estate",
      saved,
    ]);
    expect(result.code).toBe(0);
    const outcomes = records(result.stdout);
    // The two subscription plans, and five checks for each of the two clusters.
    expect(outcomes).toHaveLength(12);
    for (const outcome of outcomes) {
      expect(Object.keys(outcome).sort()).toEqual([...OUTCOME_FIELDS].sort());
      expect(outcome.Mode).toBe("audit");
      expect(outcome.Trigger).toBe("cli");
    }
    expect(outcomes.filter((o) => o.Status === "planned")).toHaveLength(4);
    expect(JSON.parse(await readFile(saved, "utf8"))).toEqual(JSON.parse(await readFile(estatePath, "utf8")));
  });

  it("enforces, saves the estate, and a second run from the saved estate finds nothing to do", async () => {
    const saved = join(dir, "after.json");
    const first = await cli(["sweep", "--simulate", estatePath, "--json", "--save-estate", saved]);
    expect(first.code).toBe(0);
    expect(records(first.stdout).filter((o) => o.Status === "remediated")).toHaveLength(4);
    const second = await cli(["sweep", "--simulate", saved, "--json"]);
    const rest = records(second.stdout).filter((o) => o.Check !== "defender.apis-plan");
    expect(new Set(rest.map((o) => o.Status))).toEqual(new Set(["compliant"]));
  });

  it("prints a table grouped by resource and a summary line without --json", async () => {
    const result = await cli(["sweep", "--simulate", estatePath, "--dry-run"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("aks-open");
    expect(result.stdout).toMatch(/aks\.azure-policy\s+planned/);
    expect(result.stdout).not.toContain("\u001b[");
    expect(result.stdout.trim().split("\n").at(-1)).toMatch(
      /^12 checks on 4 resources: 7 compliant, 4 planned, 1 skipped/,
    );
  });

  it("the bundled sample estate exercises every check and every status but failed, and onboards gradually", async () => {
    const env = { ...BASE_ENV, AUTOPROTECT_CHECKS: "", AUTOPROTECT_STATE_DIR: join(dir, "sample-state") };
    const result = await cli(["sweep", "--simulate", "samples/estate.json", "--json"], env);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const outcomes = records(result.stdout);
    expect(new Set(outcomes.map((o) => o.Check))).toEqual(new Set(CHECK_IDS));
    expect(new Set(outcomes.map((o) => o.Status))).toEqual(
      new Set(STATUSES.filter((s) => s !== "failed" && s !== "planned")),
    );
    const onboarding = outcomes.filter((o) => o.Check === "apim.api-onboarding");
    expect(onboarding.filter((o) => o.Status === "remediated").length).toBeLessThan(
      onboarding.filter((o) => o.Status !== "skipped").length,
    );
  });

  it("reconciles one resource id", async () => {
    const result = await cli([
      "reconcile",
      clusterId("aks-open"),
      "--simulate",
      estatePath,
      "--dry-run",
      "--json",
    ]);
    expect(result.code).toBe(0);
    expect(records(result.stdout).map((o) => o.Check)).toEqual([
      "defender.containers-plan",
      "aks.defender-sensor",
      "aks.azure-policy",
      "aks.authorized-ips",
      "aks.sensor-workspace",
      "aks.containers-plan-override",
    ]);
  });

  it("exits 1 when any outcome failed, with ARM's error code in the reason", async () => {
    const broken = join(dir, "broken.json");
    const e = estate([cluster("aks-open")]);
    // ARM refuses a PUT without a location; the simulator does the same.
    delete (e.resources[1] as { location?: string }).location;
    await writeFile(broken, JSON.stringify(e));
    const result = await cli(["sweep", "--simulate", broken, "--json"]);
    expect(result.code).toBe(1);
    const failed = records(result.stdout).filter((o) => o.Status === "failed");
    expect(failed.map((o) => o.Check).sort()).toEqual([
      "aks.authorized-ips",
      "aks.azure-policy",
      "aks.defender-sensor",
    ]);
    for (const outcome of failed) expect(outcome.Reason).toMatch(/^[A-Za-z]+: /);
  });

  describe("bad input: exit 2, one line naming the problem, nothing written", () => {
    const cases: [string, string[], Record<string, string>, RegExp][] = [
      [
        "malformed resource id",
        ["reconcile", "/subscriptions/not-a-guid/resourceGroups/x"],
        BASE_ENV,
        /not a GUID/,
      ],
      [
        "resource id without providers",
        ["reconcile", `/subscriptions/${SUB_A}/foo/bar`],
        BASE_ENV,
        /providers/,
      ],
      [
        "unknown check",
        ["sweep"],
        { ...BASE_ENV, AUTOPROTECT_CHECKS: "aks.defender-sensor,aks.nope" },
        /AUTOPROTECT_CHECKS: unknown check 'aks.nope'/,
      ],
      [
        "invalid CIDR",
        ["sweep"],
        { ...BASE_ENV, AUTOPROTECT_AUTHORIZED_IP_RANGES: "10.0.0.0/33" },
        /AUTOPROTECT_AUTHORIZED_IP_RANGES: '10.0.0.0\/33'/,
      ],
      ["invalid mode", ["sweep"], { ...BASE_ENV, AUTOPROTECT_MODE: "yolo" }, /AUTOPROTECT_MODE/],
      ["unknown option", ["sweep", "--force"], BASE_ENV, /--force/],
      ["unknown command", ["destroy"], BASE_ENV, /unknown command 'destroy'/],
      [
        "--save-estate without --simulate",
        ["sweep", "--save-estate", "x.json"],
        BASE_ENV,
        /--save-estate needs --simulate/,
      ],
      ["bad --subscription", ["sweep", "--subscription", "abc"], BASE_ENV, /--subscription 'abc'/],
      [
        "subscription outside the allow-list",
        ["sweep", "--subscription", SUB_A],
        { ...BASE_ENV, AUTOPROTECT_SUBSCRIPTIONS: "0a1b2c3d-0000-4000-8000-0000000000ff" },
        /outside AUTOPROTECT_SUBSCRIPTIONS/,
      ],
    ];
    for (const [name, args, env, message] of cases) {
      it(name, async () => {
        const simulate = args.includes("--save-estate") ? [] : ["--simulate", estatePath];
        const result = await cli([...args, ...simulate, "--json"], env);
        expect(result.code).toBe(2);
        expect(result.stdout).toBe("");
        expect(result.stderr.split("\n")[0]).toMatch(message);
        expect(result.stderr.split("\n")[0]).toMatch(/^autoprotect: /);
      });
    }

    it("unreadable estate file", async () => {
      const result = await cli(["sweep", "--simulate", join(dir, "missing.json"), "--json"]);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toContain("missing.json");
    });

    it("estate file that is not JSON", async () => {
      const bad = join(dir, "bad.json");
      await writeFile(bad, "{ subscriptions: [");
      const result = await cli(["sweep", "--simulate", bad, "--json"]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/bad\.json.*JSON/);
    });

    it("a resource type autoprotect does not reconcile", async () => {
      const result = await cli([
        "reconcile",
        `/subscriptions/${SUB_A}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1`,
        "--simulate",
        estatePath,
        "--json",
      ]);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr).toContain("Microsoft.Storage/storageAccounts");
    });
  });
});

describe("autoprotect event", () => {
  const writeEvent = (id: string, resourceUri: string, operationName: string) => ({
    topic: `/subscriptions/${SUB_A}`,
    subject: resourceUri,
    eventType: "Microsoft.Resources.ResourceWriteSuccess",
    eventTime: "2026-11-25T10:00:00Z",
    id,
    data: { resourceUri, operationName, status: "Succeeded", subscriptionId: SUB_A },
    dataVersion: "2",
    metadataVersion: "1",
  });

  it("handles a creation event from a file as the trigger does, correlated with the event id", async () => {
    const file = join(dir, "created.json");
    await writeFile(
      file,
      JSON.stringify(
        writeEvent("evt-1", clusterId("aks-open"), "Microsoft.ContainerService/managedClusters/write"),
      ),
    );
    const result = await cli(["event", file, "--simulate", estatePath, "--json"]);
    expect(result.code).toBe(0);
    const outcomes = records(result.stdout);
    expect(outcomes.filter((o) => o.Status === "remediated").length).toBeGreaterThan(0);
    expect(outcomes.every((o) => o.CorrelationId === "evt-1" && o.Trigger === "cli")).toBe(true);
  });

  it("reads standard input, notes ignored events on stderr, and runs each resource once", async () => {
    const storage = `/subscriptions/${SUB_A}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1`;
    const events = [
      writeEvent("evt-a", clusterId("aks-open"), "Microsoft.ContainerService/managedClusters/write"),
      writeEvent(
        "evt-b",
        `${clusterId("aks-open")}/agentPools/np1`,
        "Microsoft.ContainerService/managedClusters/agentPools/write",
      ),
      writeEvent("evt-c", storage, "Microsoft.Storage/storageAccounts/write"),
    ];
    const result = await cli(
      ["event", "-", "--simulate", estatePath, "--json", "--dry-run"],
      BASE_ENV,
      JSON.stringify(events),
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /ignored Microsoft.Resources.ResourceWriteSuccess event evt-c: .*storageAccounts\/write/,
    );
    const clusterChecks = records(result.stdout).filter((o) => o.ResourceId === clusterId("aks-open"));
    expect(clusterChecks).toHaveLength(5);
  });

  it.each([
    ["not JSON", "{", /the events are not JSON/],
    [
      "a malformed event",
      JSON.stringify([{ id: "x", eventType: "Microsoft.Resources.ResourceWriteSuccess" }]),
      /event 0 \(x\): event is missing required property/,
    ],
    ["a number", "42", /must be a JSON object or an array/],
  ])("exits 2 with one line for %s, and runs nothing", async (_name, stdin, message) => {
    const result = await cli(["event", "-", "--simulate", estatePath, "--json"], BASE_ENV, stdin);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(message);
  });
});

describe("outcomes to Log Analytics from the CLI", () => {
  it("sends a simulated sweep's outcomes to the simulated workspace, and report reads them back", async () => {
    const saved = join(dir, "with-logs.json");
    const env = {
      ...BASE_ENV,
      AUTOPROTECT_STATE_DIR: join(dir, "ingestion-state"),
      AUTOPROTECT_INGESTION_ENDPOINT: "https://dce-autoprotect.westeurope-1.ingest.monitor.azure.com",
      AUTOPROTECT_DCR_ID: "dcr-0123456789abcdef0123456789abcdef",
    };
    const sweep = await cli(["sweep", "--simulate", estatePath, "--json", "--save-estate", saved], env);
    expect(sweep.code).toBe(0);
    const outcomes = records(sweep.stdout);
    expect(sweep.stderr).toContain(`outcomes: ${String(outcomes.length)} sent to Log Analytics`);

    const report = await cli(
      ["report", "--workspace", SIMULATED_WORKSPACE_ID, "--simulate", saved, "--json"],
      env,
    );
    expect(report.code).toBe(0);
    const coverage = JSON.parse(report.stdout) as { checks: { check: string; resources: number }[] };
    const clusterChecks = coverage.checks.find((c) => c.check === "aks.azure-policy");
    expect(clusterChecks?.resources).toBe(2);
  });
});
