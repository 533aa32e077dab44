/**
 * Arc-enabled Kubernetes clusters: the Defender sensor and the Azure Policy extension, each a cluster
 * extension (`Microsoft.KubernetesConfiguration/extensions`). The rules respect what Azure's own
 * automation respects, then add autoprotect's:
 *
 * - Azure's built-in DeployIfNotExists policies decide compliance on the extension's type and
 *   `provisioningState` `Succeeded` ("[Preview]: Configure Azure Arc enabled Kubernetes clusters to
 *   install Microsoft Defender for Cloud extension", 708b60a6-d253-4fe0-9114-4be4c00f012c, 7.3.0-preview;
 *   "Configure Azure Arc enabled Kubernetes clusters to install the Azure Policy extension",
 *   0adc5395-9169-4b9b-8687-af838d69410a, 1.1.0; Azure/azure-policy, built-in-policies/policyDefinitions/
 *   Kubernetes/ASC_Azure_Defender_Arc_Extension_DINE.json and ArcPolicyExtension_DINE.json). They skip
 *   the distributions Azure protects another way: `aks`, `aks_management`, `eks`, `gke` for the Defender
 *   extension, `aks` for the policy one (Azure Policy compares strings without regard to case, and ARM
 *   reports `AKS` in azure-rest-api-specs' connectedClusters 2024-01-01 GetClusterExample).
 * - Defender's own opt-out tags on the cluster resource, `ms_defender_container_exclude_sensors` and
 *   `ms_defender_container_exclude_azurepolicy` set to `true` (Defender for Cloud's "Exclude specific
 *   clusters" steps for Arc-enabled clusters), skip the matching check only.
 * - The sensor's workspace is `configurationSettings.logAnalyticsWorkspaceResourceID`, the setting the
 *   policy and `az k8s-extension create` write, and the one "Deploy Defender for Containers on
 *   Arc-enabled Kubernetes programmatically" documents (its `auditLogPath` is optional and
 *   distribution-specific, so autoprotect neither sets nor requires it).
 * - Ours: an extension cannot install on a cluster that is not `Connected`, so such a cluster is
 *   deferred (the wait cap turns it manual) and never written; a `Failed` extension is `manual` with its
 *   statuses and error (installing again would fail again); one being created is deferred; a name taken
 *   by an extension of another type is `manual` (a PUT would overwrite it).
 */
import type { CheckId, Finding } from "../model/checks.js";
import type { ConnectedClusterSnapshot, ExtensionInstall, ExtensionSnapshot } from "../model/arc.js";
import type { WorkspaceSnapshot } from "../model/cluster.js";
import type { Config } from "../model/config.js";
import { EXCLUDED_BY_TAG, findTagExclusion } from "./exclusion.js";
import { fields, items, keysLike, nonBlankText, sameWord } from "./read.js";

export const ARC_CHECKS = ["arc.defender-sensor", "arc.azure-policy"] as const satisfies readonly CheckId[];
export type ArcCheckId = (typeof ARC_CHECKS)[number];

/** The workspace setting the Defender extension reads (policy 708b60a6, `az k8s-extension`). */
export const WORKSPACE_SETTING = "logAnalyticsWorkspaceResourceID";
/** Container insights on Arc (`microsoft.azuremonitor.containers`) names its workspace the same way. */
const CONTAINER_INSIGHTS_TYPE = "microsoft.azuremonitor.containers";

interface ExtensionRule {
  readonly extensionType: string;
  /** The name Azure's policy gives the extension it installs. */
  readonly name: string;
  /** Where the policy installs it. */
  readonly releaseNamespace: string;
  readonly excludedDistributions: readonly string[];
  readonly optOutTag: string;
  readonly what: string;
}

export const ARC_EXTENSIONS: Readonly<Record<ArcCheckId, ExtensionRule>> = {
  "arc.defender-sensor": {
    extensionType: "microsoft.azuredefender.kubernetes",
    name: "microsoft.azuredefender.kubernetes",
    releaseNamespace: "mdc",
    excludedDistributions: ["aks", "aks_management", "eks", "gke"],
    optOutTag: "ms_defender_container_exclude_sensors",
    what: "the Defender extension",
  },
  "arc.azure-policy": {
    extensionType: "microsoft.policyinsights",
    name: "azurepolicy",
    releaseNamespace: "kube-system",
    excludedDistributions: ["aks"],
    optOutTag: "ms_defender_container_exclude_azurepolicy",
    what: "the Azure Policy extension",
  },
};

/** A cluster that is not connected is looked at again this often until the wait cap turns it manual. */
export const DISCONNECTED_RETRY_SECONDS = 3600;
/** An extension being created, updated or deleted is looked at again after this long. */
export const EXTENSION_BUSY_RETRY_SECONDS = 300;

export interface ArcCheckInput {
  readonly cluster: ConnectedClusterSnapshot;
  readonly extensions: readonly ExtensionSnapshot[];
  readonly resourceGroupTags?: Readonly<Record<string, string>>;
  /** The engine's read of the workspace `arcSensorWorkspace` names (only needed to install the sensor). */
  readonly workspace: WorkspaceSnapshot;
  readonly config: Pick<Config, "workspaceId" | "excludeTag" | "checks">;
}

export interface ArcFinding {
  readonly check: ArcCheckId;
  readonly finding: Finding<ExtensionInstall>;
}

function isType(extension: ExtensionSnapshot, type: string): boolean {
  return sameWord(extension.extensionType, type);
}

/** The extension of a type; the first one that succeeded when there are several. */
export function extensionOfType(
  extensions: readonly ExtensionSnapshot[],
  type: string,
): ExtensionSnapshot | undefined {
  const ofType = extensions.filter((e) => isType(e, type));
  return ofType.find((e) => sameWord(e.provisioningState, "Succeeded")) ?? ofType[0];
}

/** A configuration setting, its key compared without regard to case (the CLI lower-cases it on input). */
function setting(extension: ExtensionSnapshot | undefined, key: string): string | undefined {
  const settings = fields(extension?.configurationSettings);
  for (const k of keysLike(settings, key)) {
    const value = nonBlankText(settings?.[k]);
    if (value !== undefined) return value.trim();
  }
  return undefined;
}

export type ArcWorkspaceSource = "configuration" | "containerInsights";

/**
 * The workspace a Defender extension autoprotect installs sends to, in AKS's order after the cluster's
 * own (an installed extension keeps whatever it has): AUTOPROTECT_WORKSPACE_ID, then the one Container
 * insights on the cluster sends to, so that a cluster's monitoring data stays in one place.
 */
export function arcSensorWorkspace(
  extensions: readonly ExtensionSnapshot[],
  configuredWorkspaceId: string | undefined,
): { resourceId: string; source: ArcWorkspaceSource } | undefined {
  const configured = nonBlankText(configuredWorkspaceId);
  if (configured !== undefined) return { resourceId: configured.trim(), source: "configuration" };
  const insights = setting(extensionOfType(extensions, CONTAINER_INSIGHTS_TYPE), WORKSPACE_SETTING);
  if (insights !== undefined) return { resourceId: insights, source: "containerInsights" };
  return undefined;
}

/**
 * The workspace the engine must read for this cluster: only when the sensor check may install the
 * extension (enabled, applicable, no Defender extension yet, the cluster connected).
 */
export function arcWorkspaceToRead(input: Omit<ArcCheckInput, "workspace">): string | undefined {
  const check = "arc.defender-sensor";
  if (!input.config.checks.includes(check) || arcCheckSkipped(check, input) !== undefined) return undefined;
  if (extensionOfType(input.extensions, ARC_EXTENSIONS[check].extensionType) !== undefined) return undefined;
  if (disconnected(input.cluster) !== undefined) return undefined;
  return arcSensorWorkspace(input.extensions, input.config.workspaceId)?.resourceId;
}

/** The statuses and error an extension reports, for a person to read. */
function extensionProblem(extension: ExtensionSnapshot): { text: string; details: Record<string, unknown> } {
  const error = fields(extension.errorInfo);
  const code = nonBlankText(error?.code);
  const message = nonBlankText(error?.message);
  const statuses = items(extension.statuses)
    .map((s) => fields(s))
    .filter((s) => s !== undefined)
    .map((s) => ({
      code: nonBlankText(s.code) ?? null,
      level: nonBlankText(s.level) ?? null,
      displayStatus: nonBlankText(s.displayStatus) ?? null,
      message: nonBlankText(s.message) ?? null,
    }));
  const parts = [
    ...(code === undefined ? [] : [`${code}${message === undefined ? "" : `: ${message}`}`]),
    ...statuses
      .filter((s) => s.message !== null && s.message !== message)
      .map((s) => `${s.code ?? s.displayStatus ?? "status"}: ${s.message ?? ""}`),
  ];
  return {
    text: parts.length === 0 ? "" : ` (${parts.join("; ")})`,
    details: { ...(code === undefined ? {} : { code }), errorInfo: error ?? null, statuses },
  };
}

/** What an extension of the right type says about the check, or undefined when none is installed. */
function installedFinding(check: ArcCheckId, extension: ExtensionSnapshot): Finding<ExtensionInstall> {
  const rule = ARC_EXTENSIONS[check];
  const state = nonBlankText(extension.provisioningState) ?? "Succeeded";
  const base = { extensionName: extension.name, provisioningState: state };
  if (sameWord(state, "Succeeded")) {
    if (check !== "arc.defender-sensor") {
      return { verdict: "compliant", reason: `${rule.what} is installed and Succeeded`, details: base };
    }
    const workspace = setting(extension, WORKSPACE_SETTING);
    if (workspace !== undefined) {
      return {
        verdict: "compliant",
        reason: `${rule.what} is installed and Succeeded, sending to Log Analytics workspace ${workspace}`,
        details: { ...base, workspaceResourceId: workspace },
      };
    }
    return {
      verdict: "manual",
      reason:
        `${rule.what} '${extension.name}' is installed but names no Log Analytics workspace: set ` +
        `${WORKSPACE_SETTING} with \`az k8s-extension update\` (autoprotect does not rewrite an installed extension)`,
      details: base,
    };
  }
  if (sameWord(state, "Failed") || sameWord(state, "Canceled")) {
    const problem = extensionProblem(extension);
    return {
      verdict: "manual",
      reason:
        `${rule.what} '${extension.name}' is ${state}${problem.text}: find the cause (\`az k8s-extension show\`), ` +
        "fix it or delete the extension, and the next run installs it again",
      details: { ...base, ...problem.details },
    };
  }
  return {
    verdict: "deferred",
    reason: `${rule.what} '${extension.name}' is ${state}; looking again when that has finished`,
    retryAfterSeconds: EXTENSION_BUSY_RETRY_SECONDS,
    details: base,
  };
}

/** Why the cluster cannot take an extension now, or undefined when it is connected. */
function disconnected(cluster: ConnectedClusterSnapshot): Finding<never> | undefined {
  const status = nonBlankText(cluster.connectivityStatus);
  if (sameWord(status, "Connected")) return undefined;
  return {
    verdict: "deferred",
    reason:
      `the cluster's connectivity status is ${status ?? "unknown"}, and an extension installs only on a ` +
      "connected cluster: looking again later (reconnect the cluster's Arc agents)",
    retryAfterSeconds: DISCONNECTED_RETRY_SECONDS,
    details: { connectivityStatus: status ?? null },
  };
}

/**
 * The extension as Azure's policies write it: their name, a system-assigned identity, minor versions
 * upgraded automatically on the Stable train, cluster scope in their namespace (`mdc` for Defender,
 * `kube-system` for Azure Policy). The Defender policy and `az k8s-extension` also put the workspace's
 * id and shared key in `configurationProtectedSettings` (`omsagent.secret.wsid`, `omsagent.secret.key`);
 * autoprotect sends only `logAnalyticsWorkspaceResourceID`, as the ARM template of "Deploy Defender for
 * Containers on Arc-enabled Kubernetes programmatically" does: reading a workspace's keys would need
 * `workspaces/sharedKeys/action` and put a secret in a request body. Should an install fail for it,
 * the extension is `Failed` and `manual`, never retried in a loop.
 */
function installFor(check: ArcCheckId, configurationSettings: Record<string, string>): ExtensionInstall {
  const rule = ARC_EXTENSIONS[check];
  return {
    name: rule.name,
    body: {
      identity: { type: "SystemAssigned" },
      properties: {
        extensionType: rule.extensionType,
        autoUpgradeMinorVersion: true,
        releaseTrain: "Stable",
        scope: { cluster: { releaseNamespace: rule.releaseNamespace } },
        configurationSettings,
      },
    },
  };
}

/** The install a missing extension needs, or why it cannot be made. */
function missingFinding(check: ArcCheckId, input: ArcCheckInput): Finding<ExtensionInstall> {
  const rule = ARC_EXTENSIONS[check];
  const waiting = disconnected(input.cluster);
  if (waiting !== undefined)
    return { ...waiting, reason: `${rule.what} is not installed; ${waiting.reason}` };
  const taken = input.extensions.find((e) => sameWord(e.name, rule.name));
  if (taken !== undefined) {
    return {
      verdict: "manual",
      reason:
        `${rule.what} is not installed, and its name '${rule.name}' is taken by an extension of type ` +
        `${nonBlankText(taken.extensionType) ?? "unknown"}: autoprotect does not overwrite it; install ${rule.extensionType} yourself`,
      details: { takenBy: nonBlankText(taken.extensionType) ?? null },
    };
  }
  if (check === "arc.azure-policy") {
    const install = installFor(check, {});
    return {
      verdict: "change",
      reason: `${rule.what} is not installed`,
      action: `install the ${rule.extensionType} extension '${rule.name}'`,
      change: install,
    };
  }
  return sensorInstall(input);
}

function sensorInstall(input: ArcCheckInput): Finding<ExtensionInstall> {
  const rule = ARC_EXTENSIONS["arc.defender-sensor"];
  const problem = `${rule.what} is not installed`;
  const resolved = arcSensorWorkspace(input.extensions, input.config.workspaceId);
  const { workspace } = input;
  if (resolved === undefined || workspace.state === "none") {
    return {
      verdict: "manual",
      reason: `${problem} and no Log Analytics workspace is known for it: set AUTOPROTECT_WORKSPACE_ID`,
    };
  }
  if (workspace.state === "missing" || workspace.state === "invalid") {
    const what =
      workspace.state === "missing"
        ? `Log Analytics workspace ${workspace.resourceId} was not found`
        : `${workspace.resourceId} is not a valid workspace id (${workspace.problem})`;
    return {
      verdict: "manual",
      reason: `${problem} and ${what}: ${resolved.source === "configuration" ? "set AUTOPROTECT_WORKSPACE_ID to an existing workspace" : "point Container insights at an existing workspace, or set AUTOPROTECT_WORKSPACE_ID"}`,
      details: { sensorWorkspace: workspace.resourceId, workspaceSource: resolved.source },
    };
  }
  const install = installFor("arc.defender-sensor", { [WORKSPACE_SETTING]: resolved.resourceId });
  return {
    verdict: "change",
    reason: problem,
    action: `install the ${rule.extensionType} extension '${rule.name}' sending to Log Analytics workspace ${resolved.resourceId}`,
    change: install,
    details: { sensorWorkspace: resolved.resourceId, workspaceSource: resolved.source },
  };
}

/** Why the check does not apply to this cluster (excluded, opted out, a distribution Azure skips), if so. */
export function arcCheckSkipped(
  check: ArcCheckId,
  input: Pick<ArcCheckInput, "cluster" | "resourceGroupTags" | "config">,
): Finding<never> | undefined {
  const rule = ARC_EXTENSIONS[check];
  const exclusion = findTagExclusion(input.config.excludeTag, input.cluster.tags, input.resourceGroupTags);
  if (exclusion !== undefined) {
    return {
      verdict: "skipped",
      reason: EXCLUDED_BY_TAG,
      details: { tag: exclusion.tag, scope: exclusion.scope },
    };
  }
  const optOut = findTagExclusion(rule.optOutTag, input.cluster.tags)?.tag;
  if (optOut !== undefined) {
    return {
      verdict: "skipped",
      reason: `excluded from ${rule.what} by Defender for Cloud's opt-out tag ${optOut}`,
      details: { tag: optOut, scope: "resource" },
    };
  }
  const distribution = nonBlankText(input.cluster.distribution);
  if (distribution !== undefined && rule.excludedDistributions.some((d) => sameWord(distribution, d))) {
    return {
      verdict: "skipped",
      reason: `the cluster's distribution is ${distribution}, which Azure protects without ${rule.what} (Azure's own policy skips it too)`,
      details: { distribution },
    };
  }
  return undefined;
}

/** One check on one connected cluster. */
export function planArcCheck(check: ArcCheckId, input: ArcCheckInput): Finding<ExtensionInstall> {
  const skipped = arcCheckSkipped(check, input);
  if (skipped !== undefined) return skipped;
  const installed = extensionOfType(input.extensions, ARC_EXTENSIONS[check].extensionType);
  return installed === undefined ? missingFinding(check, input) : installedFinding(check, installed);
}

/** Every enabled Arc check of one connected cluster, in report order. */
export function planArcCluster(input: ArcCheckInput): ArcFinding[] {
  return ARC_CHECKS.filter((check) => input.config.checks.includes(check)).map((check) => ({
    check,
    finding: planArcCheck(check, input),
  }));
}
