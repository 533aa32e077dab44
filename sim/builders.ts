/**
 * ARM resources as ARM returns them, for estates: one builder per resource type, shared by the tests
 * and the benchmarks' generators, so that a change to what a resource looks like is made once. Each
 * gives a realistic default that nothing in autoprotect's scope protects; callers add what their
 * scenario needs (`properties` is merged over the defaults, top level only).
 */
import type { ArmResource } from "./estate.js";

type Properties = Record<string, unknown>;

const lastSegment = (id: string): string => id.slice(id.lastIndexOf("/") + 1);

export const managedClusterId = (subscriptionId: string, resourceGroup: string, name: string): string =>
  `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${name}`;

export const workspaceResourceId = (subscriptionId: string, resourceGroup: string, name: string): string =>
  `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.OperationalInsights/workspaces/${name}`;

export const apimServiceId = (subscriptionId: string, resourceGroup: string, name: string): string =>
  `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.ApiManagement/service/${name}`;

export interface ResourceOptions {
  readonly location?: string;
  readonly tags?: Record<string, string>;
  readonly sku?: Record<string, unknown>;
  readonly properties?: Properties;
}

/** An AKS cluster: running, public API server, no Defender profile, no Azure Policy add-on. */
export function managedCluster(id: string, options: ResourceOptions = {}): ArmResource {
  const name = lastSegment(id);
  return {
    id,
    name,
    type: "Microsoft.ContainerService/ManagedClusters",
    location: options.location ?? "westeurope",
    tags: options.tags ?? {},
    sku: options.sku ?? { name: "Base", tier: "Free" },
    identity: { type: "SystemAssigned" },
    properties: {
      provisioningState: "Succeeded",
      powerState: { code: "Running" },
      kubernetesVersion: "1.33",
      dnsPrefix: `${name}-dns`,
      enableRBAC: true,
      agentPoolProfiles: [
        {
          name: "system",
          count: 3,
          vmSize: "Standard_D4ds_v5",
          mode: "System",
          osType: "Linux",
          type: "VirtualMachineScaleSets",
        },
      ],
      networkProfile: { networkPlugin: "azure", loadBalancerSku: "standard", outboundType: "loadBalancer" },
      addonProfiles: {},
      ...options.properties,
    },
  };
}

/** A Log Analytics workspace that accepts ingestion from public networks. */
export function logAnalyticsWorkspace(id: string, options: ResourceOptions = {}): ArmResource {
  return {
    id,
    name: lastSegment(id),
    type: "Microsoft.OperationalInsights/workspaces",
    location: options.location ?? "westeurope",
    ...(options.tags === undefined ? {} : { tags: options.tags }),
    properties: {
      provisioningState: "Succeeded",
      publicNetworkAccessForIngestion: "Enabled",
      publicNetworkAccessForQuery: "Enabled",
      ...options.properties,
    },
  };
}

/** An API Management instance of `tier` (a Consumption one has no units). */
export function apimServiceResource(id: string, tier: string, options: ResourceOptions = {}): ArmResource {
  const name = lastSegment(id);
  return {
    id,
    name,
    type: "Microsoft.ApiManagement/service",
    location: options.location ?? "West Europe",
    etag: "AAAAAAAWN/4=",
    sku: options.sku ?? { name: tier, capacity: tier === "Consumption" ? 0 : 1 },
    tags: options.tags ?? {},
    properties: {
      publisherEmail: "apis@contoso.com",
      publisherName: "Contoso",
      provisioningState: "Succeeded",
      targetProvisioningState: "",
      gatewayUrl: `https://${name}.azure-api.net`,
      virtualNetworkType: "None",
      publicNetworkAccess: "Enabled",
      ...options.properties,
    },
  };
}

/**
 * An API at `id` (under a service, a workspace or a gateway: the type follows the parent), current,
 * its first revision; `name;rev=N` names a revision.
 */
export function apimApiResource(id: string, properties: Properties = {}): ArmResource {
  const name = lastSegment(id);
  const parent = /\/(gateways|workspaces)\/[^/]+\/apis\/[^/]+$/i.exec(id)?.[1]?.toLowerCase();
  const base = name.split(";")[0] ?? name;
  return {
    id,
    name,
    type:
      parent === undefined
        ? "Microsoft.ApiManagement/service/apis"
        : `Microsoft.ApiManagement/service/${parent}/apis`,
    properties: {
      displayName: base.charAt(0).toUpperCase() + base.slice(1),
      apiRevision: "1",
      serviceUrl: `https://backend.contoso.com/${base}`,
      path: base,
      protocols: ["https"],
      isCurrent: true,
      ...properties,
    },
  };
}

/** A service's child that is not an API: a workspace or a self-hosted gateway. */
export function apimChildResource(
  serviceId: string,
  kind: "gateways" | "workspaces",
  name: string,
  properties: Properties,
): ArmResource {
  return {
    id: `${serviceId}/${kind}/${name}`,
    name,
    type: `Microsoft.ApiManagement/service/${kind}`,
    properties,
  };
}

/** An API onboarded to Defender for APIs: its collection, as Defender for Cloud shows it. */
export function apiCollectionResource(
  serviceId: string,
  api: string,
  properties: Properties = {},
): ArmResource {
  return {
    id: `${serviceId}/providers/Microsoft.Security/apiCollections/${api}`,
    name: api,
    type: "Microsoft.Security/apiCollections",
    properties: {
      provisioningState: "Succeeded",
      displayName: api,
      discoveredVia: serviceId,
      baseUrl: `https://${lastSegment(serviceId)}.azure-api.net/${api}`,
      ...properties,
    },
  };
}

export const connectedClusterId = (subscriptionId: string, resourceGroup: string, name: string): string =>
  `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Kubernetes/connectedClusters/${name}`;

/** An Arc-enabled cluster, connected (2024-01-01's GetClusterExample shape). */
export function connectedCluster(id: string, options: ResourceOptions = {}): ArmResource {
  return {
    id,
    name: lastSegment(id),
    type: "Microsoft.Kubernetes/connectedClusters",
    location: options.location ?? "westeurope",
    tags: options.tags ?? {},
    identity: { type: "SystemAssigned" },
    properties: {
      agentPublicKeyCertificate: "MIICYzCCAcygAwIBAgIBADANBgkqhkiG9w0BAQUFADAuMQswCQYDVQQGEwJVUzEM",
      kubernetesVersion: "1.31.4",
      totalNodeCount: 3,
      agentVersion: "1.24.4",
      provisioningState: "Succeeded",
      distribution: "k3s",
      infrastructure: "generic",
      connectivityStatus: "Connected",
      ...options.properties,
    },
  };
}

/** A cluster extension named `name` of `extensionType`, installed and `Succeeded` (2024-11-01's shape). */
export function clusterExtension(
  clusterId: string,
  name: string,
  extensionType: string,
  properties: Properties = {},
): ArmResource {
  return {
    id: `${clusterId}/providers/Microsoft.KubernetesConfiguration/extensions/${name}`,
    name,
    type: "Microsoft.KubernetesConfiguration/extensions",
    properties: {
      extensionType,
      autoUpgradeMinorVersion: true,
      releaseTrain: "Stable",
      provisioningState: "Succeeded",
      configurationSettings: {},
      statuses: [],
      ...properties,
    },
  };
}

/** A cluster's own Containers plan (`{clusterId}/providers/Microsoft.Security/pricings/Containers`). */
export function clusterPlanResource(
  clusterId: string,
  pricingTier: "Free" | "Standard",
  extensions: Record<string, "True" | "False"> = {},
): ArmResource {
  return {
    id: `${clusterId}/providers/Microsoft.Security/pricings/Containers`,
    name: "Containers",
    type: "Microsoft.Security/pricings",
    properties: {
      pricingTier,
      extensions: Object.entries(extensions).map(([name, isEnabled]) => ({ name, isEnabled })),
    },
  };
}

/**
 * A `ResourceWriteSuccess` for `resourceId` as its subscription's system topic delivers it (Event Grid
 * schema, the data's required fields; azure-rest-api-specs' Event Grid examples), for tests and
 * benchmarks that drive the event trigger's handler.
 */
export function resourceWriteEvent(
  resourceId: string,
  eventId: string,
  operation = "Microsoft.ContainerService/managedClusters/write",
): Record<string, unknown> {
  const subscriptionId = resourceId.split("/")[2] ?? "";
  return {
    topic: `/subscriptions/${subscriptionId}`,
    subject: resourceId,
    eventType: "Microsoft.Resources.ResourceWriteSuccess",
    eventTime: new Date().toISOString(),
    id: eventId,
    data: {
      authorization: { scope: resourceId, action: operation },
      claims: {},
      correlationId: "54ef1e39-6a82-44b3-abc1-bdeb6ce4d3c6",
      httpRequest: "",
      resourceProvider: operation.split("/")[0] ?? "",
      resourceUri: resourceId,
      operationName: operation,
      status: "Succeeded",
      subscriptionId,
      tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47",
    },
    dataVersion: "2",
    metadataVersion: "1",
  };
}
