import { describe, expect, it } from "vitest";
import { isInternetWide, parseIpRange } from "../../src/model/ip-range.js";

describe("parseIpRange", () => {
  it.each([
    ["203.0.113.0/24", { family: 4, prefix: 24, ipv4Prefix: 24 }],
    ["192.0.2.1", { family: 4, prefix: 32, ipv4Prefix: 32 }],
    [" 10.0.0.0/8 ", { family: 4, prefix: 8, ipv4Prefix: 8 }],
    ["0.0.0.0/32", { family: 4, prefix: 32, ipv4Prefix: 32 }],
    ["2001:db8::/48", { family: 6, prefix: 48 }],
    ["2001:db8::1", { family: 6, prefix: 128 }],
    ["::/0", { family: 6, prefix: 0, ipv4Prefix: 0 }],
    ["::ffff:203.0.113.0/120", { family: 6, prefix: 120, ipv4Prefix: 24 }],
    ["::ffff:cb00:7100/120", { family: 6, prefix: 120, ipv4Prefix: 24 }],
    ["::ffff:0:0/96", { family: 6, prefix: 96, ipv4Prefix: 0 }],
    ["::/80", { family: 6, prefix: 80, ipv4Prefix: 0 }],
  ])("%s", (text, range) => {
    expect(parseIpRange(text)).toEqual(range);
  });

  it.each([
    "AzureCloud",
    "10.0.0.0/33",
    "2001:db8::/129",
    "10.0.0.0/8/8",
    "10.0.0.0/",
    "10.0.0.0/-1",
    "10.0.0",
    "fe80::1%eth0/64",
    "",
  ])("refuses %j", (text) => {
    expect(parseIpRange(text)).toBeUndefined();
  });
});

describe("isInternetWide", () => {
  const wide = (text: string, min = 8) => {
    const range = parseIpRange(text);
    if (range === undefined) throw new Error(`${text} does not parse`);
    return isInternetWide(range, min);
  };
  it.each([
    ["0.0.0.0/0", true],
    ["::/0", true],
    ["1.2.3.4/0", true],
    ["0.0.0.0/7", true],
    ["::ffff:0:0/96", true],
    ["::ffff:0:0/100", true],
    ["2000::/3", true],
    ["0.0.0.0/8", false],
    ["0.0.0.0/32", false],
    ["2001:db8::/32", false],
    ["::ffff:10.0.0.0/104", false],
  ])("%s: %s at the default minimum", (text, expected) => {
    expect(wide(text)).toBe(expected);
  });

  it("applies the configured minimum, and /0 whatever it is", () => {
    expect(wide("10.0.0.0/12", 16)).toBe(true);
    expect(wide("10.0.0.0/16", 16)).toBe(false);
    expect(wide("0.0.0.0/1", 1)).toBe(false);
    expect(wide("0.0.0.0/0", 1)).toBe(true);
    expect(wide("0.0.0.0/0", 0)).toBe(true);
  });
});
