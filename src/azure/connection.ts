import { Agent } from "node:https";
import { createSecureContext } from "node:tls";
import type { TokenCredential } from "@azure/core-auth";
import type { PipelinePolicy } from "@azure/core-rest-pipeline";
import { callLimitPolicies, DEFAULT_CALL_LIMITS, type CallLimits } from "./call-limits.js";
import { processRateBudget, rateBudgetPolicy } from "./rate-budget.js";

/**
 * How every adapter reaches ARM. In Azure: the public endpoint, DefaultAzureCredential and the
 * SDK's default retry policy. Against the simulator: its loopback endpoint and CA.
 */
export interface AzureConnection {
  readonly credential: TokenCredential;
  /** ARM endpoint; defaults to https://management.azure.com. */
  readonly endpoint?: string;
  /** PEM CA to trust (the simulator's self-signed certificate). */
  readonly tlsCa?: string;
  /** Overrides for Azure Core's retry policy (tests shorten the delays; Retry-After is always honoured). */
  readonly retry?: {
    readonly maxRetries?: number;
    readonly retryDelayInMs?: number;
    readonly maxRetryDelayInMs?: number;
  };
  /** Deadlines of every call (per attempt, per call, longest Retry-After waited for); defaults DEFAULT_CALL_LIMITS. */
  readonly limits?: Partial<CallLimits>;
  /** Poll interval for long-running operations when ARM sends no Retry-After. */
  readonly pollIntervalMs?: number;
  /** Azure Monitor's regional metrics endpoint for a location; defaults to https://{region}.metrics.monitor.azure.com. */
  readonly metricsEndpoint?: (location: string) => string;
}

export const ARM_ENDPOINT = "https://management.azure.com";
export const ARM_SCOPE = "https://management.azure.com/.default";

export interface ClientOptions {
  /** The process's one HTTPS agent for Azure (see `azureAgent`). */
  agent: Agent;
  retryOptions?: { maxRetries?: number; retryDelayInMs?: number; maxRetryDelayInMs?: number };
  userAgentOptions: { userAgentPrefix: string };
  additionalPolicies: { policy: PipelinePolicy; position: "perCall" | "perRetry" }[];
}

export function callLimits(connection: AzureConnection): CallLimits {
  return { ...DEFAULT_CALL_LIMITS, ...connection.limits };
}

/**
 * Connections one host (ARM, a Monitor region, Logs Ingestion) gets at most from this process;
 * requests beyond them wait for a free one. A burst of events then reuses a few warm TLS connections
 * instead of opening one per request in flight.
 */
export const MAX_SOCKETS_PER_HOST = 32;

const agents = new Map<string, Agent>();

/**
 * The HTTPS agent every Azure SDK client of the process shares, per trusted CA (the public roots, or
 * the simulator's): keep-alive, at most MAX_SOCKETS_PER_HOST connections per host, and one TLS context.
 * Without it each SDK client keeps its own unbounded pool, and the connection options' `tlsOptions`
 * object, new for every client, gives each its own TLS context as well.
 */
export function azureAgent(tlsCa: string | undefined): Agent {
  const key = tlsCa ?? "";
  let agent = agents.get(key);
  if (agent === undefined) {
    agent = new Agent({
      keepAlive: true,
      maxSockets: MAX_SOCKETS_PER_HOST,
      maxFreeSockets: MAX_SOCKETS_PER_HOST,
      scheduling: "lifo",
      secureContext: createSecureContext(tlsCa === undefined ? {} : { ca: tlsCa }),
    });
    agents.set(key, agent);
  }
  return agent;
}

/**
 * Options every Azure SDK client is built with, whatever service it talks to (ARM, Azure Monitor,
 * Logs Ingestion): the shared agent (with the connection's TLS trust), the retry settings, and the
 * deadlines of call-limits.ts.
 */
export function clientOptions(connection: AzureConnection): ClientOptions {
  return {
    agent: azureAgent(connection.tlsCa),
    ...(connection.retry === undefined ? {} : { retryOptions: { ...connection.retry } }),
    userAgentOptions: { userAgentPrefix: "autoprotect/0.1" },
    additionalPolicies: callLimitPolicies(callLimits(connection)),
  };
}

/**
 * Options for ARM clients, understood by both generations of Azure SDK clients (core-client and
 * core-rest-pipeline based): those of every client, and ARM's rate budget (rate-budget.ts), spent per
 * attempt before the attempt's timeout starts.
 */
export function sdkClientOptions(connection: AzureConnection): ClientOptions & { endpoint: string } {
  const endpoint = connection.endpoint ?? ARM_ENDPOINT;
  const options = clientOptions(connection);
  const [deadline, ...perAttempt] = options.additionalPolicies;
  const budget = rateBudgetPolicy(
    processRateBudget(endpoint),
    endpoint,
    callLimits(connection).maxRetryAfterSeconds,
  );
  return {
    endpoint,
    ...options,
    additionalPolicies: [
      ...(deadline === undefined ? [] : [deadline]),
      { policy: budget, position: "perRetry" },
      ...perAttempt,
    ],
  };
}

export function pollIntervalMs(connection: AzureConnection): number {
  return connection.pollIntervalMs ?? 5000;
}

/**
 * Subscriptions whose SDK clients an adapter keeps. A client of a generated ARM SDK is heavy (the API
 * Management one builds a hundred operation groups); a worker that sweeps a thousand subscriptions
 * keeps the most recently used ones, so its memory does not grow with the tenant.
 */
export const SUBSCRIPTION_CLIENTS_KEPT = 64;

/** One SDK client per subscription, made on first use (ARM SDK clients are bound to a subscription), the least recently used dropped past `kept`. */
export function perSubscription<T>(
  create: (subscriptionId: string) => T,
  kept: number = SUBSCRIPTION_CLIENTS_KEPT,
): (subscriptionId: string) => T {
  const clients = new Map<string, T>();
  return (subscriptionId) => {
    const key = subscriptionId.toLowerCase();
    let client = clients.get(key);
    if (client === undefined) {
      client = create(subscriptionId);
    } else {
      clients.delete(key);
    }
    // Map order is use order: the first key is the least recently used.
    clients.set(key, client);
    if (clients.size > kept) {
      const oldest = clients.keys().next().value;
      if (oldest !== undefined) clients.delete(oldest);
    }
    return client;
  };
}
