import type { CheckId, Finding } from "../model/checks.js";
import type { ClusterChange, ClusterSnapshot } from "../model/cluster.js";
import { planAuthorizedIps } from "./authorized-ips.js";
import { planAzurePolicy } from "./azure-policy.js";
import type { ClusterCheckInput } from "./cluster-input.js";
import {
  isSensorEnabled,
  planDefenderSensor,
  resolveSensorWorkspace,
  workspaceFix,
} from "./defender-sensor.js";
import { EXCLUDED_BY_TAG, findTagExclusion } from "./exclusion.js";
import { fields, nonBlankText, sameWord } from "./read.js";
import { planSensorWorkspace } from "./sensor-workspace.js";

/** Cluster checks in the order their outcomes are reported. */
export const CLUSTER_CHECKS = [
  "aks.defender-sensor",
  "aks.azure-policy",
  "aks.authorized-ips",
  "aks.sensor-workspace",
] as const satisfies readonly CheckId[];

export type ClusterCheckId = (typeof CLUSTER_CHECKS)[number];

const PLANNERS: Record<ClusterCheckId, (input: ClusterCheckInput) => Finding<ClusterChange>> = {
  "aks.defender-sensor": planDefenderSensor,
  "aks.azure-policy": planAzurePolicy,
  "aks.authorized-ips": planAuthorizedIps,
  "aks.sensor-workspace": planSensorWorkspace,
};

/** A cluster mid-operation rejects a PUT with a conflict; look again soon. */
export const BUSY_CLUSTER_RETRY_SECONDS = 300;
/** A stopped cluster cannot apply add-on or profile changes until someone starts it, which may take days. */
export const STOPPED_CLUSTER_RETRY_SECONDS = 6 * 60 * 60;

export interface ClusterFinding {
  readonly check: ClusterCheckId;
  readonly finding: Finding<ClusterChange>;
}

export function planClusterProtection(input: ClusterCheckInput): ClusterFinding[] {
  const checks = CLUSTER_CHECKS.filter((check) => input.config.checks.includes(check));
  const exclusion = findTagExclusion(input.config.excludeTag, input.cluster.tags, input.resourceGroupTags);
  if (exclusion !== undefined) {
    return checks.map((check) => ({
      check,
      finding: {
        verdict: "skipped",
        reason: EXCLUDED_BY_TAG,
        details: { tag: exclusion.tag, scope: exclusion.scope },
      },
    }));
  }
  const refused = refusedWrite(input);
  const block = writeBlock(input.cluster);
  return checks.map((check) => {
    const finding = planAlone(check, input);
    if (refused !== undefined && finding.verdict === "change") {
      return {
        check,
        finding: {
          verdict: "manual",
          reason: `${finding.reason}; ${refused}`,
          details: { ...finding.details, plannedAction: finding.action },
        },
      };
    }
    if (block === undefined || finding.verdict !== "change") return { check, finding };
    if (block.manual === true) {
      return {
        check,
        finding: {
          verdict: "manual",
          reason: `${finding.reason}; ${block.reason}`,
          details: { ...finding.details, ...block.details, plannedAction: finding.action },
        },
      };
    }
    return {
      check,
      finding: {
        verdict: "deferred",
        reason: `${finding.reason}; ${block.reason}`,
        retryAfterSeconds: block.retryAfterSeconds,
        details: { ...finding.details, ...block.details, plannedAction: finding.action },
      },
    };
  });
}

/**
 * One check's finding, whatever the others make of the same cluster: a value no planner foresaw
 * stops only the check that reads it (the planners read ARM's JSON, which may hold anything).
 */
function planAlone(check: ClusterCheckId, input: ClusterCheckInput): Finding<ClusterChange> {
  try {
    return PLANNERS[check](input);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      verdict: "manual",
      reason: `the cluster's settings for this check could not be read (${message}): check them`,
      details: { error: message },
    };
  }
}

/**
 * Why ARM would refuse any PUT of this cluster as it stands. A PUT restates the Defender profile, and
 * with the sensor on ARM checks that its workspace exists (`LinkedInvalidPropertyId`); the workspace
 * is the cluster's own and is never replaced here, so every other change waits for a person.
 */
function refusedWrite(input: ClusterCheckInput): string | undefined {
  const { cluster, workspace } = input;
  if (!isSensorEnabled(cluster)) return undefined;
  if (resolveSensorWorkspace(cluster, input.config.workspaceId)?.source !== "cluster") return undefined;
  if (workspace.state !== "invalid" && workspace.state !== "missing") return undefined;
  const why = workspace.state === "invalid" ? "is not a valid workspace id" : "names no existing workspace";
  return `ARM refuses every write of this cluster while its Defender profile's workspace ${workspace.resourceId} ${why}: ${workspaceFix("cluster", workspace.state)}`;
}

export interface WriteBlock {
  readonly reason: string;
  /** The block needs a person (the cluster failed); otherwise it passes and the change waits. */
  readonly manual?: boolean;
  readonly retryAfterSeconds: number;
  readonly details: Record<string, unknown>;
}

/**
 * A cluster whose last operation failed: AKS may accept another PUT, but writing over a failure hides
 * it, and if the failure was our own write it would only fail again. A person must look first.
 */
function failedClusterReason(cluster: ClusterSnapshot): string {
  const error = fields(fields(cluster.status)?.provisioningError);
  const code = nonBlankText(error?.code);
  const message = nonBlankText(error?.message);
  const why = code === undefined ? "" : `: ${code}${message === undefined ? "" : ` (${message})`}`;
  return (
    `the cluster's last operation failed (provisioning state Failed${why}); autoprotect does not write a ` +
    "Failed cluster: find the cause in the cluster's activity log, fix it (for example `az aks update` " +
    "or `az resource update` to reconcile the cluster), and the next run applies the change"
  );
}

/** Why the cluster cannot take a PUT now; a missing provisioning state is read as Succeeded. */
export function writeBlock(cluster: ClusterSnapshot): WriteBlock | undefined {
  const state = nonBlankText(cluster.provisioningState);
  if (sameWord(state, "Failed")) {
    return {
      reason: failedClusterReason(cluster),
      manual: true,
      retryAfterSeconds: 0,
      details: { provisioningState: state },
    };
  }
  if (state !== undefined && !sameWord(state, "Succeeded")) {
    return {
      reason: `the cluster's provisioning state is ${state}, so the change waits until it has finished`,
      retryAfterSeconds: BUSY_CLUSTER_RETRY_SECONDS,
      details: { provisioningState: state },
    };
  }
  const power = nonBlankText(fields(cluster.powerState)?.code);
  if (sameWord(power, "Stopped")) {
    return {
      reason: "the cluster is stopped; the change is applied once the cluster runs",
      retryAfterSeconds: STOPPED_CLUSTER_RETRY_SECONDS,
      details: { powerState: power },
    };
  }
  return undefined;
}
