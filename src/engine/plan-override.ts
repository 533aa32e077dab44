/**
 * `aks.containers-plan-override`: a cluster's own Containers plan (see src/checks/plan-override.ts).
 * Read at the cluster's scope; when the cluster has a plan of its own that leaves Defender off, the
 * subscription's plan it would inherit is read too (as enforce mode has left it; in audit mode as
 * enforce would have left it), and with AUTOPROTECT_REMOVE_PLAN_OVERRIDES the cluster's plan is
 * deleted, then read again to confirm that the cluster now inherits.
 */
import { EXCLUDED_BY_TAG, findTagExclusion, planContainersPlan } from "../checks/index.js";
import { clusterPlanId, needsInheritedPlan, planPlanOverride } from "../checks/plan-override.js";
import { RESOURCE_TYPES, type Finding } from "../model/checks.js";
import { clusterView, type ClusterResource } from "../model/cluster.js";
import type { PricingSnapshot } from "../model/pricing.js";
import type { ParsedResourceId } from "../model/resource-id.js";
import type { OutcomeFields } from "../outcomes/record.js";
import { budgetExhausted, outcomeOfError } from "./errors.js";
import type { RunContext } from "./run-context.js";

const CHECK = "aks.containers-plan-override";
const MIN_TIME_MS = 2_000;

type OutcomeBody = Pick<OutcomeFields, "status" | "reason" | "action" | "details">;

/**
 * The subscription's plan the cluster would inherit. In audit mode a plan enforce would turn on is
 * judged as turned on, so that audit decides as enforce does.
 */
async function inheritedPlan(run: RunContext, subscriptionId: string): Promise<PricingSnapshot> {
  const pricing = await run.azure.security.getPricing(subscriptionId, "Containers");
  if (run.info.mode !== "audit" || !run.enabled("defender.containers-plan")) return pricing;
  const finding = planContainersPlan(pricing);
  if (finding.verdict !== "change" || !(await run.planReady(subscriptionId, "Containers"))) return pricing;
  return { ...pricing, properties: { ...pricing.properties, ...finding.change } };
}

async function plan(
  run: RunContext,
  id: ParsedResourceId,
  cluster: ClusterResource,
  resourceGroupTags: Readonly<Record<string, string>> | undefined,
  clusterPlan: PricingSnapshot | undefined,
): Promise<Finding<unknown>> {
  const tags = clusterView(cluster).tags;
  return planPlanOverride({
    clusterId: id.id,
    ...(tags === undefined ? {} : { clusterTags: tags }),
    ...(resourceGroupTags === undefined ? {} : { resourceGroupTags }),
    clusterPlan,
    inheritedPlan: needsInheritedPlan(clusterPlan) ? await inheritedPlan(run, id.subscriptionId) : undefined,
    config: run.config,
  });
}

/** Deletes the cluster's plan and reads it again: remediated only when the cluster now inherits. */
async function remove(
  run: RunContext,
  id: ParsedResourceId,
  finding: Extract<Finding<unknown>, { verdict: "change" }>,
  replan: (plan: PricingSnapshot | undefined) => Promise<Finding<unknown>>,
): Promise<OutcomeBody> {
  await run.azure.security.deleteClusterPlan(id.id);
  const after = await replan(await run.azure.security.getClusterPlan(id.id));
  if (after.verdict === "compliant") {
    return {
      status: "remediated",
      reason: finding.reason,
      action: finding.action,
      details: finding.details ?? {},
    };
  }
  return {
    status: "failed",
    reason: `the cluster's plan was deleted but not confirmed: ${after.reason}`,
    action: finding.action,
    details: { ...finding.details, code: "PlanOverrideNotRemoved" },
  };
}

/** One outcome for the cluster's own Containers plan, whatever fails. */
export async function reconcilePlanOverride(
  run: RunContext,
  id: ParsedResourceId,
  cluster: ClusterResource,
): Promise<void> {
  if (!run.enabled(CHECK)) return;
  const emit = (body: OutcomeBody): void => {
    run.emit({
      subscriptionId: id.subscriptionId,
      resourceId: cluster.id ?? id.id,
      resourceType: RESOURCE_TYPES.managedCluster,
      check: CHECK,
      startedAt: run.now().getTime(),
      ...body,
    });
  };
  if (run.timeLeftMs() < MIN_TIME_MS) {
    emit(budgetExhausted());
    return;
  }
  try {
    const tags =
      id.resourceGroup === undefined ? undefined : await run.tagsOf(id.subscriptionId, id.resourceGroup);
    // An excluded cluster costs no further reads.
    const exclusion = findTagExclusion(run.config.excludeTag, clusterView(cluster).tags, tags);
    if (exclusion !== undefined) {
      emit({
        status: "skipped",
        reason: EXCLUDED_BY_TAG,
        details: { tag: exclusion.tag, scope: exclusion.scope },
      });
      return;
    }
    const replan = (clusterPlan: PricingSnapshot | undefined) => plan(run, id, cluster, tags, clusterPlan);
    const finding = await replan(await run.azure.security.getClusterPlan(id.id));
    if (finding.verdict !== "change" || run.info.mode === "audit") {
      const body = run.unapplied(finding);
      emit({ ...body, details: { ...body.details, pricingId: clusterPlanId(id.id) } });
      return;
    }
    emit(await remove(run, id, finding, replan));
  } catch (error) {
    emit(outcomeOfError(error));
  }
}
