import type { TokenCredential } from "@azure/core-auth";

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
  /** Poll interval for long-running operations when ARM sends no Retry-After. */
  readonly pollIntervalMs?: number;
  /** Azure Monitor's regional metrics endpoint for a location; defaults to https://{region}.metrics.monitor.azure.com. */
  readonly metricsEndpoint?: (location: string) => string;
}

export const ARM_ENDPOINT = "https://management.azure.com";
export const ARM_SCOPE = "https://management.azure.com/.default";

/** Options understood by both generations of Azure SDK clients (core-client and core-rest-pipeline based). */
export function sdkClientOptions(connection: AzureConnection): {
  endpoint: string;
  tlsOptions?: { ca: string };
  retryOptions?: { maxRetries?: number; retryDelayInMs?: number; maxRetryDelayInMs?: number };
  userAgentOptions: { userAgentPrefix: string };
} {
  return {
    endpoint: connection.endpoint ?? ARM_ENDPOINT,
    ...(connection.tlsCa === undefined ? {} : { tlsOptions: { ca: connection.tlsCa } }),
    ...(connection.retry === undefined ? {} : { retryOptions: { ...connection.retry } }),
    userAgentOptions: { userAgentPrefix: "autoprotect/0.1" },
  };
}

export function pollIntervalMs(connection: AzureConnection): number {
  return connection.pollIntervalMs ?? 5000;
}

/** One SDK client per subscription, made on first use: ARM SDK clients are bound to a subscription. */
export function perSubscription<T>(create: (subscriptionId: string) => T): (subscriptionId: string) => T {
  const clients = new Map<string, T>();
  return (subscriptionId) => {
    const key = subscriptionId.toLowerCase();
    let client = clients.get(key);
    if (client === undefined) {
      client = create(subscriptionId);
      clients.set(key, client);
    }
    return client;
  };
}
