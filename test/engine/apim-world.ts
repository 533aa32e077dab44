/** A simulator and an engine sharing one fake clock, for API onboarding tests; and what to read from a run. */
import type { ArmResource, Estate, SimulatorOptions } from "../../sim/index.js";
import type { OutcomeRecord } from "../../src/model/outcome.js";
import { apimApi, fakeClock, SUB } from "../support/sim.js";
import { runInfo, startWorld, type TestWorld } from "../support/azure.js";

export const MINUTE = 60_000;
export const sweep = [{ kind: "subscription" as const, subscriptionId: SUB }];

export function apis(service: string, count: number): ArmResource[] {
  return Array.from({ length: count }, (_, i) => apimApi(service, `api-${String(i).padStart(3, "0")}`));
}

export function apimEstate(
  resources: ArmResource[],
  capacity: Estate["capacity"] = {},
  apiPlan: "Free" | "Standard" = "Free",
): Estate {
  return {
    subscriptions: [{ subscriptionId: SUB, pricings: { Api: { pricingTier: apiPlan } } }],
    resources,
    capacity,
  };
}

export interface ApimWorld {
  readonly world: TestWorld;
  readonly clock: ReturnType<typeof fakeClock>;
  readonly run: (
    mode?: "enforce" | "audit",
    targets?: Parameters<ReturnType<TestWorld["engine"]>["reconcile"]>[0],
  ) => ReturnType<ReturnType<TestWorld["engine"]>["reconcile"]>;
}

/** Starts at a fixed minute; the caller closes `world.sim`. */
export async function startApimWorld(
  estate: Estate,
  env: Record<string, string> = {},
  options: Omit<SimulatorOptions, "estate"> = {},
): Promise<ApimWorld> {
  const clock = fakeClock("2026-11-25T10:00:30Z");
  const world = await startWorld(
    estate,
    { AUTOPROTECT_ROLLOUT_INTERVAL_MINUTES: "10", ...env },
    { clock: clock.now, ...options },
  );
  return {
    world,
    clock,
    run: (mode = "enforce", targets = sweep) =>
      world.engine({ now: clock.now }).reconcile(targets, runInfo(mode)),
  };
}

/** The API onboarding outcomes of a run, by API name. */
export function apiOutcomes(outcomes: readonly OutcomeRecord[]): Map<string, OutcomeRecord> {
  return new Map(
    outcomes
      .filter((o) => o.Check === "apim.api-onboarding")
      .map((o) => [o.ResourceId.split("/").at(-1) ?? "", o]),
  );
}

/** API names of the collection PUTs or DELETEs the simulator received, in order. */
export function collectionWrites(world: TestWorld, method: "PUT" | "DELETE"): string[] {
  return world.sim.requests
    .filter((r) => r.method === method && /\/providers\/Microsoft\.Security\/apiCollections\//i.test(r.path))
    .map((r) => r.path.split("/").at(-1) ?? "");
}
