/**
 * Azure Arc-enabled Kubernetes: a connected cluster (`Microsoft.Kubernetes/connectedClusters`) and the
 * cluster extensions installed on it (`Microsoft.KubernetesConfiguration/extensions`), exactly as ARM
 * returns them. Both are read as ARM's JSON; autoprotect never writes a connected cluster, and writes
 * an extension only to create one that is missing.
 */

/** A connected cluster as ARM returns it (api-version 2024-01-01), every property kept. */
export interface ConnectedClusterResource {
  readonly id?: string;
  readonly name?: string;
  readonly type?: string;
  readonly location?: string | null;
  readonly tags?: Readonly<Record<string, string>> | null;
  readonly properties?: Readonly<Record<string, unknown>> | null;
  readonly [key: string]: unknown;
}

/** A cluster extension as ARM returns it (api-version 2024-11-01), every property kept. */
export interface ExtensionResource {
  readonly id?: string;
  readonly name?: string;
  readonly type?: string;
  readonly properties?: Readonly<Record<string, unknown>> | null;
  readonly [key: string]: unknown;
}

/** What the planners read of a connected cluster; values as ARM sent them (anything may be missing or odd). */
export interface ConnectedClusterSnapshot {
  readonly id: string;
  readonly name?: string;
  readonly location?: string;
  readonly tags?: Readonly<Record<string, string>>;
  /** `Connecting`, `Connected`, `Offline`, `Expired` or `AgentNotInstalled` (spec 2024-01-01). */
  readonly connectivityStatus?: unknown;
  /** The Kubernetes distribution (`AKS`, `eks`, `gke`, `k3s`, …), as the agent reported it. */
  readonly distribution?: unknown;
  readonly provisioningState?: unknown;
}

/** What the planners read of an extension. */
export interface ExtensionSnapshot {
  readonly name: string;
  readonly extensionType?: unknown;
  /** `Succeeded`, `Failed`, `Canceled`, `Creating`, `Updating`, `Deleting`. */
  readonly provisioningState?: unknown;
  readonly configurationSettings?: unknown;
  readonly statuses?: unknown;
  readonly errorInfo?: unknown;
}

function textOf(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function recordOf(value: unknown): Readonly<Record<string, unknown>> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Readonly<Record<string, unknown>>)
    : {};
}

/** The planners' view of a connected cluster as ARM returned it. */
export function connectedClusterView(
  resource: ConnectedClusterResource,
  id: string,
): ConnectedClusterSnapshot {
  const properties = recordOf(resource.properties);
  const location = textOf(resource.location);
  const name = textOf(resource.name);
  return {
    id: textOf(resource.id) ?? id,
    ...(name === undefined ? {} : { name }),
    ...(location === undefined ? {} : { location }),
    ...(resource.tags === undefined || resource.tags === null ? {} : { tags: resource.tags }),
    connectivityStatus: properties.connectivityStatus,
    distribution: properties.distribution,
    provisioningState: properties.provisioningState,
  };
}

/** The planners' view of an extension as ARM returned it. */
export function extensionView(resource: ExtensionResource): ExtensionSnapshot {
  const properties = recordOf(resource.properties);
  return {
    name: textOf(resource.name) ?? textOf(resource.id)?.split("/").at(-1) ?? "",
    extensionType: properties.extensionType,
    provisioningState: properties.provisioningState,
    configurationSettings: properties.configurationSettings,
    statuses: properties.statuses,
    errorInfo: properties.errorInfo,
  };
}

/** The extension to create: name and body exactly as the PUT sends them. */
export interface ExtensionInstall {
  readonly name: string;
  readonly body: {
    readonly identity: { readonly type: "SystemAssigned" };
    readonly properties: {
      readonly extensionType: string;
      readonly autoUpgradeMinorVersion: true;
      readonly releaseTrain: "Stable";
      readonly scope: { readonly cluster: { readonly releaseNamespace: string } };
      readonly configurationSettings: Readonly<Record<string, string>>;
    };
  };
}
