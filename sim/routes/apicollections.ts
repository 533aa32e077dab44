/**
 * Defender for APIs collections (Microsoft.Security/apiCollections, 2023-11-15), an extension resource
 * of an APIM service. PUT onboards an API as a long-running operation the Location way, shaped as
 * Azure's own example (APICollections_OnboardAzureApiManagementApi): the PUT answers 202 with
 * `Location: {collection URL}?api-version=2023-11-15&$retryUntil=…`; polls of that URL answer 202 until
 * the operation ends, then 200 with the collection. DELETE offboards (200, 204 when absent).
 */
import { ArmError, badRequest, resourceNotFound } from "../arm-errors.js";
import {
  API_COLLECTION_TYPE,
  APIM_API_TYPE,
  APIM_SERVICE_TYPE,
  apiTypeOf,
  isNonCurrentRevision,
  isRestApi,
  provisioningStateOf,
  tierOf,
} from "../apim.js";
import { recordOnboarded, startOnboardedHistory } from "../capacity.js";
import type { ArmResource } from "../estate.js";
import { faultEffect } from "../lro.js";
import { clone, normalizeId, type LocationOperation } from "../state.js";
import {
  isRecord,
  page,
  pattern,
  type ProviderModule,
  type RouteContext,
  type RouteResponse,
} from "./types.js";

export const API_COLLECTIONS_API_VERSIONS = ["2023-11-15"] as const;
const SERVICE =
  "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ApiManagement/service/{serviceName}";
const COLLECTIONS = `${SERVICE}/providers/Microsoft.Security/apiCollections`;
/** .NET ticks (100 ns since 0001-01-01) at the Unix epoch: `$retryUntil` is a tick count, as Azure's. */
const TICKS_AT_EPOCH = 621355968000000000n;
/** How long the handed-out Location stays valid. */
const RETRY_WINDOW_MS = 3600_000;

/** The endpoint counts Azure's example reports for an onboarded API. */
const EXAMPLE_COUNTS = {
  numberOfApiEndpoints: 6,
  numberOfInactiveApiEndpoints: 3,
  numberOfUnauthenticatedApiEndpoints: 1,
  numberOfExternalApiEndpoints: 3,
  numberOfApiEndpointsWithSensitiveDataExposed: 1,
  sensitivityLabel: "Highly Confidential",
} as const;

function serviceIdOf(ctx: RouteContext): string {
  const { subscriptionId = "", resourceGroupName = "", serviceName = "" } = ctx.params;
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroupName}/providers/${APIM_SERVICE_TYPE}/${serviceName}`;
}

function requireService(ctx: RouteContext): ArmResource {
  const service = ctx.state.get(serviceIdOf(ctx));
  if (service === undefined) {
    throw resourceNotFound(
      `${APIM_SERVICE_TYPE}/${ctx.params.serviceName ?? ""}`,
      ctx.params.resourceGroupName,
    );
  }
  return service;
}

function collectionId(service: ArmResource, apiName: string): string {
  return `${service.id}/providers/${API_COLLECTION_TYPE}/${apiName}`;
}

function collectionNotFound(ctx: RouteContext): ArmError {
  return resourceNotFound(`${API_COLLECTION_TYPE}/${ctx.params.apiId ?? ""}`, ctx.params.resourceGroupName);
}

/** The gateway URL the API is reached on: the service's `gatewayUrl`, else APIM's default host name. */
function baseUrlOf(service: ArmResource, api: ArmResource): string {
  const props = isRecord(service.properties) ? service.properties : {};
  const gateway =
    typeof props.gatewayUrl === "string" && props.gatewayUrl.length > 0
      ? props.gatewayUrl.replace(/\/+$/, "")
      : `https://${service.name.toLowerCase()}.azure-api.net`;
  const path = isRecord(api.properties) && typeof api.properties.path === "string" ? api.properties.path : "";
  const trimmed = path.replace(/^\/+/, "");
  return trimmed.length === 0 ? gateway : `${gateway}/${trimmed}`;
}

/** The collection of an onboarded API, as the example's 200 shows it. */
function succeededCollection(service: ArmResource, api: ArmResource): ArmResource {
  const props = isRecord(api.properties) ? api.properties : {};
  return {
    id: collectionId(service, api.name),
    name: api.name,
    type: API_COLLECTION_TYPE,
    properties: {
      provisioningState: "Succeeded",
      displayName: typeof props.displayName === "string" ? props.displayName : api.name,
      discoveredVia: service.id,
      baseUrl: baseUrlOf(service, api),
      ...EXAMPLE_COUNTS,
    },
  };
}

/**
 * Why Defender for APIs cannot onboard this API, as an ARM error; undefined when it can. The project's
 * controller must never try these (the contract has it skip them).
 */
function refusal(
  ctx: RouteContext,
  service: ArmResource,
  api: ArmResource | undefined,
): ArmError | undefined {
  const apiId = ctx.params.apiId ?? "";
  if (api === undefined) {
    return badRequest(
      "ApiNotFound",
      `Cannot onboard API '${apiId}' to Defender for APIs: API Management service '${service.name}' has no API with that id.`,
    );
  }
  const tier = tierOf(service);
  if (tier === "Consumption") {
    return badRequest(
      "UnsupportedApiManagementSku",
      `Cannot onboard API '${api.name}' to Defender for APIs: API Management service '${service.name}' is in the Consumption tier, which Defender for APIs does not support.`,
    );
  }
  if (!isRestApi(api)) {
    return badRequest(
      "UnsupportedApiType",
      `Cannot onboard API '${api.name}' to Defender for APIs: it is a ${apiTypeOf(api) ?? ""} API; Defender for APIs supports REST APIs only.`,
    );
  }
  if (isNonCurrentRevision(api)) {
    return badRequest(
      "UnsupportedApiRevision",
      `Cannot onboard API '${api.name}' to Defender for APIs: it is not the current revision; onboard the API's id without ';rev='.`,
    );
  }
  return undefined;
}

function locationUrl(ctx: RouteContext): string {
  const path = ctx.request.path.split("/").map(encodeURIComponent).join("/");
  const until = (BigInt(ctx.state.now().getTime() + RETRY_WINDOW_MS) * 10000n + TICKS_AT_EPOCH).toString();
  return `${ctx.endpoint}${path}?api-version=${encodeURIComponent(ctx.request.apiVersion)}&$retryUntil=${until}`;
}

function accepted(operation: LocationOperation): RouteResponse {
  return { status: 202, headers: { location: operation.location } };
}

function putCollection(ctx: RouteContext): RouteResponse {
  const service = requireService(ctx);
  const api = ctx.state.get(`${service.id}/apis/${ctx.params.apiId ?? ""}`);
  const refused = refusal(
    ctx,
    service,
    api?.type.toLowerCase() === APIM_API_TYPE.toLowerCase() ? api : undefined,
  );
  if (refused !== undefined || api === undefined) throw refused ?? collectionNotFound(ctx);

  const id = collectionId(service, api.name);
  const key = normalizeId(id);
  const existing = ctx.state.get(id);
  const state = existing === undefined ? undefined : provisioningStateOf(existing)?.toLowerCase();
  // Onboarding is idempotent: a Succeeded collection answers as it is, a running operation is not repeated.
  if (existing !== undefined && state === "succeeded") return { status: 200, body: clone(existing) };
  const running = ctx.state.locationOperations.get(key);
  if (existing !== undefined && running?.status === "InProgress") return accepted(running);

  ctx.state.put({
    id,
    name: api.name,
    type: API_COLLECTION_TYPE,
    properties: { provisioningState: "InProgress" },
  });
  const operation: LocationOperation = {
    resourceId: id,
    location: locationUrl(ctx),
    status: "InProgress",
    pollsLeft: ctx.lroPolls,
    ...faultEffect(ctx.takeLroFault()),
    onSucceeded: () => {
      ctx.state.put(succeededCollection(service, api));
      recordOnboarded(ctx.state, service.id);
    },
    onFailed: () => {
      // A failed onboarding leaves no collection behind.
      ctx.state.delete(id);
      recordOnboarded(ctx.state, service.id);
    },
  };
  ctx.state.locationOperations.set(key, operation);
  return accepted(operation);
}

/** A poll of the Location URL (a GET carrying `$retryUntil`): 202 while running, then the outcome. */
function poll(ctx: RouteContext, operation: LocationOperation): RouteResponse {
  if (operation.status === "InProgress") {
    if (operation.stuck) return accepted(operation);
    if (operation.pollsLeft > 0) {
      operation.pollsLeft -= 1;
      return accepted(operation);
    }
    if (operation.failure === undefined) {
      operation.status = "Succeeded";
      operation.onSucceeded();
    } else {
      operation.status = "Failed";
      operation.onFailed();
    }
  }
  if (operation.status === "Failed" && operation.failure !== undefined) {
    throw new ArmError(400, operation.failure.code, operation.failure.message);
  }
  const current = ctx.state.get(operation.resourceId);
  if (current === undefined) throw collectionNotFound(ctx);
  return { status: 200, body: clone(current) };
}

function getCollection(ctx: RouteContext): RouteResponse {
  const service = requireService(ctx);
  const id = collectionId(service, ctx.params.apiId ?? "");
  const operation = ctx.state.locationOperations.get(normalizeId(id));
  if (operation !== undefined && ctx.request.query.$retryUntil !== undefined) return poll(ctx, operation);
  const stored = ctx.state.get(id);
  if (stored === undefined) throw collectionNotFound(ctx);
  return { status: 200, body: clone(stored) };
}

function deleteCollection(ctx: RouteContext): RouteResponse {
  const service = requireService(ctx);
  const id = collectionId(service, ctx.params.apiId ?? "");
  ctx.state.locationOperations.delete(normalizeId(id));
  if (!ctx.state.delete(id)) return { status: 204 };
  recordOnboarded(ctx.state, service.id);
  return { status: 200 };
}

function listRoute(template: string, scope: (ctx: RouteContext) => string): ProviderModule["routes"][number] {
  return {
    method: "GET",
    match: pattern(template),
    apiVersions: API_COLLECTIONS_API_VERSIONS,
    typeName: "apiCollections",
    handle: (ctx) => page(ctx, ctx.state.list(API_COLLECTION_TYPE, scope(ctx)), clone),
  };
}

export const apiCollectionsModule: ProviderModule = {
  name: "apicollections",
  prepare: startOnboardedHistory,
  routes: [
    listRoute(
      "/subscriptions/{subscriptionId}/providers/Microsoft.Security/apiCollections",
      (ctx) => `/subscriptions/${ctx.params.subscriptionId ?? ""}`,
    ),
    listRoute(
      "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Security/apiCollections",
      (ctx) =>
        `/subscriptions/${ctx.params.subscriptionId ?? ""}/resourceGroups/${ctx.params.resourceGroupName ?? ""}`,
    ),
    {
      method: "GET",
      match: pattern(COLLECTIONS),
      apiVersions: API_COLLECTIONS_API_VERSIONS,
      typeName: "apiCollections",
      handle: (ctx) => page(ctx, ctx.state.list(API_COLLECTION_TYPE, requireService(ctx).id), clone),
    },
    {
      method: "GET",
      match: pattern(`${COLLECTIONS}/{apiId}`),
      apiVersions: API_COLLECTIONS_API_VERSIONS,
      typeName: "apiCollections",
      handle: getCollection,
    },
    {
      method: "PUT",
      match: pattern(`${COLLECTIONS}/{apiId}`),
      apiVersions: API_COLLECTIONS_API_VERSIONS,
      typeName: "apiCollections",
      bodyOptional: true,
      handle: putCollection,
    },
    {
      method: "DELETE",
      match: pattern(`${COLLECTIONS}/{apiId}`),
      apiVersions: API_COLLECTIONS_API_VERSIONS,
      typeName: "apiCollections",
      handle: deleteCollection,
    },
  ],
};
