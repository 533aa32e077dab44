import { isIPv4 } from "node:net";
import { CHECK_IDS, isCheckId, type CheckId } from "./checks.js";
import { DEFAULT_MIN_AUTHORIZED_PREFIX, isInternetWide, parseIpRange } from "./ip-range.js";
import { isSubscriptionIdValid, parseWorkspaceId, ResourceIdError } from "./resource-id.js";
import type { Mode } from "./outcome.js";

/** Configuration, read from the environment (the Functions app settings) the same way for every trigger and the CLI. */
export interface Config {
  readonly mode: Mode;
  readonly workspaceId: string | undefined;
  readonly authorizedIpRanges: readonly string[];
  /** Authorized ranges shorter than this prefix are internet-wide: never configured, never counted as a restriction. */
  readonly minAuthorizedPrefix: number;
  readonly apiSubPlan: string;
  readonly excludeTag: string;
  readonly capacityLimit: number;
  readonly subscriptions: readonly string[];
  readonly rolloutIntervalMinutes: number;
  readonly stateDir: string;
  /** Where outcomes go in Log Analytics (Logs Ingestion API); undefined: they are only logged/printed. */
  readonly ingestion: IngestionConfig | undefined;
  /** Which checks run; every check unless AUTOPROTECT_CHECKS narrows it. */
  readonly checks: readonly CheckId[];
  /** A check deferred for longer than this turns `manual` with its last reason. */
  readonly deferralCapHours: number;
  /**
   * Whether enforce mode removes a cluster's resource-level Containers plan that leaves Defender off,
   * when the subscription's plan it would inherit is at least as strong (otherwise it is `manual`).
   */
  readonly removePlanOverrides: boolean;
  /**
   * How long Defender for Cloud may take to follow a change before `defender.agreement` calls a
   * disagreement lasting; undefined: each assessment's documented lag (24 h; an hour for APIs).
   */
  readonly defenderLagHours: number | undefined;
  /** Deadlines of every Azure call. */
  readonly callLimits: CallLimits;
  /** How long a worker keeps reads its runs share (group tags, workspaces, service lists); 0: not at all. */
  readonly readCacheSeconds: number;
  /**
   * How the timer sweep finds the subscriptions to look at: `arm` every subscription in scope;
   * `resource-graph` only those Azure Resource Graph says hold a cluster or an API Management service.
   */
  readonly discovery: "arm" | "resource-graph";
}

/** Deadlines of every Azure call (src/azure/call-limits.ts applies them). */
export interface CallLimits {
  /** One attempt (one HTTP request) may take this long before it is retried. */
  readonly attemptTimeoutMs: number;
  /** One call, every attempt and retry included, may take this long. */
  readonly callDeadlineMs: number;
  /** A `Retry-After` longer than this is not waited for: the call ends with a ThrottledError. */
  readonly maxRetryAfterSeconds: number;
  /** Waiting for a long-running operation (an AKS update) ends after this long. */
  readonly operationDeadlineMs: number;
}

export interface IngestionConfig {
  /** The data collection endpoint's logs ingestion URL (or the DCR's own endpoint). */
  readonly endpoint: string;
  /** The data collection rule's immutable id, `dcr-` and 32 hex digits. */
  readonly ruleId: string;
  readonly stream: string;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

/** Every environment variable the code reads, with its meaning; the README and infra are checked against it. */
export const CONFIG_VARIABLES = {
  AUTOPROTECT_MODE: "enforce (default) or audit",
  AUTOPROTECT_WORKSPACE_ID: "Log Analytics workspace resource id for the Defender sensor",
  AUTOPROTECT_AUTHORIZED_IP_RANGES:
    "comma-separated IPv4 CIDRs added to clusters with an unrestricted API server",
  AUTOPROTECT_MIN_AUTHORIZED_PREFIX:
    "shortest prefix an authorized IP range may have to count as a restriction (default 8)",
  AUTOPROTECT_API_SUBPLAN: "Defender for APIs sub-plan when enabling the plan (default P1)",
  AUTOPROTECT_EXCLUDE_TAG:
    "tag name that excludes a resource or its resource group (default autoprotect-exclude)",
  AUTOPROTECT_CAPACITY_LIMIT: "APIM capacity percent above which onboarding waits (default 60)",
  AUTOPROTECT_SUBSCRIPTIONS: "comma-separated subscription ids in scope (default: all the identity can see)",
  AUTOPROTECT_ROLLOUT_INTERVAL_MINUTES: "pause between onboarding steps of one APIM service (default 10)",
  AUTOPROTECT_STATE_DIR: "where the CLI keeps durable state (default ./.autoprotect)",
  AUTOPROTECT_CHECKS: "comma-separated check ids to run (default: all)",
  AUTOPROTECT_DEFERRAL_CAP_HOURS:
    "a check deferred longer than this turns manual with its last reason (default 24)",
  AUTOPROTECT_REMOVE_PLAN_OVERRIDES:
    "true: remove a cluster's resource-level Containers plan that leaves Defender off when the inherited plan is at least as strong (default false: manual)",
  AUTOPROTECT_DEFENDER_LAG_HOURS:
    "how long Defender for Cloud may take to follow a change before defender.agreement calls a disagreement lasting (default: Defender's documented lag, 24 h; 1 h for API onboarding)",
  AUTOPROTECT_CALL_TIMEOUT_SECONDS:
    "one attempt of an Azure call may take this long before it is retried (default 30)",
  AUTOPROTECT_CALL_DEADLINE_SECONDS: "one Azure call, retries included, may take this long (default 120)",
  AUTOPROTECT_MAX_RETRY_AFTER_SECONDS:
    "the longest Retry-After waited for within a run; longer ones defer the check (default 60)",
  AUTOPROTECT_OPERATION_TIMEOUT_SECONDS:
    "waiting for a long-running write (an AKS update) ends after this long; the check is deferred (default 1800)",
  AUTOPROTECT_READ_CACHE_SECONDS:
    "how long a worker keeps the reads its runs share (group tags, workspaces, plan on, Defender's assessments); 0 turns it off (default 60)",
  AUTOPROTECT_DISCOVERY:
    "arm (default: the sweep looks at every subscription in scope) or resource-graph (only those holding a cluster or an API Management service)",
  AUTOPROTECT_SWEEP_SCHEDULE:
    "NCRONTAB schedule of the timer sweep (Functions app setting; default every 6 hours)",
  AUTOPROTECT_INGESTION_ENDPOINT:
    "Logs Ingestion endpoint (data collection endpoint) for outcomes; with AUTOPROTECT_DCR_ID",
  AUTOPROTECT_DCR_ID: "immutable id of the data collection rule for outcomes (dcr-…)",
  AUTOPROTECT_INGESTION_STREAM: "the rule's stream for outcomes (default Custom-AutoprotectOutcomes)",
  AzureWebJobsStorage:
    "Functions: the host's storage as a connection string (UseDevelopmentStorage=true with Azurite, locally)",
  AzureWebJobsStorage__accountName:
    "Functions in Azure: the host's storage account, reached with the managed identity (no keys)",
  AzureWebJobsStorage__tableServiceUri: "Functions: table endpoint, when not derived from the account name",
  AzureWebJobsStorage__queueServiceUri: "Functions: queue endpoint, when not derived from the account name",
} as const;

type Env = Readonly<Record<string, string | undefined>>;

function discoveryOf(raw: string | undefined): Config["discovery"] {
  const value = (raw ?? "").trim().toLowerCase() || "arm";
  if (value !== "arm" && value !== "resource-graph") {
    throw new ConfigError("AUTOPROTECT_DISCOVERY", `'${raw ?? ""}' is not 'arm' or 'resource-graph'`);
  }
  return value;
}

function list(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function isIpv4Cidr(value: string): boolean {
  const [address, prefix, ...extra] = value.split("/");
  if (extra.length > 0 || address === undefined || !isIPv4(address)) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,2}$/.test(prefix)) return false;
  return Number(prefix) <= 32;
}

function number(env: Env, variable: string, fallback: number, min: number, max: number): number {
  const raw = env[variable]?.trim();
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(variable, `'${raw}' is not a number from ${min} to ${max}`);
  }
  return value;
}

function flag(env: Env, variable: string): boolean {
  const raw = env[variable]?.trim().toLowerCase() ?? "";
  if (raw === "" || raw === "false") return false;
  if (raw === "true") return true;
  throw new ConfigError(variable, `'${env[variable] ?? ""}' is not 'true' or 'false'`);
}

function ingestionConfig(env: Env): IngestionConfig | undefined {
  const endpoint = env.AUTOPROTECT_INGESTION_ENDPOINT?.trim() ?? "";
  const ruleId = env.AUTOPROTECT_DCR_ID?.trim() ?? "";
  const stream = env.AUTOPROTECT_INGESTION_STREAM?.trim() || "Custom-AutoprotectOutcomes";
  if (endpoint === "" && ruleId === "") return undefined;
  if (endpoint === "")
    throw new ConfigError("AUTOPROTECT_INGESTION_ENDPOINT", "is needed with AUTOPROTECT_DCR_ID");
  if (ruleId === "")
    throw new ConfigError("AUTOPROTECT_DCR_ID", "is needed with AUTOPROTECT_INGESTION_ENDPOINT");
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new ConfigError("AUTOPROTECT_INGESTION_ENDPOINT", `'${endpoint}' is not a URL`);
  }
  if (url.protocol !== "https:") {
    throw new ConfigError(
      "AUTOPROTECT_INGESTION_ENDPOINT",
      `'${endpoint}' must be https (tokens are never sent in clear)`,
    );
  }
  if (!/^dcr-[0-9a-f]{32}$/i.test(ruleId)) {
    throw new ConfigError(
      "AUTOPROTECT_DCR_ID",
      `'${ruleId}' is not a data collection rule immutable id (dcr- and 32 hex digits)`,
    );
  }
  if (!/^Custom-[A-Za-z0-9_]+$/.test(stream)) {
    throw new ConfigError(
      "AUTOPROTECT_INGESTION_STREAM",
      `'${stream}' is not a custom stream name (Custom-…)`,
    );
  }
  return { endpoint: url.toString().replace(/\/+$/, ""), ruleId: ruleId.toLowerCase(), stream };
}

/**
 * Whether a subscription is in scope: the allow-list, or every subscription when it is empty. Every
 * entry point and the engine itself ask this one function (ids compare without regard to case).
 */
export function inScope(config: Pick<Config, "subscriptions">, subscriptionId: string): boolean {
  const wanted = subscriptionId.toLowerCase();
  return config.subscriptions.length === 0 || config.subscriptions.some((s) => s.toLowerCase() === wanted);
}

export function loadConfig(env: Env = process.env): Config {
  const modeRaw = (env.AUTOPROTECT_MODE ?? "enforce").trim().toLowerCase() || "enforce";
  if (modeRaw !== "enforce" && modeRaw !== "audit") {
    throw new ConfigError("AUTOPROTECT_MODE", `'${env.AUTOPROTECT_MODE ?? ""}' is not 'enforce' or 'audit'`);
  }

  const workspaceRaw = env.AUTOPROTECT_WORKSPACE_ID?.trim();
  let workspaceId: string | undefined;
  if (workspaceRaw !== undefined && workspaceRaw !== "") {
    try {
      workspaceId = parseWorkspaceId(workspaceRaw).id;
    } catch (error) {
      if (error instanceof ResourceIdError) throw new ConfigError("AUTOPROTECT_WORKSPACE_ID", error.message);
      throw error;
    }
  }

  const minAuthorizedPrefix = number(
    env,
    "AUTOPROTECT_MIN_AUTHORIZED_PREFIX",
    DEFAULT_MIN_AUTHORIZED_PREFIX,
    1,
    32,
  );
  if (!Number.isInteger(minAuthorizedPrefix)) {
    throw new ConfigError(
      "AUTOPROTECT_MIN_AUTHORIZED_PREFIX",
      `'${minAuthorizedPrefix}' is not a whole number`,
    );
  }
  const authorizedIpRanges = list(env.AUTOPROTECT_AUTHORIZED_IP_RANGES);
  // A range that lets in the whole internet would be reported as protection while protecting nothing.
  const wideRange = authorizedIpRanges.find((r) => {
    const range = parseIpRange(r);
    return range !== undefined && isInternetWide(range, minAuthorizedPrefix);
  });
  if (wideRange !== undefined) {
    throw new ConfigError(
      "AUTOPROTECT_AUTHORIZED_IP_RANGES",
      `'${wideRange}' is internet-wide: a range must be /${minAuthorizedPrefix} or longer (AUTOPROTECT_MIN_AUTHORIZED_PREFIX)`,
    );
  }
  const badRange = authorizedIpRanges.find((r) => !isIpv4Cidr(r));
  if (badRange !== undefined) {
    throw new ConfigError("AUTOPROTECT_AUTHORIZED_IP_RANGES", `'${badRange}' is not an IPv4 address or CIDR`);
  }

  const apiSubPlan = (env.AUTOPROTECT_API_SUBPLAN ?? "").trim() || "P1";
  if (!/^P[1-5]$/i.test(apiSubPlan)) {
    throw new ConfigError("AUTOPROTECT_API_SUBPLAN", `'${apiSubPlan}' is not one of P1, P2, P3, P4, P5`);
  }

  const excludeTag = (env.AUTOPROTECT_EXCLUDE_TAG ?? "").trim() || "autoprotect-exclude";

  const subscriptions = list(env.AUTOPROTECT_SUBSCRIPTIONS);
  const badSubscription = subscriptions.find((s) => !isSubscriptionIdValid(s));
  if (badSubscription !== undefined) {
    throw new ConfigError(
      "AUTOPROTECT_SUBSCRIPTIONS",
      `'${badSubscription}' is not a subscription id (GUID)`,
    );
  }

  const checksRaw = list(env.AUTOPROTECT_CHECKS);
  const unknownCheck = checksRaw.find((c) => !isCheckId(c));
  if (unknownCheck !== undefined) {
    throw new ConfigError(
      "AUTOPROTECT_CHECKS",
      `unknown check '${unknownCheck}' (known: ${CHECK_IDS.join(", ")})`,
    );
  }

  const callLimits = {
    attemptTimeoutMs: number(env, "AUTOPROTECT_CALL_TIMEOUT_SECONDS", 30, 1, 600) * 1000,
    callDeadlineMs: number(env, "AUTOPROTECT_CALL_DEADLINE_SECONDS", 120, 1, 3600) * 1000,
    maxRetryAfterSeconds: number(env, "AUTOPROTECT_MAX_RETRY_AFTER_SECONDS", 60, 0, 3600),
    operationDeadlineMs: number(env, "AUTOPROTECT_OPERATION_TIMEOUT_SECONDS", 1800, 1, 86_400) * 1000,
  };
  if (callLimits.callDeadlineMs < callLimits.attemptTimeoutMs) {
    throw new ConfigError(
      "AUTOPROTECT_CALL_DEADLINE_SECONDS",
      `must be at least AUTOPROTECT_CALL_TIMEOUT_SECONDS (${String(callLimits.attemptTimeoutMs / 1000)})`,
    );
  }

  return {
    ingestion: ingestionConfig(env),
    mode: modeRaw,
    workspaceId,
    authorizedIpRanges,
    minAuthorizedPrefix,
    apiSubPlan: apiSubPlan.toUpperCase(),
    excludeTag,
    capacityLimit: number(env, "AUTOPROTECT_CAPACITY_LIMIT", 60, 1, 100),
    subscriptions,
    rolloutIntervalMinutes: number(env, "AUTOPROTECT_ROLLOUT_INTERVAL_MINUTES", 10, 0, 24 * 60),
    stateDir: (env.AUTOPROTECT_STATE_DIR ?? "").trim() || "./.autoprotect",
    checks: checksRaw.length === 0 ? [...CHECK_IDS] : checksRaw.filter(isCheckId),
    deferralCapHours: number(env, "AUTOPROTECT_DEFERRAL_CAP_HOURS", 24, 1, 24 * 30),
    removePlanOverrides: flag(env, "AUTOPROTECT_REMOVE_PLAN_OVERRIDES"),
    defenderLagHours:
      (env.AUTOPROTECT_DEFENDER_LAG_HOURS ?? "").trim() === ""
        ? undefined
        : number(env, "AUTOPROTECT_DEFENDER_LAG_HOURS", 24, 0, 24 * 30),
    callLimits,
    readCacheSeconds: number(env, "AUTOPROTECT_READ_CACHE_SECONDS", 60, 0, 300),
    discovery: discoveryOf(env.AUTOPROTECT_DISCOVERY),
  };
}
