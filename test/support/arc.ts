import {
  clusterExtension,
  clusterPlanResource,
  connectedCluster,
  connectedClusterId,
} from "../../sim/builders.js";
import type { ArmResource } from "../../sim/index.js";
import { SUB_A, workspaceId } from "./estate.js";

/** Builders for Arc-enabled clusters, their extensions and clusters' own plans, as ARM returns them. */

export const arcClusterId = (name: string, sub = SUB_A, group = "rg-edge"): string =>
  connectedClusterId(sub, group, name);

export const DEFENDER_TYPE = "microsoft.azuredefender.kubernetes";
export const POLICY_TYPE = "microsoft.policyinsights";

interface ArcOptions {
  sub?: string;
  group?: string;
  tags?: Record<string, string>;
  connectivityStatus?: string;
  distribution?: string;
}

/** A connected cluster as ARM returns it at 2024-01-01 (GetClusterExample's shape). */
export function arcCluster(name: string, options: ArcOptions = {}): ArmResource {
  return connectedCluster(arcClusterId(name, options.sub, options.group), {
    ...(options.tags === undefined ? {} : { tags: options.tags }),
    properties: {
      ...(options.distribution === undefined ? {} : { distribution: options.distribution }),
      ...(options.connectivityStatus === undefined ? {} : { connectivityStatus: options.connectivityStatus }),
    },
  });
}

interface ExtensionOptions {
  provisioningState?: string;
  configurationSettings?: Record<string, string>;
  errorInfo?: { code: string; message: string };
  statuses?: unknown[];
}

/** An extension installed on a cluster (GetExtension 2024-11-01's shape). */
export function extension(
  clusterIdValue: string,
  name: string,
  extensionType: string,
  options: ExtensionOptions = {},
): ArmResource {
  return clusterExtension(clusterIdValue, name, extensionType, {
    ...(options.provisioningState === undefined ? {} : { provisioningState: options.provisioningState }),
    ...(options.configurationSettings === undefined
      ? {}
      : { configurationSettings: options.configurationSettings }),
    ...(options.statuses === undefined ? {} : { statuses: options.statuses }),
    ...(options.errorInfo === undefined ? {} : { errorInfo: options.errorInfo }),
  });
}

export function defenderExtension(clusterIdValue: string, options: ExtensionOptions = {}): ArmResource {
  return extension(clusterIdValue, DEFENDER_TYPE, DEFENDER_TYPE, {
    configurationSettings: { logAnalyticsWorkspaceResourceID: workspaceId() },
    ...options,
  });
}

export function policyExtension(clusterIdValue: string, options: ExtensionOptions = {}): ArmResource {
  return extension(clusterIdValue, "azurepolicy", POLICY_TYPE, options);
}

/** A cluster's own Containers plan (`{clusterId}/providers/Microsoft.Security/pricings/Containers`). */
export const clusterPlan = clusterPlanResource;
