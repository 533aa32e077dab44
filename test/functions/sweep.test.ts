import { InvocationContext, type Timer } from "@azure/functions";
import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../sim/index.js";
import { simulatorCredential } from "../../src/cli/simulate.js";
import { createSweepHandler } from "../../src/functions/sweep.js";
import { createRuntime } from "../../src/functions/runtime.js";
import { BASE_ENV } from "../support/azure.js";
import { useAzurite } from "../support/azurite.js";
import { SUB_A, SUB_B, cluster, estate } from "../support/estate.js";

const azurite = useAzurite();

const timer: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: false },
  scheduleStatus: { last: "", next: "", lastUpdated: "" },
};

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function sweepWith(env: Record<string, string>) {
  const e = estate([cluster("aks-a"), cluster("aks-b", { sub: SUB_B })]);
  e.subscriptions.push({ subscriptionId: SUB_B });
  sim = await startSimulator({ estate: e });
  const connection = {
    credential: simulatorCredential,
    endpoint: sim.endpoint,
    tlsCa: sim.ca,
    pollIntervalMs: 5,
  };
  // Storage holds the waits and the follow-up looks (the clusters' updates are confirmed later).
  const runtime = createRuntime(
    { ...BASE_ENV, AzureWebJobsStorage: azurite().connectionString, ...env },
    connection,
  );
  const logs: string[] = [];
  const context = new InvocationContext({
    invocationId: "inv-42",
    functionName: "sweep",
    logHandler: (_level, ...args) => logs.push(args.map(String).join(" ")),
  });
  const result = await createSweepHandler(() => runtime)(timer, context);
  return { result, logs };
}

describe("timer sweep trigger", () => {
  it("sweeps every subscription the identity can see when no allow-list is set", async () => {
    const { result, logs } = await sweepWith({});
    const subscriptions = new Set(result.outcomes.map((o) => o.SubscriptionId));
    expect(subscriptions).toEqual(new Set([SUB_A, SUB_B]));
    for (const outcome of result.outcomes) {
      expect(outcome).toMatchObject({ Trigger: "timer", RunId: "inv-42", CorrelationId: "inv-42" });
    }
    expect(logs.join("\n")).toMatch(/sweep of 2 subscriptions: 14 outcomes, 0 failed/);
  });

  it("sweeps only the subscriptions in AUTOPROTECT_SUBSCRIPTIONS", async () => {
    const { result } = await sweepWith({ AUTOPROTECT_SUBSCRIPTIONS: SUB_B, AUTOPROTECT_MODE: "audit" });
    expect(new Set(result.outcomes.map((o) => o.SubscriptionId))).toEqual(new Set([SUB_B]));
    expect(result.outcomes.every((o) => o.Mode === "audit")).toBe(true);
  });
});
