/**
 * Cluster extensions (Microsoft.KubernetesConfiguration/extensions) on connected and managed clusters,
 * shaped as azure-rest-api-specs' 2024-11-01 examples: list, GET, PUT as a long-running operation
 * (201 `Creating` with `Azure-AsyncOperation` at `{extension}/operations/{id}`), the operation's status,
 * and DELETE. `configurationProtectedSettings` are accepted and never served or exported, as Azure
 * never returns them.
 */
import { randomUUID } from "node:crypto";
import { ArmError, badRequest, invalidRequestContent, resourceNotFound } from "../arm-errors.js";
import { EXTENSION_TYPE, sameText } from "../arc.js";
import type { ArmResource } from "../estate.js";
import { faultEffect, pollOperation } from "../lro.js";
import { clone, type SimState } from "../state.js";
import { servedConnectedCluster } from "./kubernetes.js";
import {
  isRecord,
  page,
  pattern,
  type ProviderModule,
  type RouteContext,
  type RouteResponse,
} from "./types.js";

/** The stable api-versions of azure-rest-api-specs' extensions, newest first. */
export const EXTENSIONS_API_VERSIONS = [
  "2025-03-01",
  "2024-11-01",
  "2023-05-01",
  "2022-11-01",
  "2022-07-01",
  "2022-03-01",
] as const;
const PROVIDER = "Microsoft.KubernetesConfiguration";
const CLUSTER =
  "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/{clusterRp}/{clusterResourceName}/{clusterName}";
const EXTENSIONS = `${CLUSTER}/providers/Microsoft.KubernetesConfiguration/extensions`;
/** States in which the extension still has an operation running. */
const RUNNING = ["Creating", "Updating", "Deleting"];

/**
 * The running install of each extension (lower-case id → operation id), per simulator. An install
 * advances as it is looked at: each poll of its status and each read of the extension (GET or list)
 * counts as one poll, so a look that reads only the extensions still sees them finish.
 */
const installs = new WeakMap<SimState, Map<string, string>>();

function installsOf(state: SimState): Map<string, string> {
  let map = installs.get(state);
  if (map === undefined) {
    map = new Map();
    installs.set(state, map);
  }
  return map;
}

/** Advances the install of every extension about to be read (a cluster whose agents are away stalls it). */
function advanceInstalls(ctx: RouteContext, cluster: ArmResource, extensions: readonly ArmResource[]): void {
  if (!agentsReachable(cluster)) return;
  const running = installsOf(ctx.state);
  for (const extension of extensions) {
    const operationId = running.get(extension.id.toLowerCase());
    if (operationId === undefined) continue;
    const operation = pollOperation(ctx, PROVIDER, operationId);
    if (operation?.status !== "InProgress") running.delete(extension.id.toLowerCase());
  }
}

function clusterIdOf(ctx: RouteContext): string {
  const {
    subscriptionId = "",
    resourceGroupName = "",
    clusterRp = "",
    clusterResourceName = "",
    clusterName = "",
  } = ctx.params;
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroupName}/providers/${clusterRp}/${clusterResourceName}/${clusterName}`;
}

function clusterOf(ctx: RouteContext): ArmResource {
  const cluster = ctx.state.get(clusterIdOf(ctx));
  const type = `${ctx.params.clusterRp ?? ""}/${ctx.params.clusterResourceName ?? ""}`;
  if (cluster === undefined || !sameText(cluster.type, type)) {
    throw resourceNotFound(`${type}/${ctx.params.clusterName ?? ""}`, ctx.params.resourceGroupName);
  }
  return cluster;
}

function extensionId(ctx: RouteContext): string {
  return `${clusterIdOf(ctx)}/providers/${PROVIDER}/extensions/${ctx.params.extensionName ?? ""}`;
}

function propertiesOf(resource: ArmResource): Record<string, unknown> {
  if (!isRecord(resource.properties)) resource.properties = {};
  return resource.properties;
}

/** The extension as GET answers it: ARM's defaults for what the estate left out. */
export function servedExtension(stored: ArmResource): ArmResource {
  const served = clone(stored);
  const properties = isRecord(served.properties) ? served.properties : {};
  served.properties = {
    autoUpgradeMinorVersion: true,
    releaseTrain: "Stable",
    provisioningState: "Succeeded",
    statuses: [],
    isSystemExtension: false,
    ...properties,
  };
  return served;
}

/** Whether the cluster's agents can act on an extension now: only a connected cluster's can. */
function agentsReachable(cluster: ArmResource): boolean {
  if (!sameText(cluster.type, "Microsoft.Kubernetes/connectedClusters")) return true;
  const served = servedConnectedCluster(cluster);
  return sameText(
    isRecord(served.properties) ? served.properties.connectivityStatus : undefined,
    "Connected",
  );
}

function checkBody(ctx: RouteContext, stored: ArmResource | undefined): Record<string, unknown> {
  const body = ctx.request.body;
  if (!isRecord(body)) throw invalidRequestContent("the extension must be a JSON object.");
  const props = isRecord(body.properties) ? body.properties : {};
  if (typeof props.extensionType !== "string" || props.extensionType.trim() === "") {
    throw badRequest("InvalidRequest", "The extension's properties.extensionType is required.");
  }
  const current = stored === undefined ? undefined : propertiesOf(stored).extensionType;
  if (typeof current === "string" && !sameText(props.extensionType, current)) {
    throw badRequest(
      "ExtensionTypeCannotBeChanged",
      `The extension '${stored?.name ?? ""}' is of type '${current}'; its type cannot be changed to '${props.extensionType}'.`,
    );
  }
  const state = stored === undefined ? undefined : propertiesOf(stored).provisioningState;
  if (typeof state === "string" && RUNNING.some((s) => sameText(state, s))) {
    throw new ArmError(
      409,
      "Conflict",
      `The extension '${stored?.name ?? ""}' has an operation in progress (provisioningState ${state}); retry when it has finished.`,
    );
  }
  return body;
}

function putExtension(ctx: RouteContext): RouteResponse {
  const cluster = clusterOf(ctx);
  const id = extensionId(ctx);
  const stored = ctx.state.get(id);
  const body = checkBody(ctx, stored);
  const props = isRecord(body.properties) ? clone(body.properties) : {};
  Reflect.deleteProperty(props, "configurationProtectedSettings");
  for (const owned of ["provisioningState", "currentVersion", "errorInfo", "isSystemExtension", "statuses"]) {
    Reflect.deleteProperty(props, owned);
  }
  const identity =
    isRecord(body.identity) && sameText(body.identity.type, "SystemAssigned")
      ? { type: "SystemAssigned", principalId: randomUUID(), tenantId: randomUUID() }
      : undefined;
  const next: ArmResource = {
    id: stored?.id ?? id,
    name: stored?.name ?? ctx.params.extensionName ?? "",
    type: EXTENSION_TYPE,
    ...(identity === undefined ? {} : { identity }),
    properties: {
      autoUpgradeMinorVersion: true,
      releaseTrain: "Stable",
      configurationSettings: {},
      ...props,
      provisioningState: "Creating",
      currentVersion: null,
      statuses: [],
      isSystemExtension: false,
    },
  };
  ctx.state.put(next);

  const operationId = randomUUID();
  const { failure, stuck } = faultEffect(ctx.takeLroFault());
  ctx.state.operations.set(operationId, {
    operationId,
    subscriptionId: ctx.params.subscriptionId ?? "",
    provider: PROVIDER,
    location: typeof cluster.location === "string" ? cluster.location : "global",
    startTime: ctx.state.now().toISOString(),
    status: "InProgress",
    pollsLeft: ctx.lroPolls,
    failure,
    stuck,
    onSucceeded: () => {
      installsOf(ctx.state).delete(next.id.toLowerCase());
      const current = ctx.state.get(next.id);
      if (current === undefined) return;
      Object.assign(propertiesOf(current), { provisioningState: "Succeeded", currentVersion: "1.0.0" });
    },
    onFailed: () => {
      const current = ctx.state.get(next.id);
      if (current === undefined || failure === undefined) return;
      installsOf(ctx.state).delete(next.id.toLowerCase());
      Object.assign(propertiesOf(current), {
        provisioningState: "Failed",
        errorInfo: { code: failure.code, message: failure.message },
        statuses: [
          {
            code: failure.code,
            displayStatus: "Failed",
            level: "Error",
            message: failure.message,
            time: ctx.state.now().toISOString(),
          },
        ],
      });
    },
  });
  installsOf(ctx.state).set(next.id.toLowerCase(), operationId);
  const path = ctx.request.path.split("/").map(encodeURIComponent).join("/");
  return {
    status: stored === undefined ? 201 : 200,
    body: servedExtension(next),
    headers: {
      "azure-asyncoperation": `${ctx.endpoint}${path}/operations/${operationId}?api-version=${encodeURIComponent(ctx.request.apiVersion)}`,
      "x-ms-async-operation-timeout": "PT48H",
    },
  };
}

/** One poll of an install: it does not progress while the cluster's agents cannot be reached. */
function operationStatus(ctx: RouteContext): RouteResponse {
  const cluster = clusterOf(ctx);
  const operationId = ctx.params.operationId ?? "";
  const known = ctx.state.operations.get(operationId.toLowerCase());
  const operation =
    known?.provider !== PROVIDER
      ? undefined
      : agentsReachable(cluster)
        ? pollOperation(ctx, PROVIDER, operationId)
        : known;
  if (operation === undefined) {
    throw new ArmError(404, "NotFound", `The operation '${operationId}' was not found.`);
  }
  return {
    status: 200,
    body: {
      id: `${extensionId(ctx)}/operations/${operation.operationId}`,
      name: operation.operationId,
      status: operation.status,
      properties: {},
      error:
        operation.status === "Failed" && operation.failure !== undefined ? { ...operation.failure } : null,
    },
  };
}

export const kubernetesConfigurationModule: ProviderModule = {
  name: "kubernetesconfiguration",
  routes: [
    {
      method: "GET",
      match: pattern(EXTENSIONS),
      apiVersions: EXTENSIONS_API_VERSIONS,
      typeName: "extensions",
      handle: (ctx) => {
        const cluster = clusterOf(ctx);
        advanceInstalls(ctx, cluster, ctx.state.list(EXTENSION_TYPE, cluster.id));
        return page(
          ctx,
          ctx.state.list(EXTENSION_TYPE, cluster.id).map((e) => servedExtension(e)),
        );
      },
    },
    {
      method: "GET",
      match: pattern(`${EXTENSIONS}/{extensionName}`),
      apiVersions: EXTENSIONS_API_VERSIONS,
      typeName: "extensions",
      handle: (ctx) => {
        const cluster = clusterOf(ctx);
        const stored = ctx.state.get(extensionId(ctx));
        if (stored !== undefined) advanceInstalls(ctx, cluster, [stored]);
        if (stored === undefined) {
          throw resourceNotFound(
            `${EXTENSION_TYPE}/${ctx.params.extensionName ?? ""}`,
            ctx.params.resourceGroupName,
          );
        }
        return { status: 200, body: servedExtension(stored) };
      },
    },
    {
      method: "PUT",
      match: pattern(`${EXTENSIONS}/{extensionName}`),
      apiVersions: EXTENSIONS_API_VERSIONS,
      typeName: "extensions",
      handle: putExtension,
    },
    {
      method: "DELETE",
      match: pattern(`${EXTENSIONS}/{extensionName}`),
      apiVersions: EXTENSIONS_API_VERSIONS,
      typeName: "extensions",
      handle: (ctx) => {
        clusterOf(ctx);
        return { status: ctx.state.delete(extensionId(ctx)) ? 200 : 204 };
      },
    },
    {
      method: "GET",
      match: pattern(`${EXTENSIONS}/{extensionName}/operations/{operationId}`),
      apiVersions: EXTENSIONS_API_VERSIONS,
      typeName: "extensions/operations",
      handle: operationStatus,
    },
  ],
};
