import { createAksAdapter, type AksAdapter } from "./aks.js";
import { createApimAdapter, type ApimAdapter } from "./apim.js";
import { createArcAdapter, type ArcAdapter } from "./arc.js";
import { createMonitorAdapter, type MonitorAdapter } from "./monitor.js";
import type { AzureConnection } from "./connection.js";
import { createLogAnalyticsAdapter, type LogAnalyticsAdapter } from "./log-analytics.js";
import { createResourceGraphAdapter, type ResourceGraphAdapter } from "./resource-graph.js";
import { createResourcesAdapter, type ResourcesAdapter } from "./resources.js";
import { createSecurityAdapter, type SecurityAdapter } from "./security.js";

/** Everything the engine reads from and writes to Azure, one adapter per service. */
export interface AzureGateway {
  readonly aks: AksAdapter;
  readonly arc: ArcAdapter;
  readonly security: SecurityAdapter;
  readonly resources: ResourcesAdapter;
  readonly logAnalytics: LogAnalyticsAdapter;
  readonly apim: ApimAdapter;
  readonly monitor: MonitorAdapter;
  /** Azure Resource Graph: Defender for Cloud's assessments, and discovery (which subscriptions hold anything to reconcile). */
  readonly resourceGraph: ResourceGraphAdapter;
}

export function createAzureGateway(connection: AzureConnection): AzureGateway {
  return {
    aks: createAksAdapter(connection),
    arc: createArcAdapter(connection),
    security: createSecurityAdapter(connection),
    resources: createResourcesAdapter(connection),
    logAnalytics: createLogAnalyticsAdapter(connection),
    apim: createApimAdapter(connection),
    monitor: createMonitorAdapter(connection),
    resourceGraph: createResourceGraphAdapter(connection),
  };
}

export type { AzureConnection } from "./connection.js";
export { AzureApiError } from "./errors.js";
