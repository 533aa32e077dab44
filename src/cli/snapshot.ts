/**
 * `autoprotect snapshot --out FILE`: a what-if on a real estate. Reads, read-only and through the same
 * adapters the engine uses, what autoprotect decides from (subscriptions and their plans, clusters,
 * resource groups' tags, sensor workspaces, API Management services, APIs, gateways, workspaces,
 * Defender API collections, capacity, and Defender for Cloud's assessments of them, in one Resource
 * Graph query) into the simulator's estate format, so that
 * `sweep --simulate FILE` shows offline the writes enforce would make. Secrets never enter the file:
 * ARM does not return them on a GET, and whatever looks like one is left out anyway.
 */
import { writeFile } from "node:fs/promises";
import { DefaultAzureCredential } from "@azure/identity";
import { createApp } from "../app.js";
import type { AzureGateway } from "../azure/index.js";
import { isConsumptionTier } from "../checks/index.js";
import type { ApimServiceSnapshot } from "../model/apim.js";
import { ASSESSMENT_TYPE } from "../model/defender.js";
import { parseResourceId } from "../model/resource-id.js";
import type { CliArguments } from "./args.js";
import type { CliIo } from "./io.js";
import { checkAllowed, checkSignIn, resolveSubscriptions } from "./scope.js";
import { loadSettings } from "./settings.js";
import { startSimulatedAzure, type SimulatedAzure } from "./simulate.js";

/** An ARM resource as the estate file holds it. */
interface EstateResource {
  id: string;
  name: string;
  type: string;
  [field: string]: unknown;
}

interface EstateSubscription {
  subscriptionId: string;
  displayName?: string;
  state?: string;
  tenantId?: string;
  pricings?: Record<string, unknown>;
}

export interface SnapshotEstate {
  subscriptions: EstateSubscription[];
  resources: EstateResource[];
  capacity: Record<string, { base: number; perApi: number }>;
}

const PLANS = ["Containers", "Api"] as const;

// ---------------------------------------------------------------------------------------------
// Secrets: left out by name, and by what the value looks like

/** Property names that hold secrets (compared without regard to case, anywhere in a resource). */
const SECRET_NAME =
  /password|secret|token|connectionstring|sharedkey|accountkey|primarykey|secondarykey|privatekey|apikey|credential|sastoken|^sig$|^key$|^keys$/i;
/** Values that are secrets whatever their name: tokens, connection strings with keys, SAS, private keys. */
const SECRET_VALUE = [
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/, // a JWT (bearer tokens)
  /\bBearer\s+\S{8,}/i,
  /(AccountKey|SharedAccessKey|SharedAccessSignature|Password|Pwd)\s*=/i,
  /[?&]sig=/i, // a SAS URL
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
  /\b(ghp|gho|ghs|github_pat|xox[abp])_[A-Za-z0-9_]{10,}/, // well-known token formats
];
export const REDACTED = "[left out by autoprotect snapshot]";

/** A deep copy without secrets; `dropped` counts what was left out. */
export function withoutSecrets(value: unknown, dropped: { count: number }): unknown {
  if (typeof value === "string") {
    if (SECRET_VALUE.some((pattern) => pattern.test(value))) {
      dropped.count += 1;
      return REDACTED;
    }
    return value;
  }
  if (Array.isArray(value)) return value.map((item) => withoutSecrets(item, dropped));
  if (typeof value === "object" && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (SECRET_NAME.test(key) && item !== null && typeof item !== "boolean") {
        dropped.count += 1;
        continue;
      }
      copy[key] = withoutSecrets(item, dropped);
    }
    return copy;
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Reading

function groupOf(id: string): { subscriptionId: string; resourceGroup: string } | undefined {
  const parsed = parseResourceId(id);
  return parsed.resourceGroup === undefined
    ? undefined
    : { subscriptionId: parsed.subscriptionId, resourceGroup: parsed.resourceGroup };
}

async function pricingsOf(azure: AzureGateway, subscriptionId: string): Promise<Record<string, unknown>> {
  const pricings: Record<string, unknown> = {};
  for (const plan of PLANS) {
    const { properties } = await azure.security.getPricing(subscriptionId, plan);
    pricings[plan] = {
      pricingTier: properties.pricingTier,
      ...(properties.subPlan === undefined ? {} : { subPlan: properties.subPlan }),
      ...(typeof properties.enablementTime === "string" ? { enablementTime: properties.enablementTime } : {}),
      ...(properties.extensions === undefined
        ? {}
        : {
            extensions: properties.extensions.map((e) => ({
              name: e.name,
              isEnabled: e.isEnabled,
              ...(e.additionalExtensionProperties === undefined
                ? {}
                : { additionalExtensionProperties: e.additionalExtensionProperties }),
            })),
          }),
    };
  }
  return pricings;
}

/** One APIM service with its APIs, workspaces, gateways, collections and capacity. */
async function readService(
  azure: AzureGateway,
  service: ApimServiceSnapshot,
  now: Date,
  estate: SnapshotEstate,
): Promise<void> {
  const id = service.id;
  estate.resources.push({
    id,
    name: service.name,
    type: "Microsoft.ApiManagement/service",
    location: service.location,
    sku: { name: service.sku.name, capacity: service.sku.capacity ?? 1 },
    tags: service.tags ?? {},
    properties: {
      provisioningState: service.provisioningState ?? "Succeeded",
      additionalLocations: (service.additionalLocations ?? []).map((l) => ({ location: l.location })),
    },
  });
  const apis = await azure.apim.listApis(id);
  for (const api of apis) {
    estate.resources.push({
      id: api.id,
      name: api.name,
      type: "Microsoft.ApiManagement/service/apis",
      properties: {
        ...(api.displayName === undefined ? {} : { displayName: api.displayName }),
        ...(api.apiType === undefined ? {} : { type: api.apiType }),
        isCurrent: api.isCurrent ?? true,
      },
    });
  }
  const workspaces = new Set<string>();
  for (const api of await azure.apim.listWorkspaceApis(id)) {
    const workspaceId = api.id.replace(/\/apis\/[^/]+$/i, "");
    if (!workspaces.has(workspaceId.toLowerCase())) {
      workspaces.add(workspaceId.toLowerCase());
      estate.resources.push({
        id: workspaceId,
        name: workspaceId.split("/").at(-1) ?? "",
        type: "Microsoft.ApiManagement/service/workspaces",
        properties: {},
      });
    }
    estate.resources.push({
      id: api.id,
      name: api.name,
      type: "Microsoft.ApiManagement/service/workspaces/apis",
      properties: {
        ...(api.displayName === undefined ? {} : { displayName: api.displayName }),
        ...(api.apiType === undefined ? {} : { type: api.apiType }),
        isCurrent: api.isCurrent ?? true,
      },
    });
  }
  const gateways = new Set<string>();
  for (const [apiKey, names] of await azure.apim.listSelfHostedGatewayAssignments(id)) {
    const api = apis.find((a) => a.name.toLowerCase() === apiKey);
    for (const gateway of names) {
      const gatewayId = `${id}/gateways/${gateway}`;
      if (!gateways.has(gateway.toLowerCase())) {
        gateways.add(gateway.toLowerCase());
        estate.resources.push({
          id: gatewayId,
          name: gateway,
          type: "Microsoft.ApiManagement/service/gateways",
          properties: {},
        });
      }
      if (api !== undefined) {
        estate.resources.push({
          id: `${gatewayId}/apis/${api.name}`,
          name: api.name,
          type: "Microsoft.ApiManagement/service/gateways/apis",
          properties: {},
        });
      }
    }
  }
  const collections = await azure.security.listApiCollections(id);
  for (const collection of collections) {
    estate.resources.push({
      id: `${id}/providers/Microsoft.Security/apiCollections/${collection.apiName}`,
      name: collection.apiName,
      type: "Microsoft.Security/apiCollections",
      properties: { provisioningState: collection.provisioningState },
    });
  }
  if (isConsumptionTier(service)) return;
  const reading = await azure.monitor.readApimCapacity(service, now);
  if (reading.percent !== undefined) {
    // The reading includes what is onboarded already; each API onboarded from here adds nothing the
    // snapshot could know (the rollout learns it as it goes): the simulated instance stays at today's load.
    estate.capacity[id] = { base: Math.round(reading.percent * 10) / 10, perApi: 0 };
  }
}

/** Reads the estate of the given subscriptions (plus those holding their clusters' workspaces). */
/**
 * A cluster's own Containers plan, as the estate lists it (ARM's shape, the writable fields), or
 * undefined when the cluster inherits the subscription's: a GET at the cluster's scope answers the plan
 * in effect, `inherited` "True" when it is the subscription's.
 */
async function clusterOwnPlan(azure: AzureGateway, clusterId: string): Promise<EstateResource | undefined> {
  const plan = await azure.security.getClusterPlan(clusterId);
  if (plan === undefined || String(plan.properties.inherited).toLowerCase() === "true") return undefined;
  const { pricingTier, subPlan, extensions } = plan.properties;
  return {
    id: `${clusterId}/providers/Microsoft.Security/pricings/Containers`,
    name: "Containers",
    type: "Microsoft.Security/pricings",
    properties: {
      pricingTier,
      ...(subPlan === undefined ? {} : { subPlan }),
      extensions: (extensions ?? []).map((e) => ({
        name: e.name,
        isEnabled: e.isEnabled,
        ...(e.additionalExtensionProperties === undefined
          ? {}
          : { additionalExtensionProperties: e.additionalExtensionProperties }),
      })),
    },
  };
}

/**
 * Defender for Cloud's assessments of the resources read, in one Resource Graph query over every
 * subscription, as the estate holds them (ARM's shape, under the resource each judges).
 */
async function assessmentsOf(
  azure: AzureGateway,
  subscriptionIds: readonly string[],
  resources: readonly EstateResource[],
): Promise<EstateResource[]> {
  if (subscriptionIds.length === 0) return [];
  const known = new Set(resources.map((r) => r.id.toLowerCase()));
  return (await azure.resourceGraph.listDefenderAssessments(subscriptionIds))
    .filter((a) => known.has(a.resourceId.toLowerCase()))
    .map((a) => ({
      id: a.id,
      name: a.key,
      type: ASSESSMENT_TYPE,
      properties: {
        displayName: a.displayName,
        resourceDetails: { source: "Azure", id: a.resourceId },
        status: {
          code: a.status,
          ...(a.cause === undefined ? {} : { cause: a.cause }),
          ...(a.description === undefined ? {} : { description: a.description }),
          ...(a.firstEvaluationDate === undefined ? {} : { firstEvaluationDate: a.firstEvaluationDate }),
          ...(a.statusChangeDate === undefined ? {} : { statusChangeDate: a.statusChangeDate }),
        },
      },
    }));
}

export async function readEstate(
  azure: AzureGateway,
  subscriptionIds: readonly string[],
  workspaceIds: readonly string[],
  now: Date,
): Promise<SnapshotEstate> {
  const visible = new Map(
    (await azure.resources.listSubscriptions()).map((s) => [s.subscriptionId.toLowerCase(), s] as const),
  );
  const estate: SnapshotEstate = { subscriptions: [], resources: [], capacity: {} };
  const listed = new Set<string>();
  const addSubscription = async (subscriptionId: string): Promise<void> => {
    if (listed.has(subscriptionId.toLowerCase())) return;
    listed.add(subscriptionId.toLowerCase());
    const info = visible.get(subscriptionId.toLowerCase());
    estate.subscriptions.push({
      subscriptionId,
      ...(info?.displayName ? { displayName: info.displayName } : {}),
      ...(info === undefined ? {} : { state: info.state }),
      ...(info?.tenantId === undefined ? {} : { tenantId: info.tenantId }),
      pricings: await pricingsOf(azure, subscriptionId),
    });
  };
  const groups = new Map<string, { subscriptionId: string; resourceGroup: string }>();
  const noteGroup = (id: string): void => {
    const group = groupOf(id);
    if (group !== undefined)
      groups.set(`${group.subscriptionId}/${group.resourceGroup}`.toLowerCase(), group);
  };
  const workspaces = new Set(workspaceIds);
  for (const subscriptionId of subscriptionIds) {
    await addSubscription(subscriptionId);
    for (const cluster of await azure.aks.listClusters(subscriptionId)) {
      if (cluster.id === undefined) continue;
      estate.resources.push(cluster as EstateResource);
      noteGroup(cluster.id);
      const security = cluster.properties?.securityProfile as
        { defender?: { logAnalyticsWorkspaceResourceId?: unknown } } | undefined;
      const workspace = security?.defender?.logAnalyticsWorkspaceResourceId;
      if (typeof workspace === "string" && workspace !== "") workspaces.add(workspace);
      const ownPlan = await clusterOwnPlan(azure, cluster.id);
      if (ownPlan !== undefined) estate.resources.push(ownPlan);
    }
    for (const cluster of await azure.arc.listConnectedClusters(subscriptionId)) {
      if (typeof cluster.id !== "string") continue;
      estate.resources.push(cluster as EstateResource);
      noteGroup(cluster.id);
      for (const extension of await azure.arc.listExtensions(cluster.id)) {
        estate.resources.push(extension as EstateResource);
      }
    }
    for (const service of await azure.apim.listServices(subscriptionId)) {
      await readService(azure, service, now, estate);
      noteGroup(service.id);
    }
  }
  estate.resources.push(...(await assessmentsOf(azure, subscriptionIds, estate.resources)));
  for (const workspaceId of [...workspaces].sort()) {
    const workspace = await azure.logAnalytics.getWorkspace(workspaceId);
    if (workspace.state !== "found") continue;
    const id = workspace.resourceId;
    await addSubscription(parseResourceId(id).subscriptionId);
    noteGroup(id);
    estate.resources.push({
      id,
      name: id.split("/").at(-1) ?? "",
      type: "Microsoft.OperationalInsights/workspaces",
      properties: {
        provisioningState: "Succeeded",
        ...(workspace.publicNetworkAccessForIngestion === undefined
          ? {}
          : { publicNetworkAccessForIngestion: workspace.publicNetworkAccessForIngestion }),
        privateLinkScopedResources: workspace.privateLinkScopeIds.map((scopeId) => ({ scopeId })),
      },
    });
  }
  for (const { subscriptionId, resourceGroup } of groups.values()) {
    const tags = await azure.resources.getResourceGroupTags(subscriptionId, resourceGroup);
    if (tags === undefined || Object.keys(tags).length === 0) continue;
    estate.resources.push({
      id: `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`,
      name: resourceGroup,
      type: "Microsoft.Resources/resourceGroups",
      tags,
    });
  }
  return estate;
}

export async function runSnapshot(args: CliArguments, io: CliIo): Promise<number> {
  const { config } = await loadSettings(args, io.env);
  let simulated: SimulatedAzure | undefined;
  try {
    let connection;
    if (args.simulate === undefined) {
      const credential = new DefaultAzureCredential();
      await checkSignIn(credential);
      connection = { credential };
    } else {
      simulated = await startSimulatedAzure(args.simulate);
      connection = simulated.connection;
    }
    const { azure } = createApp({ config, connection, storage: { kind: "file", dir: config.stateDir } });
    const requested = args.subscriptions.length > 0 ? args.subscriptions : config.subscriptions;
    const ids =
      requested.length > 0
        ? await resolveSubscriptions(requested, () => azure.resources.listSubscriptions())
        : await azure.resources.listSubscriptionIds();
    for (const id of ids) checkAllowed(id, config);
    const now = simulated?.now() ?? new Date();
    const estate = await readEstate(
      azure,
      ids,
      config.workspaceId === undefined ? [] : [config.workspaceId],
      now,
    );
    const dropped = { count: 0 };
    const clean = withoutSecrets(estate, dropped);
    const text = `${JSON.stringify(clean, null, 2)}\n`;
    if (args.out === "-") io.stdout.write(text);
    else await writeFile(args.out ?? "estate.json", text, "utf8");
    const file = args.out === "-" ? "FILE" : (args.out ?? "");
    const written = args.out === "-" ? "" : ` written to ${file}`;
    const secrets =
      dropped.count > 0 ? `; ${String(dropped.count)} values that looked like secrets were left out` : "";
    io.stderr.write(
      `snapshot: ${String(estate.subscriptions.length)} subscriptions, ${String(estate.resources.length)} ` +
        `resources${written}${secrets}; preview the writes with: autoprotect sweep --simulate ${file}\n`,
    );
    return 0;
  } finally {
    await simulated?.close();
  }
}
