export { planApisPlan } from "./apis-plan.js";
export { planAuthorizedIps } from "./authorized-ips.js";
export { AZURE_POLICY_ADDON, planAzurePolicy } from "./azure-policy.js";
export {
  applyClusterChanges,
  applyClusterChangesToResource,
  describeClusterChange,
  describeClusterChanges,
} from "./cluster-changes.js";
export type { ClusterCheckInput } from "./cluster-input.js";
export {
  BUSY_CLUSTER_RETRY_SECONDS,
  CLUSTER_CHECKS,
  planClusterProtection,
  STOPPED_CLUSTER_RETRY_SECONDS,
  writeBlock,
  type ClusterCheckId,
  type ClusterFinding,
  type WriteBlock,
} from "./cluster.js";
export { planContainersPlan, REQUIRED_CONTAINERS_EXTENSIONS } from "./containers-plan.js";
export {
  isSensorEnabled,
  planDefenderSensor,
  resolveSensorWorkspace,
  resolveSensorWorkspaceId,
  type SensorWorkspace,
  type SensorWorkspaceSource,
} from "./defender-sensor.js";
export { EXCLUDED_BY_TAG, exclusionReason, findTagExclusion, type TagExclusion } from "./exclusion.js";
export { planSensorWorkspace } from "./sensor-workspace.js";
export {
  API_TYPE,
  WORKSPACE_API_TYPE,
  apiEligibility,
  inventoryApis,
  isConsumptionTier,
  isSeparateApi,
  planApiOnboarding,
  serviceRefusal,
  type ApiCollectionChange,
  type ApiEligibility,
  type ApiInventory,
  type ApiOnboardingFinding,
  type PlannedApi,
  type RolloutGate,
} from "./api-onboarding.js";
