import { describe, expect, it } from "vitest";
import { buildOutcome, failureCode, withOutcomeId } from "../../src/outcomes/record.js";

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

describe("OutcomeId", () => {
  const info = { runId: "r", trigger: "cli" as const, mode: "enforce" as const, correlationId: "c" };
  const fields = {
    subscriptionId: "s",
    resourceId: "/x",
    resourceType: "t",
    check: "aks.azure-policy" as const,
    status: "compliant" as const,
    reason: "ok",
    startedAt: 0,
  };

  it("is unique per outcome, even for the same check, resource and time", () => {
    const ids = Array.from({ length: 100 }, () => buildOutcome(info, fields, new Date(5)).OutcomeId);
    expect(new Set(ids).size).toBe(100);
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("is kept by a row that has one, and derived from the content of an older row without one", () => {
    const row = buildOutcome(info, fields, new Date(5));
    expect(withOutcomeId(row)).toBe(row);
    const { OutcomeId: _dropped, ...legacy } = row;
    const older = legacy as typeof row;
    const derived = withOutcomeId(older).OutcomeId;
    expect(derived).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // Read again (a copy), the same id; another row, another id.
    expect(withOutcomeId(JSON.parse(JSON.stringify(older)) as typeof row).OutcomeId).toBe(derived);
    expect(withOutcomeId({ ...older, Reason: "other" }).OutcomeId).not.toBe(derived);
    expect(withOutcomeId({ ...older, OutcomeId: "" }).OutcomeId).not.toBe("");
  });
});
