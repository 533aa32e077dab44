import { describe, expect, it } from "vitest";
import { buildOutcome, failureCode } from "../../src/outcomes/record.js";

describe("failed outcomes carry Details.code", () => {
  it.each([
    ["a given code", "anything", { code: "Conflict" }, "Conflict"],
    [
      "an ARM error nested in details",
      "InternalServerError: boom",
      { error: { code: "InternalServerError" } },
      "InternalServerError",
    ],
    ["the code the reason starts with", "AuthorizationFailed: no access", {}, "AuthorizationFailed"],
    ["a prefixed reason's code", "rollback: ResourceNotFound: gone", {}, "ResourceNotFound"],
    ["a write that did not take", "the change was accepted but not confirmed: still off", {}, "NotConfirmed"],
    ["anything else", "onboarding ended Canceled", {}, "Failed"],
  ])("from %s", (_name, reason, details, code) => {
    expect(failureCode(reason, details)).toBe(code);
  });

  it("adds it to failed outcomes only, keeping the other details", () => {
    const info = { runId: "r", trigger: "cli" as const, mode: "enforce" as const, correlationId: "c" };
    const base = {
      subscriptionId: "s",
      resourceId: "/x",
      resourceType: "t",
      check: "aks.azure-policy" as const,
      startedAt: 0,
    };
    const failed = buildOutcome(
      info,
      { ...base, status: "failed", reason: "Throttled: slow down", details: { a: 1 } },
      new Date(5),
    );
    expect(failed.Details).toEqual({ a: 1, code: "Throttled" });
    const fine = buildOutcome(
      info,
      { ...base, status: "compliant", reason: "ok", details: { a: 1 } },
      new Date(5),
    );
    expect(fine.Details).toEqual({ a: 1 });
  });
});
