import { describe, expect, it } from "vitest";
import { DEFAULT_REQUEUE_SECONDS, requeueRequests, requeueTarget } from "../../src/engine/requeue.js";
import type { OutcomeRecord } from "../../src/model/outcome.js";

const SUB = "0a1b2c3d-0000-4000-8000-00000000000a";
const SERVICE = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim`;
const CLUSTER = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks`;

function outcome(resourceId: string, status: OutcomeRecord["Status"], details: Record<string, unknown> = {}) {
  return {
    TimeGenerated: "2026-11-25T10:00:00.000Z",
    RunId: "r",
    Trigger: "cli",
    Mode: "enforce",
    SubscriptionId: SUB,
    ResourceId: resourceId,
    ResourceType: "t",
    Check: "apim.api-onboarding",
    Status: status,
    Reason: `${status} ${resourceId.split("/").at(-1) ?? ""}`,
    Action: "",
    CorrelationId: "c",
    DurationMs: 1,
    Details: details,
    OutcomeId: `${resourceId} ${status}`,
  } satisfies OutcomeRecord;
}

describe("requeueRequests", () => {
  it("looks at an API's service again, at the soonest delay any of its APIs asked for", () => {
    const requests = requeueRequests([
      outcome(`${SERVICE}/apis/orders`, "deferred", { retryAfterSeconds: 600 }),
      outcome(`${SERVICE.toUpperCase()}/APIS/billing`, "deferred", { retryAfterSeconds: 120 }),
      outcome(`${SERVICE}/apis/customers`, "remediated"),
      outcome(CLUSTER, "deferred", { retryAfterSeconds: 300 }),
      outcome(CLUSTER, "deferred", {}),
    ]);
    expect(requests).toEqual([
      { resourceId: SERVICE, afterSeconds: 120, reason: "deferred billing" },
      { resourceId: CLUSTER, afterSeconds: 300, reason: "deferred aks" },
    ]);
  });

  it("gives deferred outcomes without a usable delay the default, and ignores every other status", () => {
    const requests = requeueRequests([
      outcome(CLUSTER, "deferred", { retryAfterSeconds: "soon" }),
      outcome(`${SERVICE}/apis/a`, "manual", { retryAfterSeconds: 1 }),
      outcome(`${SERVICE}/apis/b`, "failed"),
    ]);
    expect(requests).toEqual([
      { resourceId: CLUSTER, afterSeconds: DEFAULT_REQUEUE_SECONDS, reason: "deferred aks" },
    ]);
  });

  it("sends plans back through their subscription and workspace APIs through their service", () => {
    expect(
      requeueTarget({
        ResourceId: `/subscriptions/${SUB}/providers/Microsoft.Security/pricings/Api`,
        SubscriptionId: SUB,
      }),
    ).toBe(`/subscriptions/${SUB}`);
    expect(requeueTarget({ ResourceId: `${SERVICE}/workspaces/team/apis/x`, SubscriptionId: SUB })).toBe(
      SERVICE,
    );
  });
});
