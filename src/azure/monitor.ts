import { MetricsClient, type MetricsQueryResult } from "@azure/monitor-query-metrics";
import type { ApimServiceSnapshot, CapacityReading } from "../model/apim.js";
import { clientOptions, type AzureConnection } from "./connection.js";
import { azureCall } from "./errors.js";

/** Azure Monitor metrics, through the metrics batch API (@azure/monitor-query-metrics, successor of @azure/monitor-query). */
export interface MonitorAdapter {
  /** The instance's load over the last 15 minutes at 1-minute grain, read the way its tier reports it. */
  readApimCapacity(service: ApimServiceSnapshot, now: Date): Promise<CapacityReading>;
}

const WINDOW_MINUTES = 15;
const V2_TIERS = new Set(["basicv2", "standardv2", "premiumv2"]);

export function regionalMetricsEndpoint(location: string): string {
  return `https://${location.toLowerCase().replace(/\s+/g, "")}.metrics.monitor.azure.com`;
}

/** Highest per-minute Average of any series (region, or CPU and memory), and the newest minute's highest value. */
export function summariseCapacity(
  results: readonly MetricsQueryResult[],
  metric: string,
  window: { start: Date; end: Date },
): CapacityReading {
  const perRegion: Record<string, number> = {};
  const latestByTime = new Map<number, number>();
  for (const result of results) {
    for (const series of result.metrics) {
      for (const element of series.timeseries) {
        const location = element.metadatavalues?.find((m) => m.name?.toLowerCase() === "location")?.value;
        const label = location ?? series.name;
        for (const point of element.data ?? []) {
          if (typeof point.average !== "number") continue;
          perRegion[label] = Math.max(perRegion[label] ?? Number.NEGATIVE_INFINITY, point.average);
          const at = point.timeStamp.getTime();
          latestByTime.set(at, Math.max(latestByTime.get(at) ?? Number.NEGATIVE_INFINITY, point.average));
        }
      }
    }
  }
  const values = Object.values(perRegion);
  const newest = [...latestByTime.keys()].sort((a, b) => b - a)[0];
  return {
    metric,
    percent: values.length === 0 ? undefined : Math.max(...values),
    latestPercent: newest === undefined ? undefined : latestByTime.get(newest),
    ...(newest === undefined ? {} : { latestAt: new Date(newest).toISOString() }),
    perRegion,
    windowStart: window.start.toISOString(),
    windowEnd: window.end.toISOString(),
  };
}

export function createMonitorAdapter(connection: AzureConnection): MonitorAdapter {
  const clients = new Map<string, MetricsClient>();
  const clientFor = (location: string): MetricsClient => {
    const endpoint = connection.metricsEndpoint?.(location) ?? regionalMetricsEndpoint(location);
    let client = clients.get(endpoint);
    if (client === undefined) {
      client = new MetricsClient(endpoint, connection.credential, clientOptions(connection));
      clients.set(endpoint, client);
    }
    return client;
  };

  return {
    readApimCapacity: (service, now) =>
      azureCall(async () => {
        const window = { start: new Date(now.getTime() - WINDOW_MINUTES * 60_000), end: now };
        const v2 = V2_TIERS.has(service.sku.name.toLowerCase());
        // Classic tiers: Capacity per region, Average (its Maximum reads 0 below Premium). v2: gateway CPU and memory.
        const metricNames = v2 ? ["CpuPercent_Gateway", "MemoryPercent_Gateway"] : ["Capacity"];
        const results = await clientFor(service.location).queryResources(
          [service.id],
          metricNames,
          "Microsoft.ApiManagement/service",
          {
            startTime: window.start,
            endTime: window.end,
            interval: "PT1M",
            aggregation: "Average",
            ...(v2 ? {} : { filter: "Location eq '*'" }),
          },
        );
        return summariseCapacity(results, metricNames.join("/"), window);
      }),
  };
}
