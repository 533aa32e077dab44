import type { AccessToken, TokenCredential } from "@azure/core-auth";
import type { AzureConnection } from "../azure/index.js";

/** The simulator accepts any bearer token; the SDK's bearer policy still insists on https, which the simulator serves. */
export const simulatorCredential: TokenCredential = {
  getToken: (): Promise<AccessToken> =>
    Promise.resolve({ token: "simulator-token", expiresOnTimestamp: Date.now() + 60 * 60 * 1000 }),
};

export interface SimulatedAzure {
  readonly connection: AzureConnection;
  save(path: string): Promise<void>;
  close(): Promise<void>;
}

export class EstateInputError extends Error {
  override readonly name = "EstateInputError";
}

/** Starts the dev-only simulator loaded with an estate file. Imported lazily so the Functions bundle never carries it. */
export async function startSimulatedAzure(estatePath: string): Promise<SimulatedAzure> {
  const sim = await import("../../sim/index.js");
  let estate;
  try {
    estate = await sim.loadEstateFile(estatePath);
  } catch (error) {
    if (error instanceof sim.EstateError) throw new EstateInputError(error.message);
    throw error;
  }
  const simulator = await sim.startSimulator({ estate });
  return {
    connection: {
      credential: simulatorCredential,
      endpoint: simulator.endpoint,
      tlsCa: simulator.ca,
      pollIntervalMs: 10,
      metricsEndpoint: () => simulator.endpoint,
    },
    save: (path) => sim.saveEstateFile(path, simulator.exportEstate()),
    close: () => simulator.close(),
  };
}
