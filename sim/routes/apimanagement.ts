/**
 * API Management (Microsoft.ApiManagement): services (ARM-paged lists and GET), and the service's
 * APIs, self-hosted gateways with their API links, and workspaces with their APIs, in APIM's own
 * list shape (`value`, `count`, `nextLink`) paged with `$top`/`$skip`. Everything is read-only and
 * served as the estate stores it.
 */
import { ArmError, badRequest, resourceNotFound } from "../arm-errors.js";
import {
  APIM_API_TYPE,
  APIM_GATEWAY_API_TYPE,
  APIM_GATEWAY_TYPE,
  APIM_SERVICE_TYPE,
  APIM_WORKSPACE_API_TYPE,
  APIM_WORKSPACE_TYPE,
} from "../apim.js";
import type { ArmResource } from "../estate.js";
import { clone } from "../state.js";
import { isRecord, page, pattern, type ProviderModule, type Route, type RouteContext } from "./types.js";

/** The versions the installed SDK (2024-05-01) and the project's scripts use. */
export const APIM_API_VERSIONS = [
  "2024-06-01-preview",
  "2024-05-01",
  "2023-05-01-preview",
  "2022-08-01",
] as const;
const SERVICES =
  "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ApiManagement/service";
const SERVICE = `${SERVICES}/{serviceName}`;

function serviceId(ctx: RouteContext): string {
  const { subscriptionId = "", resourceGroupName = "", serviceName = "" } = ctx.params;
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroupName}/providers/${APIM_SERVICE_TYPE}/${serviceName}`;
}

/** The part of the path below the service: "apis/echo", "gateways/gw1/apis". */
function below(ctx: RouteContext): string[] {
  return ctx.request.path.split("/").slice(9);
}

/** ResourceNotFound for the resource the path names (the last type/name pair, or the service). */
function notFound(ctx: RouteContext, names: readonly string[]): ArmError {
  return resourceNotFound(
    [APIM_SERVICE_TYPE, ctx.params.serviceName ?? "", ...names].join("/"),
    ctx.params.resourceGroupName,
  );
}

/** The stored resource `path` names below the service, or 404 naming it. */
function stored(ctx: RouteContext, names: readonly string[]): ArmResource {
  const id = [serviceId(ctx), ...names].join("/");
  const resource = ctx.state.get(id);
  if (resource === undefined) throw notFound(ctx, names);
  return resource;
}

function requireService(ctx: RouteContext): ArmResource {
  return stored(ctx, []);
}

/**
 * An API as ARM returns it. ARM's `properties.type` is what the SDK reads as `apiType`; an estate that
 * spelled only the create-time `properties.apiType` gets `type` filled in, so the SDK sees the type.
 */
function apiView(api: ArmResource): ArmResource {
  const copy = clone(api);
  const props = isRecord(copy.properties) ? copy.properties : undefined;
  if (props !== undefined && (props.type ?? undefined) === undefined && typeof props.apiType === "string") {
    props.type = props.apiType;
  }
  return copy;
}

/** A gateway's API link carries the API's contract: the link's own properties win, the API fills the rest. */
function gatewayApiView(ctx: RouteContext, link: ArmResource): ArmResource {
  const api = ctx.state.get(`${serviceId(ctx)}/apis/${link.name}`);
  const view = apiView(link);
  if (api !== undefined && isRecord(api.properties)) {
    view.properties = { ...apiView(api).properties, ...(view.properties ?? {}) };
  }
  return view;
}

function integerParameter(ctx: RouteContext, name: "$top" | "$skip", minimum: number): number | undefined {
  const text = ctx.request.query[name];
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < minimum) {
    throw badRequest(
      "ValidationError",
      `'${name}' query parameter value must be a whole number ${String(minimum)} or more, not '${text}'.`,
    );
  }
  return value;
}

/** The one `$filter` the simulator evaluates: `isCurrent eq true|false`. Anything else is refused, never ignored. */
function applyFilter(ctx: RouteContext, items: readonly ArmResource[]): readonly ArmResource[] {
  const filter = ctx.request.query.$filter;
  if (filter === undefined || filter.trim().length === 0) return items;
  const match = /^\s*isCurrent\s+eq\s+(true|false)\s*$/i.exec(filter);
  if (match === null) {
    throw badRequest(
      "ValidationError",
      `The simulator does not evaluate $filter '${filter}' (only 'isCurrent eq true|false').`,
    );
  }
  const wanted = match[1]?.toLowerCase() === "true";
  return items.filter((item) => {
    const current = isRecord(item.properties) ? item.properties.isCurrent : undefined;
    return (current !== false) === wanted;
  });
}

/**
 * APIM's list shape: `{ value, count, nextLink }`, `count` being the total. `$top` sets the page size
 * (at most the simulator's page size) and `$skip` where it starts; `nextLink` repeats the query with the
 * next `$skip`, as APIM's does.
 */
function apimPage(ctx: RouteContext, all: readonly ArmResource[], view: (r: ArmResource) => ArmResource) {
  const items = applyFilter(ctx, all);
  const top = integerParameter(ctx, "$top", 1);
  const skip = integerParameter(ctx, "$skip", 0) ?? 0;
  const size = Math.min(top ?? ctx.pageSize, ctx.pageSize);
  const end = skip + size;
  const body: { value: ArmResource[]; count: number; nextLink?: string } = {
    value: items.slice(skip, end).map(view),
    count: items.length,
  };
  if (end < items.length) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(ctx.request.query)) {
      if (key !== "$skip") query.set(key, value);
    }
    query.set("$skip", String(end));
    const path = ctx.request.path.split("/").map(encodeURIComponent).join("/");
    body.nextLink = `${ctx.endpoint}${path}?${query.toString()}`;
  }
  return { status: 200, body };
}

function route(path: string, typeName: string, handle: Route["handle"]): Route {
  return { method: "GET", match: pattern(path), apiVersions: APIM_API_VERSIONS, typeName, handle };
}

/** GET of one resource below the service (the service must exist first: its 404 comes first, as APIM's). */
function one(view: (ctx: RouteContext, r: ArmResource) => ArmResource): Route["handle"] {
  return (ctx) => {
    requireService(ctx);
    const names = below(ctx);
    // A workspace's API needs its workspace: name that when it is the one missing.
    if (names.length > 2) stored(ctx, names.slice(0, -2));
    return { status: 200, body: view(ctx, stored(ctx, names)) };
  };
}

/** The list of resources of `type` directly below the path's parent (the service, a gateway or a workspace). */
function list(type: string, view: (ctx: RouteContext, r: ArmResource) => ArmResource): Route["handle"] {
  return (ctx) => {
    const service = requireService(ctx);
    const parentNames = below(ctx).slice(0, -1);
    const parent = parentNames.length === 0 ? service : stored(ctx, parentNames);
    return apimPage(ctx, ctx.state.list(type, parent.id), (r) => view(ctx, r));
  };
}

const asApi = (_ctx: RouteContext, r: ArmResource): ArmResource => apiView(r);
const asStored = (_ctx: RouteContext, r: ArmResource): ArmResource => clone(r);

export const apiManagementModule: ProviderModule = {
  name: "apimanagement",
  routes: [
    route("/subscriptions/{subscriptionId}/providers/Microsoft.ApiManagement/service", "service", (ctx) =>
      page(
        ctx,
        ctx.state.list(APIM_SERVICE_TYPE, `/subscriptions/${ctx.params.subscriptionId ?? ""}`),
        clone,
      ),
    ),
    route(SERVICES, "service", (ctx) => {
      const { subscriptionId = "", resourceGroupName = "" } = ctx.params;
      const scope = `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroupName}`;
      return page(ctx, ctx.state.list(APIM_SERVICE_TYPE, scope), clone);
    }),
    route(SERVICE, "service", (ctx) => ({ status: 200, body: clone(requireService(ctx)) })),
    route(`${SERVICE}/apis`, "service/apis", list(APIM_API_TYPE, asApi)),
    route(`${SERVICE}/apis/{apiId}`, "service/apis", one(asApi)),
    route(`${SERVICE}/gateways`, "service/gateways", list(APIM_GATEWAY_TYPE, asStored)),
    route(`${SERVICE}/gateways/{gatewayId}`, "service/gateways", one(asStored)),
    route(
      `${SERVICE}/gateways/{gatewayId}/apis`,
      "service/gateways/apis",
      list(APIM_GATEWAY_API_TYPE, gatewayApiView),
    ),
    route(`${SERVICE}/workspaces`, "service/workspaces", list(APIM_WORKSPACE_TYPE, asStored)),
    route(`${SERVICE}/workspaces/{workspaceId}`, "service/workspaces", one(asStored)),
    route(
      `${SERVICE}/workspaces/{workspaceId}/apis`,
      "service/workspaces/apis",
      list(APIM_WORKSPACE_API_TYPE, asApi),
    ),
    route(`${SERVICE}/workspaces/{workspaceId}/apis/{apiId}`, "service/workspaces/apis", one(asApi)),
  ],
};
