/**
 * What the tests of the simulator and of the engine against it share: the simulator's credential and
 * client options, a raw HTTPS call, ARM's error body, a clock moved by hand, and estates in `SUB` built
 * with the simulator's own builders (sim/builders.ts).
 */
import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { request } from "node:https";
import {
  apimApiResource,
  apimChildResource,
  apimServiceId,
  apimServiceResource,
  logAnalyticsWorkspace,
  managedCluster,
  managedClusterId,
} from "../../sim/builders.js";
import type { ArmResource, Estate, Simulator } from "../../sim/index.js";

export const SUB = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
export const SUB2 = "20ff7fc3-e762-44dd-bd96-b71116dcdc23";
export const RG = "rg-aks";
export const WORKSPACE_ID = `/subscriptions/${SUB}/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/law1`;

export const credential: TokenCredential = {
  getToken: (): Promise<AccessToken> =>
    Promise.resolve({ token: "sim", expiresOnTimestamp: Date.now() + 3600_000 }),
};

/** SDK client options pointing at the simulator, without retries so faults surface at once. */
export function sdkOptions(sim: Simulator): {
  endpoint: string;
  tlsOptions: { ca: string };
  retryOptions: { maxRetries: number };
} {
  return { endpoint: sim.endpoint, tlsOptions: { ca: sim.ca }, retryOptions: { maxRetries: 0 } };
}

export function clusterId(name: string, resourceGroup = RG, subscriptionId = SUB): string {
  return managedClusterId(subscriptionId, resourceGroup, name);
}

/** A cluster in the simulator's tests: in `SUB`, tagged `env: test`, the Azure Policy add-on off. */
export function cluster(
  name: string,
  properties: Record<string, unknown> = {},
  resourceGroup = RG,
): ArmResource {
  return managedCluster(clusterId(name, resourceGroup), {
    tags: { env: "test" },
    properties: {
      kubernetesVersion: "1.31.5",
      currentKubernetesVersion: "1.31.5",
      dnsPrefix: name,
      fqdn: `${name}-abcd1234.hcp.westeurope.azmk8s.io`,
      addonProfiles: { azurepolicy: { enabled: false } },
      ...properties,
    },
  });
}

export function workspace(): ArmResource {
  return logAnalyticsWorkspace(WORKSPACE_ID, {
    properties: {
      customerId: "6b1f0c1e-7d0c-4a57-9f3e-3c0f8a1b2c3d",
      sku: { name: "PerGB2018" },
      retentionInDays: 30,
    },
  });
}

export function baseEstate(extra: ArmResource[] = []): Estate {
  return {
    subscriptions: [{ subscriptionId: SUB, displayName: "Contoso Dev" }],
    resources: [cluster("aks1"), workspace(), ...extra],
  };
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

/** A raw HTTPS call to the simulator (Bearer token unless `auth: false`). */
export function call(
  sim: Simulator,
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string; headers?: Record<string, string>; auth?: boolean } = {},
): Promise<HttpAnswer> {
  const payload = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, sim.endpoint),
      {
        method,
        ca: sim.ca,
        agent: false,
        headers: {
          ...(options.auth === false ? {} : { authorization: "Bearer sim" }),
          ...(payload === undefined ? {} : { "content-type": "application/json" }),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = text.length > 0 ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/** The ARM error body's code and message, or a failure naming what came back instead. */
export function armError(answer: HttpAnswer): { code: string; message: string } {
  const error = (answer.json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (typeof error?.code !== "string" || typeof error.message !== "string") {
    throw new Error(`not an ARM error body: ${answer.text}`);
  }
  return { code: error.code, message: error.message };
}

export const APIM_RG = "rg-apis";

export function serviceId(name: string, resourceGroup = APIM_RG, subscriptionId = SUB): string {
  return apimServiceId(subscriptionId, resourceGroup, name);
}

/** An APIM service in `APIM_RG` of `SUB`, in one region unless `additionalLocations` says otherwise. */
export function apimService(
  name: string,
  tier: string,
  options: { location?: string; additionalLocations?: string[]; capacity?: number } = {},
): ArmResource {
  return apimServiceResource(serviceId(name), tier, {
    ...(options.location === undefined ? {} : { location: options.location }),
    sku: { name: tier, capacity: options.capacity ?? (tier === "Consumption" ? 0 : 1) },
    properties:
      options.additionalLocations === undefined
        ? {}
        : {
            additionalLocations: options.additionalLocations.map((location) => ({
              location,
              sku: { name: tier, capacity: 1 },
            })),
          },
  });
}

/** An API of a service (or below a gateway or workspace when `parent` says so). */
export function apimApi(
  service: string,
  name: string,
  properties: Record<string, unknown> = {},
  parent: { gateway?: string; workspace?: string } = {},
): ArmResource {
  const below =
    parent.gateway !== undefined
      ? `/gateways/${parent.gateway}`
      : parent.workspace !== undefined
        ? `/workspaces/${parent.workspace}`
        : "";
  return apimApiResource(`${serviceId(service)}${below}/apis/${name}`, properties);
}

export function apimChild(
  service: string,
  kind: "gateways" | "workspaces",
  name: string,
  properties: Record<string, unknown>,
): ArmResource {
  return apimChildResource(serviceId(service), kind, name, properties);
}

export function collectionId(service: string, api: string): string {
  return `${serviceId(service)}/providers/Microsoft.Security/apiCollections/${api}`;
}

/** A clock tests move by hand. */
export function fakeClock(start: string): {
  now: () => Date;
  set: (iso: string) => void;
  advance: (ms: number) => void;
} {
  let time = Date.parse(start);
  return {
    now: () => new Date(time),
    set: (iso) => {
      time = Date.parse(iso);
    },
    advance: (ms) => {
      time += ms;
    },
  };
}
