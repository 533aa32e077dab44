/**
 * The Event Grid events Azure Resource Manager raises on the subscription system topic for the writes
 * the simulator accepts, in the Event Grid schema (`Microsoft.Resources.ResourceWriteSuccess` and
 * friends), so that an Event Grid handler can be driven end to end against the simulator.
 *
 * ARM raises resource events for PUT, PATCH, DELETE and POST requests it sends to management.azure.com,
 * never for GETs nor for data-plane calls (routes flagged `dataPlane`, such as the metrics batch POST).
 * The event reports the *request's* success: ARM raises it when the resource provider accepts the
 * request, which for a long-running write (201/202 with Azure-AsyncOperation or Location) is before the
 * operation has finished, so a handler may read the resource still `Updating`/`InProgress`. Refused
 * requests (4xx/5xx, injected faults, dropped connections) raise nothing here.
 */
import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { typeOfResourceId } from "./estate.js";

export type SimEventType =
  | "Microsoft.Resources.ResourceWriteSuccess"
  | "Microsoft.Resources.ResourceDeleteSuccess"
  | "Microsoft.Resources.ResourceActionSuccess";

/** `data` of a resource event, shaped as ARM fills it (objects where documented samples show placeholders). */
export interface SimEventData {
  /** The authorization ARM checked: the resource, the operation, and the role assignment that allowed it. */
  readonly authorization: {
    readonly scope: string;
    readonly action: string;
    readonly evidence: {
      readonly role: string;
      readonly roleAssignmentScope: string;
      readonly roleAssignmentId: string;
      readonly roleDefinitionId: string;
      readonly principalId: string;
      readonly principalType: string;
    };
  };
  /** The caller's token claims, as ARM records them (object id and tenant under their long claim names). */
  readonly claims: Readonly<Record<string, string>>;
  /** The request's `x-ms-correlation-request-id` when the client sent one, else a fresh UUID. */
  readonly correlationId: string;
  readonly httpRequest: {
    /** The request's `x-ms-client-request-id` when the client sent one, else a fresh UUID. */
    readonly clientRequestId: string;
    readonly clientIpAddress: string;
    readonly method: string;
    /** The full request URL on the simulator, query included. */
    readonly url: string;
  };
  /** e.g. "Microsoft.ContainerService" */
  readonly resourceProvider: string;
  /** The resource id as the client wrote it. */
  readonly resourceUri: string;
  /** e.g. "Microsoft.ContainerService/managedClusters/write", "Microsoft.Security/apiCollections/delete" */
  readonly operationName: string;
  readonly status: "Succeeded";
  readonly subscriptionId: string;
  readonly tenantId: string;
}

/** One event of the subscription system topic, Event Grid schema. */
export interface SimEvent {
  /** `/subscriptions/{subscriptionId}` */
  readonly topic: string;
  /** The resource id (as `data.resourceUri`). */
  readonly subject: string;
  readonly eventType: SimEventType;
  /** The simulator's clock when the event was raised (ISO 8601). */
  readonly eventTime: string;
  /** A fresh UUID per event. */
  readonly id: string;
  readonly data: SimEventData;
  readonly dataVersion: "2";
  readonly metadataVersion: "1";
}

/**
 * The caller the events name when the request's bearer token is not a JWT (the tests' "sim" token): a
 * fake service principal. A JWT's own claims (`appid`, `oid`, …) are used when the token is one.
 */
export const SIM_CALLER = {
  appId: "5c1a3b2e-7d4f-4e8a-9b6c-2f0e1d3a4b5c",
  objectId: "8e2f4a6c-1b3d-4f5e-9a7b-6c8d0e2f4a1b",
} as const;

/** Azure's built-in Contributor role (its role definition id is the same in every tenant). */
const CONTRIBUTOR_ROLE_DEFINITION_ID = "b24988ac618042a0ab8820f7382dd24c";

/** How .NET (and so ARM) names the JWT claims it maps; other claims keep their short names. */
const MAPPED_CLAIMS: Readonly<Record<string, string>> = {
  oid: "http://schemas.microsoft.com/identity/claims/objectidentifier",
  tid: "http://schemas.microsoft.com/identity/claims/tenantid",
  sub: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
  idp: "http://schemas.microsoft.com/identity/claims/identityprovider",
  scp: "http://schemas.microsoft.com/identity/claims/scope",
  upn: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
};
const OBJECT_ID_CLAIM = MAPPED_CLAIMS.oid ?? "oid";

/** What the server knows about an accepted request. */
export interface AcceptedWrite {
  readonly method: string;
  /** Decoded, without query or trailing slash. */
  readonly path: string;
  /** The full request URL on the simulator. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** The route's path template, when it has one (its literal segments give the canonical type spelling). */
  readonly template: string | undefined;
  /** The subscription as the estate spells it, and its tenant. */
  readonly subscriptionId: string;
  readonly tenantId: string;
  /** The correlation id the answer carried. */
  readonly correlationId: string;
  readonly now: Date;
}

/** A header's single value, when non-empty. */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text === undefined || text.trim().length === 0 ? undefined : text.trim();
}

/** The type of an id spelt as the template spells it when both name the same type, else as written. */
function canonicalType(id: string, template: string | undefined): string | undefined {
  const written = typeOfResourceId(id);
  if (written === undefined || template === undefined) return written;
  const canonical = typeOfResourceId(template);
  return canonical !== undefined && canonical.toLowerCase() === written.toLowerCase() ? canonical : written;
}

/** The claims of a JWT bearer token's payload, as strings; undefined when the token is not a JWT. */
function tokenClaims(headers: IncomingHttpHeaders): Record<string, string> | undefined {
  const bearer = /^Bearer\s+(\S+)/i.exec(headerValue(headers, "authorization") ?? "");
  const payload = bearer?.[1]?.split(".")[1];
  if (payload === undefined || bearer?.[1]?.split(".").length !== 3) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  const claims: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (value === undefined || value === null) continue;
    claims[MAPPED_CLAIMS[key] ?? key] =
      typeof value === "string"
        ? value
        : Array.isArray(value)
          ? value.map(String).join(" ")
          : JSON.stringify(value);
  }
  return claims;
}

/** The claims of an app-only token for the simulator's fake service principal, issued a few minutes ago. */
function defaultClaims(tenantId: string, now: Date): Record<string, string> {
  const issuedAt = Math.floor(now.getTime() / 1000) - 300;
  return {
    aud: "https://management.azure.com/",
    iss: `https://sts.windows.net/${tenantId}/`,
    iat: String(issuedAt),
    nbf: String(issuedAt),
    exp: String(issuedAt + 3600),
    appid: SIM_CALLER.appId,
    appidacr: "2",
    idtyp: "app",
    [MAPPED_CLAIMS.idp ?? "idp"]: `https://sts.windows.net/${tenantId}/`,
    [OBJECT_ID_CLAIM]: SIM_CALLER.objectId,
    [MAPPED_CLAIMS.sub ?? "sub"]: SIM_CALLER.objectId,
    [MAPPED_CLAIMS.tid ?? "tid"]: tenantId,
    uti: randomUUID().replace(/-/g, "").slice(0, 22),
    ver: "1.0",
  };
}

/**
 * The event ARM raises for an accepted request: ResourceWriteSuccess for PUT/PATCH, ResourceDeleteSuccess
 * for DELETE, ResourceActionSuccess for a POST action (`{resource id}/{action}`). Undefined for other
 * methods and for paths that name no resource.
 */
export function resourceEvent(write: AcceptedWrite): SimEvent | undefined {
  const method = write.method.toUpperCase();
  let eventType: SimEventType;
  let resourceUri = write.path;
  let template = write.template;
  let verb: string;
  if (method === "PUT" || method === "PATCH") {
    eventType = "Microsoft.Resources.ResourceWriteSuccess";
    verb = "write";
  } else if (method === "DELETE") {
    eventType = "Microsoft.Resources.ResourceDeleteSuccess";
    verb = "delete";
  } else if (method === "POST") {
    // An action is a POST to `{resource id}/{action}`: the event names the resource and `{type}/{action}/action`.
    const cut = write.path.lastIndexOf("/");
    eventType = "Microsoft.Resources.ResourceActionSuccess";
    verb = `${write.path.slice(cut + 1)}/action`;
    resourceUri = write.path.slice(0, cut);
    template = template?.slice(0, template.lastIndexOf("/"));
  } else {
    return undefined;
  }
  const type = canonicalType(resourceUri, template);
  if (type === undefined) return undefined;
  const operationName = `${type}/${verb}`;

  const claims = { ...defaultClaims(write.tenantId, write.now), ...tokenClaims(write.headers) };
  const principalId = (claims[OBJECT_ID_CLAIM] ?? SIM_CALLER.objectId).replace(/-/g, "");
  return {
    topic: `/subscriptions/${write.subscriptionId}`,
    subject: resourceUri,
    eventType,
    eventTime: write.now.toISOString(),
    id: randomUUID(),
    data: {
      authorization: {
        scope: resourceUri,
        action: operationName,
        evidence: {
          role: "Contributor",
          roleAssignmentScope: `/subscriptions/${write.subscriptionId}`,
          roleAssignmentId: "3f1c5a7e9b2d4c6e8a0f1b3d5c7e9a2b",
          roleDefinitionId: CONTRIBUTOR_ROLE_DEFINITION_ID,
          principalId,
          principalType: claims.idtyp === "user" ? "User" : "ServicePrincipal",
        },
      },
      claims,
      correlationId: write.correlationId,
      httpRequest: {
        clientRequestId: headerValue(write.headers, "x-ms-client-request-id") ?? randomUUID(),
        clientIpAddress: "127.0.0.1",
        method,
        url: write.url,
      },
      resourceProvider: type.split("/")[0] ?? type,
      resourceUri,
      operationName,
      status: "Succeeded",
      subscriptionId: write.subscriptionId,
      tenantId: write.tenantId,
    },
    dataVersion: "2",
    metadataVersion: "1",
  };
}
