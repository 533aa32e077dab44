/**
 * Authorized IP ranges as AKS reads them: CIDRs (or single addresses) that the API server accepts
 * connections from. What matters for protection is how much of the internet a range lets in.
 */
import { isIPv4, isIPv6 } from "node:net";

/** Ranges shorter than this prefix let in so much of the internet that they do not count as a restriction. */
export const DEFAULT_MIN_AUTHORIZED_PREFIX = 8;

export interface IpRange {
  readonly family: 4 | 6;
  /** The range's prefix length as written (32 or 128 for a single address). */
  readonly prefix: number;
  /** The IPv4 prefix an IPv4-mapped IPv6 range (`::ffff:a.b.c.d/n`) stands for, else `prefix` for IPv4. */
  readonly ipv4Prefix?: number;
}

/** The range `text` writes, or undefined when it is not an IPv4 or IPv6 address or CIDR. */
export function parseIpRange(text: string): IpRange | undefined {
  const [address, prefixText, ...extra] = text.trim().split("/");
  if (extra.length > 0 || address === undefined) return undefined;
  // A zone index (fe80::1%eth0) names a link, never a range a server could authorize.
  const family = isIPv4(address) ? 4 : isIPv6(address) && !address.includes("%") ? 6 : undefined;
  if (family === undefined) return undefined;
  const bits = family === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (prefix > bits) return undefined;
  if (family === 4) return { family, prefix, ipv4Prefix: prefix };
  const mapped = ipv4MappedPrefix(address, prefix);
  return mapped === undefined ? { family, prefix } : { family, prefix, ipv4Prefix: mapped };
}

/** IPv4-mapped addresses (::ffff:0:0/96) reach the whole IPv4 internet through an IPv6 range. */
const MAPPED = 0xffffn << 32n;

function ipv4MappedPrefix(address: string, prefix: number): number | undefined {
  const value = ipv6Value(address);
  // The first `prefix` bits of the range; the block is mapped when they agree with ::ffff:0:0/96.
  const shift = BigInt(128 - Math.min(prefix, 96));
  if (value >> shift !== MAPPED >> shift) return undefined;
  return Math.max(0, prefix - 96);
}

function ipv6Value(address: string): bigint {
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes its two 16-bit groups.
  const withoutDots = address.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, a, b, c, d) =>
    [((Number(a) << 8) | Number(b)).toString(16), ((Number(c) << 8) | Number(d)).toString(16)].join(":"),
  );
  const [head = "", tail] = withoutDots.split("::");
  const groups = (part: string | undefined) => (part === undefined || part === "" ? [] : part.split(":"));
  const left = groups(head);
  const right = groups(tail);
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill("0");
  return [...left, ...zeros, ...right].reduce((acc, group) => (acc << 16n) | BigInt(`0x${group}`), 0n);
}

/**
 * Whether `range` lets in (nearly) the whole internet: `0.0.0.0/0`, `::/0`, or any range shorter than
 * `minPrefix` (the same prefix bound for both families: the same share of the address space).
 * AKS's `0.0.0.0/32` means "only the cluster's load balancer outbound IP": a /32, so a restriction.
 */
export function isInternetWide(range: IpRange, minPrefix: number): boolean {
  return range.prefix === 0 || Math.min(range.prefix, range.ipv4Prefix ?? range.prefix) < minPrefix;
}
