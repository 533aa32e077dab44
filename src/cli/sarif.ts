/**
 * SARIF 2.1.0 for code scanning and pipeline gates: one rule per check id, one result per outcome that
 * is not compliant (planned, deferred, manual, failed). Azure resources are not files: each result's
 * location is the resource id as a relative path (code scanning accepts only paths), with the id
 * itself as a logical location, and a fingerprint of check and resource so the same finding on the
 * next run is the same alert.
 */
import { createHash } from "node:crypto";
import { CHECK_IDS, type Status } from "../model/checks.js";
import type { OutcomeRecord } from "../model/outcome.js";

export const SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json";

interface RuleText {
  readonly name: string;
  readonly short: string;
  readonly full: string;
  readonly helpUri: string;
  /** GitHub's security-severity (0.1 to 10) of a finding of this rule. */
  readonly severity: string;
}

const LEARN = "https://learn.microsoft.com/azure";

/** What each check is about, for people reading a code scanning alert. */
export const RULES: Readonly<Partial<Record<string, RuleText>>> = {
  "defender.containers-plan": {
    name: "DefenderForContainersPlanOn",
    short: "Defender for Containers is on for the subscription, with its sensor and agentless discovery",
    full: "The subscription's Microsoft.Security/pricings/Containers plan is Standard with the ContainerSensor and AgentlessDiscoveryForKubernetes extensions enabled. Enforce mode turns them on and keeps other extensions as they are.",
    helpUri: `${LEARN}/defender-for-cloud/defender-for-containers-enable`,
    severity: "8.0",
  },
  "aks.defender-sensor": {
    name: "AksDefenderSensorOn",
    short: "The AKS cluster runs the Defender sensor and sends to a Log Analytics workspace",
    full: "securityProfile.defender.securityMonitoring.enabled is true and logAnalyticsWorkspaceResourceId is set. Enforce mode sets both, with the configured workspace, in one update of the cluster that keeps everything else.",
    helpUri: `${LEARN}/defender-for-cloud/defender-for-containers-enable`,
    severity: "7.5",
  },
  "aks.azure-policy": {
    name: "AksAzurePolicyAddOnOn",
    short: "The AKS cluster has the Azure Policy add-on",
    full: "addonProfiles.azurepolicy.enabled is true, so Defender for Cloud's Kubernetes recommendations and policies apply. Enforce mode enables the add-on.",
    helpUri: `${LEARN}/governance/policy/concepts/policy-for-kubernetes`,
    severity: "6.5",
  },
  "aks.authorized-ips": {
    name: "AksApiServerRestricted",
    short: "The AKS API server is private or restricted to authorized IP ranges",
    full: "The cluster is private, or apiServerAccessProfile.authorizedIPRanges is not empty (an internet-wide range does not count). Enforce mode adds the configured ranges and never removes one; where the load balancer or node public IPs make that unsafe, a person decides (manual).",
    helpUri: `${LEARN}/aks/api-server-authorized-ip-ranges`,
    severity: "7.0",
  },
  "aks.sensor-workspace": {
    name: "AksSensorWorkspaceReachable",
    short: "The Defender sensor's Log Analytics workspace exists and can receive its data",
    full: "The workspace the sensor sends to exists and accepts ingestion (publicly, or through an Azure Monitor private link scope). autoprotect never changes a workspace: a finding here needs a person. Whether the sensor reaches Defender for Cloud (the cluster's egress, Defender's Security Private Link) is defender.agreement's to say.",
    helpUri: `${LEARN}/azure-monitor/logs/private-link-security`,
    severity: "5.0",
  },
  "defender.apis-plan": {
    name: "DefenderForApisPlanOn",
    short: "Defender for APIs is on for the subscription",
    full: "The subscription's Microsoft.Security/pricings/Api plan is Standard. Enforce mode sets it with the configured sub-plan (P1 by default) and never changes the sub-plan of a plan that is already on.",
    helpUri: `${LEARN}/defender-for-cloud/defender-for-apis-deploy`,
    severity: "7.0",
  },
  "apim.api-onboarding": {
    name: "ApiOnboardedToDefender",
    short: "The API Management API is onboarded to Defender for APIs",
    full: "A Defender for APIs collection exists for the API and has succeeded. Enforce mode onboards APIs gradually, a few per step, while the instance's capacity stays under the limit.",
    helpUri: `${LEARN}/defender-for-cloud/defender-for-apis-deploy`,
    severity: "6.0",
  },
  "aks.containers-plan-override": {
    name: "AksNoWeakerPlanOverride",
    short: "No resource-level Defender for Containers plan weakens the cluster's protection",
    full: "The cluster has no resource-level pricings/Containers, or one that is Standard with the sensor and agentless discovery on.",
    helpUri: `${LEARN}/defender-for-cloud/defender-for-containers-enable`,
    severity: "7.0",
  },
  "arc.defender-sensor": {
    name: "ArcDefenderSensorInstalled",
    short: "The Arc-enabled cluster runs the Defender sensor extension",
    full: "The microsoft.azuredefender.kubernetes extension is installed and Succeeded with a Log Analytics workspace.",
    helpUri: `${LEARN}/defender-for-cloud/defender-for-containers-enable`,
    severity: "7.5",
  },
  "arc.azure-policy": {
    name: "ArcAzurePolicyInstalled",
    short: "The Arc-enabled cluster runs the Azure Policy extension",
    full: "The microsoft.policyinsights extension is installed and Succeeded.",
    helpUri: `${LEARN}/governance/policy/concepts/policy-for-kubernetes`,
    severity: "6.5",
  },
  "defender.agreement": {
    name: "DefenderAgrees",
    short: "Defender for Cloud's own assessment agrees with autoprotect",
    full: "Defender for Cloud's own assessments of the cluster, Arc-enabled cluster or API agree with autoprotect's checks. Protected by configuration while Defender still says Unhealthy past its refresh lag (the sensor may not reach Defender), or Healthy in Defender while autoprotect finds it open, needs a person; the check never writes.",
    helpUri: `${LEARN}/defender-for-cloud/review-security-recommendations`,
    severity: "4.0",
  },
};

/** Statuses that are findings, and how loud: a missing protection or a failure is an error. */
const LEVELS: Readonly<Partial<Record<Status, "error" | "warning" | "note">>> = {
  planned: "error",
  failed: "error",
  manual: "warning",
  deferred: "note",
};

function ruleFor(check: string): RuleText {
  return (
    RULES[check] ?? {
      name: check.replace(/(^|[.-])([a-z])/g, (_, __: string, c: string) => c.toUpperCase()),
      short: `autoprotect check ${check}`,
      full: `autoprotect check ${check}: see docs/contract.md.`,
      helpUri: `${LEARN}/defender-for-cloud/`,
      severity: "5.0",
    }
  );
}

function fingerprint(outcome: OutcomeRecord): string {
  return createHash("sha256")
    .update(`${outcome.Check} ${outcome.ResourceId.toLowerCase()}`, "utf8")
    .digest("hex");
}

/** The resource id as a relative path: code scanning takes locations only as paths. */
function artifactUri(resourceId: string): string {
  return encodeURI(resourceId.replace(/^\/+/, ""));
}

export interface SarifRun {
  readonly version: string;
  readonly runId: string;
  readonly mode: string;
  readonly command: string;
  /** False when the run did not finish (interrupted) or had errors outside any check. */
  readonly complete: boolean;
  readonly endedAt: Date;
}

/** The SARIF log of one run, as a JSON string. */
export function renderSarif(outcomes: readonly OutcomeRecord[], run: SarifRun): string {
  const checks = [...new Set([...CHECK_IDS, ...outcomes.map((o) => o.Check)])];
  const rules = checks.map((id) => {
    const text = ruleFor(id);
    return {
      id,
      name: text.name,
      shortDescription: { text: text.short },
      fullDescription: { text: text.full },
      helpUri: text.helpUri,
      help: {
        text: `${text.full} More: ${text.helpUri}`,
        markdown: `${text.full}\n\n[Microsoft Learn](${text.helpUri})`,
      },
      defaultConfiguration: { level: id === "aks.sensor-workspace" ? "warning" : "error" },
      properties: { tags: ["security", "azure", "defender-for-cloud"], "security-severity": text.severity },
    };
  });
  const results = outcomes.flatMap((outcome) => {
    const level = LEVELS[outcome.Status];
    if (level === undefined) return [];
    const action = outcome.Action === "" ? "" : ` (${outcome.Action})`;
    return [
      {
        ruleId: outcome.Check,
        ruleIndex: checks.indexOf(outcome.Check),
        level,
        kind: "fail",
        message: { text: `${outcome.Status}: ${outcome.Reason}${action}` },
        locations: [
          {
            physicalLocation: { artifactLocation: { uri: artifactUri(outcome.ResourceId) } },
            logicalLocations: [{ fullyQualifiedName: outcome.ResourceId, kind: "resource" }],
          },
        ],
        partialFingerprints: { "autoprotectFinding/v1": fingerprint(outcome) },
        properties: {
          status: outcome.Status,
          resourceType: outcome.ResourceType,
          subscriptionId: outcome.SubscriptionId,
          outcomeId: outcome.OutcomeId,
          ...(outcome.Action === "" ? {} : { action: outcome.Action }),
        },
      },
    ];
  });
  const log = {
    $schema: SARIF_SCHEMA,
    version: "2.1.0",
    runs: [
      {
        tool: { driver: { name: "autoprotect", version: run.version, semanticVersion: run.version, rules } },
        automationDetails: { id: `autoprotect/${run.command}/${run.runId}` },
        invocations: [
          {
            executionSuccessful: run.complete,
            endTimeUtc: run.endedAt.toISOString(),
            properties: { mode: run.mode },
          },
        ],
        results,
      },
    ],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}
