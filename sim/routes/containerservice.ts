/**
 * AKS managed clusters (Microsoft.ContainerService/managedClusters): paged lists, GET, and PUT as
 * a long-running operation guarded by eTags, with the refusals AKS gives for busy or stopped clusters.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import {
  ArmError,
  badRequest,
  invalidRequestContent,
  operationNotAllowed,
  preconditionFailed,
  resourceNotFound,
} from "../arm-errors.js";
import type { ArmResource } from "../estate.js";
import { normalizeLocation, operationStatusBody, pollOperation, startOperation } from "../lro.js";
import { clone, type SimState } from "../state.js";
import {
  isRecord,
  page,
  pattern,
  type ProviderModule,
  type RouteContext,
  type RouteResponse,
} from "./types.js";

export const MANAGED_CLUSTERS_API_VERSIONS = [
  "2026-04-01",
  "2025-10-01",
  "2025-07-01",
  "2024-09-01",
] as const;
const PROVIDER = "Microsoft.ContainerService";
const CLUSTER_TYPE = "Microsoft.ContainerService/managedClusters";
const WORKSPACE_TYPE = "microsoft.operationalinsights/workspaces";
const CLUSTERS_IN_GROUP =
  "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerService/managedClusters";
const LOCATIONS = "/subscriptions/{subscriptionId}/providers/Microsoft.ContainerService/locations/{location}";

/** Properties the resource provider owns: a PUT cannot set them, and they survive a PUT that omits them. */
const SERVER_OWNED_PROPERTIES = [
  "provisioningState",
  "powerState",
  "fqdn",
  "azurePortalFqdn",
  "currentKubernetesVersion",
  "maxAgentPools",
  "resourceUID",
  "privateFQDN",
] as const;
const SERVER_OWNED_TOP_LEVEL = ["id", "name", "type", "eTag", "systemData"] as const;
/** Provisioning states in which AKS accepts a new PUT. */
const TERMINAL_STATES = new Set(["succeeded", "failed", "canceled"]);

function newETag(): string {
  return randomUUID();
}

/** The properties to write to (made an object if the resource had none, or null). */
function propertiesOf(resource: ArmResource): Record<string, unknown> {
  if (!isRecord(resource.properties)) resource.properties = {};
  return resource.properties;
}

/** The properties to read: a resource whose properties are null or missing reads as having none. */
function readProperties(resource: ArmResource): Record<string, unknown> {
  return isRecord(resource.properties) ? resource.properties : {};
}

function provisioningState(resource: ArmResource): string {
  const state = readProperties(resource).provisioningState;
  return typeof state === "string" ? state : "Succeeded";
}

function powerStateCode(resource: ArmResource): string | undefined {
  const power = readProperties(resource).powerState;
  return isRecord(power) && typeof power.code === "string" ? power.code : undefined;
}

function clusterId(ctx: RouteContext): string {
  const { subscriptionId = "", resourceGroupName = "", resourceName = "" } = ctx.params;
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroupName}/providers/${CLUSTER_TYPE}/${resourceName}`;
}

function notFound(ctx: RouteContext): ArmError {
  return resourceNotFound(`${CLUSTER_TYPE}/${ctx.params.resourceName ?? ""}`, ctx.params.resourceGroupName);
}

function withETag(resource: ArmResource, status: number, extra: Record<string, string> = {}): RouteResponse {
  const eTag = typeof resource.eTag === "string" ? resource.eTag : undefined;
  return {
    status,
    body: clone(resource),
    headers: { ...extra, ...(eTag === undefined ? {} : { etag: eTag }) },
  };
}

/** Header values may be quoted or weak ("W/\"x\""); eTags compare by their opaque text. */
function etagText(value: string): string {
  return value
    .trim()
    .replace(/^W\//, "")
    .replace(/^"(.*)"$/, "$1");
}

function checkPreconditions(ctx: RouteContext, stored: ArmResource | undefined): void {
  const ifMatch = ctx.request.headers["if-match"];
  const ifNoneMatch = ctx.request.headers["if-none-match"];
  const current = stored === undefined ? undefined : typeof stored.eTag === "string" ? stored.eTag : "";
  if (typeof ifMatch === "string" && ifMatch.length > 0) {
    const wanted = ifMatch.split(",").map(etagText);
    const matches = current !== undefined && (wanted.includes("*") || wanted.includes(etagText(current)));
    if (!matches) {
      throw preconditionFailed(
        current === undefined
          ? `The managed cluster '${ctx.params.resourceName ?? ""}' does not exist, so If-Match '${ifMatch}' cannot match.`
          : `The If-Match header '${ifMatch}' does not match the managed cluster's current eTag '${current}'. ` +
              "Get the cluster again and retry with its current eTag.",
      );
    }
  }
  if (typeof ifNoneMatch === "string" && ifNoneMatch.trim() === "*" && stored !== undefined) {
    throw preconditionFailed(
      `The managed cluster '${stored.name}' already exists and the request says If-None-Match '*'.`,
    );
  }
}

const IN_PROGRESS_VERBS: Readonly<Record<string, string>> = {
  updating: "update",
  creating: "create",
  deleting: "delete",
  upgrading: "upgrade",
  starting: "start",
  stopping: "stop",
  scaling: "scale",
  migrating: "migrate",
};

function checkAcceptsWrites(stored: ArmResource): void {
  const state = provisioningState(stored);
  if (!TERMINAL_STATES.has(state.toLowerCase())) {
    const verb = IN_PROGRESS_VERBS[state.toLowerCase()] ?? state.toLowerCase();
    throw operationNotAllowed(
      `Operation is not allowed because there's an in progress ${verb} managed cluster operation on managed cluster '${stored.name}' ` +
        `(provisioningState '${state}'). Please wait for it to finish before starting a new operation. ` +
        "See https://aka.ms/aks-pending-operation for more details",
    );
  }
  if (powerStateCode(stored)?.toLowerCase() === "stopped") {
    throw operationNotAllowed(
      `Operation is not allowed since managed cluster '${stored.name}' is in stopped state. ` +
        "Please start the managed cluster before performing this operation. See https://aka.ms/aks/stopped-cluster for more details",
    );
  }
}

const IPV4_OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4_OR_CIDR = new RegExp(`^${IPV4_OCTET}(\\.${IPV4_OCTET}){3}(/(3[0-2]|[12]?\\d))?$`);

function validate(ctx: RouteContext, body: Record<string, unknown>, props: Record<string, unknown>): void {
  if (typeof body.location !== "string" || body.location.trim().length === 0) {
    throw badRequest("LocationRequired", "The location property is required for this definition.");
  }

  const security = isRecord(props.securityProfile) ? props.securityProfile : {};
  const defender = isRecord(security.defender) ? security.defender : {};
  const monitoring = isRecord(defender.securityMonitoring) ? defender.securityMonitoring : {};
  if (monitoring.enabled === true) {
    const workspaceId = defender.logAnalyticsWorkspaceResourceId;
    const workspace = typeof workspaceId === "string" ? ctx.state.get(workspaceId) : undefined;
    if (workspace?.type.toLowerCase() !== WORKSPACE_TYPE) {
      throw badRequest(
        "LinkedInvalidPropertyId",
        `Property id '${typeof workspaceId === "string" ? workspaceId : ""}' at path ` +
          "'properties.securityProfile.defender.logAnalyticsWorkspaceResourceId' is invalid: " +
          "it must name an existing Log Analytics workspace when securityMonitoring is enabled.",
      );
    }
  }

  const access = isRecord(props.apiServerAccessProfile) ? props.apiServerAccessProfile : {};
  const ranges: unknown = access.authorizedIPRanges;
  if (ranges !== undefined && ranges !== null) {
    if (!Array.isArray(ranges)) {
      throw badRequest(
        "InvalidParameter",
        "The value of parameter apiServerAccessProfile.authorizedIPRanges must be an array.",
      );
    }
    for (const range of ranges as unknown[]) {
      if (typeof range !== "string" || !IPV4_OR_CIDR.test(range.trim())) {
        throw badRequest(
          "InvalidParameter",
          `The value of parameter apiServerAccessProfile.authorizedIPRanges is invalid: '${String(range)}' is not an IPv4 address or CIDR.`,
        );
      }
    }
    const network = isRecord(props.networkProfile) ? props.networkProfile : {};
    const sku = network.loadBalancerSku;
    if (ranges.length > 0 && typeof sku === "string" && sku.toLowerCase() === "basic") {
      throw badRequest(
        "BadRequest",
        "API server authorized IP ranges are not supported on clusters with a Basic load balancer SKU. Use a Standard load balancer.",
      );
    }
  }
}

/** Server-owned values for a cluster being created. */
function createdProperties(
  name: string,
  location: string,
  props: Record<string, unknown>,
): Record<string, unknown> {
  const prefix = typeof props.dnsPrefix === "string" ? props.dnsPrefix : name;
  const region = normalizeLocation(location);
  const suffix = randomBytes(4).toString("hex");
  const access = isRecord(props.apiServerAccessProfile) ? props.apiServerAccessProfile : {};
  return {
    provisioningState: "Creating",
    powerState: { code: "Running" },
    maxAgentPools: 100,
    currentKubernetesVersion:
      typeof props.kubernetesVersion === "string" ? props.kubernetesVersion : "1.33.3",
    resourceUID: randomBytes(12).toString("hex"),
    ...(access.enablePrivateCluster === true
      ? { privateFQDN: `${prefix}-${suffix}.${randomUUID()}.privatelink.${region}.azmk8s.io` }
      : { fqdn: `${prefix}-${suffix}.hcp.${region}.azmk8s.io` }),
    azurePortalFqdn: `${prefix}-${suffix}.portal.hcp.${region}.azmk8s.io`,
  };
}

function putCluster(ctx: RouteContext): RouteResponse {
  const body = ctx.request.body;
  if (!isRecord(body)) throw invalidRequestContent("the managed cluster must be a JSON object.");
  const id = clusterId(ctx);
  const stored = ctx.state.get(id);
  checkPreconditions(ctx, stored);
  if (stored !== undefined) checkAcceptsWrites(stored);

  const incomingProps = isRecord(body.properties) ? clone(body.properties) : {};
  for (const key of SERVER_OWNED_PROPERTIES) Reflect.deleteProperty(incomingProps, key);
  validate(ctx, body, incomingProps);
  const location = body.location as string;
  if (
    stored !== undefined &&
    typeof stored.location === "string" &&
    normalizeLocation(stored.location) !== normalizeLocation(location)
  ) {
    throw badRequest(
      "InvalidResourceLocation",
      `The resource '${stored.name}' already exists in location '${stored.location}' in resource group '${ctx.params.resourceGroupName ?? ""}'. ` +
        `A resource with the same name cannot be created in location '${location}'. Please select a new resource name.`,
    );
  }

  const rest = clone(body);
  for (const key of [...SERVER_OWNED_TOP_LEVEL, "properties"]) Reflect.deleteProperty(rest, key);
  const name = stored?.name ?? ctx.params.resourceName ?? "";
  const owned: Record<string, unknown> = {};
  if (stored === undefined) {
    Object.assign(owned, createdProperties(name, location, incomingProps));
  } else {
    const storedProps = readProperties(stored);
    for (const key of SERVER_OWNED_PROPERTIES)
      if (storedProps[key] !== undefined) owned[key] = clone(storedProps[key]);
    owned.provisioningState = "Updating";
  }
  const next: ArmResource = {
    id: stored?.id ?? id,
    name,
    type: stored?.type ?? CLUSTER_TYPE,
    eTag: newETag(),
    ...(stored?.systemData === undefined ? {} : { systemData: clone(stored.systemData) }),
    ...rest,
    location: stored?.location ?? location,
    properties: { ...incomingProps, ...owned },
  };
  const previous = stored === undefined ? undefined : clone(stored);
  ctx.state.put(next);

  const headers = startOperation(ctx, {
    provider: PROVIDER,
    location,
    fault: ctx.takeLroFault(),
    onSucceeded: () => {
      const current = ctx.state.get(next.id);
      if (current === undefined) return;
      propertiesOf(current).provisioningState = "Succeeded";
      current.eTag = newETag();
    },
    onFailed: () => {
      const reverted = previous === undefined ? ctx.state.get(next.id) : clone(previous);
      if (reverted === undefined) return;
      propertiesOf(reverted).provisioningState = "Failed";
      reverted.eTag = newETag();
      ctx.state.put(reverted);
    },
  });
  return withETag(next, stored === undefined ? 201 : 200, headers);
}

function operationRoute(kind: "operations" | "operationresults"): ProviderModule["routes"][number] {
  return {
    method: "GET",
    match: pattern(`${LOCATIONS}/${kind}/{operationId}`),
    apiVersions: "any",
    typeName: `locations/${kind}`,
    handle: (ctx) => {
      const operationId = ctx.params.operationId ?? "";
      const operation = pollOperation(ctx, PROVIDER, operationId);
      if (operation === undefined) {
        throw new ArmError(404, "NotFound", `The operation '${operationId}' was not found.`);
      }
      if (kind === "operations") return { status: 200, body: operationStatusBody(operation) };
      // Operation results: 202 with Location while running, 204 when done, the error when it failed.
      if (operation.status === "InProgress") {
        const url = `${ctx.endpoint}${ctx.request.path}?api-version=${encodeURIComponent(ctx.request.apiVersion)}`;
        return { status: 202, headers: { location: url } };
      }
      if (operation.status === "Failed" && operation.failure !== undefined) {
        throw new ArmError(400, operation.failure.code, operation.failure.message);
      }
      return { status: 204 };
    },
  };
}

/** An eTag derived from the cluster's content: a reloaded, unchanged estate gives the same one. */
function contentETag(resource: ArmResource): string {
  const hex = createHash("sha256").update(JSON.stringify(resource)).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Loaded clusters without an eTag get one (ARM always returns it). A missing provisioning state reads
 * as Succeeded and a missing power state as Running, without being written into the resource.
 */
function prepare(state: SimState): void {
  for (const resource of state.all()) {
    if (resource.type.toLowerCase() !== CLUSTER_TYPE.toLowerCase()) continue;
    if (typeof resource.eTag !== "string" || resource.eTag.length === 0) {
      state.addLoadDefault(resource, "eTag", contentETag(resource));
    }
  }
}

export const containerServiceModule: ProviderModule = {
  name: "containerservice",
  prepare,
  routes: [
    {
      method: "GET",
      match: pattern("/subscriptions/{subscriptionId}/providers/Microsoft.ContainerService/managedClusters"),
      apiVersions: MANAGED_CLUSTERS_API_VERSIONS,
      typeName: "managedClusters",
      handle: (ctx) =>
        page(ctx, ctx.state.list(CLUSTER_TYPE, `/subscriptions/${ctx.params.subscriptionId ?? ""}`), clone),
    },
    {
      method: "GET",
      match: pattern(CLUSTERS_IN_GROUP),
      apiVersions: MANAGED_CLUSTERS_API_VERSIONS,
      typeName: "managedClusters",
      handle: (ctx) => {
        const { subscriptionId = "", resourceGroupName = "" } = ctx.params;
        const scope = `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroupName}`;
        return page(ctx, ctx.state.list(CLUSTER_TYPE, scope), clone);
      },
    },
    {
      method: "GET",
      match: pattern(`${CLUSTERS_IN_GROUP}/{resourceName}`),
      apiVersions: MANAGED_CLUSTERS_API_VERSIONS,
      typeName: "managedClusters",
      handle: (ctx) => {
        const stored = ctx.state.get(clusterId(ctx));
        if (stored === undefined) throw notFound(ctx);
        return withETag(stored, 200);
      },
    },
    {
      method: "PUT",
      match: pattern(`${CLUSTERS_IN_GROUP}/{resourceName}`),
      apiVersions: MANAGED_CLUSTERS_API_VERSIONS,
      typeName: "managedClusters",
      handle: putCluster,
    },
    operationRoute("operations"),
    operationRoute("operationresults"),
  ],
};
