import type { Finding } from "../model/checks.js";
import type { ClusterChange } from "../model/cluster.js";
import { describeClusterChange } from "./cluster-changes.js";
import type { ClusterCheckInput } from "./cluster-input.js";
import { fields, items, joinWords, nonBlankText, sameWord } from "./read.js";

export function planAuthorizedIps(input: ClusterCheckInput): Finding<ClusterChange> {
  const { cluster, config } = input;
  const access = fields(cluster.apiServerAccessProfile);
  if (access?.enablePrivateCluster === true) {
    return { verdict: "compliant", reason: "the API server is private" };
  }
  const existing = items(access?.authorizedIPRanges).filter(
    (r): r is string => nonBlankText(r) !== undefined,
  );
  if (existing.length > 0) {
    return {
      verdict: "compliant",
      reason: `the API server accepts only ${existing.length} authorized IP ${existing.length === 1 ? "range" : "ranges"}`,
      details: { authorizedIPRanges: existing },
    };
  }

  const ranges = distinctRanges(config.authorizedIpRanges);
  const loadBalancerSku = nonBlankText(fields(cluster.networkProfile)?.loadBalancerSku);
  const publicIpPools = items(cluster.agentPoolProfiles)
    .map(fields)
    .filter((pool) => pool?.enableNodePublicIP === true)
    .map((pool) => nonBlankText(pool?.name) ?? "(unnamed)");

  // AKS rejects authorized IP ranges on these clusters, so a person has to decide instead.
  const blockers: string[] = [];
  if (ranges.length === 0) {
    blockers.push(
      "no ranges are configured: set AUTOPROTECT_AUTHORIZED_IP_RANGES or make the cluster private",
    );
  }
  if (sameWord(loadBalancerSku, "basic")) {
    blockers.push(
      "the cluster uses a Basic load balancer, which does not support authorized IP ranges: move it to a Standard load balancer",
    );
  }
  if (publicIpPools.length > 0) {
    const pools = publicIpPools.length === 1 ? "pool" : "pools";
    const have = publicIpPools.length === 1 ? "has" : "have";
    blockers.push(
      `agent ${pools} ${joinWords(publicIpPools)} ${have} node public IPs, which authorized IP ranges do not support: turn node public IPs off`,
    );
  }
  const details = {
    loadBalancerSku: loadBalancerSku ?? null,
    nodePublicIpPools: publicIpPools,
    configuredRanges: ranges,
  };
  if (blockers.length > 0) {
    return {
      verdict: "manual",
      reason: `the API server accepts any address; ${blockers.join("; ")}`,
      details,
    };
  }
  const change: ClusterChange = { kind: "add-authorized-ip-ranges", ranges };
  return {
    verdict: "change",
    reason: "the API server accepts any address",
    action: describeClusterChange(change),
    change,
    details,
  };
}

function distinctRanges(ranges: readonly string[]): string[] {
  const seen = new Set<string>();
  const result: string[] = [];
  for (const raw of ranges) {
    const range = raw.trim();
    if (range === "" || seen.has(range.toLowerCase())) continue;
    seen.add(range.toLowerCase());
    result.push(range);
  }
  return result;
}
