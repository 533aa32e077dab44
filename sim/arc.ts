/**
 * Arc-enabled Kubernetes and per-resource plans in the estate: connected clusters, their cluster
 * extensions, and resource-level Defender plans under a cluster. Shared by the estate parser and the
 * routes (sim/routes/kubernetes.ts, kubernetesconfiguration.ts, resource-pricings.ts).
 */
import type { ArmResource } from "./estate.js";

export const CONNECTED_CLUSTER_TYPE = "Microsoft.Kubernetes/connectedClusters";
export const EXTENSION_TYPE = "Microsoft.KubernetesConfiguration/extensions";
export const PRICING_TYPE = "Microsoft.Security/pricings";
const MANAGED_CLUSTER_TYPE = "Microsoft.ContainerService/managedClusters";

/** connectedClusters' `connectivityStatus` enum (azure-rest-api-specs, Microsoft.Kubernetes 2024-01-01). */
export const CONNECTIVITY_STATUSES = [
  "Connecting",
  "Connected",
  "Offline",
  "Expired",
  "AgentNotInstalled",
] as const;
/** extensions' `provisioningState` enum (Microsoft.KubernetesConfiguration common 2022-03-01). */
export const EXTENSION_STATES = [
  "Succeeded",
  "Failed",
  "Canceled",
  "Creating",
  "Updating",
  "Deleting",
] as const;
/** The cluster types an extension or a resource-level plan may sit under. */
export const CLUSTER_TYPES = [CONNECTED_CLUSTER_TYPE, MANAGED_CLUSTER_TYPE] as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function sameText(a: unknown, b: string): boolean {
  return typeof a === "string" && a.toLowerCase() === b.toLowerCase();
}

/** The id of the resource an extension resource (`{parent}/providers/{ns}/{type}/{name}`) sits under. */
export function scopeOf(id: string): string {
  const segments = id.split("/");
  const providers = segments.map((s) => s.toLowerCase()).lastIndexOf("providers");
  return segments.slice(0, providers).join("/");
}

/** Whether a resource of `type` is one of the extension resources this module knows. */
function isNested(type: string): boolean {
  return sameText(type, EXTENSION_TYPE) || sameText(type, PRICING_TYPE);
}

type Fail = (path: string, problem: string) => never;

function oneOf(value: unknown, allowed: readonly string[], at: string, fail: Fail): void {
  if (value === undefined || value === null) return;
  if (typeof value !== "string" || !allowed.some((a) => sameText(value, a))) {
    fail(at, `must be one of ${allowed.join(", ")}, not ${JSON.stringify(value)}`);
  }
}

function stringMap(value: unknown, at: string, fail: Fail): void {
  if (value === undefined || value === null) return;
  if (!isRecord(value)) fail(at, "must be an object of strings");
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== "string") fail(`${at}.${key}`, `must be a string, not ${JSON.stringify(v)}`);
  }
}

/** The fields the Arc routes serve from, checked as the estate is parsed. */
export function checkArcResource(raw: Record<string, unknown>, type: string, at: string, fail: Fail): void {
  const props = isRecord(raw.properties) ? raw.properties : {};
  if (sameText(type, CONNECTED_CLUSTER_TYPE)) {
    oneOf(props.connectivityStatus, CONNECTIVITY_STATUSES, `${at}.properties.connectivityStatus`, fail);
    if (
      props.distribution !== undefined &&
      props.distribution !== null &&
      typeof props.distribution !== "string"
    ) {
      fail(`${at}.properties.distribution`, "must be a string");
    }
  }
  if (sameText(type, EXTENSION_TYPE)) {
    if (typeof props.extensionType !== "string" || props.extensionType.trim() === "") {
      fail(
        `${at}.properties.extensionType`,
        "is missing (the extension's type, e.g. microsoft.policyinsights)",
      );
    }
    oneOf(props.provisioningState, EXTENSION_STATES, `${at}.properties.provisioningState`, fail);
    stringMap(props.configurationSettings, `${at}.properties.configurationSettings`, fail);
  }
  if (sameText(type, PRICING_TYPE)) {
    const id = typeof raw.id === "string" ? raw.id : "";
    if (!id.toLowerCase().includes("/resourcegroups/")) {
      fail(`${at}.id`, "is a subscription's plan: list it in subscriptions[].pricings instead");
    }
    oneOf(props.pricingTier, ["Free", "Standard"], `${at}.properties.pricingTier`, fail);
    if (props.pricingTier === undefined)
      fail(`${at}.properties.pricingTier`, "is missing (Free or Standard)");
    const extensions: unknown = props.extensions;
    if (extensions !== undefined && extensions !== null) {
      if (!Array.isArray(extensions)) fail(`${at}.properties.extensions`, "must be an array");
      (extensions as unknown[]).forEach((e, i) => {
        const where = `${at}.properties.extensions[${String(i)}]`;
        if (!isRecord(e) || typeof e.name !== "string") fail(where, "needs a name");
        oneOf(e.isEnabled, ["True", "False"], `${where}.isEnabled`, fail);
      });
    }
  }
}

/** Why a nested resource (an extension, a resource-level plan) lacks its cluster, or undefined. */
export function arcParentProblem(
  resource: ArmResource,
  types: ReadonlyMap<string, string>,
): string | undefined {
  if (!isNested(resource.type) || !resource.id.toLowerCase().includes("/resourcegroups/")) return undefined;
  const parentId = scopeOf(resource.id);
  const found = types.get(parentId.toLowerCase());
  if (found !== undefined && CLUSTER_TYPES.some((t) => sameText(found, t))) return undefined;
  return (
    `needs its cluster '${parentId}' (${CLUSTER_TYPES.join(" or ")}) in resources` +
    (found === undefined ? ", which does not list it" : `, where it has type '${found}'`)
  );
}
