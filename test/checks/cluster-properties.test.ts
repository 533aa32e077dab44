import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  applyClusterChanges,
  CLUSTER_CHECKS,
  planAuthorizedIps,
  planAzurePolicy,
  planClusterProtection,
  planDefenderSensor,
  type ClusterCheckInput,
  type ClusterFinding,
} from "../../src/checks/index.js";
import type { ClusterChange, ClusterSnapshot, WorkspaceSnapshot } from "../../src/model/cluster.js";
import { CLUSTER_WORKSPACE, CONFIG_WORKSPACE, SPEC_EXAMPLE_WORKSPACE, invalid } from "./builders.js";
import { clusterInput, clusterSnapshot, internetWideRange, writableCluster } from "./arbitraries.js";

const RUNS = { numRuns: 400 };

type Obj = Record<string, unknown>;
const obj = (value: unknown): Obj =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Obj) : {};
const omit = (value: unknown, ...keys: string[]): Obj =>
  Object.fromEntries(Object.entries(obj(value)).filter(([key]) => !keys.includes(key)));
const list = (value: unknown): unknown[] => (Array.isArray(value) ? (value as unknown[]) : []);
const isPolicyKey = (key: string) => key.toLowerCase() === "azurepolicy";

function plannedChanges(entries: readonly ClusterFinding[]): ClusterChange[] {
  return entries.flatMap(({ finding }) => (finding.verdict === "change" ? [finding.change] : []));
}

/** Every guarantee of "a check never weakens anything" that a cluster PUT body can break. */
function expectNeverWeakens(
  beforeCluster: ClusterSnapshot,
  afterCluster: ClusterSnapshot,
  changes: readonly ClusterChange[],
) {
  const before = beforeCluster as unknown as Obj;
  const after = afterCluster as unknown as Obj;
  const kinds = new Set(changes.map((c) => c.kind));
  const targeted = ["securityProfile", "addonProfiles", "apiServerAccessProfile"];
  expect(omit(after, ...targeted)).toStrictEqual(omit(before, ...targeted));
  expect(Object.keys(after).filter((k) => !targeted.includes(k))).toEqual(
    Object.keys(before).filter((k) => !targeted.includes(k)),
  );

  const defenderBefore = obj(obj(before.securityProfile).defender);
  const defenderAfter = obj(obj(after.securityProfile).defender);
  if (kinds.has("enable-defender-sensor")) {
    expect(omit(after.securityProfile, "defender")).toStrictEqual(omit(before.securityProfile, "defender"));
    const own = ["logAnalyticsWorkspaceResourceId", "securityMonitoring"];
    expect(omit(defenderAfter, ...own)).toStrictEqual(omit(defenderBefore, ...own));
    expect(omit(defenderAfter.securityMonitoring, "enabled")).toStrictEqual(
      omit(defenderBefore.securityMonitoring, "enabled"),
    );
    expect(obj(defenderAfter.securityMonitoring).enabled).toBe(true);
  } else {
    expect(after.securityProfile).toStrictEqual(before.securityProfile);
  }
  if (obj(defenderBefore.securityMonitoring).enabled === true) {
    expect(obj(defenderAfter.securityMonitoring).enabled).toBe(true);
  }
  const workspaceBefore = defenderBefore.logAnalyticsWorkspaceResourceId;
  if (typeof workspaceBefore === "string" && workspaceBefore.trim() !== "") {
    expect(defenderAfter.logAnalyticsWorkspaceResourceId).toBe(workspaceBefore);
  }

  const addonsBefore = obj(before.addonProfiles);
  const addonsAfter = obj(after.addonProfiles);
  if (kinds.has("enable-azure-policy")) {
    for (const [key, addon] of Object.entries(addonsBefore)) {
      if (isPolicyKey(key)) expect(omit(addonsAfter[key], "enabled")).toStrictEqual(omit(addon, "enabled"));
      else expect(addonsAfter[key]).toStrictEqual(addon);
    }
    const added = Object.keys(addonsAfter).filter((key) => !(key in addonsBefore));
    expect(added.length).toBeLessThanOrEqual(1);
    expect(added.every(isPolicyKey)).toBe(true);
    expect(
      Object.entries(addonsAfter).some(([key, addon]) => isPolicyKey(key) && obj(addon).enabled === true),
    ).toBe(true);
  } else {
    expect(after.addonProfiles).toStrictEqual(before.addonProfiles);
  }
  for (const [key, addon] of Object.entries(addonsBefore)) {
    if (obj(addon).enabled === true) expect(obj(addonsAfter[key]).enabled).toBe(true);
  }

  const accessBefore = obj(before.apiServerAccessProfile);
  const accessAfter = obj(after.apiServerAccessProfile);
  if (kinds.has("add-authorized-ip-ranges")) {
    expect(omit(accessAfter, "authorizedIPRanges")).toStrictEqual(omit(accessBefore, "authorizedIPRanges"));
    const rangesBefore = list(accessBefore.authorizedIPRanges);
    const rangesAfter = list(accessAfter.authorizedIPRanges);
    expect(rangesAfter.slice(0, rangesBefore.length)).toStrictEqual(rangesBefore);
    const wanted = changes.flatMap((c) =>
      c.kind === "add-authorized-ip-ranges" ? c.ranges.map((r) => r.trim()) : [],
    );
    for (const range of rangesAfter.slice(rangesBefore.length)) expect(wanted).toContain(range);
  } else {
    expect(after.apiServerAccessProfile).toStrictEqual(before.apiServerAccessProfile);
  }
  expect("enablePrivateCluster" in accessAfter).toBe("enablePrivateCluster" in accessBefore);
  expect(accessAfter.enablePrivateCluster).toBe(accessBefore.enablePrivateCluster);
}

const anyChange: fc.Arbitrary<ClusterChange> = fc.oneof(
  fc.record({
    kind: fc.constant("enable-defender-sensor" as const),
    workspaceResourceId: fc.constant(CONFIG_WORKSPACE),
  }),
  fc.record({
    kind: fc.constant("enable-azure-policy" as const),
    addonKey: fc.mixedCase(fc.constant("azurepolicy")),
  }),
  fc.record({
    kind: fc.constant("add-authorized-ip-ranges" as const),
    ranges: fc.array(fc.constantFrom("203.0.113.0/24", "10.0.0.0/8", " 192.0.2.1"), { maxLength: 3 }),
  }),
);

describe("applyClusterChanges never weakens a cluster", () => {
  it("for the changes planned for it", () => {
    fc.assert(
      fc.property(clusterInput(writableCluster), (input) => {
        const pristine = structuredClone(input.cluster);
        const changes = plannedChanges(planClusterProtection(input));
        const after = applyClusterChanges(input.cluster, changes);
        expect(input.cluster).toStrictEqual(pristine);
        expectNeverWeakens(pristine, after, changes);
      }),
      RUNS,
    );
  });

  it("for any changes, even ones planned from an older read", () => {
    fc.assert(
      fc.property(clusterSnapshot, fc.array(anyChange, { maxLength: 4 }), (cluster, changes) => {
        const pristine = structuredClone(cluster);
        const after = applyClusterChanges(cluster, changes);
        expect(cluster).toStrictEqual(pristine);
        expectNeverWeakens(pristine, after, changes);
      }),
      RUNS,
    );
  });
});

describe("planning converges", () => {
  it("applying the planned changes leaves nothing to change", () => {
    fc.assert(
      fc.property(clusterInput(writableCluster), (input) => {
        const first = planClusterProtection(input);
        const after = applyClusterChanges(input.cluster, plannedChanges(first));
        const again = planClusterProtection({ ...input, cluster: after });
        expect(again.map((e) => e.check)).toEqual(first.map((e) => e.check));
        again.forEach(({ finding }, i) => {
          const was = first[i]?.finding.verdict;
          expect(finding.verdict).toBe(was === "change" ? "compliant" : was);
        });
      }),
      RUNS,
    );
  });

  const planners: [string, (input: ClusterCheckInput) => ReturnType<typeof planDefenderSensor>][] = [
    ["planDefenderSensor", planDefenderSensor],
    ["planAzurePolicy", planAzurePolicy],
    ["planAuthorizedIps", planAuthorizedIps],
  ];
  it.each(planners)("%s is compliant after its own change", (_name, plan) => {
    fc.assert(
      fc.property(clusterInput(clusterSnapshot), (input) => {
        const finding = plan(input);
        if (finding.verdict !== "change") return;
        expect(
          plan({ ...input, cluster: applyClusterChanges(input.cluster, [finding.change]) }).verdict,
        ).toBe("compliant");
      }),
      RUNS,
    );
  });
});

describe("planClusterProtection", () => {
  const truthy = (value: unknown) => typeof value === "string" && value.trim().toLowerCase() === "true";
  const excluded = (tag: string, tags: unknown) =>
    Object.entries(obj(tags)).some(
      ([name, value]) => name.toLowerCase() === tag.toLowerCase() && truthy(value),
    );

  it("skips excluded clusters, defers busy or stopped ones, and changes only writable ones", () => {
    fc.assert(
      fc.property(clusterInput(clusterSnapshot), (input) => {
        const entries = planClusterProtection(input);
        expect(entries.map((e) => e.check)).toEqual(
          CLUSTER_CHECKS.filter((c) => input.config.checks.includes(c)),
        );
        const { cluster, config } = input;
        const state = cluster.provisioningState;
        const blocked =
          (state !== undefined && state.toLowerCase() !== "succeeded") ||
          obj(cluster.powerState).code === "Stopped" ||
          String(obj(cluster.powerState).code).toLowerCase() === "stopped";
        for (const { finding } of entries) {
          if (
            excluded(config.excludeTag, cluster.tags) ||
            excluded(config.excludeTag, input.resourceGroupTags)
          ) {
            expect(finding).toMatchObject({ verdict: "skipped", reason: "excluded by tag" });
          } else if (blocked) {
            expect(finding.verdict).not.toBe("change");
            expect(finding.verdict).not.toBe("skipped");
          } else {
            expect(["compliant", "change", "manual"]).toContain(finding.verdict);
          }
        }
      }),
      RUNS,
    );
  });

  it("the generators reach every verdict of every check (so the properties above are not vacuous)", () => {
    const seen = new Set<string>();
    for (const input of fc.sample(clusterInput(clusterSnapshot), { numRuns: 2000, seed: 7 })) {
      for (const { check, finding } of planClusterProtection(input)) seen.add(`${check} ${finding.verdict}`);
    }
    const expected = [
      ...["aks.defender-sensor", "aks.azure-policy", "aks.authorized-ips"].flatMap((check) =>
        ["compliant", "change", "deferred", "skipped"].map((verdict) => `${check} ${verdict}`),
      ),
      "aks.defender-sensor manual",
      // Held back: the cluster's running sensor names a workspace ARM refuses.
      "aks.azure-policy manual",
      "aks.authorized-ips manual",
      "aks.sensor-workspace compliant",
      "aks.sensor-workspace manual",
      "aks.sensor-workspace skipped",
    ];
    expect([...seen].sort()).toEqual(expect.arrayContaining(expected.sort()));
  });
});

describe("an internet-wide authorized range never counts as protection", () => {
  const excluded = (input: ClusterCheckInput) =>
    planClusterProtection(input).some(({ finding }) => finding.reason === "excluded by tag");
  const authorizedIps = (input: ClusterCheckInput) =>
    planClusterProtection(input).find(({ check }) => check === "aks.authorized-ips")?.finding;

  it("a public cluster listing one is manual, never compliant, and nothing is written for it", () => {
    fc.assert(
      fc.property(clusterInput(clusterSnapshot), internetWideRange, fc.nat(3), (input, wide, at) => {
        const access = obj(input.cluster.apiServerAccessProfile);
        const ranges = [...list(access.authorizedIPRanges)];
        ranges.splice(Math.min(at, ranges.length), 0, wide);
        const cluster = {
          ...input.cluster,
          apiServerAccessProfile: { ...access, authorizedIPRanges: ranges },
        } as ClusterSnapshot;
        const withWide: ClusterCheckInput = {
          ...input,
          config: { ...input.config, checks: ["aks.authorized-ips" as const] },
          cluster,
        };
        const finding = authorizedIps(withWide);
        if (excluded(withWide)) return;
        if (access.enablePrivateCluster === true) {
          // A private API server has no public endpoint for the range to open.
          expect(finding).toMatchObject({ verdict: "compliant", reason: "the API server is private" });
          return;
        }
        expect(finding?.verdict).toBe("manual");
        expect(finding?.reason).toContain(wide);
        expect(finding?.reason).toMatch(/: remove (it|them)$/);
      }),
      RUNS,
    );
  });

  it("a configured one is never added, so a cluster without ranges is never made to look protected", () => {
    fc.assert(
      fc.property(clusterInput(writableCluster), internetWideRange, (input, wide) => {
        const config = { ...input.config, authorizedIpRanges: [...input.config.authorizedIpRanges, wide] };
        const finding = authorizedIps({ ...input, config });
        expect(finding?.verdict).not.toBe("change");
        const changes = plannedChanges(planClusterProtection({ ...input, config }));
        const before = list(obj(input.cluster.apiServerAccessProfile).authorizedIPRanges);
        const after = list(
          obj(applyClusterChanges(input.cluster, changes).apiServerAccessProfile).authorizedIPRanges,
        );
        expect(after.slice(before.length).map((r) => String(r).trim())).not.toContain(wide.trim());
      }),
      RUNS,
    );
  });

  it("compliant means private, or every listed range at least as long as the minimum prefix", () => {
    const prefixOf = (range: string) => {
      const [address = "", prefix] = range.trim().split("/");
      return prefix === undefined ? (address.includes(":") ? 128 : 32) : Number(prefix);
    };
    fc.assert(
      fc.property(clusterInput(clusterSnapshot), (input) => {
        const finding = authorizedIps(input);
        if (finding?.verdict !== "compliant") return;
        const access = obj(input.cluster.apiServerAccessProfile);
        if (access.enablePrivateCluster === true) return;
        const ranges = list(access.authorizedIPRanges).filter(
          (r) => typeof r === "string" && r.trim() !== "",
        );
        expect(ranges.length).toBeGreaterThan(0);
        for (const range of ranges as string[]) {
          expect(prefixOf(range)).toBeGreaterThanOrEqual(input.config.minAuthorizedPrefix);
          expect(range).not.toMatch(/^\s*::ffff:/i);
        }
      }),
      RUNS,
    );
  });
});

describe("checks fail alone", () => {
  const workspaces: fc.Arbitrary<WorkspaceSnapshot> = fc.constantFrom(
    { state: "none" },
    invalid(SPEC_EXAMPLE_WORKSPACE),
    { state: "missing", resourceId: CLUSTER_WORKSPACE },
    { state: "found", resourceId: CONFIG_WORKSPACE, privateLinkScopeIds: [] },
  );

  it("what was read of the workspace changes no other check, except that ARM refusing the cluster's writes holds a change back", () => {
    fc.assert(
      fc.property(clusterInput(clusterSnapshot), workspaces, (input, workspace) => {
        const first = planClusterProtection(input);
        const second = planClusterProtection({ ...input, workspace });
        for (const check of ["aks.azure-policy", "aks.authorized-ips"]) {
          const a = first.find((e) => e.check === check)?.finding;
          const b = second.find((e) => e.check === check)?.finding;
          if (JSON.stringify(a) === JSON.stringify(b)) continue;
          // The held-back one names ARM's refusal; the other may be manual for a reason of its own (a
          // Failed cluster), with the same planned action.
          const [held, other] = a?.reason.includes("ARM refuses") === true ? [a, b] : [b, a];
          expect(held?.verdict).toBe("manual");
          expect(held?.reason).toContain("ARM refuses every write of this cluster");
          const otherAction =
            other?.verdict === "change"
              ? other.action
              : (other?.details as { plannedAction?: string } | undefined)?.plannedAction;
          expect(held?.details?.plannedAction).toBe(otherAction);
        }
      }),
      RUNS,
    );
  });
});
