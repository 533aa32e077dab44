/** ARM resource ids: parsing, validation and case-insensitive comparison. */

export class ResourceIdError extends Error {
  override readonly name = "ResourceIdError";
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ParsedResourceId {
  /** The id as given (trailing slash removed), for outcome records: ARM's spelling is kept. */
  readonly id: string;
  readonly subscriptionId: string;
  readonly resourceGroup?: string;
  /** e.g. `Microsoft.ContainerService`; absent for subscriptions and resource groups. */
  readonly provider?: string;
  /** Full type, e.g. `Microsoft.ContainerService/managedClusters` or `Microsoft.ApiManagement/service/apis`. */
  readonly type: string;
  /** Names of the resource and its parents, outermost first. */
  readonly names: readonly string[];
}

export function isSubscriptionIdValid(value: string): boolean {
  return GUID.test(value);
}

export function parseResourceId(raw: string): ParsedResourceId {
  const id = raw.trim().replace(/\/+$/, "");
  if (id.length === 0) throw new ResourceIdError("resource id is empty");
  if (!id.startsWith("/"))
    throw new ResourceIdError(`resource id '${raw}' must start with '/subscriptions/'`);
  const segments = id.slice(1).split("/");
  if (segments.some((s) => s.length === 0))
    throw new ResourceIdError(`resource id '${raw}' has an empty segment`);
  if (segments[0]?.toLowerCase() !== "subscriptions" || segments[1] === undefined) {
    throw new ResourceIdError(`resource id '${raw}' must start with '/subscriptions/{subscriptionId}'`);
  }
  const subscriptionId = segments[1];
  if (!isSubscriptionIdValid(subscriptionId)) {
    throw new ResourceIdError(`resource id '${raw}': subscription id '${subscriptionId}' is not a GUID`);
  }
  if (segments.length === 2)
    return { id, subscriptionId, type: "Microsoft.Resources/subscriptions", names: [] };

  let rest = segments.slice(2);
  let resourceGroup: string | undefined;
  if (rest[0]?.toLowerCase() === "resourcegroups") {
    resourceGroup = rest[1];
    if (resourceGroup === undefined)
      throw new ResourceIdError(`resource id '${raw}' ends after 'resourceGroups'`);
    rest = rest.slice(2);
    if (rest.length === 0) {
      return {
        id,
        subscriptionId,
        resourceGroup,
        type: "Microsoft.Resources/resourceGroups",
        names: [resourceGroup],
      };
    }
  }
  if (rest[0]?.toLowerCase() !== "providers" || rest[1] === undefined) {
    throw new ResourceIdError(`resource id '${raw}' has no '/providers/{namespace}' section`);
  }
  const provider = rest[1];
  const typeNamePairs = rest.slice(2);
  if (typeNamePairs.length === 0 || typeNamePairs.length % 2 !== 0) {
    throw new ResourceIdError(
      `resource id '${raw}' must end with a '{type}/{name}' pair after '${provider}'`,
    );
  }
  const types: string[] = [];
  const names: string[] = [];
  for (let i = 0; i < typeNamePairs.length; i += 2) {
    types.push(typeNamePairs[i] as string);
    names.push(typeNamePairs[i + 1] as string);
  }
  return {
    id,
    subscriptionId,
    ...(resourceGroup === undefined ? {} : { resourceGroup }),
    provider,
    type: `${provider}/${types.join("/")}`,
    names,
  };
}

/** ARM compares ids, types and names without regard to case. */
export function sameId(a: string, b: string): boolean {
  return a.replace(/\/+$/, "").toLowerCase() === b.replace(/\/+$/, "").toLowerCase();
}

export function sameText(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();
}

export function subscriptionScope(subscriptionId: string): string {
  return `/subscriptions/${subscriptionId}`;
}

export function resourceGroupId(subscriptionId: string, resourceGroup: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`;
}

export function pricingId(subscriptionId: string, plan: string): string {
  return `/subscriptions/${subscriptionId}/providers/Microsoft.Security/pricings/${plan}`;
}
