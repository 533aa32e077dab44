/**
 * The parts of a managed cluster the checks read, named as ARM and the SDK name them
 * (the SDK model flattens `properties`). The adapter hands the planners the full SDK model,
 * which is structurally a ClusterSnapshot; planners never see SDK classes.
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
