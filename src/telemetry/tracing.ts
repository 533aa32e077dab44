/**
 * Traces and counters through the OpenTelemetry API only: without a registered SDK they cost nothing;
 * in Azure, `startTelemetry` registers Application Insights (applicationinsights, OpenTelemetry-based).
 * Attributes carry ids and counts, never request bodies, headers or tokens.
 */
import { metrics, SpanStatusCode, trace, type Attributes } from "@opentelemetry/api";
import type { OutcomeRecord } from "../model/outcome.js";

const SCOPE = "autoprotect";

/** Runs `work` in a span that is the parent of every Azure SDK call made inside it. */
export async function inSpan<T>(name: string, attributes: Attributes, work: () => Promise<T>): Promise<T> {
  return trace.getTracer(SCOPE).startActiveSpan(name, { attributes }, async (span) => {
    try {
      const result = await work();
      span.setStatus({ code: SpanStatusCode.OK });
      return result;
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : "error" });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Adds attributes to the active span (the run's), e.g. its outcome counts once known. */
export function annotateSpan(attributes: Attributes): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}

/** `autoprotect.outcomes`: one count per outcome, by status, check and trigger. */
export function countOutcomes(outcomes: readonly OutcomeRecord[]): void {
  // Asked for on each call: a meter taken before the SDK is registered would stay a no-op.
  const counter = metrics.getMeter(SCOPE).createCounter("autoprotect.outcomes", {
    description:
      "outcome records written, by status (remediated, failed, deferred, manual, …), check and trigger",
  });
  for (const outcome of outcomes) {
    counter.add(1, { status: outcome.Status, check: outcome.Check, trigger: outcome.Trigger });
  }
}
