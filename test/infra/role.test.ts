import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseEstate, startSimulator, type Estate, type RecordedRequest } from "../../sim/index.js";
import { createAzureGateway } from "../../src/azure/index.js";
import { simulatorCredential } from "../../src/cli/simulate.js";
import { createEngine } from "../../src/engine/engine.js";
import { loadConfig } from "../../src/model/config.js";
import { createFileStateStore } from "../../src/rollout/file-state-store.js";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { actionsReadThrough, armActionFor, grants } from "../support/arm-actions.js";
import { apimApi, apimService, fakeClock } from "../support/sim.js";

const role = JSON.parse(
  readFileSync(new URL("../../infra/autoprotect-role.json", import.meta.url), "utf8"),
) as {
  Actions: string[];
  DataActions: string[];
};
const sample = parseEstate(
  JSON.parse(readFileSync(new URL("../../samples/estate.json", import.meta.url), "utf8")) as unknown,
  "sample",
);

/**
 * Granted but never requested, on purpose: ARM's linked-access check on a cluster PUT that names a
 * Log Analytics workspace (the Defender profile, Container insights) checks that the caller may read
 * the workspace's shared keys, and refuses the write otherwise: `LinkedAuthorizationFailed` "... does
 * not have permission to perform action 'Microsoft.OperationalInsights/workspaces/sharedkeys/read' on
 * the linked scope(s)" (Azure/AKS#499, Azure/AKS#4014, Azure/azure-cli#22232). `sharedKeys/read` is
 * the resource provider's named operation for that ("Retrieves the shared keys for the workspace");
 * `sharedKeys/action` (listing the keys) is not what the check asks for.
 */
const GRANTED_FOR_LINKED_ACCESS = ["Microsoft.OperationalInsights/workspaces/sharedKeys/read"];

/** Wildcards granted on purpose, each with the reason; none today: every action is named. */
const WILDCARDS_WITH_REASON: Record<string, string> = {};

/** Runs the engine the ways production does, over estates that exercise every kind of request. */
async function everyRequest(): Promise<RecordedRequest[]> {
  const requests: RecordedRequest[] = [];
  const run = async (estate: Estate, env: Record<string, string>, rounds: number, clockStep = 11) => {
    const clock = fakeClock("2026-11-25T10:00:30Z");
    const sim = await startSimulator({ estate, clock: clock.now });
    try {
      const azure = createAzureGateway({
        credential: simulatorCredential,
        endpoint: sim.endpoint,
        tlsCa: sim.ca,
        pollIntervalMs: 1,
        metricsEndpoint: () => sim.endpoint,
      });
      const config = loadConfig({ AUTOPROTECT_AUTHORIZED_IP_RANGES: "203.0.113.0/24", ...env });
      const engine = createEngine({
        azure,
        config,
        now: clock.now,
        rolloutStore: createFileStateStore(await mkdtemp(join(tmpdir(), "autoprotect-role-"))),
      });
      // The timer sweep without an allow-list lists the subscriptions the identity can see, and with
      // Resource Graph discovery asks which of them hold anything.
      const subscriptions = await azure.resources.listSubscriptionIds();
      await azure.resourceGraph.countTargets(subscriptions);
      for (let round = 0; round < rounds; round += 1) {
        await engine.reconcile(
          subscriptions.map((subscriptionId) => ({ kind: "subscription" as const, subscriptionId })),
          { runId: "r", trigger: "timer", mode: "enforce", correlationId: "c" },
        );
        clock.advance(clockStep * 60_000);
      }
      requests.push(...sim.requests);
    } finally {
      await sim.close();
    }
  };
  // Clusters' own plans that leave Defender off are removed (DELETE) only when asked to.
  await run(sample, { AUTOPROTECT_WORKSPACE_ID: "", AUTOPROTECT_REMOVE_PLAN_OVERRIDES: "true" }, 3);
  // A hot instance: onboarding crosses the critical level and the step is rolled back (DELETE).
  const hot = apimService("apim-hot", "Premium");
  await run(
    {
      subscriptions: [
        { subscriptionId: hot.id.split("/")[2] ?? "", pricings: { Api: { pricingTier: "Standard" } } },
      ],
      resources: [hot, apimApi("apim-hot", "a"), apimApi("apim-hot", "b"), apimApi("apim-hot", "c")],
      capacity: { [hot.id]: { base: 50, perApi: 16 } },
    },
    {},
    2,
    3,
  );
  return requests;
}

describe("the custom role", () => {
  it("grants every ARM action the engine performs, and nothing it does not", async () => {
    const requests = (await everyRequest()).filter((r) => r.status !== 0);
    const used = new Map<string, string>();
    for (const request of requests) {
      for (const action of [
        armActionFor(request.method, request.path),
        ...actionsReadThrough(request.method, request.path, request.body),
      ]) {
        if (!used.has(action.toLowerCase()))
          used.set(action.toLowerCase(), `${request.method} ${request.path}`);
      }
    }
    const missing = [...used.entries()].filter(([action]) => !grants(role.Actions, action));
    expect(missing, "requests the role does not allow").toEqual([]);

    const unused = role.Actions.filter(
      (granted) =>
        !GRANTED_FOR_LINKED_ACCESS.includes(granted) &&
        ![...used.keys()].some((action) => grants([granted], action)),
    );
    expect(unused, "granted but never requested").toEqual([]);
    expect(role.DataActions).toEqual([]);
    // Exactly the actions the engine performs plus the named linked-access one, each spelt out.
    expect(
      role.Actions.filter((a) => a.includes("*") && !(a in WILDCARDS_WITH_REASON)),
      "wildcards",
    ).toEqual([]);
    const lower = (actions: Iterable<string>) =>
      [...new Set([...actions].map((a) => a.toLowerCase()))].sort();
    expect(lower(role.Actions)).toEqual(lower([...used.keys(), ...GRANTED_FOR_LINKED_ACCESS]));
    // The scenarios really did exercise writes of every kind.
    expect([...used.keys()]).toEqual(
      expect.arrayContaining([
        "microsoft.containerservice/managedclusters/write",
        "microsoft.security/pricings/write",
        "microsoft.security/apicollections/write",
        "microsoft.security/apicollections/delete",
        "microsoft.insights/metrics/read",
        "microsoft.security/pricings/delete",
        "microsoft.kubernetesconfiguration/extensions/write",
        "microsoft.kubernetesconfiguration/extensions/operations/read",
        "microsoft.resourcegraph/resources/read",
        "microsoft.security/assessments/read",
      ]),
    );
  });
});

describe("armActionFor", () => {
  it.each([
    ["GET", "/subscriptions", "Microsoft.Resources/subscriptions/read"],
    ["GET", "/subscriptions/s/resourcegroups/rg", "Microsoft.Resources/subscriptions/resourceGroups/read"],
    [
      "PUT",
      "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/a",
      "Microsoft.ContainerService/managedClusters/write",
    ],
    [
      "GET",
      "/subscriptions/s/providers/Microsoft.ContainerService/managedClusters",
      "Microsoft.ContainerService/managedClusters/read",
    ],
    [
      "GET",
      "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/x/gateways/g/apis",
      "Microsoft.ApiManagement/service/gateways/apis/read",
    ],
    [
      "DELETE",
      "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/x/providers/Microsoft.Security/apiCollections/a",
      "Microsoft.Security/apiCollections/delete",
    ],
    ["POST", "/subscriptions/s/metrics:getBatch", "Microsoft.Insights/Metrics/Read"],
    ["POST", "/providers/Microsoft.ResourceGraph/resources", "Microsoft.ResourceGraph/resources/read"],
    [
      "GET",
      "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c/providers/Microsoft.KubernetesConfiguration/extensions/e/operations/o",
      "Microsoft.KubernetesConfiguration/extensions/operations/read",
    ],
    [
      "DELETE",
      "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/a/providers/Microsoft.Security/pricings/Containers",
      "Microsoft.Security/pricings/delete",
    ],
  ])("%s %s needs %s", (method, path, action) => {
    expect(armActionFor(method, path)).toBe(action);
  });
});
