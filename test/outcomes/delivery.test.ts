import { readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TableClient } from "@azure/data-tables";
import type { Timer } from "@azure/functions";
import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../sim/index.js";
import { createOutcomeUploader } from "../../src/azure/ingestion.js";
import { createTableSpool, DEFAULT_SPOOL_TABLE } from "../../src/azure/outcome-spool.js";
import { simulatorCredential } from "../../src/cli/simulate.js";
import { mergeRunResults } from "../../src/engine/engine.js";
import { createSweepHandler } from "../../src/functions/sweep.js";
import type { OutcomeRecord } from "../../src/model/outcome.js";
import { deliverOutcomes, type OutcomeSpool } from "../../src/outcomes/delivery.js";
import { createFileSpool } from "../../src/outcomes/file-spool.js";
import { OUTCOME_COLUMNS, OUTCOME_STREAM } from "../../src/outcomes/schema.js";
import { useAzurite } from "../support/azurite.js";
import { SUB_A, cluster, clusterId, estate } from "../support/estate.js";
import { startFunctionsWorld, type FunctionsWorld } from "../support/functions.js";

const RULE = "dcr-0123456789abcdef0123456789abcdef";
const WORKSPACE = "6b1f0c1e-7d0c-4a57-9f3e-3c0f8a1b2c3d";
const ingestionSim = {
  dataCollectionRuleId: RULE,
  streams: { [OUTCOME_STREAM]: OUTCOME_COLUMNS },
  workspaceId: WORKSPACE,
};

const azurite = useAzurite();
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function sim(): Promise<Simulator> {
  const started = await startSimulator({ estate: estate([]), ingestion: ingestionSim });
  closers.push(() => started.close());
  return started;
}

function uploaderFor(s: Simulator) {
  return createOutcomeUploader(
    {
      credential: simulatorCredential,
      tlsCa: s.ca,
      retry: { maxRetries: 1, retryDelayInMs: 5, maxRetryDelayInMs: 10 },
    },
    { endpoint: s.endpoint, ruleId: RULE, stream: OUTCOME_STREAM },
  );
}

let spools = 0;
function tableSpool(): OutcomeSpool {
  spools += 1;
  return createTableSpool({
    connectionString: azurite().connectionString,
    tableName: `Spool${String(spools)}`,
  });
}

function outcome(n: number, details: Record<string, unknown> = {}): OutcomeRecord {
  return {
    TimeGenerated: new Date(Date.UTC(2026, 10, 25, 10, 0, n)).toISOString(),
    RunId: "run",
    Trigger: "timer",
    Mode: "enforce",
    SubscriptionId: SUB_A,
    ResourceId: clusterId(`aks-${String(n)}`),
    ResourceType: "Microsoft.ContainerService/managedClusters",
    Check: "aks.azure-policy",
    Status: "compliant",
    Reason: `outcome ${String(n)}`,
    Action: "",
    CorrelationId: "corr",
    DurationMs: 12.5,
    Details: details,
    OutcomeId: `outcome-${String(n)}`,
  };
}

const reasons = (s: Simulator) => s.ingested(OUTCOME_STREAM).map((r) => r.row.Reason);

describe("the outcome table and stream in infra", () => {
  it("declare exactly the outcome record's columns, from one file for both", () => {
    const declared = JSON.parse(
      readFileSync(new URL("../../infra/outcome-columns.json", import.meta.url), "utf8"),
    ) as unknown;
    expect(declared).toEqual(OUTCOME_COLUMNS);
    const bicep = readFileSync(new URL("../../infra/modules/outcomes.bicep", import.meta.url), "utf8");
    expect(bicep).toContain("var columns = loadJsonContent('../outcome-columns.json')");
    // The table's schema and the rule's stream both use it, and nothing declares columns any other way.
    expect(bicep.match(/columns: columns/g)).toHaveLength(2);
    expect(bicep).toContain(`var streamName = '${OUTCOME_STREAM}'`);
  });
});

describe("delivering outcomes to Log Analytics", () => {
  it.each([
    ["Table Storage (Azurite)", tableSpool],
    [
      "a file",
      () =>
        createFileSpool(join(tmpdir(), `autoprotect-spool-${String(Date.now())}-${String(Math.random())}`)),
    ],
  ])(
    "keeps everything through an outage and sends it once, in order, when it is back (spool: %s)",
    async (_name, makeSpool) => {
      const s = await sim();
      const deps = { uploader: uploaderFor(s), spool: makeSpool() };
      expect(await deliverOutcomes([outcome(1), outcome(2)], deps)).toMatchObject({ sent: 2, spooled: 0 });

      s.setIngestionDown(true, { retryAfterSeconds: 0 });
      const down = await deliverOutcomes([outcome(3), outcome(4)], deps);
      expect(down).toMatchObject({ sent: 0, spooled: 2 });
      expect(down.error).toMatch(/503/);
      expect(await deliverOutcomes([outcome(5)], deps)).toMatchObject({ sent: 0, spooled: 3 });

      s.setIngestionDown(false);
      expect(await deliverOutcomes([outcome(6)], deps)).toMatchObject({ sent: 4, spooled: 0 });
      expect(reasons(s)).toEqual([1, 2, 3, 4, 5, 6].map((n) => `outcome ${String(n)}`));
      // Nothing left to resend.
      expect(await deliverOutcomes([], deps)).toMatchObject({ sent: 0, spooled: 0 });
      expect(reasons(s)).toHaveLength(6);
    },
  );

  it("splits what is larger than one request into several, in order", async () => {
    const s = await sim();
    const big = Array.from({ length: 60 }, (_, n) => outcome(n, { note: "x".repeat(40_000) }));
    const report = await deliverOutcomes(big, { uploader: uploaderFor(s), spool: tableSpool() });
    expect(report).toMatchObject({ sent: 60, spooled: 0 });
    const posts = s.requests.filter((r) => r.method === "POST" && r.path.includes("/dataCollectionRules/"));
    expect(posts.length).toBeGreaterThan(1);
    expect(reasons(s)).toEqual(big.map((o) => o.Reason));
  });

  it("reports a row that does not fit the stream and keeps it aside; the others go", async () => {
    const s = await sim();
    const spool = tableSpool();
    const bad = { ...outcome(2), DurationMs: "slow" } as unknown as OutcomeRecord;
    const report = await deliverOutcomes([outcome(1), bad, outcome(3)], { uploader: uploaderFor(s), spool });
    expect(report.sent).toBe(2);
    expect(report.rejected).toHaveLength(1);
    expect(report.rejected[0]?.reason).toMatch(/column 'DurationMs' must be real, not "slow"/);
    expect(reasons(s)).toEqual(["outcome 1", "outcome 3"]);
  });

  it("reports rows the service itself refuses (400), one by one, without holding the rest back", async () => {
    // A stream declared without the Details column: every row the project sends is refused.
    const s = await startSimulator({
      estate: estate([]),
      ingestion: {
        ...ingestionSim,
        streams: { [OUTCOME_STREAM]: OUTCOME_COLUMNS.filter((c) => c.name !== "Details") },
      },
    });
    closers.push(() => s.close());
    const report = await deliverOutcomes([outcome(1), outcome(2)], {
      uploader: uploaderFor(s),
      spool: tableSpool(),
    });
    expect(report.sent).toBe(0);
    expect(report.spooled).toBe(0);
    expect(report.rejected.map((r) => r.row.Reason)).toEqual(["outcome 1", "outcome 2"]);
    expect(report.rejected[0]?.reason).toMatch(/400/);
  });
});

describe("a damaged entry in the Table Storage spool", () => {
  it("is moved to the corrupt partition (kept whole, reported) and the rows around it are sent", async () => {
    const s = await sim();
    spools += 1;
    const options = { connectionString: azurite().connectionString, tableName: `Spool${String(spools)}` };
    const spool = createTableSpool(options);
    const deps = { uploader: uploaderFor(s), spool };
    s.setIngestionDown(true, { retryAfterSeconds: 0 });
    await deliverOutcomes([outcome(1)], deps);
    // Damaged by hand (or by a writer that stopped half-way), between two good rows.
    const table = TableClient.fromConnectionString(options.connectionString, options.tableName, {
      allowInsecureConnection: true,
    });
    const damagedKey = `${String(Date.now()).padStart(15, "0")}-999999-damaged`;
    await table.createEntity({ partitionKey: "spool", rowKey: damagedKey, Row: '{"TimeGenerated":' });
    await new Promise((resolve) => setTimeout(resolve, 2));
    // Moved aside by the next delivery that reads the spool, though Log Analytics is still down.
    const report = await deliverOutcomes([outcome(2)], deps);
    expect(report).toMatchObject({ sent: 0, spooled: 2 });
    expect(report.corrupt).toEqual([
      {
        problem: expect.stringMatching(new RegExp(`^entry ${damagedKey}: not JSON`)) as unknown,
        keptIn: `table ${options.tableName}, PartitionKey "corrupt"`,
      },
    ]);

    s.setIngestionDown(false);
    expect(await deliverOutcomes([outcome(3)], deps)).toEqual({
      sent: 3,
      spooled: 0,
      rejected: [],
      corrupt: [],
    });
    expect(reasons(s)).toEqual(["outcome 1", "outcome 2", "outcome 3"]);
    const kept = await table.getEntity<{ Row: string; Problem: string }>("corrupt", damagedKey);
    expect(kept.Row).toBe('{"TimeGenerated":');
    expect(await deliverOutcomes([], deps)).toEqual({ sent: 0, spooled: 0, rejected: [], corrupt: [] });
  });
});

describe("a simulated sweep through the Functions runtime", () => {
  const timer: Timer = {
    isPastDue: false,
    schedule: { adjustForDST: false },
    scheduleStatus: { last: "", next: "", lastUpdated: "" },
  };

  it("lands every outcome in the workspace exactly once, also across an ingestion outage", async () => {
    let world: FunctionsWorld | undefined;
    const stateDir = await mkdtemp(join(tmpdir(), "autoprotect-sweep-"));
    try {
      world = await startFunctionsWorld(
        estate([cluster("aks-one"), cluster("aks-two")]),
        azurite(),
        {
          AUTOPROTECT_STATE_DIR: stateDir,
          AUTOPROTECT_DCR_ID: RULE,
          AUTOPROTECT_INGESTION_ENDPOINT: "https://placeholder.invalid",
        },
        undefined,
        undefined,
        { ingestion: ingestionSim, ingestionToSimulator: true },
      );
      const w = world;
      // The timer queues a look per subscription; the queue trigger's runs deliver the outcomes.
      const sweep = async () => {
        await createSweepHandler(() => w.runtime)(timer, w.context("sweep"));
        return mergeRunResults(await w.drainQueue());
      };
      w.sim.setIngestionDown(true, { retryAfterSeconds: 0 });
      const first = await sweep();
      expect(w.sim.ingested(OUTCOME_STREAM)).toHaveLength(0);
      expect(w.logs.map((l) => l.text).join("\n")).toMatch(
        /Log Analytics is not taking them .*kept to send later/,
      );

      // A damaged entry among the spooled rows: logged as an error, moved aside, the rest still sent.
      const spoolTable = TableClient.fromConnectionString(azurite().connectionString, DEFAULT_SPOOL_TABLE, {
        allowInsecureConnection: true,
      });
      await spoolTable.createEntity({ partitionKey: "spool", rowKey: "000000000000001-damaged", Row: "[1]" });
      w.sim.setIngestionDown(false);
      const second = await sweep();
      expect(w.logs.filter((l) => l.level === "error").map((l) => l.text)).toEqual([
        `outcomes: a damaged entry of the spool was moved to table ${DEFAULT_SPOOL_TABLE}, PartitionKey "corrupt": entry 000000000000001-damaged: not a JSON object`,
      ]);
      const all = [...first.outcomes, ...second.outcomes];
      const landed = w.sim.ingested(OUTCOME_STREAM).map((r) => JSON.stringify(r.row));
      expect(landed).toEqual(all.map((o) => JSON.stringify(o)));
      expect(new Set(landed).size).toBe(landed.length);
    } finally {
      await world?.close();
    }
  });
});
