import type { Finding } from "../model/checks.js";
import type { ClusterChange } from "../model/cluster.js";
import { isInternetWide, parseIpRange } from "../model/ip-range.js";
import { describeClusterChange } from "./cluster-changes.js";
import type { ClusterCheckInput } from "./cluster-input.js";
import { fields, items, joinWords, nonBlankText, sameWord } from "./read.js";

/** A cluster's authorized ranges, sorted by what they do for the API server. */
interface ListedRanges {
  readonly restricting: string[];
  /** Ranges that let in (nearly) the whole internet: `0.0.0.0/0`, `::/0`, shorter than the minimum prefix. */
  readonly wide: string[];
  /** Whether some wide range lets in every address (a /0, or all of IPv4 through IPv4-mapped IPv6). */
  anyAddress: boolean;
  /** Entries that are not an address or CIDR, so what they let in is unknown. */
  readonly unreadable: string[];
  /** ARM sent something other than a list where the ranges belong. */
  notAList: boolean;
}

function sortRanges(value: unknown, minPrefix: number): ListedRanges {
  const listed: ListedRanges = {
    restricting: [],
    wide: [],
    anyAddress: false,
    unreadable: [],
    notAList: false,
  };
  if (value === undefined || value === null) return listed;
  if (!Array.isArray(value)) {
    listed.notAList = true;
    listed.unreadable.push(JSON.stringify(value));
    return listed;
  }
  for (const entry of items(value)) {
    if (entry === null || (typeof entry === "string" && entry.trim() === "")) continue;
    const range = typeof entry === "string" ? parseIpRange(entry) : undefined;
    if (typeof entry !== "string" || range === undefined) {
      listed.unreadable.push(typeof entry === "string" ? entry : JSON.stringify(entry));
    } else if (isInternetWide(range, minPrefix)) {
      listed.wide.push(entry);
      listed.anyAddress ||= range.prefix === 0 || range.ipv4Prefix === 0;
    } else {
      listed.restricting.push(entry);
    }
  }
  return listed;
}

const them = (list: readonly string[]) => (list.length === 1 ? "it" : "them");

export function planAuthorizedIps(input: ClusterCheckInput): Finding<ClusterChange> {
  const { cluster, config } = input;
  const access = fields(cluster.apiServerAccessProfile);
  if (access?.enablePrivateCluster === true) {
    // AKS documents authorized IP ranges as guarding the "otherwise publicly accessible" API server and
    // as not supported on private clusters: a private cluster has no public endpoint for them to guard,
    // so whatever ranges it still lists (0.0.0.0/0 included) open nothing.
    return { verdict: "compliant", reason: "the API server is private" };
  }
  const minPrefix = config.minAuthorizedPrefix;
  const listed = sortRanges(access?.authorizedIPRanges, minPrefix);
  // Never compliant while an internet-wide range is listed, and never fixed by this tool either:
  // removing a range is a person's decision (it may lock out whoever relies on it).
  if (listed.wide.length > 0) {
    return {
      verdict: "manual",
      reason: `the API server accepts ${listed.anyAddress ? "any address" : "most of the internet"} through ${joinWords(listed.wide)}: remove ${them(listed.wide)}`,
      details: {
        authorizedIPRanges: access?.authorizedIPRanges,
        internetWideRanges: listed.wide,
        minAuthorizedPrefix: minPrefix,
      },
    };
  }
  if (listed.unreadable.length > 0) {
    const are = listed.unreadable.length === 1 ? "is" : "are";
    const what = listed.notAList
      ? `the API server's authorizedIPRanges is not a list (${listed.unreadable.join("")})`
      : `the API server's authorized IP ranges include ${joinWords(listed.unreadable.map((r) => `'${r}'`))}, which ${are} not an IP address or CIDR`;
    return {
      verdict: "manual",
      reason: `${what}, so what the API server accepts is unknown: check ${them(listed.unreadable)}`,
      details: {
        authorizedIPRanges: access?.authorizedIPRanges ?? null,
        unreadableRanges: listed.unreadable,
      },
    };
  }
  const existing = listed.restricting;
  if (existing.length > 0) {
    return {
      verdict: "compliant",
      reason: `the API server accepts only ${existing.length} authorized IP ${existing.length === 1 ? "range" : "ranges"}`,
      details: { authorizedIPRanges: existing },
    };
  }

  const ranges = distinctRanges(config.authorizedIpRanges);
  // Configuration refuses these at start-up; a planner handed one anyway must not add it as protection.
  const unusable = ranges.filter((r) => {
    const range = parseIpRange(r);
    return range === undefined || isInternetWide(range, minPrefix);
  });
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
  if (unusable.length > 0) {
    blockers.push(
      `AUTOPROTECT_AUTHORIZED_IP_RANGES lists ${joinWords(unusable)}, which would not restrict the API server: configure ranges of /${minPrefix} or longer`,
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
