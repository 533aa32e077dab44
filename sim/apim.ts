/**
 * API Management and Defender for APIs vocabulary shared by the estate parser, the routes and the
 * capacity model: resource types, tiers, API types, regions and parent ids.
 */
import type { ArmResource } from "./estate.js";
import type { SimState } from "./state.js";

export const APIM_SERVICE_TYPE = "Microsoft.ApiManagement/service";
export const APIM_API_TYPE = "Microsoft.ApiManagement/service/apis";
export const APIM_GATEWAY_TYPE = "Microsoft.ApiManagement/service/gateways";
export const APIM_GATEWAY_API_TYPE = "Microsoft.ApiManagement/service/gateways/apis";
export const APIM_WORKSPACE_TYPE = "Microsoft.ApiManagement/service/workspaces";
export const APIM_WORKSPACE_API_TYPE = "Microsoft.ApiManagement/service/workspaces/apis";
export const API_COLLECTION_TYPE = "Microsoft.Security/apiCollections";

export const CLASSIC_TIERS = ["Developer", "Basic", "Standard", "Premium"] as const;
export const V2_TIERS = ["BasicV2", "StandardV2", "PremiumV2"] as const;
export const APIM_TIERS = [...CLASSIC_TIERS, "Consumption", ...V2_TIERS] as const;
export type ApimTier = (typeof APIM_TIERS)[number];

/** API types as ARM spells them in `properties.type`; a plain REST API has none (or `http`). */
export const API_TYPES = ["http", "soap", "websocket", "graphql", "grpc", "odata"] as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function sameType(resource: ArmResource, type: string): boolean {
  return resource.type.toLowerCase() === type.toLowerCase();
}

/** The tier (canonical spelling) of an APIM service, from `sku.name` compared without regard to case. */
export function tierOf(service: ArmResource): ApimTier | undefined {
  const name = service.sku?.name;
  if (typeof name !== "string") return undefined;
  return APIM_TIERS.find((t) => t.toLowerCase() === name.toLowerCase());
}

export function isClassicTier(tier: ApimTier | undefined): boolean {
  return (CLASSIC_TIERS as readonly string[]).includes(tier ?? "");
}

export function isV2Tier(tier: ApimTier | undefined): boolean {
  return (V2_TIERS as readonly string[]).includes(tier ?? "");
}

/**
 * The API's type in lower case: ARM's `properties.type` (what the SDK reads as `apiType`), else the
 * create-time `properties.apiType`; undefined for a plain REST API (APIM omits it).
 */
export function apiTypeOf(api: ArmResource): string | undefined {
  const props = isRecord(api.properties) ? api.properties : {};
  const value = typeof props.type === "string" ? props.type : props.apiType;
  return typeof value === "string" && value.length > 0 ? value.toLowerCase() : undefined;
}

export function isRestApi(api: ArmResource): boolean {
  const type = apiTypeOf(api);
  return type === undefined || type === "http";
}

/** A non-current revision: its id carries `;rev=n`, or it says `isCurrent: false`. */
export function isNonCurrentRevision(api: ArmResource): boolean {
  const props = isRecord(api.properties) ? api.properties : {};
  return api.name.includes(";rev=") || props.isCurrent === false;
}

/** The service's regions: its own location, then each `additionalLocations[].location`. */
export function regionsOf(service: ArmResource): string[] {
  const regions = typeof service.location === "string" ? [service.location] : [];
  const props = isRecord(service.properties) ? service.properties : {};
  const additional: unknown = props.additionalLocations;
  if (Array.isArray(additional)) {
    for (const entry of additional as unknown[]) {
      if (isRecord(entry) && typeof entry.location === "string") regions.push(entry.location);
    }
  }
  return regions;
}

/**
 * The id of the resource that must exist for this one to exist: the service of an API, gateway or
 * workspace; the gateway or workspace of their APIs; the service an API collection extends.
 * Undefined for other types.
 */
export function parentIdOf(id: string, type: string): string | undefined {
  const lower = type.toLowerCase();
  const segments = id.split("/");
  if (lower === API_COLLECTION_TYPE.toLowerCase()) {
    const index = id.toLowerCase().lastIndexOf("/providers/");
    return index > 0 ? id.slice(0, index) : undefined;
  }
  const children = [
    APIM_API_TYPE,
    APIM_GATEWAY_TYPE,
    APIM_GATEWAY_API_TYPE,
    APIM_WORKSPACE_TYPE,
    APIM_WORKSPACE_API_TYPE,
  ].map((t) => t.toLowerCase());
  return children.includes(lower) ? segments.slice(0, -2).join("/") : undefined;
}

/** The type the parent of a resource of `type` must have. */
export function parentTypeOf(type: string): string | undefined {
  switch (type.toLowerCase()) {
    case API_COLLECTION_TYPE.toLowerCase():
    case APIM_API_TYPE.toLowerCase():
    case APIM_GATEWAY_TYPE.toLowerCase():
    case APIM_WORKSPACE_TYPE.toLowerCase():
      return APIM_SERVICE_TYPE;
    case APIM_GATEWAY_API_TYPE.toLowerCase():
      return APIM_GATEWAY_TYPE;
    case APIM_WORKSPACE_API_TYPE.toLowerCase():
      return APIM_WORKSPACE_TYPE;
    default:
      return undefined;
  }
}

export function provisioningStateOf(resource: ArmResource): string | undefined {
  const state = isRecord(resource.properties) ? resource.properties.provisioningState : undefined;
  return typeof state === "string" ? state : undefined;
}

/** The Defender for APIs collections under a service, in estate order. */
export function collectionsOf(state: SimState, serviceId: string): ArmResource[] {
  return state.list(API_COLLECTION_TYPE, serviceId);
}

/** Collections that count as onboarded: provisioning Succeeded. */
export function onboardedCount(state: SimState, serviceId: string): number {
  return collectionsOf(state, serviceId).filter((c) => provisioningStateOf(c)?.toLowerCase() === "succeeded")
    .length;
}
