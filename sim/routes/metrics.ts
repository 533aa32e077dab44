/**
 * Azure Monitor's metrics batch API (data plane, 2024-02-01), the one MetricsClient.queryResources calls:
 * `POST /subscriptions/{s}/metrics:getBatch?metricnamespace=…&metricnames=…&starttime=…&endtime=…
 * &interval=…&aggregation=…&filter=…` with `{"resourceids":[…]}`. It serves the estate's capacity model
 * for APIM services, per tier as Azure Monitor reports it:
 *
 * - classic tiers: `Capacity`, one series per region (`Location` dimension) when the filter asks for it;
 *   its Maximum aggregation reads 0 on every tier but Premium;
 * - v2 tiers: `CpuPercent_Gateway` and `MemoryPercent_Gateway` (memory = CPU × 0.8); `Capacity` has no data;
 * - Consumption: no data.
 *
 * A metric that exists for APIM but has no data for the tier comes back with an empty `timeseries`, as
 * Azure answers; a name APIM does not define is 400 BadRequest.
 */
import { badRequest } from "../arm-errors.js";
import { APIM_SERVICE_TYPE, isClassicTier, isV2Tier, regionsOf, tierOf, type ApimTier } from "../apim.js";
import { capacityModelOf, clampPercent, noise, onboardedAt } from "../capacity.js";
import type { ArmResource } from "../estate.js";
import { normalizeRegion, regionDisplayName } from "../regions.js";
import { isRecord, pattern, type ProviderModule, type RouteContext, type RouteResponse } from "./types.js";

export const METRICS_API_VERSIONS = ["2024-02-01"] as const;
const MINUTE = 60_000;
const MAX_RESOURCES = 50;
const AGGREGATIONS = ["average", "minimum", "maximum", "total", "count"] as const;
type Aggregation = (typeof AGGREGATIONS)[number];
/** The time grains Azure Monitor accepts, in minutes. */
const GRAINS: Readonly<Record<string, number>> = {
  PT1M: 1,
  PT5M: 5,
  PT15M: 15,
  PT30M: 30,
  PT1H: 60,
  PT6H: 360,
  PT12H: 720,
  P1D: 1440,
};

interface MetricDefinition {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
  /** The tiers with data, and how a sample is made from the model's value. */
  readonly serves: (tier: ApimTier | undefined) => boolean;
  readonly scale: number;
}

const METRICS: readonly MetricDefinition[] = [
  {
    name: "Capacity",
    unit: "Percent",
    description:
      "Utilization metric for ApiManagement service. Note: For skus other than Premium, 'Max' aggregation will show the value as 0.",
    serves: isClassicTier,
    scale: 1,
  },
  {
    name: "CpuPercent_Gateway",
    unit: "Percent",
    description: "CPU utilization of the gateway (API Management v2 tiers).",
    serves: isV2Tier,
    scale: 1,
  },
  {
    name: "MemoryPercent_Gateway",
    unit: "Percent",
    description: "Memory utilization of the gateway (API Management v2 tiers).",
    serves: isV2Tier,
    scale: 0.8,
  },
  // Defined for APIM, without data in the simulator.
  ...(
    [
      ["Requests", "Count"],
      ["Duration", "MilliSeconds"],
      ["BackendDuration", "MilliSeconds"],
      ["NetworkConnectivity", "Count"],
    ] as const
  ).map(([name, unit]) => ({ name, unit, description: name, serves: () => false, scale: 1 })),
];

interface Sample {
  total: number;
  count: number;
  minimum: number;
  maximum: number;
}

interface Query {
  readonly metrics: readonly MetricDefinition[];
  readonly start: Date;
  readonly end: Date;
  /** Minutes per data point; undefined for FULL (one point for the whole window). */
  readonly grain: number | undefined;
  readonly intervalText: string;
  readonly aggregations: readonly Aggregation[];
  /** undefined: no Location split; "*": every region; otherwise the regions asked for (normalised). */
  readonly locations: "*" | readonly string[] | undefined;
  readonly rollUp: boolean;
  readonly top: number;
  readonly resourceIds: readonly string[];
}

function invalid(message: string): never {
  throw badRequest("BadRequest", message);
}

function parseTime(text: string | undefined, name: string): Date | undefined {
  if (text === undefined) return undefined;
  const time = Date.parse(text);
  if (Number.isNaN(time))
    invalid(`Detected invalid time interval input: '${name}' '${text}' is not a date-time.`);
  return new Date(time);
}

function parseLocations(filter: string | undefined): "*" | string[] | undefined {
  if (filter === undefined || filter.trim().length === 0) return undefined;
  const clauses = filter.split(/\s+(?:and|or)\s+/i);
  const values: string[] = [];
  for (const clause of clauses) {
    const match = /^\s*\(?\s*([A-Za-z_][\w.]*)\s+eq\s+'([^']*)'\s*\)?\s*$/i.exec(clause);
    if (match === null)
      invalid(`The $filter '${filter}' is not valid: expected clauses like "Location eq '*'".`);
    const [, dimension = "", value = ""] = match;
    if (dimension.toLowerCase() !== "location") {
      invalid(
        `Metric dimension '${dimension}' was not found; the API Management metrics served here support the dimension 'Location'.`,
      );
    }
    if (value === "*") return "*";
    values.push(normalizeRegion(value));
  }
  return values;
}

function parseQuery(ctx: RouteContext): Query {
  const q = ctx.request.query;
  const namespace = q.metricnamespace;
  if (namespace === undefined || namespace.trim().length === 0)
    invalid("The parameter 'metricnamespace' is required.");
  if (namespace.toLowerCase() !== APIM_SERVICE_TYPE.toLowerCase()) {
    invalid(
      `Failed to find metric configuration for namespace: ${namespace}. The simulator serves metrics for ${APIM_SERVICE_TYPE} only.`,
    );
  }
  const names = (q.metricnames ?? "")
    .split(",")
    .map((n) => n.trim())
    .filter((n) => n.length > 0);
  if (names.length === 0) invalid("The parameter 'metricnames' is required.");
  const metrics = names.map((name) => {
    const found = METRICS.find((m) => m.name.toLowerCase() === name.toLowerCase());
    if (found === undefined) {
      invalid(
        `Failed to find metric configuration for provider: Microsoft.ApiManagement, resource Type: service, metric: ${name}, ` +
          `Valid metrics: ${METRICS.map((m) => m.name).join(",")}`,
      );
    }
    return found;
  });

  const now = ctx.state.now();
  const startText = parseTime(q.starttime, "starttime");
  const endText = parseTime(q.endtime, "endtime");
  if (startText === undefined && endText !== undefined) {
    invalid("Detected invalid time interval input: 'starttime' is required when 'endtime' is specified.");
  }
  const end = endText ?? now;
  const start = startText ?? new Date(end.getTime() - 60 * MINUTE);
  if (start.getTime() >= end.getTime()) {
    invalid(
      `Detected invalid time interval input: starttime '${start.toISOString()}' must be before endtime '${end.toISOString()}'.`,
    );
  }

  const intervalText = (q.interval ?? "PT1M").toUpperCase();
  const grain = intervalText === "FULL" ? undefined : GRAINS[intervalText];
  if (intervalText !== "FULL" && grain === undefined) {
    invalid(
      `Invalid time grain '${q.interval ?? ""}'. Supported time grains: ${[...Object.keys(GRAINS), "FULL"].join(", ")}.`,
    );
  }

  const aggregations = (q.aggregation ?? "average")
    .split(",")
    .map((a) => a.trim().toLowerCase())
    .filter((a) => a.length > 0)
    .map((a) => {
      if (!(AGGREGATIONS as readonly string[]).includes(a)) {
        invalid(
          `Invalid aggregation '${a}'. Supported aggregations: Average, Minimum, Maximum, Total, Count.`,
        );
      }
      return a as Aggregation;
    });
  if (aggregations.length === 0) invalid("The parameter 'aggregation' is empty.");

  const locations = parseLocations(q.filter);
  const rollUpText = q.rollupby;
  if (rollUpText !== undefined && rollUpText.trim().toLowerCase() !== "location") {
    invalid(`Metric dimension '${rollUpText}' in 'rollupby' was not found; supported: 'Location'.`);
  }
  const topText = q.top;
  const top = topText === undefined ? 10 : Number(topText);
  if (!Number.isInteger(top) || top < 1)
    invalid(`The parameter 'top' must be a positive integer, not '${topText ?? ""}'.`);

  const body = ctx.request.body;
  const ids: unknown = isRecord(body) ? body.resourceids : undefined;
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id): id is string => typeof id === "string")) {
    invalid('The request body must be {"resourceids": [...]} with at least one resource id.');
  }
  if (ids.length > MAX_RESOURCES)
    invalid(`At most ${String(MAX_RESOURCES)} resource ids can be queried in one batch.`);

  return {
    metrics,
    start,
    end,
    grain,
    intervalText,
    aggregations,
    locations,
    rollUp: rollUpText !== undefined,
    top,
    resourceIds: ids,
  };
}

function resolveService(ctx: RouteContext, id: string): ArmResource {
  const subscriptionId = ctx.params.subscriptionId ?? "";
  if (id.split("/")[2]?.toLowerCase() !== subscriptionId.toLowerCase()) {
    invalid(`Resource '${id}' is not in subscription '${subscriptionId}': a batch queries one subscription.`);
  }
  const service = ctx.state.get(id);
  if (service === undefined) invalid(`Resource '${id}' was not found.`);
  if (service.type.toLowerCase() !== APIM_SERVICE_TYPE.toLowerCase()) {
    invalid(
      `Resource '${id}' is of type '${service.type}', not of the metric namespace '${APIM_SERVICE_TYPE}'.`,
    );
  }
  return service;
}

function floorTo(time: number, minutes: number): number {
  const step = minutes * MINUTE;
  return Math.floor(time / step) * step;
}

/** The sample of one region for the minute starting at `minute`. */
function sampleAt(
  ctx: RouteContext,
  service: ArmResource,
  tier: ApimTier | undefined,
  metric: MetricDefinition,
  region: string,
  minute: number,
): Sample {
  const model = capacityModelOf(ctx.state, service.id);
  const { lagMinutes, noise: amplitude, seed } = ctx.metrics;
  const onboarded = onboardedAt(ctx.state, service.id, minute - lagMinutes * MINUTE);
  const key = `${service.id}|${metric.name === "MemoryPercent_Gateway" ? "CpuPercent_Gateway" : metric.name}|${normalizeRegion(region)}|${String(minute)}`;
  const base = model.base + model.perApi * onboarded + noise(amplitude, seed, key);
  const value = clampPercent(clampPercent(base) * metric.scale);
  // Azure: Capacity's Maximum reads 0 on every tier but Premium.
  const maximum = metric.name === "Capacity" && tier !== "Premium" ? 0 : value;
  return { total: value, count: 1, minimum: value, maximum };
}

function combine(samples: readonly Sample[]): Sample | undefined {
  if (samples.length === 0) return undefined;
  return {
    total: samples.reduce((sum, s) => sum + s.total, 0),
    count: samples.reduce((sum, s) => sum + s.count, 0),
    minimum: Math.min(...samples.map((s) => s.minimum)),
    maximum: Math.max(...samples.map((s) => s.maximum)),
  };
}

function dataPoint(timeStamp: number, sample: Sample | undefined, aggregations: readonly Aggregation[]) {
  const point: Record<string, string | number> = {
    timeStamp: new Date(timeStamp).toISOString().replace(".000Z", "Z"),
  };
  if (sample === undefined) return point;
  for (const aggregation of aggregations) {
    point[aggregation] = aggregation === "average" ? sample.total / sample.count : sample[aggregation];
  }
  return point;
}

/** The data points of one series (the given regions combined). */
function seriesData(
  ctx: RouteContext,
  query: Query,
  service: ArmResource,
  tier: ApimTier | undefined,
  metric: MetricDefinition,
  regions: readonly string[],
) {
  const now = ctx.state.now().getTime();
  const first = floorTo(query.start.getTime(), 1);
  const end = query.end.getTime();
  const minutesIn = (from: number, to: number): number[] => {
    const minutes: number[] = [];
    for (let m = Math.max(from, first); m < Math.min(to, end) && m <= now; m += MINUTE) minutes.push(m);
    return minutes;
  };
  const samplesIn = (from: number, to: number): Sample | undefined =>
    combine(
      minutesIn(from, to).flatMap((m) => regions.map((r) => sampleAt(ctx, service, tier, metric, r, m))),
    );
  if (query.grain === undefined) {
    return [dataPoint(first, samplesIn(first, end), query.aggregations)];
  }
  const points = [];
  for (let t = floorTo(query.start.getTime(), query.grain); t < end; t += query.grain * MINUTE) {
    points.push(dataPoint(t, samplesIn(t, t + query.grain * MINUTE), query.aggregations));
  }
  return points;
}

function metricResult(ctx: RouteContext, query: Query, service: ArmResource, metric: MetricDefinition) {
  const tier = tierOf(service);
  const regions = regionsOf(service);
  let timeseries: { metadatavalues: unknown[]; data: unknown[] }[] = [];
  if (metric.serves(tier) && regions.length > 0) {
    const wanted =
      query.locations === undefined || query.locations === "*"
        ? regions
        : regions.filter((r) => (query.locations as readonly string[]).includes(normalizeRegion(r)));
    if (query.locations === undefined || query.rollUp) {
      if (wanted.length > 0) {
        timeseries = [{ metadatavalues: [], data: seriesData(ctx, query, service, tier, metric, wanted) }];
      }
    } else {
      timeseries = wanted.slice(0, query.top).map((region) => ({
        metadatavalues: [
          { name: { value: "location", localizedValue: "location" }, value: regionDisplayName(region) },
        ],
        data: seriesData(ctx, query, service, tier, metric, [region]),
      }));
    }
  }
  return {
    id: `${service.id}/providers/Microsoft.Insights/metrics/${metric.name}`,
    type: "Microsoft.Insights/metrics",
    name: { value: metric.name, localizedValue: metric.name },
    displayDescription: metric.description,
    unit: metric.unit,
    timeseries,
    errorCode: "Success",
  };
}

function getBatch(ctx: RouteContext): RouteResponse {
  const query = parseQuery(ctx);
  const services = query.resourceIds.map((id) => resolveService(ctx, id));
  const values = services.map((service) => ({
    starttime: query.start.toISOString(),
    endtime: query.end.toISOString(),
    interval: query.intervalText,
    value: query.metrics.map((metric) => metricResult(ctx, query, service, metric)),
    namespace: APIM_SERVICE_TYPE.toLowerCase(),
    resourceregion: normalizeRegion(typeof service.location === "string" ? service.location : ""),
    resourceid: service.id,
  }));
  return { status: 200, body: { values } };
}

export const metricsModule: ProviderModule = {
  name: "metrics",
  routes: [
    {
      method: "POST",
      match: pattern("/subscriptions/{subscriptionId}/metrics:getBatch"),
      apiVersions: METRICS_API_VERSIONS,
      typeName: "metrics",
      // A read of Azure Monitor's data plane: ARM raises no event for it.
      dataPlane: true,
      handle: getBatch,
    },
  ],
};
