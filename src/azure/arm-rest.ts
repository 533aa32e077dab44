import { createRestError, getClient, type Client, type PathUncheckedResponse } from "@azure-rest/core-client";
import { ARM_SCOPE, sdkClientOptions, type AzureConnection } from "./connection.js";
import { toAzureApiError } from "./errors.js";

/**
 * An Azure Core REST client for the ARM operations whose published SDK is stale
 * (@azure/arm-security 5.0.0 has neither plan extensions nor API collections). It is the same
 * pipeline the generated SDKs build: bearer auth, retry, throttling with Retry-After, TLS.
 */
export function createArmRestClient(connection: AzureConnection): Client {
  const { endpoint, ...options } = sdkClientOptions(connection);
  return getClient(endpoint, connection.credential, {
    ...options,
    credentials: { scopes: [ARM_SCOPE] },
  });
}

/** The body of a successful answer; any other status becomes an AzureApiError with ARM's code. */
export function expectStatus(response: PathUncheckedResponse, ...ok: string[]): unknown {
  if (!ok.includes(response.status)) throw toAzureApiError(createRestError(response));
  return response.body;
}
