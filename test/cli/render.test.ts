import { describe, expect, it } from "vitest";
import { ProgressBar, renderTable, summarise } from "../../src/cli/render.js";
import type { OutcomeRecord } from "../../src/model/outcome.js";

const SUB = "0a1b2c3d-0000-4000-8000-00000000000a";

function outcome(
  resource: string,
  check: OutcomeRecord["Check"],
  status: OutcomeRecord["Status"],
): OutcomeRecord {
  const plan = check === "defender.containers-plan";
  return {
    TimeGenerated: "2026-11-24T10:00:00.000Z",
    RunId: "r",
    Trigger: "cli",
    Mode: "enforce",
    SubscriptionId: SUB,
    ResourceId: plan
      ? `/subscriptions/${SUB}/providers/Microsoft.Security/pricings/Containers`
      : `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/${resource}`,
    ResourceType: plan ? "Microsoft.Security/pricings" : "Microsoft.ContainerService/managedClusters",
    Check: check,
    Status: status,
    Reason: `${check} reason`,
    Action: status === "remediated" ? "did it" : "",
    CorrelationId: "c",
    DurationMs: 1,
    Details: {},
    OutcomeId: `${resource} ${check}`,
  };
}

const outcomes = [
  outcome("zeta", "aks.azure-policy", "failed"),
  outcome("alpha", "aks.azure-policy", "remediated"),
  outcome("plan", "defender.containers-plan", "compliant"),
  outcome("alpha", "aks.defender-sensor", "compliant"),
];

describe("human output", () => {
  it("groups by resource, plan first, then clusters by id, whatever order they finished in", () => {
    const table = renderTable(outcomes, false);
    const titles = table.split("\n").filter((l) => l.length > 0 && !l.startsWith(" "));
    expect(titles.map((t) => t.split("  ")[0])).toEqual([
      `Defender plan Containers (subscription ${SUB})`,
      "alpha",
      "zeta",
    ]);
    expect(table).toMatch(/ {2}aks\.azure-policy +remediated +aks\.azure-policy reason -> did it\n/);
  });

  it("colours statuses only when asked (a terminal)", () => {
    expect(renderTable(outcomes, false)).not.toContain("\u001b[");
    const coloured = renderTable(outcomes, true);
    expect(coloured).toContain("\u001b[31;1mfailed");
    expect(coloured).toContain("\u001b[32mcompliant");
  });

  it("sums up counts per status", () => {
    expect(summarise(outcomes, 1234, false)).toBe(
      "4 checks on 3 resources: 2 compliant, 1 remediated, 1 failed (1.2 s)",
    );
  });

  it("draws a progress bar of every resource on a terminal for large sweeps, and nothing otherwise", () => {
    const written: string[] = [];
    const terminal = { isTTY: true, write: (t: string) => written.push(t) };
    const bar = new ProgressBar(terminal, 2);
    bar.addTotal(2);
    bar.resourceDone();
    bar.resourceDone();
    bar.finish();
    expect(written.join("")).toContain("2/2 resources");
    expect(written.at(-1)).toBe("\r\u001b[2K");

    const piped: string[] = [];
    const quiet = new ProgressBar({ isTTY: false, write: (t: string) => piped.push(t) }, 2);
    quiet.addTotal(50);
    quiet.resourceDone();
    quiet.finish();
    expect(piped).toEqual([]);
  });
});
