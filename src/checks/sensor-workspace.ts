import type { Finding } from "../model/checks.js";
import type { ClusterCheckInput } from "./cluster-input.js";
import { resolveSensorWorkspace, workspaceFix } from "./defender-sensor.js";
import { items, sameWord } from "./read.js";

/**
 * Reports only: a workspace's network settings and existence belong to its owner, not to this tool.
 *
 * What still holds against Defender for Containers' current network requirements: the sensor sends
 * security events to the cluster's Log Analytics workspace and authenticates with it
 * (`*.ods.opinsights.azure.com`, `*.oms.opinsights.azure.com`), beside its newer endpoint
 * `*.cloud.defender.microsoft.com` (articles/aks/outbound-rules-control-egress.md, "Microsoft Defender
 * for Containers"; defender-for-containers-network-access.md, "Kubernetes clusters to Microsoft Defender
 * for Cloud"), so a missing workspace, or one that refuses public ingestion and has no Azure Monitor
 * Private Link Scope, still loses the sensor's data; AKS also refuses a cluster write naming a workspace
 * that does not exist. What a workspace cannot show: the cluster's egress (firewalls, NSGs, proxies)
 * and Defender for Cloud's Security Private Link, which carries the sensor's traffic to
 * `*.cloud.defender.microsoft.com` where egress is closed (concept-private-links.md): that is for
 * `defender.agreement`, which reports a sensor Defender does not hear from.
 */
export function planSensorWorkspace(input: ClusterCheckInput): Finding<never> {
  const { workspace } = input;
  const source = resolveSensorWorkspace(input.cluster, input.config.workspaceId)?.source;
  if (workspace.state === "none") {
    return {
      verdict: "manual",
      reason:
        "the Defender sensor has no Log Analytics workspace: set AUTOPROTECT_WORKSPACE_ID or enable Container insights on the cluster",
    };
  }
  const details = {
    workspaceResourceId: workspace.resourceId,
    ...(source === undefined ? {} : { workspaceSource: source }),
  };
  if (workspace.state === "invalid") {
    return {
      verdict: "manual",
      reason: `the sensor's Log Analytics workspace id ${workspace.resourceId} is not a valid workspace id (${workspace.problem}): ${workspaceFix(source, "invalid")}`,
      details: { ...details, problem: workspace.problem },
    };
  }
  if (workspace.state === "missing") {
    return {
      verdict: "manual",
      reason: `Log Analytics workspace ${workspace.resourceId} was not found: ${workspaceFix(source, "missing")}`,
      details,
    };
  }

  const ingestion = workspace.publicNetworkAccessForIngestion;
  const scopes = items(workspace.privateLinkScopeIds).filter((id): id is string => typeof id === "string");
  const withNetwork = {
    ...details,
    publicNetworkAccessForIngestion: ingestion ?? null,
    privateLinkScopeIds: scopes,
  };
  if (!sameWord(ingestion, "Disabled")) {
    return {
      verdict: "compliant",
      reason: `Log Analytics workspace ${workspace.resourceId} exists and accepts ingestion`,
      details: withNetwork,
    };
  }
  if (scopes.length > 0) {
    return {
      verdict: "compliant",
      reason: `Log Analytics workspace ${workspace.resourceId} accepts ingestion through a private link scope`,
      details: withNetwork,
    };
  }
  return {
    verdict: "manual",
    reason: `Log Analytics workspace ${workspace.resourceId} refuses public ingestion and has no private link, so the sensor's uploads to it are refused: enable public ingestion or connect it to an Azure Monitor Private Link Scope`,
    details: withNetwork,
  };
}
