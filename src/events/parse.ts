/**
 * Event Grid events → what to reconcile. An event only names *what* to look at; the engine reads the
 * world itself, so the mapping is deliberately coarse: a write anywhere inside a cluster reconciles
 * the cluster, a write inside an API reconciles the API.
 *
 * Both schemas are accepted (Event Grid and CloudEvents 1.0), one event or an array. The SDK's
 * deserializer (`@azure/eventgrid`) validates the envelope; before it, a few shapes that Azure's own
 * documented samples use are normalised (no `dataVersion`/`metadataVersion`, CloudEvents attributes
 * spelt `Type`/`Time`, `specversion` as the number 1.0), because real payloads follow those samples.
 */
import { EventGridDeserializer } from "@azure/eventgrid";
import { parseResourceId, ResourceIdError } from "../model/resource-id.js";

export const RESOURCE_WRITE_SUCCESS = "Microsoft.Resources.ResourceWriteSuccess";
export const RESOURCE_CREATED_OR_UPDATED = "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated";
export const APIM_API_CREATED = "Microsoft.ApiManagement.APICreated";
export const APIM_API_UPDATED = "Microsoft.ApiManagement.APIUpdated";

/** The event types the handler acts on (the Event Grid subscription's filter is checked against it). */
export const HANDLED_EVENT_TYPES = [
  RESOURCE_WRITE_SUCCESS,
  RESOURCE_CREATED_OR_UPDATED,
  APIM_API_CREATED,
  APIM_API_UPDATED,
] as const;

/**
 * `ResourceWriteSuccess` operation names the handler acts on. A prefix match: child writes
 * (`managedClusters/agentPools/write`, `service/apis/operations/write`) reconcile their parent. A
 * cluster extension (`{cluster}/providers/Microsoft.KubernetesConfiguration/extensions/{name}`) and a
 * cluster's own plan (`{cluster}/providers/Microsoft.Security/pricings/Containers`) reconcile the cluster.
 */
export const HANDLED_OPERATION_PREFIXES = [
  "Microsoft.ContainerService/managedClusters/",
  "Microsoft.Kubernetes/connectedClusters/",
  "Microsoft.KubernetesConfiguration/extensions/write",
  "Microsoft.ApiManagement/service/write",
  "Microsoft.ApiManagement/service/apis/",
  "Microsoft.ApiManagement/service/gateways/apis/",
  "Microsoft.Security/pricings/write",
] as const;

/** What one event asks for. */
export type EventVerdict =
  | {
      readonly kind: "reconcile";
      readonly eventId: string;
      readonly eventType: string;
      /** The resource to reconcile, as the event spelt it. */
      readonly resourceId: string;
      readonly subscriptionId: string;
    }
  | {
      readonly kind: "ignored";
      readonly eventId: string;
      readonly eventType: string;
      readonly reason: string;
    }
  | { readonly kind: "malformed"; readonly eventId: string | undefined; readonly problem: string };

/** Thrown for a payload that is not events at all (not JSON, not an object or array). */
export class EventPayloadError extends Error {
  override readonly name = "EventPayloadError";
}

const deserializer = new EventGridDeserializer();

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value.trim().length > 0 ? value.trim() : undefined;
}

function sameText(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** Parses the text of a delivery (a file, a request body): JSON, one event or an array of them. */
export function parsePayloadText(payload: string): unknown {
  try {
    return JSON.parse(payload) as unknown;
  } catch (error) {
    throw new EventPayloadError(`the events are not JSON: ${(error as Error).message}`);
  }
}

/** One verdict per event in the payload, in order; never throws for a bad event, only for a bad payload. */
export async function parseEvents(payload: unknown): Promise<EventVerdict[]> {
  const events = Array.isArray(payload) ? (payload as unknown[]) : [payload];
  if (!Array.isArray(payload) && !isObject(payload)) {
    throw new EventPayloadError(
      `the events must be a JSON object or an array of them, not ${describe(payload)}`,
    );
  }
  const verdicts: EventVerdict[] = [];
  for (const [index, event] of events.entries()) verdicts.push(await parseEvent(event, index));
  return verdicts;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "string" ? "a string" : `a ${typeof value}`;
}

/** One event (already JSON-parsed), as the Event Grid trigger hands it over. */
export async function parseEvent(raw: unknown, index = 0): Promise<EventVerdict> {
  const where = `event ${String(index)}`;
  if (!isObject(raw))
    return { kind: "malformed", eventId: undefined, problem: `${where} is ${describe(raw)}, not an object` };
  const eventId = text(raw.id);
  const malformed = (problem: string): EventVerdict => ({
    kind: "malformed",
    eventId,
    problem: `${where}${eventId === undefined ? "" : ` (${eventId})`}: ${problem}`,
  });
  try {
    if (isCloudEvent(raw)) {
      const [event] = await deserializer.deserializeCloudEvents(normaliseCloudEvent(raw));
      if (event === undefined) return malformed("no event");
      // The raw data, not the deserialised one: the SDK's mapper would turn a string into an object.
      return verdictFor(event.id, event.type, event.source, event.subject, raw.data, malformed);
    }
    const [event] = await deserializer.deserializeEventGridEvents(normaliseEventGridEvent(raw));
    if (event === undefined) return malformed("no event");
    return verdictFor(event.id, event.eventType, event.topic ?? "", event.subject, raw.data, malformed);
  } catch (error) {
    return malformed(error instanceof Error ? error.message : String(error));
  }
}

function isCloudEvent(raw: JsonObject): boolean {
  return "specversion" in raw || "specVersion" in raw || ("source" in raw && !("topic" in raw));
}

/** CloudEvents attribute names are lower case; Azure's documented samples sometimes capitalise them. */
function normaliseCloudEvent(raw: JsonObject): JsonObject {
  const event: JsonObject = {};
  for (const [key, value] of Object.entries(raw)) {
    const lower = key.toLowerCase();
    event[["type", "time", "specversion", "source", "subject", "id"].includes(lower) ? lower : key] = value;
  }
  if (typeof event.specversion === "number") event.specversion = event.specversion.toFixed(1);
  return event;
}

/** Documented samples of system events omit the version fields; the SDK insists on them. */
function normaliseEventGridEvent(raw: JsonObject): JsonObject {
  return { dataVersion: "", metadataVersion: "1", ...raw };
}

function verdictFor(
  eventId: string,
  eventType: string,
  topic: string,
  subject: string | undefined,
  data: unknown,
  malformed: (problem: string) => EventVerdict,
): EventVerdict {
  const ignored = (reason: string): EventVerdict => ({ kind: "ignored", eventId, eventType, reason });
  const known = HANDLED_EVENT_TYPES.find((type) => sameText(type, eventType));
  if (known === undefined) return ignored(`${eventType} events are not acted on`);
  if (!isObject(data)) return malformed(`${eventType} has no data object`);

  let resourceUri: string | undefined;
  switch (known) {
    case RESOURCE_WRITE_SUCCESS: {
      const operation = text(data.operationName);
      resourceUri = text(data.resourceUri) ?? subject;
      if (operation === undefined) return malformed("data.operationName is missing");
      const status = text(data.status);
      if (status !== undefined && status.toLowerCase() !== "succeeded") {
        return ignored(`the write ended ${status}`);
      }
      if (
        !HANDLED_OPERATION_PREFIXES.some((prefix) => operation.toLowerCase().startsWith(prefix.toLowerCase()))
      ) {
        return ignored(`${operation} is not a write autoprotect checks`);
      }
      break;
    }
    case RESOURCE_CREATED_OR_UPDATED: {
      const info = data.resourceInfo;
      resourceUri = (isObject(info) ? text(info.id) : undefined) ?? subject;
      break;
    }
    case APIM_API_CREATED:
    case APIM_API_UPDATED:
      resourceUri = text(data.resourceUri) ?? (subject === undefined ? undefined : `${topic}${subject}`);
      break;
  }
  if (resourceUri === undefined)
    return malformed(`${eventType} names no resource (data.resourceUri or subject)`);

  let target: { resourceId: string; subscriptionId: string } | undefined;
  try {
    target = reconcileTargetOf(resourceUri);
  } catch (error) {
    if (error instanceof ResourceIdError) return malformed(error.message);
    throw error;
  }
  if (target === undefined) return ignored(`${resourceUri} is not a resource autoprotect checks`);
  return { kind: "reconcile", eventId, eventType: known, ...target };
}

/**
 * The resource an event about `resourceUri` should reconcile: the cluster (AKS or Arc-enabled, also for
 * what is nested in it: extensions, its own plan), the APIM service, the API
 * (without its `;rev=` suffix), or the Defender plan; undefined for anything else. APIM's documented
 * event format leaves `/providers/` out of the id; it is put back.
 */
export function reconcileTargetOf(
  resourceUri: string,
): { resourceId: string; subscriptionId: string } | undefined {
  const withProviders = resourceUri.replace(
    /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+)\/(Microsoft\.ApiManagement\/)/i,
    "$1/providers/$2",
  );
  const parsed = parseResourceId(withProviders);
  const types = parsed.type
    .split("/")
    .slice(1)
    .map((t) => t.toLowerCase());
  const provider = parsed.provider?.toLowerCase();
  const prefix = (pairs: number): string => {
    const segments = parsed.id.split("/");
    const providersAt = segments.findIndex((s) => s.toLowerCase() === "providers");
    return segments.slice(0, providersAt + 2 + pairs * 2).join("/");
  };
  const subscriptionId = parsed.subscriptionId;
  if (provider === "microsoft.containerservice" && types[0] === "managedclusters") {
    return { resourceId: prefix(1), subscriptionId };
  }
  if (provider === "microsoft.kubernetes" && types[0] === "connectedclusters") {
    return { resourceId: prefix(1), subscriptionId };
  }
  if (provider === "microsoft.apimanagement" && types[0] === "service") {
    if (types.length === 1) return { resourceId: prefix(1), subscriptionId };
    if (types[1] === "apis") return { resourceId: stripRevision(prefix(2)), subscriptionId };
    // A gateway's API link changes whether the API is served through a self-hosted gateway.
    if (types[1] === "gateways" && types[2] === "apis" && parsed.names[2] !== undefined) {
      return { resourceId: `${prefix(1)}/apis/${stripRevision(parsed.names[2])}`, subscriptionId };
    }
    return undefined;
  }
  if (provider === "microsoft.security" && types[0] === "pricings" && parsed.resourceGroup === undefined) {
    const plan = parsed.names[0]?.toLowerCase();
    return plan === "containers" || plan === "api" ? { resourceId: parsed.id, subscriptionId } : undefined;
  }
  return undefined;
}

function stripRevision(id: string): string {
  return id.replace(/;rev=[^/]*$/i, "");
}
