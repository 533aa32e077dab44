import type { AccessToken, TokenCredential } from "@azure/core-auth";
import type { AzureConnection } from "../azure/index.js";
import type { IngestionConfig } from "../model/config.js";
import { OUTCOME_COLUMNS, OUTCOME_STREAM } from "../outcomes/schema.js";

/** The simulator accepts any bearer token; the SDK's bearer policy still insists on https, which the simulator serves. */
export const simulatorCredential: TokenCredential = {
  getToken: (): Promise<AccessToken> =>
    Promise.resolve({ token: "simulator-token", expiresOnTimestamp: Date.now() + 60 * 60 * 1000 }),
};

/** The simulated Log Analytics workspace's id when the estate has no workspace with a `customerId`. */
export const SIMULATED_WORKSPACE_ID = "00000000-0000-4000-8000-0000000010a0";
/** The simulated data collection rule's immutable id when the configuration names none. */
export const SIMULATED_DCR_ID = "dcr-00000000000000000000000000a2e0a0";

export interface SimulatedAzureOptions {
  /**
   * The data collection rule and stream outcomes are delivered to (`config.ingestion`): the simulator
   * declares that rule and stream. Its endpoint is ignored: under --simulate the simulator's own is used.
   * Default: SIMULATED_DCR_ID and the stream Custom-AutoprotectOutcomes.
   */
  readonly ingestion?: Pick<IngestionConfig, "ruleId" | "stream"> | undefined;
  /** How far to move the simulated clock forward before the run (`--advance`), in milliseconds. Default 0. */
  readonly advanceMs?: number | undefined;
}

export interface SimulatedAzure {
  readonly connection: AzureConnection;
  /** The Logs Ingestion endpoint outcomes go to under --simulate (the simulator's own, https). */
  readonly ingestionEndpoint: string;
  /** What to give the outcome uploader under --simulate: the rule and stream declared, at `ingestionEndpoint`. */
  readonly ingestion: IngestionConfig;
  /** The Log Analytics query API's endpoint for LogsQueryClient (`${endpoint}/v1`). */
  readonly logsQueryEndpoint: string;
  /** The simulated workspace's id (customerId) the query API answers for; other ids get 404 PathNotFoundError. */
  readonly workspaceId: string;
  /**
   * The simulated clock (the estate's `now` at real speed, moved by `advanceMs`; else real time): the engine
   * and its rollout controller take it as their `now`, so they see the time the simulator serves.
   */
  readonly now: () => Date;
  /** Writes the state, the clock as it is now and the faults not used up (see sim/README.md). */
  save(path: string): Promise<void>;
  close(): Promise<void>;
}

export class EstateInputError extends Error {
  override readonly name = "EstateInputError";
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The first Log Analytics workspace in the estate with a GUID `properties.customerId`, else SIMULATED_WORKSPACE_ID. */
function simulatedWorkspaceId(
  resources: readonly { type: string; properties?: Record<string, unknown> | null }[],
): string {
  for (const resource of resources) {
    if (resource.type.toLowerCase() !== "microsoft.operationalinsights/workspaces") continue;
    const customerId = resource.properties?.customerId;
    if (typeof customerId === "string" && GUID.test(customerId)) return customerId;
  }
  return SIMULATED_WORKSPACE_ID;
}

/**
 * Starts the dev-only simulator loaded with an estate file, with a data collection rule whose stream
 * (the outcome columns) lands in the simulated workspace, so outcomes delivered under --simulate can be
 * queried back (and are kept in a saved estate's `logs`). Imported lazily so the Functions bundle never
 * carries the simulator.
 */
export async function startSimulatedAzure(
  estatePath: string,
  options: SimulatedAzureOptions = {},
): Promise<SimulatedAzure> {
  const sim = await import("../../sim/index.js");
  let estate;
  try {
    estate = await sim.loadEstateFile(estatePath);
  } catch (error) {
    if (error instanceof sim.EstateError) throw new EstateInputError(error.message);
    throw error;
  }
  const ruleId = options.ingestion?.ruleId ?? SIMULATED_DCR_ID;
  const stream = options.ingestion?.stream ?? OUTCOME_STREAM;
  const workspaceId = simulatedWorkspaceId(estate.resources);
  let simulator;
  try {
    simulator = await sim.startSimulator({
      estate,
      advanceMs: options.advanceMs ?? 0,
      ingestion: {
        dataCollectionRuleId: ruleId,
        workspaceId,
        streams: { [stream]: OUTCOME_COLUMNS.map(({ name, type }) => ({ name, type })) },
      },
    });
  } catch (error) {
    // The estate's `logs` do not fit the outcome stream: bad input, named as loadEstateFile names problems.
    if (error instanceof sim.EstateError) {
      throw new EstateInputError(error.message.replace(/^estate:/, `${estatePath}:`));
    }
    throw error;
  }
  return {
    connection: {
      credential: simulatorCredential,
      endpoint: simulator.endpoint,
      tlsCa: simulator.ca,
      pollIntervalMs: 10,
      metricsEndpoint: () => simulator.endpoint,
    },
    ingestionEndpoint: simulator.endpoint,
    ingestion: { endpoint: simulator.endpoint, ruleId, stream },
    logsQueryEndpoint: `${simulator.endpoint}/v1`,
    workspaceId,
    now: () => simulator.now(),
    save: (path) => sim.saveEstateFile(path, simulator.exportEstate()),
    close: () => simulator.close(),
  };
}
