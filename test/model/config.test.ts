import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/model/config.js";

const WORKSPACE =
  "/subscriptions/0a1b2c3d-0000-4000-8000-00000000000a/resourceGroups/rg-monitor/providers/Microsoft.OperationalInsights/workspaces/law-main";

function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe("AUTOPROTECT_AUTHORIZED_IP_RANGES only takes ranges that restrict", () => {
  it.each([
    ["0.0.0.0/0", "'0.0.0.0/0' is internet-wide: a range must be /8 or longer"],
    ["::/0", "'::/0' is internet-wide"],
    ["203.0.113.0/24, 0.0.0.0/0", "'0.0.0.0/0' is internet-wide"],
    ["10.0.0.0/7", "'10.0.0.0/7' is internet-wide: a range must be /8 or longer"],
    ["1.2.3.4/0", "'1.2.3.4/0' is internet-wide"],
    ["::ffff:0:0/96", "'::ffff:0:0/96' is internet-wide"],
    ["10.0.0.0/33", "'10.0.0.0/33' is not an IPv4 address or CIDR"],
    ["2001:db8::/48", "'2001:db8::/48' is not an IPv4 address or CIDR"],
    ["AzureCloud", "'AzureCloud' is not an IPv4 address or CIDR"],
  ])("refuses %s with one line naming the variable and the range", (ranges, message) => {
    const text = refusal({ AUTOPROTECT_AUTHORIZED_IP_RANGES: ranges });
    expect(text).toMatch(/^AUTOPROTECT_AUTHORIZED_IP_RANGES: /);
    expect(text).toContain(message);
    expect(text).not.toContain("\n");
  });

  it.each([
    ["0.0.0.0/32", ["0.0.0.0/32"]],
    ["10.0.0.0/8, 192.0.2.1", ["10.0.0.0/8", "192.0.2.1"]],
    ["", []],
  ])(
    "accepts %j (0.0.0.0/32 keeps AKS's meaning: the load balancer's outbound IP only)",
    (ranges, parsed) => {
      expect(loadConfig({ AUTOPROTECT_AUTHORIZED_IP_RANGES: ranges }).authorizedIpRanges).toEqual(parsed);
    },
  );

  it("AUTOPROTECT_MIN_AUTHORIZED_PREFIX moves the bound, never below /1", () => {
    expect(loadConfig({}).minAuthorizedPrefix).toBe(8);
    expect(
      refusal({ AUTOPROTECT_AUTHORIZED_IP_RANGES: "10.0.0.0/8", AUTOPROTECT_MIN_AUTHORIZED_PREFIX: "16" }),
    ).toBe(
      "AUTOPROTECT_AUTHORIZED_IP_RANGES: '10.0.0.0/8' is internet-wide: a range must be /16 or longer (AUTOPROTECT_MIN_AUTHORIZED_PREFIX)",
    );
    expect(
      loadConfig({ AUTOPROTECT_AUTHORIZED_IP_RANGES: "10.0.0.0/4", AUTOPROTECT_MIN_AUTHORIZED_PREFIX: "4" })
        .authorizedIpRanges,
    ).toEqual(["10.0.0.0/4"]);
    expect(
      refusal({ AUTOPROTECT_AUTHORIZED_IP_RANGES: "0.0.0.0/0", AUTOPROTECT_MIN_AUTHORIZED_PREFIX: "1" }),
    ).toMatch(/'0.0.0.0\/0' is internet-wide/);
    for (const bad of ["0", "33", "8.5", "eight"]) {
      expect(refusal({ AUTOPROTECT_MIN_AUTHORIZED_PREFIX: bad })).toMatch(
        /^AUTOPROTECT_MIN_AUTHORIZED_PREFIX: /,
      );
    }
  });
});

describe("AUTOPROTECT_WORKSPACE_ID", () => {
  it("takes a Log Analytics workspace id", () => {
    expect(loadConfig({ AUTOPROTECT_WORKSPACE_ID: ` ${WORKSPACE} ` }).workspaceId).toBe(WORKSPACE);
  });
  it.each([
    [
      "another type",
      WORKSPACE.replace("Microsoft.OperationalInsights/workspaces", "Microsoft.Storage/storageAccounts"),
      /is a Microsoft.Storage\/storageAccounts, not a Log Analytics workspace/,
    ],
    ["a '..' segment", `${WORKSPACE}/..`, /has a '\.\.' segment/],
    [
      "placeholders",
      "/subscriptions/SUB_ID/resourcegroups/RG/providers/microsoft.operationalinsights/workspaces/W",
      /'SUB_ID' is not a GUID/,
    ],
  ])("refuses %s", (_name, id, message) => {
    const text = refusal({ AUTOPROTECT_WORKSPACE_ID: id });
    expect(text).toMatch(/^AUTOPROTECT_WORKSPACE_ID: /);
    expect(text).toMatch(message);
  });
});

describe("AUTOPROTECT_REMOVE_PLAN_OVERRIDES", () => {
  it("is off unless set to true (any case), and refuses anything else with the variable's name", () => {
    expect(loadConfig({}).removePlanOverrides).toBe(false);
    expect(loadConfig({ AUTOPROTECT_REMOVE_PLAN_OVERRIDES: " TRUE " }).removePlanOverrides).toBe(true);
    expect(loadConfig({ AUTOPROTECT_REMOVE_PLAN_OVERRIDES: "False" }).removePlanOverrides).toBe(false);
    expect(() => loadConfig({ AUTOPROTECT_REMOVE_PLAN_OVERRIDES: "yes" })).toThrow(
      "AUTOPROTECT_REMOVE_PLAN_OVERRIDES: 'yes' is not 'true' or 'false'",
    );
  });
});
