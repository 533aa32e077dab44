import { describe, expect, it } from "vitest";
import {
  applyClusterChanges,
  describeClusterChanges,
  planClusterProtection,
  type ClusterFinding,
} from "../../src/checks/index.js";
import type { ClusterChange } from "../../src/model/cluster.js";
import type { CheckId } from "../../src/model/checks.js";
import {
  cluster,
  CLUSTER_WORKSPACE,
  COMPLIANT,
  CONFIG_WORKSPACE,
  deepFreeze,
  found,
  input,
  invalid,
  SPEC_EXAMPLE_WORKSPACE,
} from "./builders.js";

/** Needs every cluster check to change something. */
const OPEN: Record<string, unknown> = {
  provisioningState: "Succeeded",
  powerState: { code: "Running" },
  addonProfiles: { azurePolicy: { enabled: false, config: { version: "v2" } } },
  networkProfile: { loadBalancerSku: "Standard" },
  agentPoolProfiles: [{ name: "system" }],
};

const summary = (entries: ClusterFinding[]) => entries.map(({ check, finding }) => [check, finding.verdict]);

describe("planClusterProtection", () => {
  it("plans every cluster check in order", () => {
    expect(summary(planClusterProtection(deepFreeze(input(OPEN))))).toEqual([
      ["aks.defender-sensor", "change"],
      ["aks.azure-policy", "change"],
      ["aks.authorized-ips", "change"],
      ["aks.sensor-workspace", "compliant"],
    ]);
  });

  it("runs only the configured checks, still in order", () => {
    const checks: CheckId[] = ["aks.sensor-workspace", "defender.containers-plan", "aks.azure-policy"];
    expect(summary(planClusterProtection(input(OPEN, { config: { checks } })))).toEqual([
      ["aks.azure-policy", "change"],
      ["aks.sensor-workspace", "compliant"],
    ]);
    expect(planClusterProtection(input(OPEN, { config: { checks: ["defender.apis-plan"] } }))).toEqual([]);
  });

  const exclusions: [
    string,
    Record<string, unknown>,
    Record<string, string> | undefined,
    string,
    "resource" | "resourceGroup",
  ][] = [
    [
      "tag on the cluster",
      { tags: { "AutoProtect-Exclude": "TRUE" } },
      undefined,
      "autoprotect-exclude",
      "resource",
    ],
    [
      "tag on the resource group",
      {},
      { "autoprotect-exclude": "true" },
      "autoprotect-exclude",
      "resourceGroup",
    ],
    ["custom tag on the cluster", { tags: { "no-defender": " true" } }, undefined, "No-Defender", "resource"],
  ];
  it.each(exclusions)(
    "skips every check when excluded by %s",
    (_name, fields, resourceGroupTags, excludeTag, scope) => {
      const entries = planClusterProtection(
        input(
          { ...OPEN, provisioningState: "Updating", ...fields },
          { config: { excludeTag }, ...(resourceGroupTags === undefined ? {} : { resourceGroupTags }) },
        ),
      );
      expect(entries).toHaveLength(4);
      for (const { finding } of entries) {
        expect(finding).toEqual({
          verdict: "skipped",
          reason: "excluded by tag",
          details: expect.objectContaining({ scope }) as unknown,
        });
      }
    },
  );

  it("does not skip for a tag set to false", () => {
    const entries = planClusterProtection(input({ ...OPEN, tags: { "autoprotect-exclude": "false" } }));
    expect(entries.every(({ finding }) => finding.verdict !== "skipped")).toBe(true);
  });

  const gates: [string, Record<string, unknown>, number, string][] = [
    ["Updating", { provisioningState: "Updating" }, 300, "Updating"],
    [
      "Creating while stopped: the provisioning state comes first",
      { provisioningState: "Creating", powerState: { code: "Stopped" } },
      300,
      "Creating",
    ],
    ["Stopped", { powerState: { code: "Stopped" } }, 21600, "once the cluster runs"],
    [
      "stopped (lower case) without provisioning state",
      { provisioningState: undefined, powerState: { code: "stopped" } },
      21600,
      "once the cluster runs",
    ],
  ];
  it.each(gates)(
    "defers changes only, when the cluster is %s",
    (_name, fields, retryAfterSeconds, reasonHas) => {
      const entries = planClusterProtection(
        input({ ...OPEN, ...fields }, { config: { authorizedIpRanges: [] } }),
      );
      expect(summary(entries)).toEqual([
        ["aks.defender-sensor", "deferred"],
        ["aks.azure-policy", "deferred"],
        ["aks.authorized-ips", "manual"],
        ["aks.sensor-workspace", "compliant"],
      ]);
      const deferred = entries[1]?.finding;
      expect(deferred).toMatchObject({ verdict: "deferred", retryAfterSeconds });
      expect(deferred?.reason).toContain(reasonHas);
      expect(deferred?.reason).toContain("Azure Policy add-on");
      expect(deferred?.details).toMatchObject({ plannedAction: "enable the Azure Policy add-on" });
    },
  );

  it("hands a Failed cluster to a person with the last operation's error, and never writes it", () => {
    const failed = {
      ...OPEN,
      provisioningState: "Failed",
      status: {
        provisioningError: { code: "VMExtensionProvisioningError", message: "the node pool failed" },
      },
    };
    const entries = planClusterProtection(input(failed, { config: { authorizedIpRanges: [] } }));
    expect(summary(entries)).toEqual([
      ["aks.defender-sensor", "manual"],
      ["aks.azure-policy", "manual"],
      ["aks.authorized-ips", "manual"],
      ["aks.sensor-workspace", "compliant"],
    ]);
    const policy = entries[1]?.finding;
    expect(policy?.reason).toContain("Failed: VMExtensionProvisioningError (the node pool failed)");
    expect(policy?.reason).toContain("does not write a Failed cluster");
    expect(policy?.details).toMatchObject({ plannedAction: "enable the Azure Policy add-on" });
  });

  const writable: [string, Record<string, unknown>][] = [
    ["succeeded in lower case", { provisioningState: "succeeded" }],
    ["no provisioning state", { provisioningState: undefined }],
    ["no power state", { powerState: undefined }],
    ["powerState: null", { powerState: null }],
  ];
  it.each(writable)("changes a cluster with %s", (_name, fields) => {
    const entries = planClusterProtection(input({ ...OPEN, ...fields }));
    expect(entries[0]?.finding.verdict).toBe("change");
  });

  it("leaves a compliant cluster alone even when it is busy", () => {
    const entries = planClusterProtection(input({ ...COMPLIANT, provisioningState: "Updating" }));
    expect(entries.every(({ finding }) => finding.verdict === "compliant")).toBe(true);
  });
});

/** azure-rest-api-specs' ManagedClustersCreate_SecurityProfile example, as the SDK flattens it. */
const SPEC_SECURITY_PROFILE_EXAMPLE: Record<string, unknown> = {
  agentPoolProfiles: [
    {
      count: 3,
      enableNodePublicIP: true,
      mode: "System",
      name: "nodepool1",
      osType: "Linux",
      type: "VirtualMachineScaleSets",
      vmSize: "Standard_DS2_v2",
    },
  ],
  dnsPrefix: "dnsprefix1",
  kubernetesVersion: "",
  linuxProfile: { adminUsername: "azureuser", ssh: { publicKeys: [{ keyData: "keydata" }] } },
  networkProfile: {
    loadBalancerProfile: { managedOutboundIPs: { count: 2 } },
    loadBalancerSku: "standard",
    outboundType: "loadBalancer",
  },
  securityProfile: {
    defender: {
      logAnalyticsWorkspaceResourceId: SPEC_EXAMPLE_WORKSPACE,
      securityMonitoring: { enabled: true },
    },
    workloadIdentity: { enabled: true },
  },
  sku: { name: "Basic", tier: "Free" },
  tags: { archv2: "", tier: "production" },
};

describe("checks fail alone", () => {
  it("a workspace id that is not a valid resource id: each check says what it means for it", () => {
    const entries = planClusterProtection(
      deepFreeze(input(SPEC_SECURITY_PROFILE_EXAMPLE, { workspace: invalid(SPEC_EXAMPLE_WORKSPACE) })),
    );
    expect(summary(entries)).toEqual([
      ["aks.defender-sensor", "compliant"],
      // With the sensor on, ARM refuses any PUT that restates this profile: a person fixes it first.
      ["aks.azure-policy", "manual"],
      // The example's node pool has public IPs, which authorized ranges do not support.
      ["aks.authorized-ips", "manual"],
      ["aks.sensor-workspace", "manual"],
    ]);
    expect(entries[1]?.finding.reason).toMatch(
      /^the Azure Policy add-on is not installed; ARM refuses every write of this cluster while its Defender profile's workspace .*WORKSPACE_NAME is not a valid workspace id: point the cluster's Defender profile at an existing workspace$/,
    );
    expect(entries[1]?.finding.details).toMatchObject({ plannedAction: "enable the Azure Policy add-on" });
    expect(entries[2]?.finding.reason).toContain("nodepool1 has node public IPs");
    expect(entries[3]?.finding.reason).toContain("not a valid workspace id");
    // The check that does not read the workspace has the same finding whatever was read of it.
    const withWorkspace = planClusterProtection(
      input(SPEC_SECURITY_PROFILE_EXAMPLE, { workspace: found(CONFIG_WORKSPACE) }),
    );
    expect(withWorkspace[2]).toEqual(entries[2]);
  });

  it("with the sensor off, the same id concerns only the sensor and its workspace", () => {
    const off = {
      ...SPEC_SECURITY_PROFILE_EXAMPLE,
      securityProfile: {
        defender: {
          logAnalyticsWorkspaceResourceId: SPEC_EXAMPLE_WORKSPACE,
          securityMonitoring: { enabled: false },
        },
      },
    };
    const entries = planClusterProtection(
      deepFreeze(input(off, { workspace: invalid(SPEC_EXAMPLE_WORKSPACE) })),
    );
    expect(summary(entries)).toEqual([
      ["aks.defender-sensor", "manual"],
      ["aks.azure-policy", "change"],
      ["aks.authorized-ips", "manual"],
      ["aks.sensor-workspace", "manual"],
    ]);
    const withWorkspace = planClusterProtection(input(off, { workspace: found(CONFIG_WORKSPACE) }));
    expect(withWorkspace.slice(1, 3)).toEqual(entries.slice(1, 3));
  });

  it("a missing workspace the sensor already sends to holds back the other changes the same way", () => {
    const entries = planClusterProtection(
      input(
        { ...COMPLIANT, addonProfiles: {} },
        { workspace: { state: "missing", resourceId: CONFIG_WORKSPACE } },
      ),
    );
    expect(summary(entries)).toEqual([
      ["aks.defender-sensor", "compliant"],
      ["aks.azure-policy", "manual"],
      ["aks.authorized-ips", "compliant"],
      ["aks.sensor-workspace", "manual"],
    ]);
    expect(entries[1]?.finding.reason).toContain("names no existing workspace: create it or point");
  });

  it("a value no planner foresaw stops only the check that reads it", () => {
    const odd = input({ ...COMPLIANT, addonProfiles: { azurepolicy: { enabled: false } } });
    Object.defineProperty(odd.cluster, "apiServerAccessProfile", {
      get() {
        throw new TypeError("cannot read apiServerAccessProfile");
      },
    });
    const entries = planClusterProtection(odd);
    expect(summary(entries)).toEqual([
      ["aks.defender-sensor", "compliant"],
      ["aks.azure-policy", "change"],
      ["aks.authorized-ips", "manual"],
      ["aks.sensor-workspace", "compliant"],
    ]);
    expect(entries[2]?.finding.reason).toContain("cannot read apiServerAccessProfile");
  });

  it.each([
    ["authorizedIPRanges that is not a list", { authorizedIPRanges: "203.0.113.0/24" }, "not a list"],
    ["a range that is not a CIDR", { authorizedIPRanges: ["203.0.113.0/24", "AzureCloud"] }, "'AzureCloud'"],
    ["a number among the ranges", { authorizedIPRanges: [42] }, "'42'"],
  ])("%s makes aks.authorized-ips manual, and only it", (_name, access, named) => {
    const entries = planClusterProtection(
      deepFreeze(input({ ...COMPLIANT, apiServerAccessProfile: access })),
    );
    expect(summary(entries)).toEqual([
      ["aks.defender-sensor", "compliant"],
      ["aks.azure-policy", "compliant"],
      ["aks.authorized-ips", "manual"],
      ["aks.sensor-workspace", "compliant"],
    ]);
    expect(entries[2]?.finding.reason).toContain(named);
    expect(entries[2]?.finding.reason).toContain("what the API server accepts is unknown");
  });
});

describe("applyClusterChanges", () => {
  const all: ClusterChange[] = [
    { kind: "enable-defender-sensor", workspaceResourceId: CONFIG_WORKSPACE },
    { kind: "enable-azure-policy", addonKey: "azurepolicy" },
    { kind: "add-authorized-ip-ranges", ranges: ["203.0.113.0/24", "10.0.0.0/8"] },
  ];

  it("applies every change to a bare cluster and touches nothing else", () => {
    const before = deepFreeze(
      cluster({
        tags: { env: "prod" },
        eTag: "abc",
        kubernetesVersion: "1.30.4",
        futureProperty: { nested: [1, 2] },
        securityProfile: { workloadIdentity: { enabled: true } },
        networkProfile: { loadBalancerSku: "standard" },
      }),
    );
    expect(applyClusterChanges(before, all)).toStrictEqual(
      cluster({
        tags: { env: "prod" },
        eTag: "abc",
        kubernetesVersion: "1.30.4",
        futureProperty: { nested: [1, 2] },
        securityProfile: {
          workloadIdentity: { enabled: true },
          defender: {
            securityMonitoring: { enabled: true },
            logAnalyticsWorkspaceResourceId: CONFIG_WORKSPACE,
          },
        },
        networkProfile: { loadBalancerSku: "standard" },
        addonProfiles: { azurepolicy: { enabled: true } },
        apiServerAccessProfile: { authorizedIPRanges: ["203.0.113.0/24", "10.0.0.0/8"] },
      }),
    );
  });

  it("replaces null sections", () => {
    const before = cluster({ securityProfile: null, addonProfiles: null, apiServerAccessProfile: null });
    const after = applyClusterChanges(before, all) as unknown as Record<string, unknown>;
    expect(after.securityProfile).toEqual({
      defender: { securityMonitoring: { enabled: true }, logAnalyticsWorkspaceResourceId: CONFIG_WORKSPACE },
    });
    expect(after.addonProfiles).toEqual({ azurepolicy: { enabled: true } });
    expect(after.apiServerAccessProfile).toEqual({ authorizedIPRanges: ["203.0.113.0/24", "10.0.0.0/8"] });
  });

  it("never replaces the cluster's workspace", () => {
    const before = cluster({
      securityProfile: {
        defender: {
          logAnalyticsWorkspaceResourceId: CLUSTER_WORKSPACE,
          securityMonitoring: { enabled: false },
        },
      },
    });
    expect(applyClusterChanges(before, [all[0] as ClusterChange]).securityProfile).toEqual({
      defender: { logAnalyticsWorkspaceResourceId: CLUSTER_WORKSPACE, securityMonitoring: { enabled: true } },
    });
  });

  it("enables the add-on under the key the cluster already uses and keeps its config", () => {
    const before = cluster({
      addonProfiles: {
        AzurePolicy: { enabled: false, config: { version: "v2" } },
        omsagent: { enabled: true },
      },
    });
    expect(
      applyClusterChanges(before, [{ kind: "enable-azure-policy", addonKey: "azurepolicy" }]).addonProfiles,
    ).toEqual({
      AzurePolicy: { enabled: true, config: { version: "v2" } },
      omsagent: { enabled: true },
    });
  });

  it("appends only ranges not already there, keeping the existing order", () => {
    const before = cluster({
      apiServerAccessProfile: {
        authorizedIPRanges: ["198.51.100.0/24", "10.0.0.0/8"],
        enablePrivateCluster: false,
      },
    });
    const after = applyClusterChanges(before, [
      { kind: "add-authorized-ip-ranges", ranges: ["10.0.0.0/8 ", "192.0.2.1", "192.0.2.1"] },
    ]);
    expect(after.apiServerAccessProfile).toEqual({
      authorizedIPRanges: ["198.51.100.0/24", "10.0.0.0/8", "192.0.2.1"],
      enablePrivateCluster: false,
    });
  });

  it("returns a copy even without changes", () => {
    const before = cluster(COMPLIANT);
    const after = applyClusterChanges(before, []);
    expect(after).toStrictEqual(before);
    expect(after).not.toBe(before);
    expect(after.addonProfiles).not.toBe(before.addonProfiles);
  });
});

describe("describeClusterChanges", () => {
  it("says nothing for no change", () => {
    expect(describeClusterChanges([])).toBe("");
  });
  it("names every change in one sentence", () => {
    expect(
      describeClusterChanges([
        { kind: "enable-defender-sensor", workspaceResourceId: CONFIG_WORKSPACE },
        { kind: "enable-azure-policy", addonKey: "azurePolicy" },
        { kind: "add-authorized-ip-ranges", ranges: ["203.0.113.0/24", "10.0.0.0/8"] },
      ]),
    ).toBe(
      `enable the Defender sensor with Log Analytics workspace ${CONFIG_WORKSPACE}, enable the Azure Policy add-on and restrict the API server to 203.0.113.0/24 and 10.0.0.0/8`,
    );
  });
});
