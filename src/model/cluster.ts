/**
 * A managed cluster exactly as ARM returned it at the pinned api-version, every property kept: what a
 * PUT sends back, so nothing autoprotect does not model is lost.
 */
export interface ClusterResource {
  readonly id?: string;
  readonly name?: string;
  readonly type?: string;
  readonly location: string;
  readonly tags?: Readonly<Record<string, string>> | null;
  readonly eTag?: string;
  readonly etag?: string;
  readonly properties?: Readonly<Record<string, unknown>> | null;
  readonly [key: string]: unknown;
}

/**
 * The parts of a managed cluster the checks read, with ARM's `properties` flattened into the top
 * level as the SDK models it (`clusterView`). Planners never see SDK classes or raw ARM bodies.
 */
export interface ClusterSnapshot {
  readonly id?: string;
  readonly name?: string;
  readonly location: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly eTag?: string;
  readonly provisioningState?: string;
  readonly powerState?: { readonly code?: string };
  readonly addonProfiles?: Readonly<
    Record<string, { readonly enabled: boolean; readonly config?: Readonly<Record<string, string>> }>
  >;
  readonly securityProfile?: {
    readonly defender?: {
      readonly logAnalyticsWorkspaceResourceId?: string;
      readonly securityMonitoring?: { readonly enabled?: boolean };
    };
  };
  readonly apiServerAccessProfile?: {
    readonly authorizedIPRanges?: readonly string[];
    readonly enablePrivateCluster?: boolean;
  };
  readonly networkProfile?: { readonly loadBalancerSku?: string };
  readonly agentPoolProfiles?: readonly { readonly name: string; readonly enableNodePublicIP?: boolean }[];
  /** Why the last operation failed, when the provisioning state is Failed. */
  readonly status?: { readonly provisioningError?: { readonly code?: string; readonly message?: string } };
}

/** The planners' view of a cluster as ARM returned it: `properties` flattened, identity kept. */
export function clusterView(resource: ClusterResource): ClusterSnapshot {
  // Planners read every field defensively (ARM sends nulls and odd types); the view only renames.
  const properties = resource.properties ?? {};
  const eTag = resource.eTag ?? resource.etag;
  const view: ClusterSnapshot = {
    ...properties,
    ...(resource.id === undefined ? {} : { id: resource.id }),
    ...(resource.name === undefined ? {} : { name: resource.name }),
    location: resource.location,
    ...(resource.tags === undefined || resource.tags === null ? {} : { tags: resource.tags }),
    ...(eTag === undefined ? {} : { eTag }),
  };
  return view;
}

/** One minimal edit to a cluster; all edits for one cluster are combined into one PUT. */
export type ClusterChange =
  | {
      readonly kind: "enable-defender-sensor";
      /** Set only when the cluster has no workspace yet; an existing one is never replaced. */
      readonly workspaceResourceId: string;
    }
  | {
      readonly kind: "enable-azure-policy";
      /** The add-on key as the cluster already spells it (`azurepolicy`, `azurePolicy`), or `azurepolicy`. */
      readonly addonKey: string;
    }
  | { readonly kind: "add-authorized-ip-ranges"; readonly ranges: readonly string[] };

/** What the engine read about the Log Analytics workspace the sensor uses or would use. */
export type WorkspaceSnapshot =
  | { readonly state: "none" }
  /** The id is not a Log Analytics workspace id ARM could serve, so nothing was read. */
  | { readonly state: "invalid"; readonly resourceId: string; readonly problem: string }
  | { readonly state: "missing"; readonly resourceId: string }
  | {
      readonly state: "found";
      readonly resourceId: string;
      readonly publicNetworkAccessForIngestion?: string;
      /** Azure Monitor Private Link Scopes the workspace is connected to. */
      readonly privateLinkScopeIds: readonly string[];
    };
