import type { ArmResource } from "../../sim/index.js";

/** Defender for Cloud's assessment keys (src/model/defender.ts), by the check each judges. */
export const KEYS = {
  aksSensor: "56a83a6e-c417-42ec-b567-1e6fcb3d09a9",
  aksPolicy: "08e628db-e2ed-4793-bc91-d13e684401c3",
  aksApiServer: "1a2b5b4c-f80d-46e7-ac81-b51a9fb363de",
  arcSensor: "3ef9848c-c2c8-4ff3-8b9c-4c8eb8ddfce6",
  arcPolicy: "0642d770-b189-42ef-a2ce-9dcc3ec6c169",
} as const;

export const API_ONBOARDING = "Azure API Management APIs should be onboarded to Defender for APIs";
/** Any key: the API onboarding assessment is recognised by its display name. */
export const API_KEY = "9f7e0c1a-2b3d-4e5f-8a6b-7c8d9e0f1a2b";

export interface AssessmentOptions {
  readonly statusChangeDate?: string;
  readonly cause?: string;
  readonly description?: string;
  readonly displayName?: string;
  /** Resource Graph's spelling of resourceDetails (Source/Id) instead of the REST API's (source/id). */
  readonly graphSpelling?: boolean;
}

/** An assessment as ARM returns it, under the resource it judges. */
export function assessment(
  resourceId: string,
  key: string,
  code: "Healthy" | "Unhealthy" | "NotApplicable",
  options: AssessmentOptions = {},
): ArmResource {
  const status: Record<string, unknown> = { code };
  if (options.cause !== undefined) status.cause = options.cause;
  if (options.description !== undefined) status.description = options.description;
  if (options.statusChangeDate !== undefined) {
    status.statusChangeDate = options.statusChangeDate;
    status.firstEvaluationDate = options.statusChangeDate;
  }
  return {
    id: `${resourceId}/providers/Microsoft.Security/assessments/${key}`,
    name: key,
    type: "Microsoft.Security/assessments",
    properties: {
      displayName: options.displayName ?? (key === API_KEY ? API_ONBOARDING : `assessment ${key}`),
      resourceDetails:
        options.graphSpelling === true
          ? { Source: "Azure", Id: resourceId }
          : { source: "Azure", id: resourceId },
      status,
    },
  };
}

/** The three assessments of an AKS cluster, all with one status. */
export function clusterAssessments(
  clusterId: string,
  code: "Healthy" | "Unhealthy",
  options: AssessmentOptions = {},
): ArmResource[] {
  return [KEYS.aksSensor, KEYS.aksPolicy, KEYS.aksApiServer].map((key) =>
    assessment(clusterId, key, code, options),
  );
}
