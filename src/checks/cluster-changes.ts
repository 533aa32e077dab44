import type { ClusterChange, ClusterResource, ClusterSnapshot } from "../model/cluster.js";
import { joinWords, nonBlankText } from "./read.js";

type Writable = Record<string, unknown>;

/**
 * The PUT body that applies `changes` to `cluster`. The body is the whole cluster as read, so that
 * the PUT restates every setting it does not mean to change; only the targeted fields are touched,
 * and each only in the direction that strengthens protection.
 */
export function applyClusterChanges<T extends ClusterSnapshot>(
  cluster: T,
  changes: readonly ClusterChange[],
): T {
  const body = structuredClone(cluster);
  const root = body as unknown as Writable;
  for (const change of changes) {
    switch (change.kind) {
      case "enable-defender-sensor": {
        const defender = section(section(root, "securityProfile"), "defender");
        section(defender, "securityMonitoring").enabled = true;
        if (nonBlankText(defender.logAnalyticsWorkspaceResourceId) === undefined) {
          defender.logAnalyticsWorkspaceResourceId = change.workspaceResourceId;
        }
        break;
      }
      case "enable-azure-policy": {
        const addons = section(root, "addonProfiles");
        // A change planned from an older read may spell the key differently; a second entry would be rejected.
        const key =
          change.addonKey in addons
            ? change.addonKey
            : (Object.keys(addons).find((k) => k.toLowerCase() === change.addonKey.toLowerCase()) ??
              change.addonKey);
        section(addons, key).enabled = true;
        break;
      }
      case "add-authorized-ip-ranges": {
        const access = section(root, "apiServerAccessProfile");
        const existing = Array.isArray(access.authorizedIPRanges)
          ? (access.authorizedIPRanges as unknown[])
          : [];
        const present = new Set(existing.map((r) => (typeof r === "string" ? r.trim().toLowerCase() : r)));
        const added: string[] = [];
        for (const range of change.ranges) {
          const normalised = range.trim().toLowerCase();
          if (present.has(normalised)) continue;
          present.add(normalised);
          added.push(range.trim());
        }
        access.authorizedIPRanges = [...existing, ...added];
        break;
      }
    }
  }
  return body;
}

/**
 * The PUT body for a cluster as ARM returned it: the changes applied under `properties`, every other
 * property (ones autoprotect does not model included) sent back exactly as read.
 */
export function applyClusterChangesToResource(
  resource: ClusterResource,
  changes: readonly ClusterChange[],
): ClusterResource {
  const properties = (resource.properties ?? {}) as unknown as ClusterSnapshot;
  return {
    ...structuredClone(resource),
    properties: applyClusterChanges(properties, changes) as unknown as Record<string, unknown>,
  };
}

/** The object at `parent[key]`, created in place when ARM sent nothing or null there. */
function section(parent: Writable, key: string): Writable {
  const existing = parent[key];
  if (typeof existing === "object" && existing !== null && !Array.isArray(existing))
    return existing as Writable;
  const created: Writable = {};
  parent[key] = created;
  return created;
}

export function describeClusterChange(change: ClusterChange): string {
  switch (change.kind) {
    case "enable-defender-sensor":
      return `enable the Defender sensor with Log Analytics workspace ${change.workspaceResourceId}`;
    case "enable-azure-policy":
      return "enable the Azure Policy add-on";
    case "add-authorized-ip-ranges":
      return `restrict the API server to ${joinWords(change.ranges)}`;
  }
}

/** One sentence for the Action of the outcome that applies all of `changes` in one PUT. */
export function describeClusterChanges(changes: readonly ClusterChange[]): string {
  return joinWords(changes.map(describeClusterChange));
}
