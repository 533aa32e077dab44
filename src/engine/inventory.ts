import type { AzureGateway, ManagedClusterModel } from "../azure/index.js";

/**
 * What exists in a subscription. Behind its own interface so a sweep can move to Azure Resource
 * Graph (one query for thousands of clusters) without touching the engine.
 */
export interface Inventory {
  clustersIn(subscriptionId: string): Promise<ManagedClusterModel[]>;
}

export function armInventory(azure: AzureGateway): Inventory {
  return {
    async clustersIn(subscriptionId) {
      const clusters: ManagedClusterModel[] = [];
      for await (const cluster of azure.aks.listClusters(subscriptionId)) clusters.push(cluster);
      return clusters;
    },
  };
}
