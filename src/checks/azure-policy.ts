import type { Finding } from "../model/checks.js";
import type { ClusterChange } from "../model/cluster.js";
import { describeClusterChange } from "./cluster-changes.js";
import type { ClusterCheckInput } from "./cluster-input.js";
import { fields, keysLike } from "./read.js";

export const AZURE_POLICY_ADDON = "azurepolicy";

export function planAzurePolicy(input: ClusterCheckInput): Finding<ClusterChange> {
  const addons = fields(input.cluster.addonProfiles);
  const keys = keysLike(addons, AZURE_POLICY_ADDON);
  const enabledKey = keys.find((key) => fields(addons?.[key])?.enabled === true);
  if (enabledKey !== undefined) {
    return {
      verdict: "compliant",
      reason: "the Azure Policy add-on is enabled",
      details: { addonKey: enabledKey },
    };
  }
  // Reusing the cluster's spelling keeps the PUT from carrying two entries for one add-on.
  const addonKey = keys[0] ?? AZURE_POLICY_ADDON;
  const change: ClusterChange = { kind: "enable-azure-policy", addonKey };
  return {
    verdict: "change",
    reason:
      keys.length === 0 ? "the Azure Policy add-on is not installed" : "the Azure Policy add-on is disabled",
    action: describeClusterChange(change),
    change,
    details: { addonKey },
  };
}
