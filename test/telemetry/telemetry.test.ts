import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { context, metrics, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  AggregationTemporality,
  type DataPoint,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEventGridHandler } from "../../src/functions/eventgrid.js";
import { traceAzureSdkCalls } from "../../src/telemetry/setup.js";
import { startAzurite, type Azurite } from "../support/azurite.js";
import { SUB_A, cluster, clusterId, estate } from "../support/estate.js";
import { startFunctionsWorld } from "../support/functions.js";

/** Recognisable, so any leak of it into a log line, span or record is found. */
const FAKE_TOKEN = "eyJ0eXAiOiJKV1Qi.FAKE-TOKEN-autoprotect-7f3a9c.signature";
const leakyCredential: TokenCredential = {
  getToken: (): Promise<AccessToken> =>
    Promise.resolve({ token: FAKE_TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }),
};

const spans = new InMemorySpanExporter();
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({
  exporter: metricExporter,
  exportIntervalMillis: 3_600_000,
});
let azurite: Azurite;

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }),
  );
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  traceAzureSdkCalls();
  azurite = await startAzurite();
});
afterAll(async () => {
  await azurite.stop();
});

function ancestors(span: ReadableSpan, byId: Map<string, ReadableSpan>): ReadableSpan[] {
  const chain: ReadableSpan[] = [];
  let parentId = span.parentSpanContext?.spanId;
  while (parentId !== undefined) {
    const parent = byId.get(parentId);
    if (parent === undefined) break;
    chain.push(parent);
    parentId = parent.parentSpanContext?.spanId;
  }
  return chain;
}

describe("telemetry of an event-triggered run", () => {
  it("is one trace per run, correlated with the event, with the Azure SDK calls inside it, and counts outcomes", async () => {
    const world = await startFunctionsWorld(
      estate([cluster("aks-traced")]),
      azurite,
      {},
      undefined,
      leakyCredential,
    );
    try {
      const event = {
        id: "event-telemetry-1",
        topic: `/subscriptions/${SUB_A}`,
        subject: clusterId("aks-traced"),
        eventType: "Microsoft.Resources.ResourceWriteSuccess",
        eventTime: new Date().toISOString(),
        data: {
          resourceUri: clusterId("aks-traced"),
          operationName: "Microsoft.ContainerService/managedClusters/write",
          status: "Succeeded",
          subscriptionId: SUB_A,
        },
        dataVersion: "2",
        metadataVersion: "1",
      };
      const result = await createEventGridHandler(() => world.runtime)(
        event,
        world.context("resourceEvents"),
      );

      const finished = spans.getFinishedSpans();
      const runs = finished.filter((s) => s.name === "autoprotect.run");
      expect(runs).toHaveLength(1);
      const run = runs[0];
      expect(run?.attributes).toMatchObject({
        "autoprotect.correlation_id": "event-telemetry-1",
        "autoprotect.trigger": "eventgrid",
        "autoprotect.failed": 0,
      });
      const byId = new Map(finished.map((s) => [s.spanContext().spanId, s]));
      const sdkSpans = finished.filter((s) => s !== run && s.instrumentationScope.name !== "autoprotect");
      expect(sdkSpans.length).toBeGreaterThan(3);
      const put = sdkSpans.find((s) => /PUT/i.test(s.name) || s.attributes["http.request.method"] === "PUT");
      expect(put, sdkSpans.map((s) => s.name).join(", ")).toBeDefined();
      // Every Azure call the run makes is inside its trace; the trigger's bookkeeping after the run
      // (scheduling the look that confirms the cluster's update) is storage, not the run.
      const storage = (s: (typeof sdkSpans)[number]): boolean =>
        [s, ...ancestors(s, byId)].some((a) => /^(TableClient|QueueClient)[.-]/.test(a.name));
      const runCalls = sdkSpans.filter(
        (s) => !storage(s) || ancestors(s, byId).some((a) => a.name === "autoprotect.run"),
      );
      expect(runCalls.length).toBeGreaterThan(3);
      for (const span of runCalls) {
        expect(ancestors(span, byId).map((a) => a.name)).toContain("autoprotect.run");
      }

      await reader.forceFlush();
      const points = metricExporter
        .getMetrics()
        .flatMap((m) => m.scopeMetrics)
        .flatMap((s) => s.metrics)
        .filter((m) => m.descriptor.name === "autoprotect.outcomes")
        .flatMap((m) => m.dataPoints as DataPoint<number>[]);
      const remediated = points
        .filter((p) => p.attributes.status === "remediated")
        .reduce((sum, p) => sum + p.value, 0);
      expect(remediated).toBe(result?.outcomes.filter((o) => o.Status === "remediated").length);
      expect(remediated).toBeGreaterThan(0);

      // The token the credential handed out appears nowhere a person or a pipeline reads.
      const everything = JSON.stringify({
        logs: world.logs,
        outcomes: result?.outcomes,
        spans: finished.map((s) => ({
          name: s.name,
          attributes: s.attributes,
          events: s.events,
          status: s.status,
          links: s.links,
        })),
        metrics: points,
      });
      expect(everything).not.toContain("FAKE-TOKEN");
      expect(everything).not.toContain(FAKE_TOKEN.slice(0, 16));
      // ...while it really was used: the simulator saw it on the wire.
      expect(world.sim.requests.length).toBeGreaterThan(0);
    } finally {
      await world.close();
    }
  });
});
