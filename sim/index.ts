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
  startSimulator,
  type FaultSpec,
  type RecordedRequest,
  type Simulator,
  type SimulatorOptions,
} from "./server.js";
