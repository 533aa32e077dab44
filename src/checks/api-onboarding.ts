import type { ApiSnapshot, ApimServiceSnapshot } from "../model/apim.js";

/** API types Defender for APIs cannot onboard: it analyses REST APIs only. */
const UNSUPPORTED_API_TYPES = new Set(["soap", "graphql", "websocket", "grpc", "odata"]);

export type ApiEligibility =
  | { readonly eligible: true; readonly note?: string; readonly details: Record<string, unknown> }
  | { readonly eligible: false; readonly reason: string; readonly details: Record<string, unknown> };

/** A non-current revision (`echo-api;rev=2`) is the same API as its current revision, not another one to onboard. */
export function isSeparateApi(api: ApiSnapshot): boolean {
  return !api.name.includes(";rev=") && api.isCurrent !== false;
}

export function isConsumptionTier(service: ApimServiceSnapshot): boolean {
  return service.sku.name.toLowerCase() === "consumption";
}

/** Whether Defender for APIs can onboard this API, and what an operator should know about it. */
export function apiEligibility(
  service: ApimServiceSnapshot,
  api: ApiSnapshot,
  placement: { readonly inWorkspace: boolean; readonly selfHostedGateways: readonly string[] },
): ApiEligibility {
  if (isConsumptionTier(service)) {
    return {
      eligible: false,
      reason: "Defender for APIs does not support the API Management Consumption tier",
      details: { sku: service.sku.name },
    };
  }
  if (placement.inWorkspace) {
    return {
      eligible: false,
      reason: "Defender for APIs does not support APIs in API Management workspaces",
      details: {},
    };
  }
  const apiType = api.apiType?.toLowerCase();
  if (apiType !== undefined && UNSUPPORTED_API_TYPES.has(apiType)) {
    return {
      eligible: false,
      reason: `Defender for APIs supports REST APIs only; this is a ${apiType} API`,
      details: { apiType: api.apiType },
    };
  }
  if (placement.selfHostedGateways.length > 0) {
    return {
      eligible: true,
      note: `Defender for APIs does not analyse traffic through self-hosted gateways (${placement.selfHostedGateways.join(", ")}); only traffic through the managed gateway is covered`,
      details: { selfHostedGateways: [...placement.selfHostedGateways] },
    };
  }
  return { eligible: true, details: {} };
}
