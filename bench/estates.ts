// The benchmarks' estates, by recipe: the simulator's process and the app's build the same one from the
// same recipe (the generators are deterministic), so no estate crosses a process boundary.
import type { Estate } from "../sim/index.js";
import { generateApimEstate } from "./generate-apim-estate.js";
import { generateClusterEstate } from "./generate-estate.js";

export type EstateRecipe =
  /** The sweeps' mix of states (bench/generate-estate.ts). */
  | { readonly kind: "clusters"; readonly clusters: number; readonly subscriptions: number }
  /** bench/generate-apim-estate.ts. */
  | { readonly kind: "apim"; readonly services: number; readonly apis: number }
  /** Every cluster public, unexcluded and missing all three protections, the Containers plan off. */
  | { readonly kind: "unprotected"; readonly clusters: number; readonly subscriptions: number }
  /** A tenant: clusters (the sweeps' mix) and API Management services over the same subscriptions. */
  | {
      readonly kind: "tenant";
      readonly subscriptions: number;
      readonly clusters: number;
      readonly services: number;
      readonly apis: number;
    };

function unprotected(clusters: number, subscriptions: number): Estate {
  const estate = generateClusterEstate(clusters, subscriptions);
  for (const resource of estate.resources) {
    if (resource.type !== "Microsoft.ContainerService/ManagedClusters") continue;
    resource.tags = { team: "bench" };
    resource.properties = {
      ...resource.properties,
      addonProfiles: {},
      securityProfile: {},
      apiServerAccessProfile: {},
    };
  }
  return estate;
}

const CLUSTER_SUBSCRIPTION_PREFIX = "5e1f0000-0000-4000-8000-";
const APIM_SUBSCRIPTION_PREFIX = "a91e0000-0000-4000-8000-";

/** Clusters over `subscriptions` (two resource groups each), API Management services over the first ones. */
function tenant(subscriptions: number, clusters: number, services: number, apis: number): Estate {
  const estate = generateClusterEstate(clusters, subscriptions, 2);
  const apim = generateApimEstate(services, apis, subscriptions).estate;
  const sameSubscriptions = (id: string): string =>
    id.replace(`/subscriptions/${APIM_SUBSCRIPTION_PREFIX}`, `/subscriptions/${CLUSTER_SUBSCRIPTION_PREFIX}`);
  for (const resource of apim.resources)
    estate.resources.push({ ...resource, id: sameSubscriptions(resource.id) });
  estate.capacity = Object.fromEntries(
    Object.entries(apim.capacity ?? {}).map(([id, model]) => [sameSubscriptions(id), model]),
  );
  const apiPlans = new Map(
    apim.subscriptions.map((s) => [
      s.subscriptionId.replace(APIM_SUBSCRIPTION_PREFIX, CLUSTER_SUBSCRIPTION_PREFIX),
      s,
    ]),
  );
  for (const subscription of estate.subscriptions) {
    const api = apiPlans.get(subscription.subscriptionId)?.pricings?.Api;
    if (api !== undefined) subscription.pricings = { ...subscription.pricings, Api: api };
  }
  return estate;
}

export function buildEstate(recipe: EstateRecipe): Estate {
  switch (recipe.kind) {
    case "clusters":
      return generateClusterEstate(recipe.clusters, recipe.subscriptions);
    case "apim":
      return generateApimEstate(recipe.services, recipe.apis).estate;
    case "unprotected":
      return unprotected(recipe.clusters, recipe.subscriptions);
    case "tenant":
      return tenant(recipe.subscriptions, recipe.clusters, recipe.services, recipe.apis);
  }
}
