/**
 * Azure Resource Graph (Microsoft.ResourceGraph), for two reads that would otherwise cost one or two
 * requests per subscription or per resource. Nothing is ever planned from it: every write is planned
 * from ARM's own read of the resource.
 *
 * Discovery: which subscriptions hold anything autoprotect reconciles (one query instead of listings
 * per subscription), so a tenant's sweep can skip empty subscriptions.
 *
 * Defender for Cloud's assessments of the resources autoprotect checks, read with one query per subscription (or many subscriptions at once) over
 * `securityresources`, filtered to the assessments of src/model/defender.ts. The REST list of a
 * subscription's assessments (Microsoft.Security 2021-06-01) cannot be filtered, and returns every
 * assessment of every resource; @azure/arm-security would make the same unfiltered list.
 *
 * `POST /providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01` (the newest stable version
 * in azure-rest-api-specs), answered `{ totalRecords, count, resultTruncated, $skipToken?, data }` with
 * `data` an array of objects (`resultFormat` objectArray, the default); pages of up to 1000 rows follow
 * `$skipToken` (ResourcesFirstPageQuery / ResourcesNextPageQuery examples). Resource Graph cannot page a
 * query that uses limit, take or sample, or whose columns are all dynamic; neither query here does, and
 * an answer marked truncated is refused rather than read in part.
 */
import type { Client } from "@azure-rest/core-client";
import {
  ASSESSMENT_TYPE,
  DEFENDER_ASSESSMENTS,
  type AssessmentSnapshot,
  type DefenderStatusCode,
} from "../model/defender.js";
import { createArmRestClient, expectStatus } from "./arm-rest.js";
import type { AzureConnection } from "./connection.js";
import { AzureApiError, azureCall } from "./errors.js";

export const RESOURCE_GRAPH_API_VERSION = "2024-04-01";
const PATH = "/providers/Microsoft.ResourceGraph/resources";
const PAGE_SIZE = 1000;
/** Resource Graph takes at most 1000 subscriptions per query. */
const MAX_SUBSCRIPTIONS = 1000;

/** The types a sweep reconciles, as Resource Graph spells them (lower case). */
export const DISCOVERED_TYPES = [
  "microsoft.containerservice/managedclusters",
  "microsoft.kubernetes/connectedclusters",
  "microsoft.apimanagement/service",
] as const;

export const DISCOVERY_QUERY =
  "resources" +
  ` | where type in~ (${DISCOVERED_TYPES.map((t) => `'${t}'`).join(", ")})` +
  " | summarize count() by subscriptionId, type";

export interface ResourceGraphAdapter {
  /** Defender for Cloud's assessments that autoprotect compares with its checks, in these subscriptions. */
  listDefenderAssessments(subscriptionIds: readonly string[]): Promise<AssessmentSnapshot[]>;
  /**
   * Subscription (lower case) → how many resources of each reconciled type it holds; subscriptions
   * with none are absent. `subscriptionIds`: the scope (default: every subscription the identity sees).
   */
  countTargets(subscriptionIds?: readonly string[]): Promise<Map<string, Record<string, number>>>;
}

function kqlString(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** The query autoprotect issues: the table's assessments, by key, or by display name for those without one. */
export function defenderAssessmentsQuery(): string {
  const keys = DEFENDER_ASSESSMENTS.flatMap((a) => (a.key === undefined ? [] : [kqlString(a.key)]));
  const names = DEFENDER_ASSESSMENTS.flatMap((a) =>
    a.key === undefined ? [`tostring(properties.displayName) =~ ${kqlString(a.displayName)}`] : [],
  );
  return [
    "securityresources",
    `| where type =~ ${kqlString(ASSESSMENT_TYPE.toLowerCase())}`,
    `| where name in (${keys.join(", ")})${names.map((n) => ` or ${n}`).join("")}`,
    "| project id, name, subscriptionId, properties",
  ].join("\n");
}

function record(value: unknown): Readonly<Record<string, unknown>> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

const STATUSES: readonly DefenderStatusCode[] = ["Healthy", "Unhealthy", "NotApplicable"];

/**
 * One row as an assessment. Resource Graph spells `resourceDetails` `Source`/`Id`, the REST API
 * `source`/`id`: both are read; the resource is else the assessment id's prefix. A row without a status
 * Defender documents is left out (nothing to compare).
 */
export function asAssessment(row: unknown): AssessmentSnapshot | undefined {
  const { id, name, properties } = record(row);
  const props = record(properties);
  const details = record(props.resourceDetails);
  const status = record(props.status);
  const code = STATUSES.find((s) => s.toLowerCase() === String(status.code).toLowerCase());
  const assessmentId = text(id);
  if (assessmentId === undefined || code === undefined) return undefined;
  const marker = assessmentId.toLowerCase().lastIndexOf("/providers/microsoft.security/assessments/");
  const resourceId =
    text(details.Id) ?? text(details.id) ?? (marker > 0 ? assessmentId.slice(0, marker) : undefined);
  if (resourceId === undefined) return undefined;
  const optional = (key: string, value: unknown) => (text(value) === undefined ? {} : { [key]: text(value) });
  return {
    id: assessmentId,
    key: text(name) ?? assessmentId.slice(assessmentId.lastIndexOf("/") + 1),
    displayName: text(props.displayName) ?? "",
    resourceId,
    status: code,
    ...optional("cause", status.cause),
    ...optional("description", status.description),
    ...optional("statusChangeDate", status.statusChangeDate),
    ...optional("firstEvaluationDate", status.firstEvaluationDate),
  };
}

export function createResourceGraphAdapter(
  connection: AzureConnection,
  client: Client = createArmRestClient(connection),
): ResourceGraphAdapter {
  const page = async (
    query: string,
    subscriptions: readonly string[] | undefined,
    skipToken: string | undefined,
  ) => {
    const response = await client.pathUnchecked(PATH).post({
      queryParameters: { "api-version": RESOURCE_GRAPH_API_VERSION },
      contentType: "application/json",
      body: {
        ...(subscriptions === undefined ? {} : { subscriptions }),
        query,
        options: {
          resultFormat: "objectArray",
          ...(skipToken === undefined ? { $top: PAGE_SIZE } : { $skipToken: skipToken }),
        },
      },
    });
    return record(expectStatus(response, "200"));
  };
  /** Every row of a query over these subscriptions (all the identity sees when undefined), page by page. */
  const rows = async (query: string, subscriptions: readonly string[] | undefined): Promise<unknown[]> => {
    const all: unknown[] = [];
    let skipToken: string | undefined;
    do {
      const body = await page(query, subscriptions, skipToken);
      if (String(body.resultTruncated).toLowerCase() === "true") {
        // Never decide from part of the answer.
        throw new AzureApiError("Resource Graph truncated its answer", "ResultTruncated", 200);
      }
      if (Array.isArray(body.data)) all.push(...(body.data as unknown[]));
      skipToken = text(body.$skipToken);
    } while (skipToken !== undefined);
    return all;
  };
  const chunks = (ids: readonly string[]): string[][] => {
    const out: string[][] = [];
    for (let i = 0; i < ids.length; i += MAX_SUBSCRIPTIONS) out.push(ids.slice(i, i + MAX_SUBSCRIPTIONS));
    return out;
  };
  return {
    listDefenderAssessments: (subscriptionIds) =>
      azureCall(async () => {
        const found: AssessmentSnapshot[] = [];
        for (const subscriptions of chunks(subscriptionIds)) {
          for (const row of await rows(defenderAssessmentsQuery(), subscriptions)) {
            const assessment = asAssessment(row);
            if (assessment !== undefined) found.push(assessment);
          }
        }
        return found;
      }),

    countTargets: (subscriptionIds) =>
      azureCall(async () => {
        const counts = new Map<string, Record<string, number>>();
        const scopes = subscriptionIds === undefined ? [undefined] : chunks(subscriptionIds);
        for (const subscriptions of scopes) {
          for (const row of await rows(DISCOVERY_QUERY, subscriptions)) {
            const { subscriptionId, type, count_ } = record(row);
            if (typeof subscriptionId !== "string" || typeof type !== "string" || typeof count_ !== "number")
              continue;
            const key = subscriptionId.toLowerCase();
            const known = counts.get(key) ?? {};
            known[type.toLowerCase()] = (known[type.toLowerCase()] ?? 0) + count_;
            counts.set(key, known);
          }
        }
        return counts;
      }),
  };
}
