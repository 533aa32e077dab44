import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { Estate } from "../../sim/index.js";
import type { RolloutStatusRow } from "../../src/cli/rollout.js";
import { createTableStateStore } from "../../src/azure/table-state-store.js";
import { apimApi, apimService, SUB } from "../support/sim.js";
import { useAzurite } from "../support/azurite.js";
import { BASE_ENV } from "../support/azure.js";
import { cli, records } from "../support/cli.js";

const service = apimService("apim-dev", "Developer");
let dir: string;
let estatePath: string;
let run = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(process.env.AUTOPROTECT_TEST_TMP ?? tmpdir(), "autoprotect-rollout-cli-"));
  estatePath = join(dir, "estate.json");
  await writeFile(
    estatePath,
    JSON.stringify({
      subscriptions: [{ subscriptionId: SUB, pricings: { Api: { pricingTier: "Standard" } } }],
      resources: [service, ...[0, 1, 2, 3, 4, 5].map((i) => apimApi("apim-dev", `api-00${String(i)}`))],
      capacity: { [service.id]: { base: 10, perApi: 0.2 } },
      now: "2026-11-25T10:00:30Z",
    }),
  );
});

function envFor(): Record<string, string> {
  run += 1;
  return {
    ...BASE_ENV,
    AUTOPROTECT_STATE_DIR: join(dir, `state-${String(run)}`),
    AUTOPROTECT_ROLLOUT_INTERVAL_MINUTES: "0",
  };
}

async function collections(path: string): Promise<number> {
  const estate = JSON.parse(await readFile(path, "utf8")) as Estate;
  return estate.resources.filter((r) => r.type === "Microsoft.Security/apiCollections").length;
}

describe("rollout status, pause and resume (the CLI's state folder)", () => {
  it("a paused rollout takes no step, says so in every pending API's outcome, and goes on after resume", async () => {
    const env = envFor();
    const paused = await cli(["rollout", "pause", service.id, "--note", "Black Friday freeze"], env);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toMatch(/^Paused the rollout of .*apim-dev/);

    const after = join(dir, "paused-run.json");
    const first = await cli(
      ["reconcile", service.id, "--simulate", estatePath, "--save-estate", after, "--json"],
      env,
    );
    expect(first.code).toBe(0);
    const apis = records(first.stdout).filter((o) => o.Check === "apim.api-onboarding");
    expect(apis).toHaveLength(6);
    for (const outcome of apis) {
      expect(outcome.Status).toBe("deferred");
      expect(outcome.Reason).toMatch(
        /rollout paused by .* since .*\(Black Friday freeze\): no onboarding step until 'autoprotect rollout resume /,
      );
    }
    expect(await collections(after)).toBe(0);

    // Two days later it is still deferred: a pause is a person's decision, never escalated by the wait cap.
    const later = await cli(["reconcile", service.id, "--simulate", after, "--advance", "2d", "--json"], env);
    const onboarding = records(later.stdout).filter((o) => o.Check === "apim.api-onboarding");
    expect(onboarding.map((o) => o.Status)).toEqual(Array(6).fill("deferred"));

    const status = await cli(["rollout", "status", "-o", "json"], env);
    const rows = JSON.parse(status.stdout) as RolloutStatusRow[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ state: "paused", pending: 6, onboarded: 0, steps: 0 });
    expect(rows[0]?.paused?.note).toBe("Black Friday freeze");
    expect(rows[0]?.nextStep).toMatch(/paused/);

    expect((await cli(["rollout", "resume", service.id], env)).stdout).toMatch(/^Resumed the rollout/);
    const resumed = await cli(["reconcile", service.id, "--simulate", after, "--json"], env);
    const statuses = records(resumed.stdout)
      .filter((o) => o.Check === "apim.api-onboarding")
      .map((o) => o.Status);
    expect(statuses.filter((s) => s === "remediated")).toHaveLength(2);
    expect(statuses.filter((s) => s === "deferred")).toHaveLength(4);
  });

  it("status shows where each rollout stands after a step: APIs, batch size, reading, next step", async () => {
    const env = { ...envFor(), AUTOPROTECT_ROLLOUT_INTERVAL_MINUTES: "10" };
    expect((await cli(["reconcile", service.id, "--simulate", estatePath, "--json"], env)).code).toBe(0);
    const table = await cli(["rollout", "status"], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^apim-dev {2}\/subscriptions\//);
    expect(table.stdout).toMatch(/state +onboarding/);
    expect(table.stdout).toMatch(/APIs +0 onboarded, 6 pending, 0 in progress/);
    expect(table.stdout).toMatch(/batch size +2 \(after 1 steps\)/);
    expect(table.stdout).toMatch(
      /last reading +\d+(\.\d+)?% Capacity at 2026-11-25T10:0\d:\d\d\.\d+Z \(step\)/,
    );
    expect(table.stdout).toMatch(/next step +2026-11-25T10:1\d:/);
    expect(table.stdout).toMatch(/rollbacks +0/);
    const one = JSON.parse(
      (await cli(["rollout", "status", service.id, "--json"], env)).stdout,
    ) as RolloutStatusRow[];
    expect(one.map((r) => r.serviceId)).toEqual([service.id]);
  });

  it("pausing twice keeps the first pause; resuming what is not paused says so", async () => {
    const env = envFor();
    await cli(["rollout", "pause", service.id, "--note", "first"], env);
    const again = await cli(["rollout", "pause", service.id, "--note", "second"], env);
    expect(again.stdout).toMatch(/was already paused since/);
    const rows = JSON.parse((await cli(["rollout", "status", "--json"], env)).stdout) as RolloutStatusRow[];
    expect(rows[0]?.paused?.note).toBe("first");
    await cli(["rollout", "resume", service.id], env);
    expect((await cli(["rollout", "resume", service.id], env)).stdout).toMatch(/is not paused/);
  });

  it.each([
    [["rollout", "pause"], /rollout pause needs the API Management service's resource id/],
    [["rollout", "stop", service.id], /rollout has no action 'stop'/],
    [
      [
        "rollout",
        "pause",
        `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks`,
      ],
      /is not an API Management service id/,
    ],
    [["rollout", "status", "--note", "x"], /--note goes with rollout pause/],
  ])("%j is one line (or two with the help pointer), exit 2", async (args, message) => {
    const result = await cli(args, envFor());
    expect(result.code).toBe(2);
    expect(result.stderr.split("\n")[0]).toMatch(message);
  });
});

describe("rollout pause in the Functions app's Table Storage", () => {
  const azurite = useAzurite();

  it("writes the pause where every trigger reads it", async () => {
    const env = { ...envFor(), AzureWebJobsStorage: azurite().connectionString };
    const paused = await cli(
      ["rollout", "pause", service.id, "--table-storage", "--note", "maintenance"],
      env,
    );
    expect(paused.code).toBe(0);
    expect(paused.stdout).toMatch(/Table Storage/);
    const store = createTableStateStore({ connectionString: azurite().connectionString });
    const stored = await store.get(service.id);
    expect(stored?.state.paused).toMatchObject({ note: "maintenance" });
    const rows = JSON.parse(
      (await cli(["rollout", "status", "--table-storage", "--json"], env)).stdout,
    ) as RolloutStatusRow[];
    expect(rows.map((r) => r.state)).toEqual(["paused"]);
    // Nothing in the CLI's own folder.
    expect(JSON.parse((await cli(["rollout", "status", "--json"], env)).stdout)).toEqual([]);
  });
});
