/**
 * ARM resource ids: parsing, validation and case-insensitive comparison. Every id that enters the
 * tool (an event, a request, a queue message, the command line, configuration) goes through
 * `parseResourceId`, so an id ARM would refuse never reaches an adapter: `.../managedClusters/.`
 * would otherwise be sent as the list URL, and `..` would climb to another resource.
 */

export class ResourceIdError extends Error {
  override readonly name = "ResourceIdError";
  constructor(
    message: string,
    /** What is wrong, without the id (for messages that name the id themselves). */
    readonly reason: string = message,
  ) {
    super(message);
  }
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

/**
 * Characters ARM accepts in no resource name ("Naming rules and restrictions for Azure resources"):
 * `<>%&\?` are refused everywhere, `#` breaks ARM's URL parsing, and `*` and control characters
 * are refused by the rules of every type this tool reconciles.
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const NEVER_IN_A_NAME = /[\u0000-\u001f\u007f<>%&\\?#*]/;

interface NameRule {
  /** What the name names, for messages. */
  readonly noun: string;
  readonly pattern: RegExp;
  readonly max: number;
  readonly says: string;
}

/**
 * ARM's documented rules for the names of the types autoprotect reconciles, keyed by lower-case type.
 * API ids follow the API Management REST specification (`^[^*#&+:<>?]+$`, up to 256), which is looser
 * than the naming page and admits the `;rev=n` of revisions; connected clusters have no documented
 * rule beyond the general one, so only that applies.
 */
const NAME_RULES: Readonly<Record<string, NameRule>> = {
  "microsoft.resources/resourcegroups": {
    noun: "resource group",
    pattern: /^[-\p{L}\p{M}\p{N}\p{Pc}.()]+$/u,
    max: 90,
    says: "letters, digits, underscores, hyphens, periods and parentheses",
  },
  "microsoft.containerservice/managedclusters": {
    noun: "cluster",
    pattern: /^[a-z0-9](?:[-_a-z0-9]*[a-z0-9])?$/i,
    max: 63,
    says: "letters, digits, underscores and hyphens, starting and ending with a letter or digit",
  },
  "microsoft.apimanagement/service": {
    noun: "API Management service",
    pattern: /^[a-z](?:[-a-z0-9]*[a-z0-9])?$/i,
    max: 50,
    says: "letters, digits and hyphens, starting with a letter and ending with a letter or digit",
  },
  "microsoft.apimanagement/service/apis": {
    noun: "API",
    pattern: /^[^*#&+:<>?]+$/,
    max: 256,
    says: "no * # & + : < > ?",
  },
};

const NAMESPACE = /^[a-z][a-z0-9-]*(?:\.[a-z0-9-]+)+$/i;
const TYPE = /^[a-z][a-z0-9-]*$/i;

/** The id quoted for a message, with control characters escaped so that a message stays one line. */
function quoted(raw: string): string {
  return `'${JSON.stringify(raw).slice(1, -1)}'`;
}

/** Why ARM would refuse `name` as the name of a `type`, or undefined. */
function nameProblem(name: string, type: string): string | undefined {
  const rule = NAME_RULES[type.toLowerCase()];
  const what = `${rule?.noun ?? type.split("/").at(-1) ?? type} name ${quoted(name)}`;
  const refused = NEVER_IN_A_NAME.exec(name)?.[0];
  if (refused !== undefined) return `${what} contains ${JSON.stringify(refused)}, which ARM never accepts`;
  if (/[.\s]$/.test(name)) return `${what} ends with a period or a space, which ARM does not accept`;
  if (rule === undefined) return undefined;
  if (name.length > rule.max) return `${what} is longer than ${rule.max} characters`;
  if (!rule.pattern.test(name)) return `${what} must have ${rule.says}`;
  return undefined;
}

export function parseResourceId(raw: string): ParsedResourceId {
  const id = raw.trim().replace(/\/+$/, "");
  if (id.length === 0) throw new ResourceIdError("resource id is empty");
  /** "resource id '…' must …" or, for a part of the id, "resource id '…': the part …". */
  const invalid = (reason: string) =>
    new ResourceIdError(
      `resource id ${quoted(raw)}${reason.startsWith(":") ? "" : " "}${reason}`,
      reason.startsWith(": ") ? reason.slice(2) : `the id ${reason}`,
    );
  if (!id.startsWith("/")) throw invalid("must start with '/subscriptions/'");
  const segments = id.slice(1).split("/");
  if (segments.some((s) => s.length === 0)) throw invalid("has an empty segment");
  const dots = segments.find((s) => s === "." || s === "..");
  if (dots !== undefined) throw invalid(`has a '${dots}' segment`);
  const [root, subscriptionId] = segments;
  if (root?.toLowerCase() !== "subscriptions" || subscriptionId === undefined) {
    throw invalid("must start with '/subscriptions/{subscriptionId}'");
  }
  if (!isSubscriptionIdValid(subscriptionId)) {
    throw invalid(`: subscription id ${quoted(subscriptionId)} is not a GUID`);
  }
  if (segments.length === 2)
    return { id, subscriptionId, type: "Microsoft.Resources/subscriptions", names: [] };

  let rest = segments.slice(2);
  let resourceGroup: string | undefined;
  if (rest[0]?.toLowerCase() === "resourcegroups") {
    resourceGroup = rest[1];
    if (resourceGroup === undefined) throw invalid("ends after 'resourceGroups'");
    const problem = nameProblem(resourceGroup, "Microsoft.Resources/resourceGroups");
    if (problem !== undefined) throw invalid(`: ${problem}`);
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
  const [providers, provider, ...typeNamePairs] = rest;
  if (providers?.toLowerCase() !== "providers" || provider === undefined) {
    throw invalid("has no '/providers/{namespace}' section");
  }
  if (!NAMESPACE.test(provider)) throw invalid(`: ${quoted(provider)} is not a resource provider namespace`);
  if (typeNamePairs.length === 0 || typeNamePairs.length % 2 !== 0) {
    throw invalid(`must end with a '{type}/{name}' pair after '${provider}'`);
  }
  const types: string[] = [];
  const names: string[] = [];
  for (let i = 0; i < typeNamePairs.length; i += 2) {
    const type = typeNamePairs[i] ?? "";
    const name = typeNamePairs[i + 1] ?? "";
    if (!TYPE.test(type)) throw invalid(`: ${quoted(type)} is not a resource type`);
    types.push(type);
    const problem = nameProblem(name, `${provider}/${types.join("/")}`);
    if (problem !== undefined) throw invalid(`: ${problem}`);
    names.push(name);
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

const WORKSPACE_TYPE = "microsoft.operationalinsights/workspaces";

/** A Log Analytics workspace id, or ResourceIdError saying why it is not one. */
export function parseWorkspaceId(raw: string): ParsedResourceId & { resourceGroup: string; name: string } {
  const parsed = parseResourceId(raw);
  const [name] = parsed.names;
  if (
    parsed.type.toLowerCase() !== WORKSPACE_TYPE ||
    parsed.resourceGroup === undefined ||
    name === undefined
  ) {
    throw new ResourceIdError(
      `${quoted(raw)} is a ${parsed.type}, not a Log Analytics workspace`,
      `it is a ${parsed.type}, not a Log Analytics workspace`,
    );
  }
  return { ...parsed, resourceGroup: parsed.resourceGroup, name };
}

export function pricingId(subscriptionId: string, plan: string): string {
  return `/subscriptions/${subscriptionId}/providers/Microsoft.Security/pricings/${plan}`;
}
