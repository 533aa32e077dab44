export {
  EstateError,
  loadEstateFile,
  parseEstate,
  saveEstateFile,
  type ArmResource,
  type Estate,
  type EstatePricing,
  type EstatePricingExtension,
  type EstateSubscription,
} from "./estate.js";
export { SIM_CALLER, type SimEvent, type SimEventData, type SimEventType } from "./events.js";
export {
  MAX_INGESTION_BYTES,
  tableOfStream,
  type IngestedRow,
  type IngestionOptions,
  type LogAnalyticsColumnType,
  type StreamColumn,
} from "./logs.js";
export {
  startSimulator,
  type FaultSpec,
  type RecordedRequest,
  type Simulator,
  type SimulatorOptions,
} from "./server.js";
