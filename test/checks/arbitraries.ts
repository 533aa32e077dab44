import fc from "fast-check";
import { CLUSTER_CHECKS, resolveSensorWorkspaceId, type ClusterCheckInput } from "../../src/checks/index.js";
import type { ClusterSnapshot, WorkspaceSnapshot } from "../../src/model/cluster.js";
import { CHECK_IDS } from "../../src/model/checks.js";
import { DEFAULT_MIN_AUTHORIZED_PREFIX } from "../../src/model/ip-range.js";
import type { PricingSnapshot } from "../../src/model/pricing.js";
import { parseWorkspaceId, ResourceIdError } from "../../src/model/resource-id.js";
import { CLUSTER_WORKSPACE, CONFIG_WORKSPACE, INSIGHTS_WORKSPACE, PRIVATE_LINK_SCOPE } from "./builders.js";

type Json = Record<string, unknown>;

const shortKey = fc.stringMatching(/^[a-z][a-zA-Z0-9]{0,7}$/);

/** Properties the planners know nothing about; prefixed so they never collide with the ones they target. */
const unknownProperties = fc.dictionary(
  shortKey.map((k) => `x${k}`),
  fc.jsonValue({ maxDepth: 2 }),
  { maxKeys: 2, noNullPrototype: true },
);

/** ARM sends null for absent sections; the declared types say undefined. Generate both. */
function absentOr<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | null | undefined> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 4, arbitrary: arb },
  );
}

function withUnknown(arb: fc.Arbitrary<Json>): fc.Arbitrary<Json> {
  return fc.tuple(arb, unknownProperties).map(([known, extra]) => ({ ...extra, ...known }));
}

/** Workspace ids ARM would refuse, as clusters and API examples carry them. */
export const INVALID_WORKSPACE_IDS = [
  // azure-rest-api-specs' ManagedClustersCreate_SecurityProfile example.
  "/subscriptions/SUB_ID/resourcegroups/RG_NAME/providers/microsoft.operationalinsights/workspaces/WORKSPACE_NAME",
  `${CLUSTER_WORKSPACE}/..`,
  "not-a-resource-id",
];

const workspaceId = fc.oneof(
  fc.constantFrom(CLUSTER_WORKSPACE, CONFIG_WORKSPACE, INSIGHTS_WORKSPACE, ""),
  fc.constant(INSIGHTS_WORKSPACE.slice(1)),
  fc.constantFrom(...INVALID_WORKSPACE_IDS),
);

/** Ranges that restrict the API server, including AKS's 0.0.0.0/32 (the load balancer's outbound IP only). */
const cidr = fc.oneof(
  fc.constantFrom(
    "203.0.113.0/24",
    "198.51.100.7/32",
    "10.0.0.0/8",
    "192.0.2.1",
    "0.0.0.0/32",
    "2001:db8::/48",
  ),
  fc.tuple(fc.ipV4(), fc.integer({ min: 8, max: 32 })).map(([ip, prefix]) => `${ip}/${prefix}`),
);

/** Ranges that let in (nearly) the whole internet, whatever minimum prefix is configured from 8 up. */
export const internetWideRange = fc.oneof(
  fc.constantFrom("0.0.0.0/0", "::/0", " 0.0.0.0/0", "::ffff:0:0/96", "0.0.0.0/1", "128.0.0.0/1"),
  fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 7 })).map(([ip, prefix]) => `${ip}/${prefix}`),
  fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 7 })).map(([ip, prefix]) => `${ip}/${prefix}`),
);

/** Entries no CIDR parser reads: a service tag, a typo, a prefix too long. */
const unreadableRange = fc.constantFrom("AzureCloud", "10.0.0.0/33", "203.0.113.0/24/8", "localhost");

const listedRange = fc.oneof(
  { weight: 6, arbitrary: cidr },
  { weight: 2, arbitrary: internetWideRange },
  { weight: 1, arbitrary: unreadableRange },
);

const addonConfig = fc.dictionary(
  fc.oneof(fc.mixedCase(fc.constant("logAnalyticsWorkspaceResourceID")), shortKey),
  fc.oneof(workspaceId, fc.string({ maxLength: 5 })),
  { maxKeys: 2, noNullPrototype: true },
);

const addon = absentOr(
  withUnknown(
    fc.record(
      { enabled: fc.boolean(), config: absentOr(addonConfig) },
      { requiredKeys: ["enabled"], noNullPrototype: true },
    ),
  ),
).filter((a) => a !== undefined);

const addonKey = fc.oneof(
  fc.mixedCase(fc.constantFrom("azurepolicy", "omsagent")),
  fc.constantFrom("ingressApplicationGateway", "azureKeyvaultSecretsProvider", "httpApplicationRouting"),
);

const securityProfile = withUnknown(
  fc.record(
    {
      defender: absentOr(
        withUnknown(
          fc.record(
            {
              logAnalyticsWorkspaceResourceId: workspaceId,
              securityMonitoring: absentOr(
                withUnknown(
                  fc.record({ enabled: fc.boolean() }, { requiredKeys: [], noNullPrototype: true }),
                ),
              ),
            },
            { requiredKeys: [], noNullPrototype: true },
          ),
        ),
      ),
      workloadIdentity: fc.record({ enabled: fc.boolean() }, { noNullPrototype: true }),
    },
    { requiredKeys: [], noNullPrototype: true },
  ),
);

const apiServerAccessProfile = withUnknown(
  fc.record(
    {
      authorizedIPRanges: fc.oneof(fc.constant(null), fc.array(listedRange, { maxLength: 3 })),
      enablePrivateCluster: fc.boolean(),
      disableRunCommand: fc.boolean(),
    },
    { requiredKeys: [], noNullPrototype: true },
  ),
);

const networkProfile = fc.record(
  {
    loadBalancerSku: fc.mixedCase(fc.constantFrom("standard", "basic")),
    networkPlugin: fc.constantFrom("azure", "kubenet"),
  },
  { requiredKeys: [], noNullPrototype: true },
);

const agentPool = fc.record(
  { name: shortKey, count: fc.nat(5), enableNodePublicIP: fc.boolean() },
  { requiredKeys: ["name"], noNullPrototype: true },
);

const excludeTagValue = fc.constantFrom("true", "TRUE", " True ", "false", "yes");
const tags = fc.dictionary(
  fc.oneof(fc.mixedCase(fc.constant("autoprotect-exclude")), shortKey),
  excludeTagValue,
  {
    maxKeys: 2,
    noNullPrototype: true,
  },
);

/** Any cluster as ARM or the SDK may hand it over, including nulls and unknown properties. */
export const clusterSnapshot: fc.Arbitrary<ClusterSnapshot> = withUnknown(
  fc.record(
    {
      tags,
      provisioningState: fc.mixedCase(fc.constantFrom("Succeeded", "Updating", "Failed", "Creating")),
      powerState: absentOr(
        fc.record({ code: fc.mixedCase(fc.constantFrom("Running", "Stopped")) }, { noNullPrototype: true }),
      ),
      addonProfiles: absentOr(fc.dictionary(addonKey, addon, { maxKeys: 4, noNullPrototype: true })),
      securityProfile: absentOr(securityProfile),
      apiServerAccessProfile: absentOr(apiServerAccessProfile),
      networkProfile: absentOr(networkProfile),
      agentPoolProfiles: absentOr(fc.array(agentPool, { maxLength: 3 })),
      kubernetesVersion: fc.constantFrom("1.29.7", "1.30.4"),
    },
    { requiredKeys: [], noNullPrototype: true },
  ),
).map((fields) => ({
  id: "/subscriptions/x/aks",
  name: "aks",
  location: "westeurope",
  ...fields,
}));

/** Clusters that can take a write now and are not excluded, so every planned change reaches applyClusterChanges. */
export const writableCluster: fc.Arbitrary<ClusterSnapshot> = clusterSnapshot.map((cluster) => ({
  ...cluster,
  tags: {},
  provisioningState: "Succeeded",
  powerState: { code: "Running" },
}));

export const clusterConfig: fc.Arbitrary<ClusterCheckInput["config"]> = fc.record({
  workspaceId: fc.option(fc.constantFrom(CONFIG_WORKSPACE, CLUSTER_WORKSPACE), { nil: undefined }),
  authorizedIpRanges: fc.array(
    fc.oneof(
      { weight: 4, arbitrary: cidr },
      { weight: 2, arbitrary: cidr.map((c) => ` ${c}`) },
      // Configuration refuses these; the planner must not count on it.
      { weight: 1, arbitrary: internetWideRange },
    ),
    { maxLength: 3 },
  ),
  minAuthorizedPrefix: fc.oneof(
    { weight: 3, arbitrary: fc.constant(DEFAULT_MIN_AUTHORIZED_PREFIX) },
    { weight: 1, arbitrary: fc.integer({ min: 8, max: 16 }) },
  ),
  excludeTag: fc.constantFrom("autoprotect-exclude", "AutoProtect-Exclude"),
  checks: fc.oneof(
    { weight: 3, arbitrary: fc.constant([...CHECK_IDS]) },
    { weight: 1, arbitrary: fc.subarray([...CHECK_IDS]) },
  ),
});

const workspaceShape = fc.oneof(
  fc.constant({ kind: "missing" as const }),
  fc.record({
    kind: fc.constant("found" as const),
    ingestion: fc.option(fc.mixedCase(fc.constantFrom("Enabled", "Disabled")), { nil: undefined }),
    scopes: fc.array(fc.constant(PRIVATE_LINK_SCOPE), { maxLength: 1 }),
  }),
);

/** What the Log Analytics adapter says of an id it will not send to ARM. */
function workspaceIdProblem(id: string): string | undefined {
  try {
    parseWorkspaceId(id);
    return undefined;
  } catch (error) {
    if (error instanceof ResourceIdError) return error.reason;
    throw error;
  }
}

/** The engine reads the workspace the cluster resolves to; this mirrors that so snapshots stay consistent. */
export function clusterInput(clusters: fc.Arbitrary<ClusterSnapshot>): fc.Arbitrary<ClusterCheckInput> {
  return fc
    .record({
      cluster: clusters,
      config: clusterConfig,
      shape: workspaceShape,
      resourceGroupTags: fc.option(tags, { nil: undefined }),
    })
    .map(({ cluster, config, shape, resourceGroupTags }) => {
      const resourceId = resolveSensorWorkspaceId(cluster, config.workspaceId);
      const problem = resourceId === undefined ? undefined : workspaceIdProblem(resourceId);
      const workspace: WorkspaceSnapshot =
        resourceId === undefined
          ? { state: "none" }
          : problem !== undefined
            ? { state: "invalid", resourceId, problem }
            : shape.kind === "missing"
              ? { state: "missing", resourceId }
              : {
                  state: "found",
                  resourceId,
                  privateLinkScopeIds: shape.scopes,
                  ...(shape.ingestion === undefined
                    ? {}
                    : { publicNetworkAccessForIngestion: shape.ingestion }),
                };
      return {
        cluster,
        config,
        workspace,
        ...(resourceGroupTags === undefined ? {} : { resourceGroupTags }),
      };
    });
}

export const ALL_CLUSTER_CHECKS = [...CLUSTER_CHECKS];

const extensionName = fc.oneof(
  fc.mixedCase(
    fc.constantFrom(
      "ContainerSensor",
      "AgentlessDiscoveryForKubernetes",
      "ContainerRegistriesVulnerabilityAssessments",
      "AgentlessVmScanning",
    ),
  ),
  fc.stringMatching(/^[A-Z][A-Za-z]{2,12}$/),
);

const extension = fc.record(
  {
    name: extensionName,
    isEnabled: fc.oneof(fc.mixedCase(fc.constantFrom("True", "False")), fc.constantFrom(" true", "False ")),
    additionalExtensionProperties: fc.dictionary(shortKey, fc.jsonValue({ maxDepth: 1 }), {
      maxKeys: 2,
      noNullPrototype: true,
    }),
    operationStatus: fc.record({
      code: fc.constantFrom("Succeeded", "Failed"),
      message: fc.string({ maxLength: 8 }),
    }),
  },
  { requiredKeys: ["name", "isEnabled"], noNullPrototype: true },
);

/** Any plan as ARM returns it at 2024-01-01, read-only fields included. */
export function pricingSnapshot(name: string, subPlans: readonly string[]): fc.Arbitrary<PricingSnapshot> {
  return withUnknown(
    fc.record(
      {
        pricingTier: fc.oneof(fc.mixedCase(fc.constantFrom("Free", "Standard")), fc.constant(" standard")),
        subPlan: fc.constantFrom(...subPlans),
        extensions: absentOr(fc.array(extension, { maxLength: 5 })),
        enforce: fc.constantFrom("True", "False"),
        freeTrialRemainingTime: fc.constant("PT0S"),
      },
      { requiredKeys: ["pricingTier"], noNullPrototype: true },
    ),
  ).map(
    (properties) =>
      ({
        id: `/subscriptions/x/providers/Microsoft.Security/pricings/${name}`,
        name,
        properties,
      }) as unknown as PricingSnapshot,
  );
}
