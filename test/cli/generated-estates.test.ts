import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Estate } from "../../sim/index.js";
import { runCli } from "../../src/cli/main.js";
import { CHECK_IDS, STATUSES } from "../../src/model/checks.js";
import { OUTCOME_FIELDS, type OutcomeRecord } from "../../src/model/outcome.js";
import { BASE_ENV } from "../support/azure.js";
import { SUB_A, cluster, estate } from "../support/estate.js";

async function cli(args: string[]): Promise<{ code: number; outcomes: OutcomeRecord[]; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env: BASE_ENV,
  });
  const outcomes = stdout
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as OutcomeRecord);
  return { code, outcomes, stderr };
}

const addonKey = fc.constantFrom(
  "azurepolicy",
  "azurePolicy",
  "AZUREPOLICY",
  "omsagent",
  "omsAgent",
  "gitops",
);
const clusterProperties = fc
  .record(
    {
      addonProfiles: fc.dictionary(addonKey, fc.record({ enabled: fc.boolean() }), { maxKeys: 3 }),
      securityProfile: fc.option(
        fc.record({
          defender: fc.record({
            logAnalyticsWorkspaceResourceId: fc.constant(BASE_ENV.AUTOPROTECT_WORKSPACE_ID),
            securityMonitoring: fc.record({ enabled: fc.boolean() }),
          }),
        }),
        { nil: undefined },
      ),
      apiServerAccessProfile: fc.option(
        fc.record({
          enablePrivateCluster: fc.boolean(),
          authorizedIPRanges: fc.subarray(["198.51.100.0/24", "192.0.2.10/32", "10.1.0.0/16"]),
        }),
        { nil: undefined },
      ),
      networkProfile: fc.record({
        loadBalancerSku: fc.constantFrom("standard", "Standard", "basic", "Basic"),
      }),
      provisioningState: fc.constantFrom("Succeeded", "Succeeded", "succeeded", "Updating", "Failed"),
      powerState: fc.record({ code: fc.constantFrom("Running", "Running", "Stopped") }),
    },
    { requiredKeys: ["networkProfile", "provisioningState", "powerState", "addonProfiles"] },
  )
  .map((p) =>
    // ARM refuses authorized ranges on a Basic load balancer, so no real cluster has both.
    p.networkProfile.loadBalancerSku.toLowerCase() === "basic" && p.apiServerAccessProfile !== undefined
      ? { ...p, apiServerAccessProfile: { ...p.apiServerAccessProfile, authorizedIPRanges: [] } }
      : p,
  );
const generatedEstate = fc
  .record({
    clusters: fc.array(
      fc.record({
        properties: clusterProperties,
        excluded: fc.boolean(),
        tagCase: fc.constantFrom("true", "TRUE", "True"),
      }),
      { minLength: 1, maxLength: 6 },
    ),
    tier: fc.constantFrom("Free", "Standard", "standard"),
    sensor: fc.constantFrom("True", "False", "false"),
  })
  .map(({ clusters, tier, sensor }): Estate => {
    const resources = clusters.map((c, i) =>
      cluster(`aks-${i}`, {
        tags: c.excluded ? { "autoprotect-exclude": c.tagCase } : {},
        properties: c.properties,
      }),
    );
    return estate(resources, {
      pricingTier: tier,
      extensions: [
        { name: "ContainerSensor", isEnabled: sensor },
        { name: "ContainerRegistriesVulnerabilityAssessments", isEnabled: "False" },
      ],
    });
  });

describe("the CLI on estates that are not in the repository", () => {
  it("dry runs give one contract-conformant record per check and resource, and enforce converges", async () => {
    const dir = await mkdtemp(join(tmpdir(), "autoprotect-gen-"));
    let run = 0;
    await fc.assert(
      fc.asyncProperty(generatedEstate, async (generated) => {
        run += 1;
        const input = join(dir, `estate-${run}.json`);
        const after = join(dir, `after-${run}.json`);
        await writeFile(input, JSON.stringify(generated));
        const clusterCount = generated.resources.filter((r) => r.type.endsWith("ManagedClusters")).length;

        const dry = await cli(["sweep", "--simulate", input, "--dry-run", "--json"]);
        expect(dry.stderr).toBe("");
        expect(dry.code).toBe(0);
        // The two subscription plans, and five checks per cluster.
        expect(dry.outcomes).toHaveLength(2 + 5 * clusterCount);
        for (const outcome of dry.outcomes) {
          expect(Object.keys(outcome).sort()).toEqual([...OUTCOME_FIELDS].sort());
          expect(CHECK_IDS).toContain(outcome.Check);
          expect(STATUSES).toContain(outcome.Status);
          expect(["compliant", "planned", "deferred", "skipped", "manual"]).toContain(outcome.Status);
          expect(outcome.SubscriptionId).toBe(SUB_A);
          expect(outcome.Reason.length).toBeGreaterThan(0);
          expect(outcome.Action === "").toBe(outcome.Status !== "planned");
        }
        const keys = dry.outcomes.map((o) => `${o.ResourceId.toLowerCase()} ${o.Check}`);
        expect(new Set(keys).size).toBe(keys.length);

        const enforce = await cli(["sweep", "--simulate", input, "--json", "--save-estate", after]);
        expect(enforce.outcomes.filter((o) => o.Status === "failed")).toEqual([]);
        // Every change the dry run planned was made, and nothing else.
        const planned = dry.outcomes
          .filter((o) => o.Status === "planned")
          .map((o) => `${o.ResourceId} ${o.Check}`);
        const remediated = enforce.outcomes
          .filter((o) => o.Status === "remediated")
          .map((o) => `${o.ResourceId} ${o.Check}`);
        expect(remediated.sort()).toEqual(planned.sort());

        const again = await cli(["sweep", "--simulate", after, "--json"]);
        expect(again.outcomes.filter((o) => o.Status === "remediated" || o.Status === "failed")).toEqual([]);
      }),
      { numRuns: 12 },
    );
  });
});
