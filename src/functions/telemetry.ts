import { DefaultAzureCredential } from "@azure/identity";
import { startTelemetry } from "../telemetry/setup.js";

// Application Insights when APPLICATIONINSIGHTS_CONNECTION_STRING is set; nothing otherwise.
startTelemetry(process.env, new DefaultAzureCredential());
