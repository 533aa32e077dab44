/**
 * Defender for Cloud's assessments on the REST API (Microsoft.Security 2021-06-01, ListAssessments and
 * GetAssessment examples), answering what the simulated Defender says now (sim/defender.ts), with
 * `resourceDetails` spelt `source`/`id`: the subscription's list (ARM-paged) and one assessment under
 * its resource. autoprotect itself reads them through Resource Graph (routes/resourcegraph.ts); these
 * keep a GET of an assessment consistent with it.
 */
import { resourceNotFound } from "../arm-errors.js";
import { assessmentLag, assessmentsIn, ASSESSMENT_TYPE, restAssessment } from "../defender.js";
import { page, pattern, type ProviderModule } from "./types.js";

const API_VERSIONS = ["2021-06-01", "2020-01-01"] as const;

/** `{resourceId}/providers/Microsoft.Security/assessments/{assessmentName}` under a resource of a group. */
function underResource(segments: readonly string[]): Record<string, string> | undefined {
  const n = segments.length;
  if (n < 9 || segments[0]?.toLowerCase() !== "subscriptions") return undefined;
  if (segments[2]?.toLowerCase() !== "resourcegroups") return undefined;
  const tail = segments.slice(n - 4).map((s) => s.toLowerCase());
  if (tail[0] !== "providers" || tail[1] !== "microsoft.security" || tail[2] !== "assessments")
    return undefined;
  return { subscriptionId: segments[1] ?? "", assessmentName: segments[n - 1] ?? "" };
}

export const assessmentsModule: ProviderModule = {
  name: "assessments",
  routes: [
    {
      method: "GET",
      match: pattern("/subscriptions/{subscriptionId}/providers/Microsoft.Security/assessments"),
      apiVersions: API_VERSIONS,
      typeName: "assessments",
      handle: (ctx) => {
        const subscription = (ctx.params.subscriptionId ?? "").toLowerCase();
        const lag = assessmentLag(ctx.state);
        return page(
          ctx,
          assessmentsIn(ctx.state, new Set([subscription])).map((a) => restAssessment(ctx.state, a, lag)),
        );
      },
    },
    {
      method: "GET",
      match: underResource,
      apiVersions: API_VERSIONS,
      typeName: "assessments",
      handle: (ctx) => {
        const stored = ctx.state.get(ctx.request.path);
        if (stored === undefined || stored.type.toLowerCase() !== ASSESSMENT_TYPE.toLowerCase()) {
          throw resourceNotFound(`${ASSESSMENT_TYPE}/${ctx.params.assessmentName ?? ""}`, undefined);
        }
        return { status: 200, body: restAssessment(ctx.state, stored, assessmentLag(ctx.state)) };
      },
    },
  ],
};
