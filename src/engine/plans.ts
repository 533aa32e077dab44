/**
 * The subscription's Defender plans (Microsoft.Security/pricings): Containers for clusters, Api for
 * API Management. A plan is billed, so it is turned on only where something in scope uses it, and
 * never turned off or lowered. Plans have no ETag: the plan is read again right before the write and
 * once more after it, and what a concurrent writer's change lost to ours is put back in one write.
 */
import { exclusionReason, isConsumptionTier, planApisPlan, planContainersPlan } from "../checks/index.js";
import { restoreAfterRace } from "../checks/pricing-race.js";
import { RESOURCE_TYPES, type CheckId, type Finding, type Status } from "../model/checks.js";
import { clusterView } from "../model/cluster.js";
import type { PricingSnapshot, PricingUpdate } from "../model/pricing.js";
import { parseResourceId, pricingId } from "../model/resource-id.js";
import type { OutcomeFields } from "../outcomes/record.js";
import { outcomeOfError } from "./errors.js";
import type { PlanName, RunContext } from "./run-context.js";

export const PLAN_CHECKS: Record<PlanName, CheckId> = {
  Containers: "defender.containers-plan",
  Api: "defender.apis-plan",
};

type OutcomeBody = Pick<OutcomeFields, "status" | "reason" | "action" | "details">;

async function notExcluded(
  run: RunContext,
  subscriptionId: string,
  resource: { id?: string | undefined; tags?: Readonly<Record<string, string>> | null | undefined },
): Promise<boolean> {
  const group = resource.id === undefined ? undefined : parseResourceId(resource.id).resourceGroup;
  const groupTags = group === undefined ? undefined : await run.tagsOf(subscriptionId, group);
  return exclusionReason(run.config.excludeTag, resource.tags ?? undefined, groupTags) === undefined;
}

/**
 * Clusters in scope and not excluded, AKS and Arc-enabled alike, counted until the first one: the
 * Containers plan is for them. Arc clusters are listed only when no AKS cluster decided it.
 */
async function hasClusterInScope(run: RunContext, subscriptionId: string): Promise<boolean> {
  for (const cluster of await run.clustersIn(subscriptionId)) {
    if (await notExcluded(run, subscriptionId, clusterView(cluster))) return true;
  }
  for (const cluster of await run.connectedClustersIn(subscriptionId)) {
    const tags = cluster.tags ?? undefined;
    if (await notExcluded(run, subscriptionId, { id: cluster.id, tags })) return true;
  }
  return false;
}

/** API Management services Defender for APIs could protect: not Consumption, not excluded. */
async function supportedServiceCount(run: RunContext, subscriptionId: string): Promise<number> {
  let count = 0;
  for (const service of await run.azure.apim.listServices(subscriptionId)) {
    if (!isConsumptionTier(service) && (await notExcluded(run, subscriptionId, service))) count += 1;
  }
  return count;
}

/** The plan's finding, with "nothing here uses it" decided only when the plan would be turned on. */
async function planFinding(
  run: RunContext,
  subscriptionId: string,
  plan: PlanName,
  pricing: PricingSnapshot,
  knownUser: boolean,
): Promise<Finding<PricingUpdate>> {
  if (plan === "Api") {
    const first = planApisPlan(pricing, run.config.apiSubPlan);
    if (first.verdict !== "change" || knownUser) return first;
    return planApisPlan(pricing, run.config.apiSubPlan, await supportedServiceCount(run, subscriptionId));
  }
  const finding = planContainersPlan(pricing);
  if (finding.verdict !== "change" || knownUser || (await hasClusterInScope(run, subscriptionId)))
    return finding;
  return {
    verdict: "skipped",
    reason:
      "no cluster here is in scope (none, or all excluded by tag): the plan is turned on when one appears, " +
      "and never turned off",
    details: finding.details ?? {},
  };
}

function isEnabled(value: string | undefined): boolean {
  return value?.toLowerCase() === "true";
}

/** A plan write is confirmed when the plan now complies and no required extension reports a failed operation. */
function confirmation(after: Finding<PricingUpdate>, updated: PricingSnapshot): string | undefined {
  const failedExtension = (updated.properties.extensions ?? []).find(
    (e) => isEnabled(e.isEnabled) && e.operationStatus?.code?.toLowerCase() === "failed",
  );
  if (failedExtension !== undefined) {
    return `ExtensionOperationFailed: ${failedExtension.name}: ${failedExtension.operationStatus?.message ?? "failed"}`;
  }
  return after.verdict === "compliant"
    ? undefined
    : `the plan write was accepted but not confirmed: ${after.reason}`;
}

/**
 * Writes the plan (enforce mode, a `change` finding): read right before, write, read after, and put
 * back in one more write whatever a concurrent writer's change lost to ours.
 */
async function writePlan(
  run: RunContext,
  subscriptionId: string,
  plan: PlanName,
  planned: Extract<Finding<PricingUpdate>, { verdict: "change" }>,
  replan: (pricing: PricingSnapshot) => Finding<PricingUpdate>,
): Promise<OutcomeBody & { status: Status }> {
  const security = run.azure.security;
  const before = await security.getPricing(subscriptionId, plan);
  const finding = replan(before);
  if (finding.verdict !== "change") {
    // Someone else fixed it between our first read and now.
    return {
      ...run.unapplied(finding),
      status: finding.verdict === "deferred" ? "deferred" : finding.verdict,
    };
  }
  await security.putPricing(subscriptionId, plan, finding.change);
  let after = await security.getPricing(subscriptionId, plan);
  const repair = restoreAfterRace(finding.change, after, before);
  if (repair !== undefined) {
    await security.putPricing(subscriptionId, plan, repair.update);
    after = await security.getPricing(subscriptionId, plan);
  }
  const details = {
    ...finding.details,
    ...(repair === undefined ? {} : { race: { lost: repair.lost, restored: true } }),
  };
  const problem = confirmation(replan(after), after);
  const action =
    repair === undefined
      ? finding.action
      : `${finding.action}; put back what a concurrent change lost (${repair.lost.join(", ")})`;
  if (problem !== undefined) return { status: "failed", reason: problem, action, details };
  return { status: "remediated", reason: planned.reason, action, details };
}

/**
 * Checks (and in enforce mode fixes) a subscription's plan, and says whether it is on afterwards (in
 * audit mode: whether it would be).
 */
export async function reconcilePlan(
  run: RunContext,
  subscriptionId: string,
  plan: PlanName,
  knownUser: boolean,
  /** The plan, already being read by the caller (in parallel with the cluster it looked for). */
  firstRead?: Promise<PricingSnapshot>,
): Promise<boolean> {
  const check = PLAN_CHECKS[plan];
  if (!run.enabled(check)) return true;
  const base = {
    subscriptionId,
    resourceId: pricingId(subscriptionId, plan),
    resourceType: RESOURCE_TYPES.pricing,
    check,
    startedAt: run.now().getTime(),
  };
  try {
    const pricing = await (firstRead ?? run.azure.security.getPricing(subscriptionId, plan));
    const finding = await planFinding(run, subscriptionId, plan, pricing, knownUser);
    if (finding.verdict !== "change" || run.info.mode === "audit") {
      run.emit({ ...base, ...run.unapplied(finding) });
      // Audit decides as enforce would: a plan enforce would turn on counts as on.
      return finding.verdict === "compliant" || finding.verdict === "change";
    }
    const replan = (snapshot: PricingSnapshot): Finding<PricingUpdate> =>
      plan === "Containers" ? planContainersPlan(snapshot) : planApisPlan(snapshot, run.config.apiSubPlan);
    const outcome = await writePlan(run, subscriptionId, plan, finding, replan);
    run.emit({ ...base, ...outcome });
    return outcome.status === "remediated" || outcome.status === "compliant";
  } catch (error) {
    run.emit({ ...base, ...outcomeOfError(error) });
    return false;
  }
}
