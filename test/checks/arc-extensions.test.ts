import { describe, expect, it } from "vitest";
import {
  arcWorkspaceToRead,
  planArcCheck,
  planArcCluster,
  type ArcCheckId,
  type ArcCheckInput,
} from "../../src/checks/arc-extensions.js";
import type { ExtensionSnapshot } from "../../src/model/arc.js";
import { CHECK_IDS } from "../../src/model/checks.js";
import type { WorkspaceSnapshot } from "../../src/model/cluster.js";
import { CONFIG_WORKSPACE, INSIGHTS_WORKSPACE, NO_WORKSPACE, found, invalid } from "./builders.js";

const ARC_ID =
  "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-edge/providers/Microsoft.Kubernetes/connectedClusters/edge-1";
const DEFENDER = "microsoft.azuredefender.kubernetes";
const POLICY = "microsoft.policyinsights";

function input(
  cluster: Record<string, unknown> = {},
  extensions: ExtensionSnapshot[] = [],
  options: {
    workspace?: WorkspaceSnapshot;
    config?: Partial<ArcCheckInput["config"]>;
    groupTags?: Record<string, string>;
  } = {},
): ArcCheckInput {
  return {
    cluster: { id: ARC_ID, connectivityStatus: "Connected", distribution: "k3s", ...cluster },
    extensions,
    workspace: options.workspace ?? found(CONFIG_WORKSPACE),
    config: {
      workspaceId: CONFIG_WORKSPACE,
      excludeTag: "autoprotect-exclude",
      checks: [...CHECK_IDS],
      ...options.config,
    },
    ...(options.groupTags === undefined ? {} : { resourceGroupTags: options.groupTags }),
  };
}

function ext(extensionType: string, fields: Partial<ExtensionSnapshot> = {}): ExtensionSnapshot {
  return {
    name: extensionType === POLICY ? "azurepolicy" : extensionType,
    extensionType,
    provisioningState: "Succeeded",
    ...fields,
  };
}

const sensorOk = ext(DEFENDER, {
  configurationSettings: { logAnalyticsWorkspaceResourceID: CONFIG_WORKSPACE },
});

function verdicts(i: ArcCheckInput): Record<string, string> {
  return Object.fromEntries(planArcCluster(i).map(({ check, finding }) => [check, finding.verdict]));
}

describe("Arc-enabled clusters: the Defender and Azure Policy extensions", () => {
  it.each<[string, ArcCheckInput, Record<ArcCheckId, string>]>([
    [
      "both installed and Succeeded",
      input({}, [sensorOk, ext(POLICY)]),
      { "arc.defender-sensor": "compliant", "arc.azure-policy": "compliant" },
    ],
    [
      "none installed on a connected cluster",
      input(),
      { "arc.defender-sensor": "change", "arc.azure-policy": "change" },
    ],
    [
      "types compared without regard to case",
      input({}, [
        ext("Microsoft.AzureDefender.Kubernetes", {
          configurationSettings: { loganalyticsworkspaceresourceid: CONFIG_WORKSPACE },
        }),
        ext("Microsoft.PolicyInsights"),
      ]),
      { "arc.defender-sensor": "compliant", "arc.azure-policy": "compliant" },
    ],
    [
      "an extension of another name but the right type counts",
      input({}, [ext(POLICY, { name: "my-policy" })]),
      { "arc.defender-sensor": "change", "arc.azure-policy": "compliant" },
    ],
    [
      "Failed is manual, never reinstalled",
      input({}, [
        ext(DEFENDER, { provisioningState: "Failed" }),
        ext(POLICY, { provisioningState: "Canceled" }),
      ]),
      { "arc.defender-sensor": "manual", "arc.azure-policy": "manual" },
    ],
    [
      "Creating is deferred",
      input({}, [
        ext(DEFENDER, { provisioningState: "Creating" }),
        ext(POLICY, { provisioningState: "Updating" }),
      ]),
      { "arc.defender-sensor": "deferred", "arc.azure-policy": "deferred" },
    ],
    [
      "Offline: deferred, nothing written",
      input({ connectivityStatus: "Offline" }),
      { "arc.defender-sensor": "deferred", "arc.azure-policy": "deferred" },
    ],
    [
      "Expired, Connecting, no status: deferred",
      input({ connectivityStatus: undefined }),
      { "arc.defender-sensor": "deferred", "arc.azure-policy": "deferred" },
    ],
    [
      "Offline but installed: compliant (it was installed while connected)",
      input({ connectivityStatus: "Expired" }, [sensorOk, ext(POLICY)]),
      { "arc.defender-sensor": "compliant", "arc.azure-policy": "compliant" },
    ],
    [
      "eks: Azure protects it without both extensions? only the sensor is skipped for eks",
      input({ distribution: "EKS" }),
      { "arc.defender-sensor": "skipped", "arc.azure-policy": "change" },
    ],
    [
      "AKS (as ARM spells it): both skipped",
      input({ distribution: "AKS" }),
      { "arc.defender-sensor": "skipped", "arc.azure-policy": "skipped" },
    ],
    [
      "aks_management and gke: the sensor only",
      input({ distribution: "aks_management" }),
      { "arc.defender-sensor": "skipped", "arc.azure-policy": "change" },
    ],
    [
      "our exclusion tag on the cluster",
      input({ tags: { "AUTOPROTECT-EXCLUDE": "TRUE" } }),
      { "arc.defender-sensor": "skipped", "arc.azure-policy": "skipped" },
    ],
    [
      "our exclusion tag on the resource group",
      input({}, [], { groupTags: { "autoprotect-exclude": "true" } }),
      { "arc.defender-sensor": "skipped", "arc.azure-policy": "skipped" },
    ],
    [
      "Defender's sensor opt-out skips the sensor only",
      input({ tags: { ms_defender_container_exclude_sensors: "True" } }),
      { "arc.defender-sensor": "skipped", "arc.azure-policy": "change" },
    ],
    [
      "Defender's policy opt-out skips the policy only",
      input({ tags: { MS_DEFENDER_CONTAINER_EXCLUDE_AZUREPOLICY: "true" } }),
      { "arc.defender-sensor": "change", "arc.azure-policy": "skipped" },
    ],
    [
      "an opt-out tag set to false does nothing",
      input({ tags: { ms_defender_container_exclude_sensors: "false" } }),
      { "arc.defender-sensor": "change", "arc.azure-policy": "change" },
    ],
    [
      "an opt-out tag on the resource group does nothing (Defender reads the cluster's)",
      input({}, [], { groupTags: { ms_defender_container_exclude_sensors: "true" } }),
      { "arc.defender-sensor": "change", "arc.azure-policy": "change" },
    ],
  ])("%s", (_name, i, expected) => {
    expect(verdicts(i)).toEqual(expected);
  });

  it("installs the sensor as Azure's policy does, with the configured workspace", () => {
    const finding = planArcCheck("arc.defender-sensor", input());
    expect(finding).toMatchObject({
      verdict: "change",
      reason: "the Defender extension is not installed",
      change: {
        name: DEFENDER,
        body: {
          identity: { type: "SystemAssigned" },
          properties: {
            extensionType: DEFENDER,
            autoUpgradeMinorVersion: true,
            releaseTrain: "Stable",
            scope: { cluster: { releaseNamespace: "mdc" } },
            configurationSettings: { logAnalyticsWorkspaceResourceID: CONFIG_WORKSPACE },
          },
        },
      },
    });
    expect(planArcCheck("arc.azure-policy", input())).toMatchObject({
      change: {
        name: "azurepolicy",
        body: {
          properties: {
            extensionType: POLICY,
            scope: { cluster: { releaseNamespace: "kube-system" } },
            configurationSettings: {},
          },
        },
      },
    });
  });

  it("takes the workspace Container insights sends to when none is configured, as for AKS", () => {
    const insights = ext("microsoft.azuremonitor.containers", {
      name: "azuremonitor-containers",
      configurationSettings: { logAnalyticsWorkspaceResourceID: INSIGHTS_WORKSPACE },
    });
    const i = input({}, [insights], {
      config: { workspaceId: undefined },
      workspace: found(INSIGHTS_WORKSPACE),
    });
    expect(arcWorkspaceToRead(i)).toBe(INSIGHTS_WORKSPACE);
    expect(planArcCheck("arc.defender-sensor", i)).toMatchObject({
      verdict: "change",
      details: { sensorWorkspace: INSIGHTS_WORKSPACE, workspaceSource: "containerInsights" },
    });
  });

  it.each<[string, ArcCheckInput, RegExp]>([
    [
      "no workspace known",
      input({}, [], { config: { workspaceId: undefined }, workspace: NO_WORKSPACE }),
      /no Log Analytics workspace is known for it: set AUTOPROTECT_WORKSPACE_ID/,
    ],
    [
      "the workspace does not exist",
      input({}, [], { workspace: { state: "missing", resourceId: CONFIG_WORKSPACE } }),
      /was not found: set AUTOPROTECT_WORKSPACE_ID to an existing workspace/,
    ],
    [
      "the workspace id is not one",
      input({}, [], { workspace: invalid("/subscriptions/x/resourcegroups/y") }),
      /is not a valid workspace id/,
    ],
    [
      "installed without a workspace",
      input({}, [ext(DEFENDER)]),
      /names no Log Analytics workspace: set logAnalyticsWorkspaceResourceID/,
    ],
    [
      "the name is taken by another type",
      input({}, [ext("acme.agent", { name: DEFENDER })]),
      /its name 'microsoft\.azuredefender\.kubernetes' is taken by an extension of type acme\.agent: autoprotect does not overwrite it/,
    ],
  ])("the sensor is manual when %s", (_name, i, reason) => {
    const finding = planArcCheck("arc.defender-sensor", i);
    expect(finding.verdict).toBe("manual");
    expect(finding.reason).toMatch(reason);
  });

  it("says what a Failed extension reports: its error and statuses, and what to do", () => {
    const failed = ext(POLICY, {
      provisioningState: "Failed",
      errorInfo: { code: "HelmInstallFailed", message: "timed out waiting for the condition" },
      statuses: [
        {
          code: "InstallationFailed",
          level: "Error",
          displayStatus: "Failed",
          message: "gatekeeper pods not ready",
        },
      ],
    });
    const finding = planArcCheck("arc.azure-policy", input({}, [failed]));
    expect(finding.verdict).toBe("manual");
    expect(finding.reason).toBe(
      "the Azure Policy extension 'azurepolicy' is Failed (HelmInstallFailed: timed out waiting for the condition; " +
        "InstallationFailed: gatekeeper pods not ready): find the cause (`az k8s-extension show`), fix it or delete " +
        "the extension, and the next run installs it again",
    );
    expect(finding.details).toMatchObject({
      errorInfo: { code: "HelmInstallFailed" },
      statuses: [{ code: "InstallationFailed" }],
    });
  });

  it("defers a disconnected cluster with the hour's retry and the status in the reason", () => {
    const finding = planArcCheck("arc.azure-policy", input({ connectivityStatus: "Offline" }));
    expect(finding).toMatchObject({
      verdict: "deferred",
      retryAfterSeconds: 3600,
      details: { connectivityStatus: "Offline" },
    });
    expect(finding.reason).toMatch(
      /connectivity status is Offline, and an extension installs only on a connected cluster/,
    );
  });

  it("names the distribution it skips", () => {
    expect(planArcCheck("arc.defender-sensor", input({ distribution: "gke" })).reason).toBe(
      "the cluster's distribution is gke, which Azure protects without the Defender extension (Azure's own policy skips it too)",
    );
  });

  it("reads a workspace only when the sensor would be installed", () => {
    expect(arcWorkspaceToRead(input())).toBe(CONFIG_WORKSPACE);
    expect(arcWorkspaceToRead(input({}, [sensorOk]))).toBeUndefined();
    expect(arcWorkspaceToRead(input({ connectivityStatus: "Offline" }))).toBeUndefined();
    expect(arcWorkspaceToRead(input({ distribution: "eks" }))).toBeUndefined();
    expect(arcWorkspaceToRead(input({}, [], { config: { checks: ["arc.azure-policy"] } }))).toBeUndefined();
  });

  it("plans only the enabled checks", () => {
    expect(
      planArcCluster(input({}, [], { config: { checks: ["arc.azure-policy"] } })).map((f) => f.check),
    ).toEqual(["arc.azure-policy"]);
  });
});
