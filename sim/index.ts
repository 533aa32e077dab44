export {
  EstateError,
  loadEstateFile,
  parseEstate,
  saveEstateFile,
  type ArmResource,
  type Estate,
  type EstateFault,
  type EstatePricing,
  type EstatePricingExtension,
  type EstateSubscription,
  type FaultKind,
  type FaultSpec,
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
export { startSimulator, type RecordedRequest, type Simulator, type SimulatorOptions } from "./server.js";
