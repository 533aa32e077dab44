import type { ArmResource } from "../../sim/index.js";
import { SUB_A, workspaceId } from "./estate.js";

/** Builders for Arc-enabled clusters, their extensions and clusters' own plans, as ARM returns them. */

export const arcClusterId = (name: string, sub = SUB_A, group = "rg-edge"): string =>
  `/subscriptions/${sub}/resourceGroups/${group}/providers/Microsoft.Kubernetes/connectedClusters/${name}`;

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
  return {
    id: arcClusterId(name, options.sub, options.group),
    name,
    type: "Microsoft.Kubernetes/connectedClusters",
    location: "westeurope",
    tags: options.tags ?? {},
    identity: { type: "SystemAssigned" },
    properties: {
      agentPublicKeyCertificate: "MIICYzCCAcygAwIBAgIBADANBgkqhkiG9w0BAQUFADAuMQswCQYDVQQGEwJVUzEM",
      kubernetesVersion: "1.31.4",
      totalNodeCount: 3,
      agentVersion: "1.24.4",
      provisioningState: "Succeeded",
      distribution: options.distribution ?? "k3s",
      infrastructure: "generic",
      connectivityStatus: options.connectivityStatus ?? "Connected",
    },
  };
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
  return {
    id: `${clusterIdValue}/providers/Microsoft.KubernetesConfiguration/extensions/${name}`,
    name,
    type: "Microsoft.KubernetesConfiguration/extensions",
    properties: {
      extensionType,
      autoUpgradeMinorVersion: true,
      releaseTrain: "Stable",
      provisioningState: options.provisioningState ?? "Succeeded",
      configurationSettings: options.configurationSettings ?? {},
      statuses: options.statuses ?? [],
      ...(options.errorInfo === undefined ? {} : { errorInfo: options.errorInfo }),
    },
  };
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
export function clusterPlan(
  clusterIdValue: string,
  pricingTier: "Free" | "Standard",
  extensions: Record<string, "True" | "False"> = {},
): ArmResource {
  return {
    id: `${clusterIdValue}/providers/Microsoft.Security/pricings/Containers`,
    name: "Containers",
    type: "Microsoft.Security/pricings",
    properties: {
      pricingTier,
      extensions: Object.entries(extensions).map(([name, isEnabled]) => ({ name, isEnabled })),
    },
  };
}
