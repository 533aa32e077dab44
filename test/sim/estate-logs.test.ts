import { LogsIngestionClient } from "@azure/monitor-ingestion";
import { LogsQueryClient, LogsQueryResultStatus } from "@azure/monitor-query-logs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  EstateError,
  loadEstateFile,
  parseEstate,
  saveEstateFile,
  startSimulator,
  type Estate,
  type IngestionOptions,
  type Simulator,
} from "../../sim/index.js";
import { baseEstate, credential, fakeClock } from "../support/sim.js";

const DCR = "dcr-0123456789abcdef0123456789abcdef";
const STREAM = "Custom-AutoprotectOutcomes";
const OTHER_STREAM = "Custom-Heartbeat";
const WORKSPACE = "6b1f0c1e-7d0c-4a57-9f3e-3c0f8a1b2c3d";
const T0 = "2025-03-10T12:00:00.000Z";

const INGESTION: IngestionOptions = {
  dataCollectionRuleId: DCR,
  workspaceId: WORKSPACE,
  streams: {
    [STREAM]: [
      { name: "TimeGenerated", type: "datetime" },
      { name: "ResourceId", type: "string" },
      { name: "Status", type: "string" },
      { name: "DurationMs", type: "real" },
      { name: "Details", type: "dynamic" },
    ],
  },
};

const LOGS: NonNullable<Estate["logs"]> = {
  [STREAM]: [
    {
      receivedAt: "2025-03-10T09:00:02.000Z",
      row: {
        TimeGenerated: "2025-03-10T09:00:00.000Z",
        ResourceId:
          "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks1",
        Status: "failed",
        DurationMs: 812.5,
        Details: { code: "OperationNotAllowed" },
      },
    },
    {
      // No TimeGenerated: the table reads its receivedAt.
      receivedAt: "2025-03-10T11:00:02.000Z",
      row: { ResourceId: "/subscriptions/s/.../aks1", Status: "remediated", DurationMs: 1200, Details: {} },
    },
  ],
  // A stream the rule does not declare: kept and exported, never shown.
  [OTHER_STREAM]: [{ receivedAt: "2025-03-09T00:00:00.000Z", row: { Host: "fn-1" } }],
};

let dir = "";
const sims: Simulator[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "autoprotect-sim-logs-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function start(estate: Estate, ingestion: IngestionOptions | null = INGESTION): Promise<Simulator> {
  const sim = await startSimulator({
    estate,
    clock: fakeClock(T0).now,
    ...(ingestion === null ? {} : { ingestion }),
  });
  sims.push(sim);
  return sim;
}

function parseError(json: unknown): string {
  try {
    parseEstate(json, "estate.json");
  } catch (error) {
    expect(error).toBeInstanceOf(EstateError);
    return (error as Error).message;
  }
  throw new Error("parseEstate accepted it");
}

describe("ingested rows in the estate (logs)", () => {
  it("survive start → exportEstate → save → load → start, and new uploads are appended", async () => {
    const first = await start({ ...baseEstate(), logs: LOGS });
    expect(first.ingested(STREAM)).toEqual(LOGS[STREAM]);
    expect(first.exportEstate().logs).toEqual(LOGS);

    const ingest = new LogsIngestionClient(first.endpoint, credential, {
      tlsOptions: { ca: first.ca },
      retryOptions: { maxRetries: 0 },
    });
    const added = { TimeGenerated: "2025-03-10T11:59:00.000Z", ResourceId: "aks2", Status: "compliant" };
    await ingest.upload(DCR, STREAM, [added], { maxConcurrency: 1 });
    const exported = first.exportEstate();
    expect(exported.logs?.[STREAM]).toEqual([...(LOGS[STREAM] ?? []), { receivedAt: T0, row: added }]);
    expect(exported.logs?.[OTHER_STREAM]).toEqual(LOGS[OTHER_STREAM]);

    const path = join(dir, "with-logs.json");
    await saveEstateFile(path, exported);
    const reloaded = await loadEstateFile(path);
    expect(reloaded).toEqual(exported);
    const second = await start(reloaded);
    expect(second.exportEstate()).toEqual(exported);

    // The query API reads the restored rows (TimeGenerated from receivedAt where the row has none).
    const logs = new LogsQueryClient(credential, {
      endpoint: `${second.endpoint}/v1`,
      tlsOptions: { ca: second.ca },
      retryOptions: { maxRetries: 0 },
    });
    const result = await logs.queryWorkspace(
      WORKSPACE,
      "AutoprotectOutcomes_CL | project TimeGenerated, Status | order by TimeGenerated asc",
      { duration: "P1D" },
    );
    if (result.status !== LogsQueryResultStatus.Success) throw new Error("query failed");
    expect(result.tables[0]?.rows.map(([time, status]) => [(time as Date).toISOString(), status])).toEqual([
      ["2025-03-10T09:00:00.000Z", "failed"],
      ["2025-03-10T11:00:02.000Z", "remediated"],
      ["2025-03-10T11:59:00.000Z", "compliant"],
    ]);
  });

  it("leaves an estate without logs as it was, until something is ingested", async () => {
    const sim = await start(baseEstate());
    expect(sim.exportEstate()).not.toHaveProperty("logs");
    expect(sim.exportEstate()).toEqual(parseEstate(baseEstate(), "estate"));
    // An empty `logs` round-trips as loaded too.
    const empty = await start({ ...baseEstate(), logs: { [STREAM]: [] } });
    expect(empty.exportEstate().logs).toEqual({ [STREAM]: [] });
  });

  it("keeps the rows without an ingestion option, and clearIngested forgets them", async () => {
    const sim = await start({ ...baseEstate(), logs: LOGS }, null);
    expect(sim.exportEstate().logs).toEqual(LOGS);
    sim.clearIngested();
    expect(sim.exportEstate().logs).toEqual({});
  });

  it("refuses rows that do not fit the declared stream, naming the row", async () => {
    const bad: Estate = {
      ...baseEstate(),
      logs: { [STREAM]: [...(LOGS[STREAM] ?? []), { receivedAt: T0, row: { DurationMs: "slow" } }] },
    };
    await expect(start(bad)).rejects.toThrow(
      new EstateError(
        `estate: logs["${STREAM}"][2].row: column 'DurationMs' is real and takes a number, not the string "slow"`,
      ),
    );
    const undeclared: Estate = {
      ...baseEstate(),
      logs: { [STREAM]: [{ receivedAt: T0, row: { Host: "x" } }] },
    };
    await expect(start(undeclared)).rejects.toThrow(
      /^estate: logs\["Custom-AutoprotectOutcomes"\]\[0\]\.row: 'Host' is not a column of stream/,
    );
  });

  it("parseEstate names what is wrong in logs, with its path", () => {
    const base = baseEstate();
    expect(parseError({ ...base, logs: [] })).toBe("estate.json: logs must be an object, not an array");
    expect(parseError({ ...base, logs: { Outcomes: [] } })).toBe(
      "estate.json: logs.Outcomes is not a custom stream name (Custom- and letters, digits, _)",
    );
    expect(parseError({ ...base, logs: { [STREAM]: {} } })).toBe(
      `estate.json: logs["${STREAM}"] must be an array, not an object`,
    );
    expect(parseError({ ...base, logs: { [STREAM]: [{ row: {} }] } })).toBe(
      `estate.json: logs["${STREAM}"][0].receivedAt is missing`,
    );
    expect(parseError({ ...base, logs: { [STREAM]: [{ receivedAt: "yesterday", row: {} }] } })).toBe(
      `estate.json: logs["${STREAM}"][0].receivedAt must be an ISO 8601 date-time, not "yesterday"`,
    );
    expect(parseError({ ...base, logs: { [STREAM]: [{ receivedAt: T0 }] } })).toBe(
      `estate.json: logs["${STREAM}"][0].row is missing`,
    );
    expect(parseError({ ...base, logs: { [STREAM]: [{ receivedAt: T0, row: [1] }] } })).toBe(
      `estate.json: logs["${STREAM}"][0].row must be an object, not an array`,
    );
    expect(parseError({ ...base, logs: { [STREAM]: [{ receivedAt: T0, row: {}, at: 1 }] } })).toMatch(
      /^estate\.json: logs\["Custom-AutoprotectOutcomes"\]\[0\]\.at is not a known field/,
    );
  });
});
