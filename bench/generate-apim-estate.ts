import {
  apiCollectionResource,
  apimApiResource,
  apimChildResource,
  apimServiceResource,
} from "../sim/builders.js";
import type { ArmResource, Estate } from "../sim/index.js";

/** What the generator made, for the benchmark's checks and report. */
export interface ApimEstateSummary {
  readonly services: number;
  readonly tiers: Record<string, number>;
  /** Current APIs, in workspaces included: each gets one `apim.api-onboarding` outcome. */
  readonly apis: number;
  readonly workspaceApis: number;
  readonly nonCurrentRevisions: number;
  readonly soapApis: number;
  readonly graphqlApis: number;
  readonly onboardedApis: number;
  readonly gateways: number;
  readonly gatewayApiLinks: number;
  readonly largestService: number;
  readonly smallestService: number;
}

const API_WORDS = [
  "orders",
  "customers",
  "payments",
  "invoices",
  "catalog",
  "inventory",
  "shipping",
  "accounts",
  "pricing",
  "reviews",
  "loyalty",
  "identity",
  "notifications",
  "search",
  "reports",
  "returns",
] as const;

/**
 * Size classes, as shares of the services and relative weights of their API counts, with the tiers they
 * come in (cycled): a few big Premium instances hold a third of the APIs, half the services hold tens.
 */
const SIZE_CLASSES = [
  { share: 0.04, weight: 800, tiers: ["Premium"] },
  { share: 0.12, weight: 250, tiers: ["Premium", "Premium", "Standard"] },
  {
    share: 0.34,
    weight: 80,
    tiers: [...repeat("Premium", 6), ...repeat("Standard", 7), ...repeat("StandardV2", 4)],
  },
  {
    share: 0.5,
    weight: 21.6,
    tiers: [
      ...repeat("Developer", 14),
      ...repeat("Standard", 6),
      ...repeat("StandardV2", 2),
      ...repeat("Consumption", 3),
    ],
  },
] as const;

function repeat<T>(value: T, times: number): T[] {
  return Array.from({ length: times }, () => value);
}

/** mulberry32: a small seeded PRNG, so the estate (and so every figure) is the same on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Whole numbers in proportion to `weights` that add up to exactly `total` (largest remainder). */
function apportion(weights: readonly number[], total: number): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (w / sum) * total);
  const counts = exact.map(Math.floor);
  const byRemainder = exact.map((e, i) => ({ i, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r);
  let left = total - counts.reduce((a, b) => a + b, 0);
  for (const { i } of byRemainder) {
    if (left <= 0) break;
    counts[i] = (counts[i] ?? 0) + 1;
    left -= 1;
  }
  return counts;
}

function apiProperties(name: string, revision: number, isCurrent: boolean, type?: string) {
  const base = name.split(";")[0] ?? name;
  return {
    displayName: base,
    apiRevision: String(revision),
    subscriptionRequired: true,
    path: base,
    protocols: ["https"],
    isCurrent,
    serviceUrl: `https://backend.contoso.example/${base}`,
    ...(type === undefined ? {} : { type, apiType: type }),
  };
}

/**
 * A deterministic estate of `serviceCount` API Management services holding `apiCount` current APIs in
 * all (workspace APIs included), over subscriptions and resource groups, in a realistic mix of tiers,
 * sizes, API types, revisions, workspaces, self-hosted gateways and APIs already onboarded to Defender
 * for APIs. Every subscription has the Defender for APIs plan on (Standard, P1) and the Containers plan
 * compliant, so a sweep is about the APIs.
 */
export function generateApimEstate(
  serviceCount = 100,
  apiCount = 10_000,
  subscriptionCount = 4,
  groupsPerSubscription = 5,
): { estate: Estate; summary: ApimEstateSummary } {
  const next = random(3);
  const subscriptionIds = Array.from(
    { length: subscriptionCount },
    (_, i) => `a91e0000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`,
  );

  // Size class and tier of each service, then shuffled so that every subscription gets a mix.
  const specs: { tier: string; weight: number }[] = [];
  const classCounts = apportion(
    SIZE_CLASSES.map((c) => c.share),
    serviceCount,
  );
  SIZE_CLASSES.forEach((sizeClass, c) => {
    for (let k = 0; k < (classCounts[c] ?? 0); k += 1) {
      const tier = sizeClass.tiers[k % sizeClass.tiers.length] ?? "Standard";
      // ±25 % around the class's weight: no two services quite the same size.
      specs.push({ tier, weight: sizeClass.weight * (0.75 + next() / 2) });
    }
  });
  for (let i = specs.length - 1; i > 0; i -= 1) {
    const j = Math.floor(next() * (i + 1));
    const [a, b] = [specs[i], specs[j]];
    if (a !== undefined && b !== undefined) [specs[i], specs[j]] = [b, a];
  }
  const sizes = apportion(
    specs.map((s) => s.weight),
    apiCount,
  );

  const resources: ArmResource[] = [];
  const capacity: NonNullable<Estate["capacity"]> = {};
  const tiers: Record<string, number> = {};
  let workspaceApis = 0;
  let nonCurrentRevisions = 0;
  let soapApis = 0;
  let graphqlApis = 0;
  let onboardedApis = 0;
  let gateways = 0;
  let gatewayApiLinks = 0;
  let premiumSeen = 0;
  let gatewayTierSeen = 0;

  specs.forEach((spec, i) => {
    const size = sizes[i] ?? 0;
    const sub = subscriptionIds[i % subscriptionCount] ?? "";
    const group = `rg-apis-${Math.floor(i / subscriptionCount) % groupsPerSubscription}`;
    const name = `apim-${i.toString().padStart(3, "0")}`;
    const serviceId = `/subscriptions/${sub}/resourceGroups/${group}/providers/Microsoft.ApiManagement/service/${name}`;
    const tier = spec.tier;
    tiers[tier] = (tiers[tier] ?? 0) + 1;
    const premium = tier === "Premium";
    const location = i % 3 === 2 ? "North Europe" : "West Europe";
    resources.push(
      apimServiceResource(serviceId, tier, {
        location,
        sku: { name: tier, capacity: tier === "Consumption" ? 0 : premium && size > 300 ? 2 : 1 },
        tags: { team: group },
        properties: {
          additionalLocations:
            premium && size > 300
              ? [
                  {
                    location: location === "West Europe" ? "North Europe" : "West Europe",
                    sku: { name: tier, capacity: 1 },
                  },
                ]
              : [],
        },
      }),
    );

    // Every other Premium instance has team workspaces holding a tenth of its APIs.
    const withWorkspaces = premium && premiumSeen++ % 2 === 0;
    const inWorkspaces = withWorkspaces ? Math.max(2, Math.round(size / 10)) : 0;
    const serviceApis = size - inWorkspaces;
    // Every other onboarded-capable service has begun: some part-way, some done.
    const onboardedShare = tier === "Consumption" ? 0 : ([0, 0.6, 0, 1][i % 4] ?? 0);

    const restApis: string[] = [];
    for (let j = 0; j < serviceApis; j += 1) {
      const apiName = `${API_WORDS[j % API_WORDS.length] ?? "api"}-${j.toString().padStart(3, "0")}`;
      const type = j % 16 === 5 ? "soap" : j % 24 === 13 ? "graphql" : undefined;
      if (type === "soap") soapApis += 1;
      if (type === "graphql") graphqlApis += 1;
      if (type === undefined) restApis.push(apiName);
      const apiId = `${serviceId}/apis/${apiName}`;
      resources.push(apimApiResource(apiId, apiProperties(apiName, 1, true, type)));
      // One API in seven has a newer revision in the works; one in twenty-one two of them.
      const revisions = j % 7 === 3 ? (j % 21 === 3 ? 2 : 1) : 0;
      for (let r = 2; r <= revisions + 1; r += 1) {
        const revision = `${apiName};rev=${r}`;
        resources.push(
          apimApiResource(`${serviceId}/apis/${revision}`, apiProperties(revision, r, false, type)),
        );
        nonCurrentRevisions += 1;
      }
    }

    if (inWorkspaces > 0) {
      const workspaceCount = size > 300 ? 3 : 2;
      const perWorkspace = apportion(repeat(1, workspaceCount), inWorkspaces);
      perWorkspace.forEach((count, w) => {
        const workspace = `team-${["marketing", "partners", "mobile"][w] ?? String(w)}`;
        const workspaceId = `${serviceId}/workspaces/${workspace}`;
        resources.push(
          apimChildResource(serviceId, "workspaces", workspace, {
            displayName: workspace,
            description: `${workspace} workspace`,
          }),
        );
        for (let j = 0; j < count; j += 1) {
          const apiName = `${workspace}-${API_WORDS[j % API_WORDS.length] ?? "api"}-${j.toString().padStart(3, "0")}`;
          resources.push(apimApiResource(`${workspaceId}/apis/${apiName}`, apiProperties(apiName, 1, true)));
        }
        workspaceApis += count;
      });
    }

    // Every other Developer or Premium instance runs self-hosted gateways, each serving a few REST APIs.
    if ((tier === "Developer" || premium) && gatewayTierSeen++ % 2 === 1) {
      const gatewayCount = size > 300 ? 2 : 1;
      const linked = Math.min(restApis.length, Math.max(2, Math.round(restApis.length / 20)));
      for (let g = 0; g < gatewayCount; g += 1) {
        const gateway = `gw-site-${g + 1}`;
        const gatewayId = `${serviceId}/gateways/${gateway}`;
        resources.push(
          apimChildResource(serviceId, "gateways", gateway, {
            locationData: { name: `Site ${g + 1}` },
            description: "self-hosted gateway",
          }),
        );
        gateways += 1;
        for (const apiName of restApis.slice(g * linked, (g + 1) * linked)) {
          resources.push(apimApiResource(`${gatewayId}/apis/${apiName}`, apiProperties(apiName, 1, true)));
          gatewayApiLinks += 1;
        }
      }
    }

    const onboarded = restApis.slice(0, Math.round(restApis.length * onboardedShare));
    for (const apiName of onboarded) {
      resources.push(apiCollectionResource(serviceId, apiName));
    }
    onboardedApis += onboarded.length;

    // 10–50 % before onboarding; onboarding everything would add another 5–30 points.
    const base = Math.round((10 + next() * 40) * 10) / 10;
    const perApi = size === 0 ? 0 : Number(((5 + next() * 25) / size).toFixed(4));
    capacity[serviceId] = { base, perApi };
  });

  return {
    estate: {
      subscriptions: subscriptionIds.map((subscriptionId) => ({
        subscriptionId,
        pricings: {
          Containers: {
            pricingTier: "Standard",
            extensions: [
              { name: "ContainerSensor", isEnabled: "True" },
              { name: "AgentlessDiscoveryForKubernetes", isEnabled: "True" },
            ],
          },
          Api: { pricingTier: "Standard", subPlan: "P1" },
        },
      })),
      resources,
      capacity,
    },
    summary: {
      services: specs.length,
      tiers,
      apis: apiCount,
      workspaceApis,
      nonCurrentRevisions,
      soapApis,
      graphqlApis,
      onboardedApis,
      gateways,
      gatewayApiLinks,
      largestService: Math.max(...sizes),
      smallestService: Math.min(...sizes),
    },
  };
}
