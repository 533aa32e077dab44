import { DefaultAzureCredential } from "@azure/identity";

// Application Insights when APPLICATIONINSIGHTS_CONNECTION_STRING is set. Loaded only then: it is half
// of the bundle and half its load time, a cold-start cost an app without telemetry should not pay.
if (process.env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim()) {
  const { startTelemetry } = await import("../telemetry/setup.js");
  startTelemetry(process.env, new DefaultAzureCredential());
}
