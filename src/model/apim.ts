/**
 * API Management as the APIM checks and the rollout controller see it. Names follow ARM and the SDK
 * (the SDK flattens `properties`); planners never see SDK classes.
 */
export interface ApimServiceSnapshot {
  readonly id: string;
  readonly name: string;
  readonly location: string;
  readonly sku: { readonly name: string; readonly capacity?: number };
  readonly tags?: Readonly<Record<string, string>>;
  readonly provisioningState?: string;
  readonly additionalLocations?: readonly { readonly location: string }[];
}

export interface ApiSnapshot {
  /** ARM id, `.../service/{service}/apis/{apiId}`. */
  readonly id: string;
  /** The API id within the service (the last id segment); `;rev=` marks a non-current revision. */
  readonly name: string;
  readonly displayName?: string;
  /** Absent for plain HTTP (REST) APIs; `soap`, `graphql`, `websocket`, `grpc`, `odata` otherwise. */
  readonly apiType?: string;
  readonly isCurrent?: boolean;
  readonly tags?: Readonly<Record<string, string>>;
}

/** A Defender for APIs collection: the API is onboarded once it has Succeeded. */
export interface ApiCollectionSnapshot {
  /** The API id it covers (the collection's name). */
  readonly apiName: string;
  readonly provisioningState: string;
}

/** What the APIM checks need to know about one service, read once per run. */
export interface ApimServiceView {
  readonly service: ApimServiceSnapshot;
  readonly resourceGroupTags?: Readonly<Record<string, string>>;
  /** Current APIs of the service (workspace APIs are separate), in any order. */
  readonly apis: readonly ApiSnapshot[];
  /** APIs that live in APIM workspaces: Defender for APIs cannot onboard them. */
  readonly workspaceApis: readonly ApiSnapshot[];
  /** API name (lower-case) → the self-hosted gateways it is assigned to. */
  readonly selfHostedGatewaysByApi: ReadonlyMap<string, readonly string[]>;
  /** API name (lower-case) → its Defender for APIs collection. */
  readonly collections: ReadonlyMap<string, ApiCollectionSnapshot>;
}

/** The instance's load as Azure Monitor reports it for its tier, over the last 15 minutes at 1-minute grain. */
export interface CapacityReading {
  /** `Capacity` on classic tiers; `CpuPercent_Gateway`/`MemoryPercent_Gateway` (the higher) on v2 tiers. */
  readonly metric: string;
  /** The highest per-minute Average of the busiest region (or of CPU and memory) in the window; undefined: no data. */
  readonly percent: number | undefined;
  /** The newest minute's value, for details. */
  readonly latestPercent: number | undefined;
  /** Start of the newest minute with data (ISO 8601): whether the metric has seen the last step yet. */
  readonly latestAt?: string;
  readonly perRegion: Readonly<Record<string, number>>;
  readonly windowStart: string;
  readonly windowEnd: string;
}
