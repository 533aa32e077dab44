import type { ClusterSnapshot, WorkspaceSnapshot } from "../model/cluster.js";
import type { Config } from "../model/config.js";

/** Everything a cluster check reads; the engine gathers it, the planners never fetch anything. */
export interface ClusterCheckInput {
  readonly cluster: ClusterSnapshot;
  readonly resourceGroupTags?: Readonly<Record<string, string>>;
  /** The engine's read of the workspace `resolveSensorWorkspaceId` names for this cluster. */
  readonly workspace: WorkspaceSnapshot;
  readonly config: Pick<
    Config,
    "workspaceId" | "authorizedIpRanges" | "minAuthorizedPrefix" | "excludeTag" | "checks"
  >;
}
