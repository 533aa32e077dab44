import type { Finding } from "../model/checks.js";
import type { ClusterChange, ClusterSnapshot } from "../model/cluster.js";
import { describeClusterChange } from "./cluster-changes.js";
import type { ClusterCheckInput } from "./cluster-input.js";
import { fields, keysLike, nonBlankText, type Fields } from "./read.js";

/** Where the sensor's workspace comes from, in order of precedence. */
export type SensorWorkspaceSource = "cluster" | "configuration" | "containerInsights";

export interface SensorWorkspace {
  readonly resourceId: string;
  readonly source: SensorWorkspaceSource;
}

/**
 * The workspace the Defender sensor uses or would use. A workspace the cluster already has is never
 * replaced; otherwise the configured one; otherwise the one Container insights already sends to, so
 * that a cluster's monitoring data stays in one place.
 */
export function resolveSensorWorkspace(
  cluster: ClusterSnapshot,
  configuredWorkspaceId?: string,
): SensorWorkspace | undefined {
  const existing = nonBlankText(defenderProfile(cluster)?.logAnalyticsWorkspaceResourceId);
  if (existing !== undefined) return { resourceId: existing, source: "cluster" };
  const configured = nonBlankText(configuredWorkspaceId);
  if (configured !== undefined) return { resourceId: configured.trim(), source: "configuration" };
  const insights = containerInsightsWorkspace(cluster);
  if (insights !== undefined) return { resourceId: insights, source: "containerInsights" };
  return undefined;
}

export function resolveSensorWorkspaceId(
  cluster: ClusterSnapshot,
  configuredWorkspaceId?: string,
): string | undefined {
  return resolveSensorWorkspace(cluster, configuredWorkspaceId)?.resourceId;
}

export function defenderProfile(cluster: ClusterSnapshot): Fields | undefined {
  return fields(fields(cluster.securityProfile)?.defender);
}

export function isSensorEnabled(cluster: ClusterSnapshot): boolean {
  return fields(defenderProfile(cluster)?.securityMonitoring)?.enabled === true;
}

function containerInsightsWorkspace(cluster: ClusterSnapshot): string | undefined {
  const addons = fields(cluster.addonProfiles);
  for (const key of keysLike(addons, "omsagent")) {
    const addon = fields(addons?.[key]);
    if (addon?.enabled !== true) continue;
    const config = fields(addon.config);
    for (const configKey of keysLike(config, "logAnalyticsWorkspaceResourceID")) {
      const id = nonBlankText(config?.[configKey]);
      if (id !== undefined) return normaliseInsightsWorkspaceId(id);
    }
  }
  return undefined;
}

/** The add-on config has been seen without the leading slash (the Azure CLI adds it back the same way). */
function normaliseInsightsWorkspaceId(id: string): string {
  const trimmed = id.trim().replace(/\/+$/, "");
  return trimmed.startsWith("/") ? trimmed : `/${trimmed}`;
}

const NO_WORKSPACE_FIX = "set AUTOPROTECT_WORKSPACE_ID or enable Container insights on the cluster";

/** What a person does about a workspace that was not found or whose id is not valid, by where the id came from. */
export function workspaceFix(
  source: SensorWorkspaceSource | undefined,
  state: "missing" | "invalid",
): string {
  const create = state === "missing" ? "create it or " : "";
  switch (source) {
    case "cluster":
      // Never replaced by this tool: the profile belongs to whoever set it.
      return `${create}point the cluster's Defender profile at an existing workspace`;
    case "containerInsights":
      return `${create}point Container insights at an existing workspace, or set AUTOPROTECT_WORKSPACE_ID`;
    default:
      return `${create}set AUTOPROTECT_WORKSPACE_ID to an existing workspace`;
  }
}

export function planDefenderSensor(input: ClusterCheckInput): Finding<ClusterChange> {
  const { cluster, workspace, config } = input;
  const enabled = isSensorEnabled(cluster);
  const current = nonBlankText(defenderProfile(cluster)?.logAnalyticsWorkspaceResourceId);
  if (enabled && current !== undefined) {
    return {
      verdict: "compliant",
      reason: `the Defender sensor is on, sending to Log Analytics workspace ${current}`,
      details: { workspaceResourceId: current },
    };
  }

  const problem = enabled
    ? "the Defender sensor has no Log Analytics workspace"
    : current === undefined
      ? "the Defender sensor is off and has no Log Analytics workspace"
      : "the Defender sensor is off";
  const resolved = resolveSensorWorkspace(cluster, config.workspaceId);
  const before = { securityMonitoringEnabled: enabled, workspaceResourceId: current ?? null };
  if (resolved === undefined || workspace.state === "none") {
    return {
      verdict: "manual",
      reason: `${problem} and none is known: ${NO_WORKSPACE_FIX}`,
      details: before,
    };
  }
  if (workspace.state === "missing" || workspace.state === "invalid") {
    const what =
      workspace.state === "missing"
        ? `Log Analytics workspace ${workspace.resourceId} was not found`
        : `Log Analytics workspace id ${workspace.resourceId} is not a valid workspace id (${workspace.problem})`;
    return {
      verdict: "manual",
      reason: `${problem} and ${what}: ${workspaceFix(resolved.source, workspace.state)}`,
      details: { ...before, sensorWorkspace: workspace.resourceId, workspaceSource: resolved.source },
    };
  }

  const change: ClusterChange = { kind: "enable-defender-sensor", workspaceResourceId: resolved.resourceId };
  return {
    verdict: "change",
    reason: problem,
    action: describeClusterChange(change),
    change,
    details: { ...before, sensorWorkspace: resolved.resourceId, workspaceSource: resolved.source },
  };
}
