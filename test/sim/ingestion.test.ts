import { isRestError, type PipelineRequest } from "@azure/core-rest-pipeline";
import {
  isAggregateLogsUploadError,
  LogsIngestionClient,
  type LogsUploadFailure,
} from "@azure/monitor-ingestion";
import { request } from "node:https";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import {
  MAX_INGESTION_BYTES,
  startSimulator,
  type IngestionOptions,
  type Simulator,
  type SimulatorOptions,
} from "../../sim/index.js";
import { baseEstate, credential, fakeClock } from "../support/sim.js";

const DCR = "dcr-0123456789abcdef0123456789abcdef";
const STREAM = "Custom-AutoprotectOutcomes";
const T0 = "2025-03-01T10:00:00.000Z";
const PATH = `/dataCollectionRules/${DCR}/streams/${STREAM}`;

const INGESTION: IngestionOptions = {
  dataCollectionRuleId: DCR,
  streams: {
    [STREAM]: [
      { name: "TimeGenerated", type: "datetime" },
      { name: "ResourceId", type: "string" },
      { name: "Check", type: "string" },
      { name: "Outcome", type: "string" },
      { name: "DurationMs", type: "real" },
      { name: "Attempt", type: "long" },
      { name: "DryRun", type: "boolean" },
      { name: "Details", type: "dynamic" },
    ],
  },
};

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(options: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  const clock = fakeClock(T0);
  sim = await startSimulator({ estate: baseEstate(), clock: clock.now, ingestion: INGESTION, ...options });
  return sim;
}

function client(s: Simulator, retry: { maxRetries: number; retryDelayInMs?: number } = { maxRetries: 0 }) {
  return new LogsIngestionClient(s.endpoint, credential, { tlsOptions: { ca: s.ca }, retryOptions: retry });
}

function outcome(i: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    TimeGenerated: new Date(Date.parse(T0) + i * 1000).toISOString(),
    ResourceId: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks${String(i)}`,
    Check: "defender-sensor",
    Outcome: "compliant",
    DurationMs: 12.5,
    Attempt: 1,
    DryRun: false,
    Details: { index: i, note: "ok" },
    ...extra,
  };
}

/** The upload's failures as the SDK reports them: what `onError` got, and the error `upload` threw. */
async function failedUpload(
  c: LogsIngestionClient,
  stream: string,
  logs: Record<string, unknown>[],
  ruleId = DCR,
): Promise<{ failures: LogsUploadFailure[]; thrown: unknown }> {
  const failures: LogsUploadFailure[] = [];
  let thrown: unknown;
  try {
    await c.upload(ruleId, stream, logs, { maxConcurrency: 1, onError: (f) => failures.push(f) });
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeDefined();
  return { failures, thrown };
}

function restCause(failure: LogsUploadFailure | undefined): {
  status?: number;
  code?: string;
  message: string;
} {
  const cause = failure?.cause;
  if (!isRestError(cause)) throw new Error(`not a RestError: ${String(cause)}`);
  return { status: cause.statusCode, code: cause.code, message: cause.message };
}

function ingestionRequests(s: Simulator) {
  return s.requests.filter((r) => r.path.startsWith("/dataCollectionRules/"));
}

/** A raw HTTPS POST with a Buffer body (gzip or not). */
function post(
  s: Simulator,
  path: string,
  body: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, s.endpoint),
      {
        method: "POST",
        ca: s.ca,
        agent: false,
        headers: { authorization: "Bearer sim", "content-type": "application/json", ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            json: text.length > 0 ? (JSON.parse(text) as unknown) : undefined,
          });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function errorOf(json: unknown): { code: string; message: string } {
  return (json as { error: { code: string; message: string } }).error;
}

describe("Logs Ingestion API through the real LogsIngestionClient", () => {
  it("stores the uploaded rows in order, with the time received; the SDK sends gzip JSON to the DCR stream", async () => {
    const s = await start();
    const c = client(s);
    const sent: { url: string; headers: Record<string, string>; body: unknown }[] = [];
    // Runs after the SDK's own policies (gzip included): exactly what goes on the wire.
    c.pipeline.addPolicy(
      {
        name: "capture",
        sendRequest: (req: PipelineRequest, next) => {
          sent.push({ url: req.url, headers: req.headers.toJSON(), body: req.body });
          return next(req);
        },
      },
      { phase: "Sign" },
    );
    const logs = [outcome(1), outcome(2), outcome(3, { Outcome: "remediated", Details: null })];
    await c.upload(DCR, STREAM, logs);

    expect(s.ingested(STREAM).map((r) => r.row)).toEqual(logs);
    expect(s.ingested(STREAM).every((r) => r.receivedAt === T0)).toBe(true);
    expect(s.ingested("Custom-Other")).toEqual([]);

    expect(sent).toHaveLength(1);
    const [wire] = sent;
    // The SDK's URL template percent-encodes the parameter's name; servers decode it (so does the simulator).
    expect(wire?.url).toBe(`${s.endpoint}${PATH}?api%2Dversion=2023-01-01`);
    expect(wire?.headers["content-encoding"]).toBe("gzip");
    expect(wire?.headers["content-type"]).toBe("application/json");
    expect(wire?.headers.authorization).toBe("Bearer sim");
    expect(Buffer.isBuffer(wire?.body)).toBe(true);
    expect(JSON.parse(gunzipSync(wire?.body as Buffer).toString("utf8"))).toEqual(logs);

    const [recorded] = ingestionRequests(s);
    expect(recorded).toMatchObject({ method: "POST", path: PATH, apiVersion: "2023-01-01", status: 204 });
    // Recorded decompressed; a data-plane write raises no Event Grid event.
    expect(recorded?.body).toEqual(logs);
    expect(s.events).toEqual([]);
  });

  it("refuses the whole batch when a row does not fit the stream: onError gets the batch, nothing is stored", async () => {
    const s = await start();
    const c = client(s);
    const logs = [outcome(1), outcome(2, { DurationMs: "12" }), outcome(3)];
    const { failures, thrown } = await failedUpload(c, STREAM, logs);

    expect(isAggregateLogsUploadError(thrown)).toBe(true);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.failedLogs).toEqual(logs);
    const cause = restCause(failures[0]);
    expect(cause.status).toBe(400);
    expect(cause.code).toBe("InvalidPayload");
    expect(cause.message).toContain("Row 1");
    expect(cause.message).toContain("'DurationMs' is real");
    expect(cause.message).toContain('the string "12"');
    expect(s.ingested(STREAM)).toEqual([]);
  });

  it.each([
    ["an undeclared column", { Extra: "x" }, "'Extra' is not a column of stream"],
    ["a datetime that is not ISO 8601", { TimeGenerated: "yesterday" }, "'TimeGenerated' is datetime"],
    ["a fraction in a long", { Attempt: 1.5 }, "'Attempt' is long"],
    ["a string in a boolean", { DryRun: "false" }, "'DryRun' is boolean"],
    ["a number in a string", { Outcome: 3 }, "'Outcome' is string"],
  ])("names the row and column of %s", async (_what, extra, expected) => {
    const s = await start();
    const { failures } = await failedUpload(client(s), STREAM, [outcome(0, extra)]);
    const cause = restCause(failures[0]);
    expect(cause.status).toBe(400);
    expect(cause.message).toContain("Row 0");
    expect(cause.message).toContain(expected);
  });

  it("takes null for any column and any JSON in a dynamic one", async () => {
    const s = await start();
    const logs = [outcome(1, { DurationMs: null, Outcome: null, Details: [1, "two", { three: 3 }] })];
    await client(s).upload(DCR, STREAM, logs);
    expect(s.ingested(STREAM).map((r) => r.row)).toEqual(logs);
  });

  it("receives an upload over 1 MB as several requests, in order with maxConcurrency 1", async () => {
    const s = await start();
    const padding = "x".repeat(1000);
    const logs = Array.from({ length: 2500 }, (_, i) => outcome(i, { Details: { i, padding } }));
    await client(s).upload(DCR, STREAM, logs, { maxConcurrency: 1 });

    // The SDK's split: rows in order, a new request when the rows' JSON would reach 1,000,000 bytes.
    let expected = 1;
    let size = 0;
    for (const row of logs) {
      const rowSize = Buffer.byteLength(JSON.stringify(row));
      if (size + rowSize >= 1_000_000) {
        expected += 1;
        size = 0;
      }
      size += rowSize;
    }
    const uploads = ingestionRequests(s);
    expect(expected).toBeGreaterThan(2);
    expect(uploads.length).toBe(expected);
    expect(uploads.every((r) => r.status === 204)).toBe(true);
    // Each request is under the limit uncompressed.
    for (const r of uploads) {
      expect(Buffer.byteLength(JSON.stringify(r.body))).toBeLessThanOrEqual(MAX_INGESTION_BYTES);
    }
    expect(s.ingested(STREAM).map((r) => r.row)).toEqual(logs);
  });

  it("gets every row of a large upload with the SDK's default concurrency (order across requests not kept)", async () => {
    const s = await start();
    const padding = "y".repeat(2000);
    const logs = Array.from({ length: 2000 }, (_, i) => outcome(i, { Details: { i, padding } }));
    await client(s).upload(DCR, STREAM, logs);
    expect(ingestionRequests(s).length).toBeGreaterThanOrEqual(4);
    const index = (row: Readonly<Record<string, unknown>>): number => (row.Details as { i: number }).i;
    const got = s.ingested(STREAM).map((r) => index(r.row));
    expect([...got].sort((a, b) => a - b)).toEqual(logs.map((_, i) => i));
  });

  it("answers 503 with Retry-After while down: the SDK retries, then fails; after recovery the upload lands", async () => {
    const s = await start();
    const c = client(s, { maxRetries: 2 });
    s.setIngestionDown(true, { retryAfterSeconds: 0 });
    const { failures, thrown } = await failedUpload(c, STREAM, [outcome(1)]);
    expect(isAggregateLogsUploadError(thrown)).toBe(true);
    const cause = restCause(failures[0]);
    expect(cause).toMatchObject({ status: 503, code: "ServiceUnavailable" });
    // The first try and two retries.
    expect(ingestionRequests(s).map((r) => r.status)).toEqual([503, 503, 503]);
    expect(s.ingested(STREAM)).toEqual([]);

    s.setIngestionDown(false);
    await c.upload(DCR, STREAM, [outcome(1)]);
    expect(s.ingested(STREAM).map((r) => r.row)).toEqual([outcome(1)]);
  });

  it("sends Retry-After (default 1 second) with the outage's 503", async () => {
    const s = await start();
    s.setIngestionDown(true);
    const answer = await post(s, `${PATH}?api-version=2023-01-01`, Buffer.from("[]"));
    expect(answer.status).toBe(503);
    expect(answer.headers["retry-after"]).toBe("1");
    expect(errorOf(answer.json).code).toBe("ServiceUnavailable");
    expect(() => {
      s.setIngestionDown(true, { retryAfterSeconds: -1 });
    }).toThrow(RangeError);
  });

  it("serves injected faults on the ingestion path: the SDK retries 503s and dropped connections, storing once", async () => {
    const s = await start();
    s.injectFault({
      kind: "status",
      method: "POST",
      path: PATH,
      status: 503,
      code: "ServiceUnavailable",
      retryAfterSeconds: 0,
      times: 2,
    });
    await client(s, { maxRetries: 3 }).upload(DCR, STREAM, [outcome(1)]);
    expect(ingestionRequests(s).map((r) => [r.status, r.fault])).toEqual([
      [503, "status"],
      [503, "status"],
      [204, undefined],
    ]);
    expect(s.ingested(STREAM)).toHaveLength(1);

    s.clearRequests();
    s.injectFault({ kind: "drop-connection", path: /^\/dataCollectionRules\//, times: 1 });
    await client(s, { maxRetries: 1, retryDelayInMs: 10 }).upload(DCR, STREAM, [outcome(2)]);
    expect(ingestionRequests(s).map((r) => r.status)).toEqual([0, 204]);
    expect(s.ingested(STREAM).map((r) => r.row)).toEqual([outcome(1), outcome(2)]);
  });

  it("loses the answer after storing (loseAnswers): a client that retries stores the rows twice", async () => {
    const s = await start({ ingestion: { ...INGESTION, loseAnswers: 1 } });
    await client(s, { maxRetries: 1, retryDelayInMs: 5 }).upload(DCR, STREAM, [outcome(1), outcome(2)]);
    expect(ingestionRequests(s).map((r) => r.status)).toEqual([500, 204]);
    expect(s.ingested(STREAM).map((r) => r.row)).toEqual([outcome(1), outcome(2), outcome(1), outcome(2)]);

    // Only the first N stored uploads: the next one is answered.
    await client(s).upload(DCR, STREAM, [outcome(3)]);
    expect(s.ingested(STREAM)).toHaveLength(5);
  });

  it("a client that does not retry sees the failure, though the rows were stored", async () => {
    const s = await start({ ingestion: { ...INGESTION, loseAnswers: 1 } });
    const { failures } = await failedUpload(client(s), STREAM, [outcome(1)]);
    expect(restCause(failures[0])).toMatchObject({ status: 500, code: "InternalServerError" });
    expect(restCause(failures[0]).message).toContain("stored");
    expect(s.ingested(STREAM).map((r) => r.row)).toEqual([outcome(1)]);
  });

  it("refuses an unknown stream (400 InvalidStream) and an unknown rule (404 NotFound)", async () => {
    const s = await start();
    const c = client(s);
    const stream = restCause((await failedUpload(c, "Custom-Nope", [outcome(1)])).failures[0]);
    expect(stream).toMatchObject({ status: 400, code: "InvalidStream" });
    expect(stream.message).toContain("'Custom-Nope'");
    expect(stream.message).toContain(STREAM);

    const otherRule = "dcr-ffffffffffffffffffffffffffffffff";
    const rule = restCause((await failedUpload(c, STREAM, [outcome(1)], otherRule)).failures[0]);
    expect(rule).toMatchObject({ status: 404, code: "NotFound" });
    expect(rule.message).toContain(otherRule);
    expect(s.ingested(STREAM)).toEqual([]);
  });

  it("answers 404 for every rule when the simulator has no ingestion options", async () => {
    sim = await startSimulator({ estate: baseEstate() });
    const rule = restCause((await failedUpload(client(sim), STREAM, [outcome(1)])).failures[0]);
    expect(rule).toMatchObject({ status: 404, code: "NotFound" });
  });
});

describe("Logs Ingestion API on the wire", () => {
  const url = `${PATH}?api-version=2023-01-01`;

  it("takes an uncompressed JSON body when Content-Encoding is absent", async () => {
    const s = await start();
    const answer = await post(s, url, Buffer.from(JSON.stringify([outcome(1)])));
    expect(answer.status).toBe(204);
    expect(s.ingested(STREAM)).toHaveLength(1);
  });

  it("answers 413 for a body over 1 MB, compressed or not", async () => {
    const s = await start();
    const rows = Array.from({ length: 1100 }, (_, i) => outcome(i, { Details: { pad: "z".repeat(1000) } }));
    const json = Buffer.from(JSON.stringify(rows));
    expect(json.length).toBeGreaterThan(MAX_INGESTION_BYTES);

    const plain = await post(s, url, json);
    expect(plain.status).toBe(413);
    expect(errorOf(plain.json).code).toBe("RequestEntityTooLarge");

    const gzipped = gzipSync(json);
    expect(gzipped.length).toBeLessThan(MAX_INGESTION_BYTES);
    const compressed = await post(s, url, gzipped, { "content-encoding": "gzip" });
    expect(compressed.status).toBe(413);
    expect(errorOf(compressed.json).message).toContain("uncompressed");
    expect(s.ingested(STREAM)).toEqual([]);
  });

  it.each([
    ["a body that is not gzip", Buffer.from("[]"), { "content-encoding": "gzip" }, "not valid gzip"],
    ["an empty body", Buffer.alloc(0), {}, "empty"],
    ["a body that is not JSON", Buffer.from("[{"), {}, "not JSON"],
    ["a JSON object instead of an array", Buffer.from("{}"), {}, "JSON array"],
    ["an array of non-objects", Buffer.from("[1]"), {}, "Row 0 is the number 1"],
    ["another Content-Encoding", Buffer.from("[]"), { "content-encoding": "br" }, "'br'"],
  ])("answers 400 for %s", async (_what, body, headers, expected) => {
    const s = await start();
    const answer = await post(s, url, body, headers);
    expect(answer.status).toBe(400);
    expect(errorOf(answer.json).message).toContain(expected);
  });

  it("stores nothing for an empty array, and answers 204", async () => {
    const s = await start();
    const answer = await post(s, url, gzipSync("[]"), { "content-encoding": "gzip" });
    expect(answer.status).toBe(204);
    expect(s.ingested(STREAM)).toEqual([]);
  });

  it("needs a bearer token and the api-version", async () => {
    const s = await start();
    expect((await post(s, PATH, Buffer.from("[]"))).status).toBe(400);
    expect(errorOf((await post(s, PATH, Buffer.from("[]"))).json).code).toBe("MissingApiVersionParameter");
    const noAuth = await post(s, url, Buffer.from("[]"), { authorization: "" });
    expect(noAuth.status).toBe(401);
    const preview = await post(s, `${PATH}?api-version=2021-11-01-preview`, Buffer.from("[]"));
    expect(preview.status).toBe(204);
    expect((await post(s, `${PATH}?api-version=2020-01-01`, Buffer.from("[]"))).status).toBe(400);
  });

  it("clearIngested() forgets the rows", async () => {
    const s = await start();
    await post(s, url, Buffer.from(JSON.stringify([outcome(1)])));
    s.clearIngested();
    expect(s.ingested(STREAM)).toEqual([]);
  });
});

describe("ingestion options", () => {
  it.each([
    [{ ...INGESTION, dataCollectionRuleId: "dcr-123" }, "immutable id"],
    [{ ...INGESTION, workspaceId: "law1" }, "not a GUID"],
    [{ ...INGESTION, loseAnswers: 1.5 }, "loseAnswers must be a whole number"],
    [{ ...INGESTION, streams: { Outcomes: INGESTION.streams[STREAM] ?? [] } }, "custom stream name"],
    [{ ...INGESTION, streams: { [STREAM]: [] } }, "must list its columns"],
    [{ ...INGESTION, streams: { [STREAM]: [{ name: "A", type: "text" }] } }, "is not one of"],
    [
      {
        ...INGESTION,
        streams: {
          [STREAM]: [
            { name: "A", type: "string" },
            { name: "a", type: "long" },
          ],
        },
      },
      "declared twice",
    ],
    [
      {
        ...INGESTION,
        streams: {
          "Custom-X": [{ name: "A", type: "string" }],
          "Custom-X_CL": [{ name: "A", type: "string" }],
        },
      },
      "both land in X_CL",
    ],
  ])("refuses a bad declaration at start (%#)", async (ingestion, expected) => {
    await expect(
      startSimulator({ estate: baseEstate(), ingestion: ingestion as IngestionOptions }),
    ).rejects.toThrow(expected);
  });
});
