/**
 * Property: API onboarding on generated API Management estates (not the repository's samples). Each
 * case starts a simulator and an engine sharing a fake clock, runs the engine in enforce mode every
 * 11 minutes until no API outcome is deferred, and checks every run against what the estate implies:
 * statuses and reasons per API, which APIs are PUT (eligible ones, once), the load at each onboarding,
 * and that the rollout finishes in a bounded number of runs. Every estate fits under the capacity
 * limit by construction, so nothing may ever be rolled back.
 */
import { rm } from "node:fs/promises";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ArmResource, Estate, RecordedRequest } from "../../sim/index.js";
import type { OutcomeRecord } from "../../src/model/outcome.js";
import { apimApi, apimChild, apimService, collectionId, fakeClock, serviceId, SUB } from "../support/sim.js";
import { runInfo, startWorld } from "../support/azure.js";

const MINUTE = 60_000;
const CHECK = "apim.api-onboarding";
const PLAN_CHECK = "defender.apis-plan";
const LIMIT_PERCENT = 60;
const MARGIN_POINTS = 2;
/** Generated loads stay below this even with every eligible API onboarded and the noise at its peak. */
const FITS_UNDER = LIMIT_PERCENT - MARGIN_POINTS - 2;
/** Runs the test is willing to drive before giving up (the assertion below is stricter). */
const MAX_RUNS = 40;
/**
 * Runs until nothing is deferred, derived from the controller rather than observed. Every 11-minute run
 * may take a step (the interval is 10 minutes and the metric lags at most 2). With the load at most
 * 48.5% (base 40 + 25 × 0.3 + noise 1) the headroom under 60% less the 2-point margin is at least 9.5
 * points; a step of b APIs (b >= 2) measures at most 0.3 + 2 × noise / b <= 1.3 points per API, so the
 * headroom cap is at least floor(9.5 / (1.3 × 1.5)) = 4, and halving needs a rise of 4.75 points, which a
 * batch of 2 or 4 cannot make: every step but the last onboards at least 2 APIs. 25 eligible APIs per
 * service therefore take at most 13 runs (services step in parallel). Observed: at most 4.
 */
const RUN_BOUND = 13;
const RUN_INTERVAL_MINUTES = 11;
const PROPERTY_RUNS = 25;

const TIERS = ["Developer", "Basic", "Standard", "Premium", "StandardV2", "Consumption"] as const;
type Tier = (typeof TIERS)[number];
/** Tiers with self-hosted gateways, and with workspaces (what the engine lists them on). */
const GATEWAY_TIERS: readonly Tier[] = ["Developer", "Premium"];
const WORKSPACE_TIERS: readonly Tier[] = ["Premium"];
const GATEWAYS = ["edge", "factory"] as const;
const WORKSPACE = "team";
const NAME_WORDS = ["orders", "billing", "catalog", "users", "echo-api", "payments"] as const;

/** A REST API either has no type (APIM omits it) or says `http`; the rest Defender for APIs refuses. */
type ApiKind = "untyped" | "http" | "soap" | "graphql" | "websocket";

/** Where an API's type is spelled: ARM's `type`, the create-time `apiType`, or both (agreeing). */
type TypeField = "type" | "apiType" | "both";

interface GeneratedApi {
  readonly name: string;
  readonly kind: ApiKind;
  /** The type as written in the estate, in the letter case drawn; undefined for an untyped REST API. */
  readonly typeSpelling: string | undefined;
  readonly typeField: TypeField;
  /** A non-current revision `{name};rev=2` exists beside it. */
  readonly withRevision: boolean;
  /** Self-hosted gateways it is assigned to (only on tiers that have them). */
  readonly gateways: readonly string[];
  /** A Succeeded Defender for APIs collection exists before the first run (only where it is eligible). */
  readonly onboarded: boolean;
}

interface GeneratedService {
  readonly name: string;
  readonly tier: Tier;
  /** `sku.name` as the estate spells it: the tier in a random letter case, which ARM and the simulator accept. */
  readonly tierSpelling: string;
  readonly secondRegion: boolean;
  readonly apis: readonly GeneratedApi[];
  /** APIs of the service's workspace (only on Premium). */
  readonly workspaceApis: readonly GeneratedApi[];
  readonly capacity: { readonly base: number; readonly perApi: number };
}

interface GeneratedWorld {
  readonly services: readonly GeneratedService[];
  readonly apiPlan: "Free" | "Standard";
  readonly metricsNoise: number;
  readonly metricsLagMinutes: number;
  readonly metricsSeed: number;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** A letter-case mask: undefined keeps the canonical spelling; otherwise one flag per character. */
const letterCase = fc.option(fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }), { nil: undefined });

function spell(word: string, mask: readonly boolean[] | undefined): string {
  if (mask === undefined) return word;
  return Array.from(word, (ch, i) => (mask[i] === true ? ch.toUpperCase() : ch.toLowerCase())).join("");
}

const apiKind: fc.Arbitrary<ApiKind> = fc.oneof(
  { arbitrary: fc.constant<ApiKind>("untyped"), weight: 5 },
  { arbitrary: fc.constant<ApiKind>("http"), weight: 2 },
  { arbitrary: fc.constantFrom<ApiKind>("soap", "graphql", "websocket"), weight: 2 },
);

/** One API before it is named and fitted to its service's tier. */
const apiDraft = fc.record({
  word: fc.constantFrom(...NAME_WORDS),
  nameCase: letterCase,
  kind: apiKind,
  typeCase: letterCase,
  typeField: fc.constantFrom<TypeField>("type", "apiType", "both"),
  withRevision: fc.oneof({ arbitrary: fc.constant(false), weight: 3 }, fc.constant(true)),
  gateways: fc.oneof(
    { arbitrary: fc.constant<string[]>([]), weight: 3 },
    fc.subarray([...GATEWAYS], { minLength: 1 }),
  ),
  onboarded: fc.oneof({ arbitrary: fc.constant(false), weight: 3 }, fc.constant(true)),
});
type ApiDraft = typeof apiDraft extends fc.Arbitrary<infer T> ? T : never;

function isRest(kind: ApiKind): boolean {
  return kind === "untyped" || kind === "http";
}

/** Names are unique within a service (ARM ids ignore case), so an index goes into each. */
function fitApi(draft: ApiDraft, name: string, tier: Tier, inWorkspace: boolean): GeneratedApi {
  const eligible = tier !== "Consumption" && !inWorkspace && isRest(draft.kind);
  return {
    name,
    kind: draft.kind,
    typeSpelling: draft.kind === "untyped" ? undefined : spell(draft.kind, draft.typeCase),
    typeField: draft.typeField,
    // Revisions of workspace APIs live below the workspace; the engine never reads those as separate APIs.
    withRevision: draft.withRevision && !inWorkspace,
    gateways: GATEWAY_TIERS.includes(tier) && !inWorkspace ? draft.gateways : [],
    onboarded: draft.onboarded && eligible,
  };
}

const serviceDraft = fc.record({
  tier: fc.constantFrom(...TIERS),
  tierCase: letterCase,
  secondRegion: fc.boolean(),
  apis: fc.array(apiDraft, { maxLength: 25, size: "max" }),
  workspaceApis: fc.array(apiDraft, { maxLength: 3 }),
  // Tenths of a percent and hundredths per API: base 0–40, perApi 0–0.3.
  base: fc.integer({ min: 0, max: 400 }).map((n) => n / 10),
  perApi: fc.integer({ min: 0, max: 30 }).map((n) => n / 100),
});

const generatedWorld: fc.Arbitrary<GeneratedWorld> = fc
  .record({
    services: fc.array(serviceDraft, { minLength: 1, maxLength: 3 }),
    apiPlan: fc.constantFrom<"Free" | "Standard">("Standard", "Standard", "Free"),
    metricsNoise: fc.integer({ min: 0, max: 10 }).map((n) => n / 10),
    metricsLagMinutes: fc.integer({ min: 0, max: 2 }),
    metricsSeed: fc.integer({ min: 1, max: 1_000_000 }),
  })
  .map(({ services, ...rest }) => ({
    ...rest,
    services: services.map((draft, s): GeneratedService => {
      const tier = draft.tier;
      return {
        name: `apim-${String(s)}`,
        tier,
        tierSpelling: spell(tier, draft.tierCase),
        secondRegion: draft.secondRegion && tier === "Premium",
        apis: draft.apis.map((api, i) =>
          fitApi(api, `${spell(api.word, api.nameCase)}-${String(i)}`, tier, false),
        ),
        workspaceApis: WORKSPACE_TIERS.includes(tier)
          ? draft.workspaceApis.map((api, i) =>
              fitApi(api, `ws-${spell(api.word, api.nameCase)}-${String(i)}`, tier, true),
            )
          : [],
        capacity: { base: draft.base, perApi: draft.perApi },
      };
    }),
  }));

// ---------------------------------------------------------------------------------------------
// The estate and what it implies

function typeProperties(api: GeneratedApi): Record<string, string> {
  if (api.typeSpelling === undefined) return {};
  switch (api.typeField) {
    case "type":
      return { type: api.typeSpelling };
    case "apiType":
      return { apiType: api.typeSpelling };
    case "both":
      return { type: api.typeSpelling, apiType: api.typeSpelling };
  }
}

function serviceResources(service: GeneratedService): ArmResource[] {
  const canonical = apimService(
    service.name,
    service.tier,
    service.secondRegion ? { additionalLocations: ["North Europe"] } : {},
  );
  const resources: ArmResource[] = [{ ...canonical, sku: { ...canonical.sku, name: service.tierSpelling } }];
  const usedGateways = new Set(service.apis.flatMap((api) => api.gateways));
  for (const gateway of GATEWAYS) {
    if (usedGateways.has(gateway)) {
      resources.push(apimChild(service.name, "gateways", gateway, { locationData: { name: gateway } }));
    }
  }
  if (service.workspaceApis.length > 0) {
    resources.push(apimChild(service.name, "workspaces", WORKSPACE, { displayName: "Team" }));
  }
  for (const api of service.apis) {
    resources.push(apimApi(service.name, api.name, typeProperties(api)));
    if (api.withRevision) {
      resources.push(
        apimApi(service.name, `${api.name};rev=2`, {
          ...typeProperties(api),
          isCurrent: false,
          apiRevision: "2",
        }),
      );
    }
    for (const gateway of api.gateways) {
      resources.push(apimApi(service.name, api.name, {}, { gateway }));
    }
    if (api.onboarded) {
      resources.push({
        id: collectionId(service.name, api.name),
        name: api.name,
        type: "Microsoft.Security/apiCollections",
        properties: {
          provisioningState: "Succeeded",
          displayName: api.name,
          discoveredVia: serviceId(service.name),
        },
      });
    }
  }
  for (const api of service.workspaceApis) {
    resources.push(apimApi(service.name, api.name, typeProperties(api), { workspace: WORKSPACE }));
  }
  return resources;
}

function estateOf(world: GeneratedWorld): Estate {
  return {
    subscriptions: [{ subscriptionId: SUB, pricings: { Api: { pricingTier: world.apiPlan } } }],
    resources: world.services.flatMap(serviceResources),
    capacity: Object.fromEntries(world.services.map((s) => [serviceId(s.name), s.capacity])),
  };
}

type Verdict =
  | { readonly kind: "eligible"; readonly onSelfHostedGateway: boolean; readonly onboardedAtStart: boolean }
  | { readonly kind: "skipped"; readonly reason: RegExp };

interface ExpectedApi {
  readonly service: GeneratedService;
  /** The outcome's ResourceId: the API's id as ARM spells it. */
  readonly resourceId: string;
  /** The path of its Defender for APIs collection, lower-cased (ARM paths ignore case). */
  readonly collectionPath: string;
  readonly verdict: Verdict;
}

/** The reason a skipped API must give, in the order the engine weighs them: tier, workspace, type. */
function verdictOf(service: GeneratedService, api: GeneratedApi, inWorkspace: boolean): Verdict {
  if (service.tier === "Consumption") {
    return { kind: "skipped", reason: /does not support the API Management Consumption tier/ };
  }
  if (inWorkspace) {
    return { kind: "skipped", reason: /does not support APIs in API Management workspaces/ };
  }
  if (!isRest(api.kind)) {
    return { kind: "skipped", reason: new RegExp(`supports REST APIs only; this is a ${api.kind} API`) };
  }
  return { kind: "eligible", onSelfHostedGateway: api.gateways.length > 0, onboardedAtStart: api.onboarded };
}

/** Every API that must get one outcome per run: current service APIs and workspace APIs, never revisions. */
function expectedApis(world: GeneratedWorld): ExpectedApi[] {
  return world.services.flatMap((service) => [
    ...service.apis.map((api) => ({
      service,
      resourceId: `${serviceId(service.name)}/apis/${api.name}`,
      collectionPath: collectionId(service.name, api.name).toLowerCase(),
      verdict: verdictOf(service, api, false),
    })),
    ...service.workspaceApis.map((api) => ({
      service,
      resourceId: `${serviceId(service.name)}/workspaces/${WORKSPACE}/apis/${api.name}`,
      collectionPath: collectionId(service.name, api.name).toLowerCase(),
      verdict: verdictOf(service, api, true),
    })),
  ]);
}

function eligibleCount(service: GeneratedService): number {
  return service.apis.filter((api) => service.tier !== "Consumption" && isRest(api.kind)).length;
}

// ---------------------------------------------------------------------------------------------
// Reading a run

const COLLECTION_PATH = /\/providers\/Microsoft\.Security\/apiCollections\/[^/]+$/i;

function collectionWrites(requests: readonly RecordedRequest[], method: "PUT" | "DELETE"): RecordedRequest[] {
  return requests.filter((r) => r.method === method && COLLECTION_PATH.test(r.path));
}

function isPlanPut(request: RecordedRequest): boolean {
  return request.method === "PUT" && /\/providers\/Microsoft\.Security\/pricings\/Api$/i.test(request.path);
}

function describeRun(run: number, outcome: OutcomeRecord | undefined): string {
  return `run ${String(run)}: ${JSON.stringify(outcome ?? null)}`;
}

// ---------------------------------------------------------------------------------------------

describe("API onboarding on generated API Management estates", () => {
  it("gives each API its status, onboards eligible APIs once under the limit, and finishes in bounded runs", async () => {
    await fc.assert(
      fc.asyncProperty(generatedWorld, async (generated) => {
        // The premise: everything fits under the limit less the margin, even with the noise at its peak.
        for (const service of generated.services) {
          const { base, perApi } = service.capacity;
          expect(base + perApi * eligibleCount(service) + generated.metricsNoise).toBeLessThan(FITS_UNDER);
        }
        const expected = expectedApis(generated);
        const byResourceId = new Map(expected.map((api) => [api.resourceId, api]));
        const byCollectionPath = new Map(expected.map((api) => [api.collectionPath, api]));
        const supportedServices = generated.services.filter((s) => s.tier !== "Consumption").length;

        const clock = fakeClock("2026-11-25T10:00:30Z");
        const world = await startWorld(
          estateOf(generated),
          { AUTOPROTECT_ROLLOUT_INTERVAL_MINUTES: "10" },
          {
            clock: clock.now,
            metricsNoise: generated.metricsNoise,
            metricsLagMinutes: generated.metricsLagMinutes,
            metricsSeed: generated.metricsSeed,
          },
        );
        try {
          /** Lower-cased collection paths of APIs onboarded before the current run. */
          const onboarded = new Set(
            expected
              .filter((api) => api.verdict.kind === "eligible" && api.verdict.onboardedAtStart)
              .map((api) => api.collectionPath),
          );
          const putCount = new Map<string, number>();

          /** Runs the engine once and checks that run; true when no API outcome was deferred. */
          const runAndCheck = async (run: number): Promise<boolean> => {
            const firstRequest = world.sim.requests.length;
            const result = await world
              .engine({ now: clock.now })
              .reconcile([{ kind: "subscription", subscriptionId: SUB }], runInfo("enforce"));
            const requests = world.sim.requests.slice(firstRequest);
            expect(result.errors, `run ${String(run)}`).toEqual([]);

            // One outcome per resource and check.
            const keys = result.outcomes.map((o) => `${o.ResourceId.toLowerCase()}|${o.Check}`);
            expect(new Set(keys).size, `run ${String(run)}: duplicate outcomes`).toBe(keys.length);

            // Exactly the expected APIs have an onboarding outcome: no revisions, nothing missing.
            const apiOutcomes = result.outcomes.filter((o) => o.Check === CHECK);
            expect(apiOutcomes.map((o) => o.ResourceId).sort(), `run ${String(run)}`).toEqual(
              expected.map((api) => api.resourceId).sort(),
            );

            // The plan: turned on in the first run when it is Free and a supported service exists.
            const plan = result.outcomes.find((o) => o.Check === PLAN_CHECK);
            const planPuts = requests.filter(isPlanPut);
            if (generated.apiPlan === "Standard") {
              expect(plan?.Status, describeRun(run, plan)).toBe("compliant");
              expect(planPuts).toHaveLength(0);
            } else if (supportedServices === 0) {
              expect(plan?.Status, describeRun(run, plan)).toBe("skipped");
              expect(planPuts).toHaveLength(0);
            } else if (run === 1) {
              expect(plan?.Status, describeRun(run, plan)).toBe("remediated");
              expect(planPuts).toHaveLength(1);
              // Onboarding waits for the plan: its PUT comes before any collection PUT.
              const firstOnboarding = requests.findIndex(
                (r) => r.method === "PUT" && COLLECTION_PATH.test(r.path),
              );
              if (firstOnboarding >= 0) {
                expect(requests.findIndex(isPlanPut), "plan PUT before onboarding").toBeLessThan(
                  firstOnboarding,
                );
              }
            } else {
              expect(plan?.Status, describeRun(run, plan)).toBe("compliant");
              expect(planPuts).toHaveLength(0);
            }

            // Onboarding PUTs: only eligible APIs not onboarded yet, each once, and under the limit.
            expect(collectionWrites(requests, "DELETE"), `run ${String(run)}: nothing rolls back`).toEqual(
              [],
            );
            const puts = collectionWrites(requests, "PUT");
            const putThisRun = new Set<string>();
            /** Succeeded collections per service: counting every PUT before this one bounds the load from above. */
            const succeeded = new Map<GeneratedService, number>();
            for (const service of generated.services) {
              succeeded.set(
                service,
                expected.filter((api) => api.service === service && onboarded.has(api.collectionPath)).length,
              );
            }
            for (const put of puts) {
              const path = put.path.toLowerCase();
              const api = byCollectionPath.get(path);
              expect(api?.verdict.kind, `run ${String(run)}: PUT ${put.path}`).toBe("eligible");
              if (api === undefined) continue;
              expect(onboarded.has(path), `run ${String(run)}: ${put.path} was onboarded already`).toBe(
                false,
              );
              expect(put.status, `run ${String(run)}: PUT ${put.path}`).toBe(202);
              const before = succeeded.get(api.service) ?? 0;
              const { base, perApi } = api.service.capacity;
              expect(
                base + perApi * before + generated.metricsNoise,
                `run ${String(run)}: load when ${put.path} was PUT`,
              ).toBeLessThan(LIMIT_PERCENT);
              succeeded.set(api.service, before + 1);
              putThisRun.add(path);
              putCount.set(path, (putCount.get(path) ?? 0) + 1);
            }
            expect(putThisRun.size, `run ${String(run)}: an API PUT twice`).toBe(puts.length);

            // Each API's status follows from where it stands.
            let deferred = false;
            for (const outcome of apiOutcomes) {
              const api = byResourceId.get(outcome.ResourceId);
              const context = describeRun(run, outcome);
              expect(api, context).toBeDefined();
              if (api === undefined) continue;
              if (api.verdict.kind === "skipped") {
                expect(outcome.Status, context).toBe("skipped");
                expect(outcome.Reason, context).toMatch(api.verdict.reason);
                continue;
              }
              const status = onboarded.has(api.collectionPath)
                ? "compliant"
                : putThisRun.has(api.collectionPath)
                  ? "remediated"
                  : "deferred";
              expect(outcome.Status, context).toBe(status);
              if (status === "deferred") deferred = true;
              if (api.verdict.onSelfHostedGateway) {
                expect(outcome.Reason, context).toMatch(
                  /does not analyse traffic through self-hosted gateways/,
                );
                expect(outcome.Details, context).toHaveProperty("selfHostedGateways");
              }
            }
            for (const path of putThisRun) onboarded.add(path);
            return !deferred;
          };

          let runs = 0;
          let settled = false;
          while (!settled && runs < MAX_RUNS) {
            runs += 1;
            settled = await runAndCheck(runs);
            clock.advance(RUN_INTERVAL_MINUTES * MINUTE);
          }
          expect(settled, `still deferring after ${String(runs)} runs`).toBe(true);
          expect(runs).toBeLessThanOrEqual(RUN_BOUND);

          // One more run finds every eligible API onboarded, and each was PUT at most once overall.
          await runAndCheck(runs + 1);
          for (const api of expected) {
            const times = putCount.get(api.collectionPath) ?? 0;
            if (api.verdict.kind === "skipped") {
              expect(times, api.resourceId).toBe(0);
            } else {
              expect(onboarded.has(api.collectionPath), api.resourceId).toBe(true);
              expect(times, api.resourceId).toBe(api.verdict.onboardedAtStart ? 0 : 1);
            }
          }
        } finally {
          await world.sim.close();
          await rm(world.stateDir, { recursive: true, force: true });
        }
      }),
      { numRuns: PROPERTY_RUNS },
    );
  }, 120_000);
});
