/**
 * Application Insights for the Functions app, through `applicationinsights` (OpenTelemetry-based):
 * traces (one per run, Azure SDK calls as its children), the outcome counter, and logs. Off unless
 * `APPLICATIONINSIGHTS_CONNECTION_STRING` is set (the Functions host sets it from the app setting).
 */
import type { TokenCredential } from "@azure/core-auth";
import * as coreTracing from "@azure/core-tracing";
import { AzureSdkInstrumentation } from "@azure/opentelemetry-instrumentation-azure-sdk";
import { useAzureMonitor } from "applicationinsights";

let started = false;

/**
 * Points the Azure SDKs' tracing at OpenTelemetry. The instrumentation normally does this by patching
 * `@azure/core-tracing` as it is `require`d, which an ES module import never triggers; its patch is
 * applied to the loaded module instead (core-tracing keeps one instrumenter for CJS and ESM alike).
 */
export function traceAzureSdkCalls(): void {
  for (const definition of new AzureSdkInstrumentation().getModuleDefinitions()) {
    definition.patch?.(coreTracing);
  }
}

export function startTelemetry(
  env: Readonly<Record<string, string | undefined>>,
  credential: TokenCredential,
): boolean {
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim();
  if (started || connectionString === undefined || connectionString === "") return started;
  useAzureMonitor({
    // The managed identity signs telemetry in where the resource disables local (key) auth.
    azureMonitorExporterOptions: { connectionString, credential },
    instrumentationOptions: { azureSdk: { enabled: false }, http: { enabled: false } },
  });
  traceAzureSdkCalls();
  started = true;
  return true;
}
