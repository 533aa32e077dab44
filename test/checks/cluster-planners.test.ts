import { describe, expect, it } from "vitest";
import {
  planAuthorizedIps,
  planAzurePolicy,
  planDefenderSensor,
  planSensorWorkspace,
  resolveSensorWorkspace,
  resolveSensorWorkspaceId,
} from "../../src/checks/index.js";
import type { ClusterChange, WorkspaceSnapshot } from "../../src/model/cluster.js";
import {
  cluster,
  CLUSTER_WORKSPACE,
  CONFIG_WORKSPACE,
  COMPLIANT,
  deepFreeze,
  found,
  INSIGHTS_WORKSPACE,
  input,
  invalid,
  NO_WORKSPACE,
  PRIVATE_LINK_SCOPE,
  SPEC_EXAMPLE_WORKSPACE,
} from "./builders.js";

const insights = (
  enabled: boolean,
  config: Record<string, string> | null = { logAnalyticsWorkspaceResourceID: INSIGHTS_WORKSPACE },
) => ({
  omsagent: { enabled, config },
});
const defender = (logAnalyticsWorkspaceResourceId?: string, enabled?: boolean) => ({
  securityProfile: {
    defender: {
      ...(logAnalyticsWorkspaceResourceId === undefined ? {} : { logAnalyticsWorkspaceResourceId }),
      ...(enabled === undefined ? {} : { securityMonitoring: { enabled } }),
    },
  },
});

describe("resolveSensorWorkspaceId", () => {
  const cases: [string, Record<string, unknown>, string | undefined, string | undefined][] = [
    [
      "the cluster's own workspace wins over everything",
      { ...defender(CLUSTER_WORKSPACE, false), addonProfiles: insights(true) },
      CONFIG_WORKSPACE,
      CLUSTER_WORKSPACE,
    ],
    [
      "the configured workspace wins over Container insights",
      { addonProfiles: insights(true) },
      CONFIG_WORKSPACE,
      CONFIG_WORKSPACE,
    ],
    [
      "a blank cluster workspace does not count",
      { ...defender("  ", true) },
      CONFIG_WORKSPACE,
      CONFIG_WORKSPACE,
    ],
    [
      "Container insights when nothing is configured",
      { addonProfiles: insights(true) },
      undefined,
      INSIGHTS_WORKSPACE,
    ],
    [
      "blank configuration falls through to Container insights",
      { addonProfiles: insights(true) },
      " ",
      INSIGHTS_WORKSPACE,
    ],
    [
      "add-on key and config key in other cases",
      {
        addonProfiles: {
          omsAgent: { enabled: true, config: { loganalyticsworkspaceresourceid: INSIGHTS_WORKSPACE } },
        },
      },
      undefined,
      INSIGHTS_WORKSPACE,
    ],
    [
      "Container insights id without its leading slash",
      {
        addonProfiles: {
          omsagent: {
            enabled: true,
            config: { logAnalyticsWorkspaceResourceID: `${INSIGHTS_WORKSPACE.slice(1)}/` },
          },
        },
      },
      undefined,
      INSIGHTS_WORKSPACE,
    ],
    [
      "a disabled Container insights add-on does not count",
      { addonProfiles: insights(false) },
      undefined,
      undefined,
    ],
    ["Container insights without config", { addonProfiles: insights(true, null) }, undefined, undefined],
    ["addonProfiles: null", { addonProfiles: null }, undefined, undefined],
    ["securityProfile: null", { securityProfile: null }, CONFIG_WORKSPACE, CONFIG_WORKSPACE],
    ["defender: null", { securityProfile: { defender: null } }, undefined, undefined],
    ["nothing at all", {}, undefined, undefined],
  ];
  it.each(cases)("%s", (_name, fields, configured, expected) => {
    expect(resolveSensorWorkspaceId(deepFreeze(cluster(fields)), configured)).toBe(expected);
  });

  it("says where the workspace comes from", () => {
    expect(resolveSensorWorkspace(cluster(defender(CLUSTER_WORKSPACE)), CONFIG_WORKSPACE)?.source).toBe(
      "cluster",
    );
    expect(resolveSensorWorkspace(cluster({}), CONFIG_WORKSPACE)?.source).toBe("configuration");
    expect(resolveSensorWorkspace(cluster({ addonProfiles: insights(true) }))?.source).toBe(
      "containerInsights",
    );
  });
});

type Expected =
  | { verdict: "compliant" | "manual"; reasonHas?: string[] }
  | { verdict: "change"; change: ClusterChange; reasonHas?: string[] };

function check(finding: ReturnType<typeof planDefenderSensor>, expected: Expected): void {
  expect(finding.verdict).toBe(expected.verdict);
  for (const part of expected.reasonHas ?? []) expect(finding.reason).toContain(part);
  if (expected.verdict === "change" && finding.verdict === "change") {
    expect(finding.change).toStrictEqual(expected.change);
    expect(finding.action.length).toBeGreaterThan(0);
  }
}

describe("planDefenderSensor", () => {
  const cases: [string, Record<string, unknown>, WorkspaceSnapshot, string | undefined, Expected][] = [
    [
      "on with a workspace",
      defender(CLUSTER_WORKSPACE, true),
      found(CLUSTER_WORKSPACE),
      CONFIG_WORKSPACE,
      { verdict: "compliant" },
    ],
    [
      "on with a workspace that no longer exists is still compliant here (aks.sensor-workspace reports it)",
      defender(CLUSTER_WORKSPACE, true),
      { state: "missing", resourceId: CLUSTER_WORKSPACE },
      CONFIG_WORKSPACE,
      { verdict: "compliant" },
    ],
    [
      "nothing set: the configured workspace",
      {},
      found(CONFIG_WORKSPACE),
      CONFIG_WORKSPACE,
      {
        verdict: "change",
        change: { kind: "enable-defender-sensor", workspaceResourceId: CONFIG_WORKSPACE },
        reasonHas: ["off", "no Log Analytics workspace"],
      },
    ],
    [
      "off with its own workspace: that workspace is kept",
      defender(CLUSTER_WORKSPACE, false),
      found(CLUSTER_WORKSPACE),
      CONFIG_WORKSPACE,
      {
        verdict: "change",
        change: { kind: "enable-defender-sensor", workspaceResourceId: CLUSTER_WORKSPACE },
        reasonHas: ["the Defender sensor is off"],
      },
    ],
    [
      "on without a workspace: Container insights' workspace",
      { ...defender(undefined, true), addonProfiles: insights(true) },
      found(INSIGHTS_WORKSPACE),
      undefined,
      {
        verdict: "change",
        change: { kind: "enable-defender-sensor", workspaceResourceId: INSIGHTS_WORKSPACE },
        reasonHas: ["has no Log Analytics workspace"],
      },
    ],
    [
      "securityProfile: null",
      { securityProfile: null },
      found(CONFIG_WORKSPACE),
      CONFIG_WORKSPACE,
      {
        verdict: "change",
        change: { kind: "enable-defender-sensor", workspaceResourceId: CONFIG_WORKSPACE },
      },
    ],
    [
      "securityMonitoring: null",
      {
        securityProfile: {
          defender: { logAnalyticsWorkspaceResourceId: CLUSTER_WORKSPACE, securityMonitoring: null },
        },
      },
      found(CLUSTER_WORKSPACE),
      undefined,
      {
        verdict: "change",
        change: { kind: "enable-defender-sensor", workspaceResourceId: CLUSTER_WORKSPACE },
      },
    ],
    [
      "no workspace anywhere",
      { addonProfiles: insights(false) },
      NO_WORKSPACE,
      undefined,
      { verdict: "manual", reasonHas: ["AUTOPROTECT_WORKSPACE_ID", "Container insights"] },
    ],
    [
      "the configured workspace does not exist",
      {},
      { state: "missing", resourceId: CONFIG_WORKSPACE },
      CONFIG_WORKSPACE,
      { verdict: "manual", reasonHas: [CONFIG_WORKSPACE, "not found", "AUTOPROTECT_WORKSPACE_ID"] },
    ],
    [
      "the cluster's own workspace does not exist",
      defender(CLUSTER_WORKSPACE, false),
      { state: "missing", resourceId: CLUSTER_WORKSPACE },
      CONFIG_WORKSPACE,
      { verdict: "manual", reasonHas: [CLUSTER_WORKSPACE, "not found", "Defender profile"] },
    ],
    [
      "off with a workspace id ARM would refuse: never replaced, so a person fixes it",
      defender(SPEC_EXAMPLE_WORKSPACE, false),
      invalid(SPEC_EXAMPLE_WORKSPACE),
      CONFIG_WORKSPACE,
      {
        verdict: "manual",
        reasonHas: [
          SPEC_EXAMPLE_WORKSPACE,
          "not a valid workspace id",
          "'SUB_ID' is not a GUID",
          "Defender profile",
        ],
      },
    ],
    [
      "on with a workspace id ARM would refuse is compliant here (aks.sensor-workspace reports it)",
      defender(SPEC_EXAMPLE_WORKSPACE, true),
      invalid(SPEC_EXAMPLE_WORKSPACE),
      CONFIG_WORKSPACE,
      { verdict: "compliant" },
    ],
    [
      "Container insights names something that is not a workspace",
      { addonProfiles: insights(true, { logAnalyticsWorkspaceResourceID: "law-main" }) },
      invalid("/law-main"),
      undefined,
      { verdict: "manual", reasonHas: ["/law-main", "not a valid workspace id", "Container insights"] },
    ],
  ];
  it.each(cases)("%s", (_name, fields, workspace, workspaceId, expected) => {
    check(planDefenderSensor(deepFreeze(input(fields, { workspace, config: { workspaceId } }))), expected);
  });
});

describe("planAzurePolicy", () => {
  const cases: [string, unknown, Expected][] = [
    ["azurepolicy enabled", { azurepolicy: { enabled: true } }, { verdict: "compliant" }],
    [
      "azurePolicy enabled",
      { azurePolicy: { enabled: true, config: { version: "v2" } } },
      { verdict: "compliant" },
    ],
    [
      "a disabled spelling next to an enabled one",
      { azurepolicy: { enabled: false }, AzurePolicy: { enabled: true } },
      { verdict: "compliant" },
    ],
    [
      "AZUREPOLICY disabled",
      { AZUREPOLICY: { enabled: false } },
      {
        verdict: "change",
        change: { kind: "enable-azure-policy", addonKey: "AZUREPOLICY" },
        reasonHas: ["disabled"],
      },
    ],
    [
      "azurePolicy: null",
      { azurePolicy: null },
      { verdict: "change", change: { kind: "enable-azure-policy", addonKey: "azurePolicy" } },
    ],
    [
      "enabled as a string is not enabled",
      { azurepolicy: { enabled: "true" } },
      { verdict: "change", change: { kind: "enable-azure-policy", addonKey: "azurepolicy" } },
    ],
    [
      "absent",
      { omsagent: { enabled: true } },
      {
        verdict: "change",
        change: { kind: "enable-azure-policy", addonKey: "azurepolicy" },
        reasonHas: ["not installed"],
      },
    ],
    [
      "addonProfiles: null",
      null,
      { verdict: "change", change: { kind: "enable-azure-policy", addonKey: "azurepolicy" } },
    ],
    [
      "addonProfiles missing",
      undefined,
      { verdict: "change", change: { kind: "enable-azure-policy", addonKey: "azurepolicy" } },
    ],
  ];
  it.each(cases)("%s", (_name, addonProfiles, expected) => {
    const fields = addonProfiles === undefined ? {} : { addonProfiles };
    check(planAzurePolicy(deepFreeze(input(fields))), expected);
  });
});

describe("planAuthorizedIps", () => {
  const ranges = ["203.0.113.0/24"];
  const cases: [string, Record<string, unknown>, string[], Expected][] = [
    [
      "private API server, even with a Basic load balancer and nothing configured",
      {
        apiServerAccessProfile: { enablePrivateCluster: true },
        networkProfile: { loadBalancerSku: "basic" },
      },
      [],
      { verdict: "compliant", reasonHas: ["private"] },
    ],
    [
      "ranges already set",
      { apiServerAccessProfile: { authorizedIPRanges: ["198.51.100.7/32"] } },
      ranges,
      { verdict: "compliant" },
    ],
    [
      "0.0.0.0/32: AKS's 'only the load balancer's outbound IP', a restriction",
      { apiServerAccessProfile: { authorizedIPRanges: ["0.0.0.0/32"] } },
      ranges,
      { verdict: "compliant" },
    ],
    [
      "an IPv6 range of a documentation prefix",
      { apiServerAccessProfile: { authorizedIPRanges: ["2001:db8::/48"] } },
      ranges,
      { verdict: "compliant" },
    ],
    [
      "0.0.0.0/0 beside a real range: never compliant, never removed",
      { apiServerAccessProfile: { authorizedIPRanges: ["198.51.100.7/32", "0.0.0.0/0"] } },
      ranges,
      { verdict: "manual", reasonHas: ["the API server accepts any address through 0.0.0.0/0: remove it"] },
    ],
    [
      "::/0",
      { apiServerAccessProfile: { authorizedIPRanges: ["::/0"] } },
      ranges,
      { verdict: "manual", reasonHas: ["accepts any address through ::/0: remove it"] },
    ],
    [
      "all of IPv4 through IPv4-mapped IPv6",
      { apiServerAccessProfile: { authorizedIPRanges: ["::ffff:0.0.0.0/96"] } },
      ranges,
      { verdict: "manual", reasonHas: ["accepts any address through ::ffff:0.0.0.0/96"] },
    ],
    [
      "shorter than /8, with its neighbour /0",
      { apiServerAccessProfile: { authorizedIPRanges: ["64.0.0.0/2", "0.0.0.0/0"] } },
      ranges,
      { verdict: "manual", reasonHas: ["through 64.0.0.0/2 and 0.0.0.0/0: remove them"] },
    ],
    [
      "shorter than /8 alone",
      { apiServerAccessProfile: { authorizedIPRanges: ["10.0.0.0/7"] } },
      ranges,
      { verdict: "manual", reasonHas: ["accepts most of the internet through 10.0.0.0/7: remove it"] },
    ],
    [
      "/8 is the shortest that restricts by default",
      { apiServerAccessProfile: { authorizedIPRanges: ["10.0.0.0/8"] } },
      ranges,
      { verdict: "compliant" },
    ],
    [
      "a private cluster listing 0.0.0.0/0: its API server has no public endpoint for the range to open",
      { apiServerAccessProfile: { enablePrivateCluster: true, authorizedIPRanges: ["0.0.0.0/0"] } },
      ranges,
      { verdict: "compliant", reasonHas: ["private"] },
    ],
    [
      "a service tag (preview), read as unknown",
      { apiServerAccessProfile: { authorizedIPRanges: ["AzureCloud"] } },
      ranges,
      { verdict: "manual", reasonHas: ["'AzureCloud'", "not an IP address or CIDR", "check it"] },
    ],
    [
      "an internet-wide configured range is never added",
      { networkProfile: { loadBalancerSku: "standard" } },
      ["203.0.113.0/24", "0.0.0.0/0"],
      {
        verdict: "manual",
        reasonHas: [
          "AUTOPROTECT_AUTHORIZED_IP_RANGES lists 0.0.0.0/0, which would not restrict the API server",
        ],
      },
    ],
    [
      "open, standard load balancer",
      { networkProfile: { loadBalancerSku: "standard" } },
      ranges,
      { verdict: "change", change: { kind: "add-authorized-ip-ranges", ranges } },
    ],
    [
      "open, Standard load balancer, private false, empty ranges",
      {
        apiServerAccessProfile: { enablePrivateCluster: false, authorizedIPRanges: [] },
        networkProfile: { loadBalancerSku: "Standard" },
      },
      ranges,
      { verdict: "change", change: { kind: "add-authorized-ip-ranges", ranges } },
    ],
    [
      "ranges of blanks only count as none",
      { apiServerAccessProfile: { authorizedIPRanges: [""] } },
      ranges,
      { verdict: "change", change: { kind: "add-authorized-ip-ranges", ranges } },
    ],
    [
      "all sections null",
      { apiServerAccessProfile: null, networkProfile: null, agentPoolProfiles: null },
      ranges,
      { verdict: "change", change: { kind: "add-authorized-ip-ranges", ranges } },
    ],
    [
      "authorizedIPRanges: null, a null pool",
      { apiServerAccessProfile: { authorizedIPRanges: null }, agentPoolProfiles: [null, { name: "np" }] },
      ranges,
      { verdict: "change", change: { kind: "add-authorized-ip-ranges", ranges } },
    ],
    [
      "configured ranges deduplicated and trimmed",
      {},
      ["10.0.0.0/8", " 10.0.0.0/8", "192.0.2.1", "", "10.0.0.0/8 "],
      {
        verdict: "change",
        change: { kind: "add-authorized-ip-ranges", ranges: ["10.0.0.0/8", "192.0.2.1"] },
      },
    ],
    ["nothing configured", {}, [], { verdict: "manual", reasonHas: ["AUTOPROTECT_AUTHORIZED_IP_RANGES"] }],
    [
      "Basic load balancer",
      { networkProfile: { loadBalancerSku: "Basic" } },
      ranges,
      { verdict: "manual", reasonHas: ["Basic load balancer"] },
    ],
    [
      "basic load balancer",
      { networkProfile: { loadBalancerSku: "basic" } },
      ranges,
      { verdict: "manual", reasonHas: ["Basic load balancer"] },
    ],
    [
      "pools with node public IPs are named",
      {
        agentPoolProfiles: [
          { name: "system" },
          { name: "np1", enableNodePublicIP: true },
          { name: "np2", enableNodePublicIP: true },
          { name: "np3", enableNodePublicIP: false },
        ],
      },
      ranges,
      { verdict: "manual", reasonHas: ["np1 and np2 have node public IPs"] },
    ],
    [
      "every blocker is named",
      {
        networkProfile: { loadBalancerSku: "BASIC" },
        agentPoolProfiles: [{ name: "np1", enableNodePublicIP: true }],
      },
      [],
      {
        verdict: "manual",
        reasonHas: [
          "AUTOPROTECT_AUTHORIZED_IP_RANGES",
          "Basic load balancer",
          "pool np1 has node public IPs",
        ],
      },
    ],
  ];
  it.each(cases)("%s", (_name, fields, configured, expected) => {
    check(
      planAuthorizedIps(deepFreeze(input(fields, { config: { authorizedIpRanges: configured } }))),
      expected,
    );
  });

  it("takes the minimum prefix from configuration", () => {
    const listing = (range: string, minAuthorizedPrefix: number) =>
      planAuthorizedIps(
        input(
          { apiServerAccessProfile: { authorizedIPRanges: [range] } },
          { config: { minAuthorizedPrefix } },
        ),
      ).verdict;
    expect(listing("10.0.0.0/8", 8)).toBe("compliant");
    expect(listing("10.0.0.0/8", 16)).toBe("manual");
    expect(listing("10.1.0.0/16", 16)).toBe("compliant");
    expect(listing("0.0.0.0/1", 1)).toBe("compliant");
    expect(listing("0.0.0.0/0", 1)).toBe("manual");
  });

  it("does not name pools without node public IPs", () => {
    const finding = planAuthorizedIps(
      input({ agentPoolProfiles: [{ name: "system" }, { name: "np1", enableNodePublicIP: true }] }),
    );
    expect(finding.reason).not.toContain("system");
  });
});

describe("planSensorWorkspace", () => {
  const cases: [string, Record<string, unknown>, WorkspaceSnapshot, Expected][] = [
    [
      "public ingestion on",
      {},
      found(CONFIG_WORKSPACE, { publicNetworkAccessForIngestion: "Enabled" }),
      { verdict: "compliant" },
    ],
    ["public ingestion not reported", {}, found(CONFIG_WORKSPACE), { verdict: "compliant" }],
    [
      "public ingestion off behind a private link scope",
      {},
      found(CONFIG_WORKSPACE, {
        publicNetworkAccessForIngestion: "Disabled",
        privateLinkScopeIds: [PRIVATE_LINK_SCOPE],
      }),
      { verdict: "compliant" },
    ],
    [
      "public ingestion off without private link",
      {},
      found(CONFIG_WORKSPACE, { publicNetworkAccessForIngestion: "disabled" }),
      {
        verdict: "manual",
        reasonHas: [CONFIG_WORKSPACE, "enable public ingestion", "Azure Monitor Private Link Scope"],
      },
    ],
    [
      "scope list null counts as none",
      {},
      found(CONFIG_WORKSPACE, {
        publicNetworkAccessForIngestion: "DISABLED",
        privateLinkScopeIds: null as unknown as string[],
      }),
      { verdict: "manual", reasonHas: ["Azure Monitor Private Link Scope"] },
    ],
    [
      "no workspace",
      {},
      NO_WORKSPACE,
      { verdict: "manual", reasonHas: ["AUTOPROTECT_WORKSPACE_ID", "Container insights"] },
    ],
    [
      "missing configured workspace",
      {},
      { state: "missing", resourceId: CONFIG_WORKSPACE },
      {
        verdict: "manual",
        reasonHas: [CONFIG_WORKSPACE, "was not found", "create it", "AUTOPROTECT_WORKSPACE_ID"],
      },
    ],
    [
      "missing workspace the cluster already uses",
      { ...COMPLIANT, ...defender(CLUSTER_WORKSPACE, true) },
      { state: "missing", resourceId: CLUSTER_WORKSPACE },
      { verdict: "manual", reasonHas: [CLUSTER_WORKSPACE, "was not found", "create it", "Defender profile"] },
    ],
    [
      "azure-rest-api-specs' ManagedClustersCreate_SecurityProfile workspace id",
      defender(SPEC_EXAMPLE_WORKSPACE, true),
      invalid(SPEC_EXAMPLE_WORKSPACE),
      {
        verdict: "manual",
        reasonHas: [
          SPEC_EXAMPLE_WORKSPACE,
          "not a valid workspace id",
          "'SUB_ID' is not a GUID",
          "Defender profile",
        ],
      },
    ],
    [
      "a cluster id where a workspace belongs",
      defender(cluster().id, true),
      invalid(cluster().id ?? ""),
      { verdict: "manual", reasonHas: ["not a valid workspace id", "not a Log Analytics workspace"] },
    ],
  ];
  it.each(cases)("%s", (_name, fields, workspace, expected) => {
    check(planSensorWorkspace(deepFreeze(input(fields, { workspace }))), expected);
  });
});
