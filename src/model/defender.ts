/**
 * Defender for Cloud's own verdicts (security assessments, shown as recommendations) that autoprotect
 * compares with its checks: one table, saying which assessment judges which check, on which resource.
 *
 * Keys are the assessments' names (`{resourceId}/providers/Microsoft.Security/assessments/{key}`), as
 * the recommendations reference links them (MicrosoftDocs/azure-docs,
 * articles/defender-for-cloud/recommendations-reference-container.md, each title links
 * `…/RecommendationsBlade/assessmentKey/{key}`; the same keys in defender-for-containers-enable.md's
 * table of components and their recommendations). Defender attaches each to the cluster it judges.
 *
 * The Defender for APIs onboarding recommendation ("Azure API Management APIs should be onboarded to
 * Defender for APIs", recommendations-reference-api.md) is documented without its key, and no public
 * source we could read gives it, so it is recognised by its display name (the assessment's
 * `properties.displayName`). It is attached to the API (`Microsoft.ApiManagement/service/apis`), not
 * to an API collection: its unhealthy resources are "resources that aren't onboarded to Defender for
 * APIs" and its fix onboards them (defender-for-apis-deploy.md, "Onboard APIs"), so they are APIs that
 * have no collection yet. Defender's other API recommendations are attached to API operations
 * (azure-policy's ASC_APIMApiEndpointsShouldbeAuthenticated_AuditIfNotExists.json audits
 * `Microsoft.ApiManagement/service/apis/operations`); they judge more than onboarding and are not read.
 */
import { RESOURCE_TYPES, type CheckId } from "./checks.js";

export const ASSESSMENT_TYPE = "Microsoft.Security/assessments";

/** Defender for Cloud's status codes (Microsoft.Security 2021-06-01, AssessmentStatus.code). */
export type DefenderStatusCode = "Healthy" | "Unhealthy" | "NotApplicable";

export interface DefenderAssessmentInfo {
  /** The assessment's name, or undefined when it is known by its display name only. */
  readonly key: string | undefined;
  readonly displayName: string;
  /** The autoprotect check whose verdict this assessment is compared with. */
  readonly check: CheckId;
  /** The ARM type of the resource Defender attaches the assessment to. */
  readonly resourceType: string;
  /** The longest Defender documents its verdict may take to follow a change, in minutes. */
  readonly documentedLagMinutes: number;
  /** What to look at when Defender keeps saying Unhealthy while the configuration is right. */
  readonly hint: string;
}

/**
 * How long Defender may take to follow a change: a day for the Kubernetes recommendations (the bound
 * issue 17 sets; Defender refreshes its recommendations periodically, and we found no shorter documented
 * bound), and for APIs the documented "onboarded APIs take up to 50 minutes to appear in the
 * Recommendations tab" (defender-for-apis-deploy.md), rounded up to an hour.
 */
const DAY = 24 * 60;
/**
 * Where the sensor's data goes: HTTPS 443 to *.cloud.defender.microsoft.com, *.ods.opinsights.azure.com,
 * *.oms.opinsights.azure.com and login.microsoftonline.com (articles/aks/outbound-rules-control-egress.md,
 * "Microsoft Defender for Containers"; defender-for-containers-network-access.md, "Kubernetes clusters
 * to Microsoft Defender for Cloud"). Where egress is closed, Defender for Cloud's Security Private Link
 * carries it privately (concept-private-links.md: *.cloud.defender.microsoft.com resolves to
 * privatelink.cloud.defender.microsoft.com), beside the workspace's Azure Monitor Private Link Scope.
 */
const SENSOR_HINT =
  "the sensor may not reach Defender for Cloud: check the cluster's egress on 443 to *.cloud.defender.microsoft.com, *.ods.opinsights.azure.com, *.oms.opinsights.azure.com and login.microsoftonline.com (firewall, NSG, proxy), or, where egress is closed, the Security Private Link's private endpoint and its DNS (privatelink.cloud.defender.microsoft.com)";
/** The Azure Policy add-on's egress (outbound-rules-control-egress.md, "Azure Policy"). */
const POLICY_HINT =
  "the Azure Policy add-on may not reach Azure Policy (egress on 443 to data.policy.core.windows.net and store.policy.core.windows.net) or its pods may not be running (azure-policy in kube-system, gatekeeper in gatekeeper-system)";

export const DEFENDER_ASSESSMENTS: readonly DefenderAssessmentInfo[] = [
  {
    key: "56a83a6e-c417-42ec-b567-1e6fcb3d09a9",
    displayName: "Azure Kubernetes Service clusters should have Defender profile enabled",
    check: "aks.defender-sensor",
    resourceType: RESOURCE_TYPES.managedCluster,
    documentedLagMinutes: DAY,
    hint: SENSOR_HINT,
  },
  {
    key: "08e628db-e2ed-4793-bc91-d13e684401c3",
    displayName:
      "Azure Kubernetes Service clusters should have the Azure Policy add-on for Kubernetes installed",
    check: "aks.azure-policy",
    resourceType: RESOURCE_TYPES.managedCluster,
    documentedLagMinutes: DAY,
    hint: POLICY_HINT,
  },
  {
    key: "1a2b5b4c-f80d-46e7-ac81-b51a9fb363de",
    displayName: "Kubernetes API server should be configured with restricted access",
    check: "aks.authorized-ips",
    resourceType: RESOURCE_TYPES.managedCluster,
    documentedLagMinutes: DAY,
    hint: "Defender may judge the ranges differently (an internet-wide range, or ranges on a cluster whose load balancer ignores them): compare apiServerAccessProfile with the recommendation's details",
  },
  {
    key: "3ef9848c-c2c8-4ff3-8b9c-4c8eb8ddfce6",
    displayName: "Azure Arc-enabled Kubernetes clusters should have the Defender extension installed",
    check: "arc.defender-sensor",
    resourceType: RESOURCE_TYPES.connectedCluster,
    documentedLagMinutes: DAY,
    hint: SENSOR_HINT,
  },
  {
    key: "0642d770-b189-42ef-a2ce-9dcc3ec6c169",
    displayName: "Azure Arc-enabled Kubernetes clusters should have the Azure Policy extension installed",
    check: "arc.azure-policy",
    resourceType: RESOURCE_TYPES.connectedCluster,
    documentedLagMinutes: DAY,
    hint: POLICY_HINT,
  },
  {
    key: undefined,
    displayName: "Azure API Management APIs should be onboarded to Defender for APIs",
    check: "apim.api-onboarding",
    resourceType: RESOURCE_TYPES.apimApi,
    documentedLagMinutes: 60,
    hint: "the API's collection exists but Defender for APIs does not count it onboarded: offboard and onboard it again, and check that the API Management instance's region is one Defender for APIs supports",
  },
];

/** Defender's verdict on one resource, as read (Resource Graph's `securityresources`, or the REST API). */
export interface AssessmentSnapshot {
  /** The assessment's own id, `{resourceId}/providers/Microsoft.Security/assessments/{key}`. */
  readonly id: string;
  readonly key: string;
  readonly displayName: string;
  /** The resource Defender judges (`resourceDetails.Id`/`id`, else the id's prefix). */
  readonly resourceId: string;
  readonly status: DefenderStatusCode;
  readonly cause?: string;
  readonly description?: string;
  /** ISO 8601: when the status last changed. */
  readonly statusChangeDate?: string;
  readonly firstEvaluationDate?: string;
}

/** Whether an assessment is the table's row: by key, or (for the API one) by display name; any case. */
export function isAssessmentOf(
  info: DefenderAssessmentInfo,
  assessment: Pick<AssessmentSnapshot, "key" | "displayName">,
): boolean {
  return info.key === undefined
    ? assessment.displayName.trim().toLowerCase() === info.displayName.toLowerCase()
    : assessment.key.toLowerCase() === info.key;
}

/** The assessment that judges `check` on a resource of `resourceType`, if any. */
export function assessmentFor(check: CheckId, resourceType: string): DefenderAssessmentInfo | undefined {
  const type = resourceType.toLowerCase();
  return DEFENDER_ASSESSMENTS.find((a) => a.check === check && a.resourceType.toLowerCase() === type);
}
