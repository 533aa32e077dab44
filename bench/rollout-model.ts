/**
 * A pure model of one API Management instance for rollout benchmarks and property tests: its Defender
 * for APIs collections, the load they add, the capacity metric Azure Monitor would report (noisy,
 * lagging, the peak of a 15-minute window), a rollout state store with compare-and-swap, and faults on
 * any call. It speaks the engine's rollout ports (`RolloutPorts`), so the engine's own step sequence
 * (read, decide, claim, apply, record) runs against it, minutes at a time, with no I/O and no waiting.
 */
import { AzureApiError } from "../src/azure/errors.js";
import { inventoryApis, planApiOnboarding, type PlannedApi } from "../src/checks/index.js";
import { runRolloutStep, type RolloutPorts, type RolloutRun } from "../src/engine/apim.js";
import type {
  ApiCollectionSnapshot,
  ApiSnapshot,
  ApimServiceSnapshot,
  ApimServiceView,
  CapacityReading,
} from "../src/model/apim.js";
import type { Mode } from "../src/model/outcome.js";
import { RolloutConflictError, toRolloutState, type StoredRollout } from "../src/rollout/state-store.js";
import type { RolloutSettings } from "../src/rollout/types.js";

export const MODEL_SERVICE_ID =
  "/subscriptions/00000000-0000-4000-8000-000000000000/resourceGroups/rg-apim/providers/Microsoft.ApiManagement/service/apim-model";
const WINDOW_MINUTES = 15;
const REGION = "West Europe";

export interface CapacityModel {
  /** The instance's own load (percent). */
  readonly base: number;
  /** What one onboarded API adds (points). */
  readonly perApi: number;
  /** Per-minute noise of ± this many points, seeded. */
  readonly noise: number;
  readonly seed: number;
  /** An onboarded API's load shows this many minutes after it succeeded (mirrored traffic ramps up). */
  readonly lagMinutes: number;
  /** Azure Monitor publishes a minute this many minutes after it ends (default 0). */
  readonly publishDelayMinutes?: number;
  /** Traffic the rollout has no part in: extra points from one minute to another. */
  readonly spikes?: readonly {
    readonly fromMinute: number;
    readonly toMinute: number;
    readonly points: number;
  }[];
}

/** What a call meets: a refusal, a long-running operation that fails or never ends, or an absent resource. */
export type ModelFault =
  | { readonly kind: "status"; readonly status: 409 | 412 | 429 | 500; readonly code: string }
  | { readonly kind: "lro-failed"; readonly code: string }
  | { readonly kind: "stuck" }
  | { readonly kind: "not-found" };

export interface ModelCall {
  readonly method: "PUT" | "DELETE" | "METRICS";
  readonly api?: string;
  readonly minute: number;
}

interface Collection {
  state: "Succeeded" | "InProgress";
  /** A stuck operation ends (Succeeded) once faults no longer hold it. */
  stuck: boolean;
  /** Put by the rollout (not by hand). */
  ours: boolean;
}

/** Thrown by every port of a run that has "crashed": the process died, nothing more happens. */
export class ModelCrash extends Error {
  override readonly name = "ModelCrash";
}

/** One write the rollout made, for checking: what the instance looked like when it arrived. */
export interface ModelWrite {
  readonly method: "PUT" | "DELETE";
  readonly api: string;
  readonly minute: number;
  /** The collection's state when the write arrived (undefined: absent). */
  readonly before: Collection["state"] | undefined;
  readonly ours: boolean;
  readonly fault: ModelFault["kind"] | undefined;
}

export interface ModelInstance {
  readonly minute: number;
  /** Moves the clock (whole minutes); stuck operations end when `faultsActive` no longer holds. */
  advance(minutes: number): void;
  view(): ApimServiceView;
  /** The rollout ports for one run; with `crashAfterCalls`, the run dies after that many calls. */
  ports(mode: Mode, crashAfterCalls?: number): RolloutPorts;
  /** The true load of a minute (collections Succeeded at its start, lag applied, noise added). */
  sample(minute: number): number;
  /** Collections counted as load now, as if every running one had succeeded. */
  liveCount(): number;
  succeededCount(): number;
  readonly writes: readonly ModelWrite[];
  /** Onboards an API by hand (not the rollout's). */
  onboardByHand(api: string): void;
  /** The stored state's JSON (a test may damage it). */
  storedText(): string | undefined;
  setStoredText(text: string): void;
}

function jitter(seed: number, minute: number, amplitude: number): number {
  if (amplitude === 0) return 0;
  let x = (Math.imul(seed, 0x9e3779b1) + Math.imul(minute, 0x6d2b79f5)) | 0;
  x = Math.imul(x ^ (x >>> 15), x | 1);
  x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
  const unit = ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296;
  return (unit * 2 - 1) * amplitude;
}

export interface ModelOptions {
  readonly apis: readonly string[];
  readonly capacity: CapacityModel;
  /** Simulated minute 0. */
  readonly startMs: number;
  /** The fault a call meets, if any (called once per call). */
  readonly fault?: (call: ModelCall) => ModelFault | undefined;
  /** Whether faults still hold stuck operations (false: they end at the next minute). */
  readonly faultsActive?: (minute: number) => boolean;
}

export function createModelInstance(options: ModelOptions): ModelInstance {
  const { capacity, startMs } = options;
  let minute = 0;
  const collections = new Map<string, Collection>();
  /** Load of the Succeeded collections by minute: [minute from which it holds, points], in order. */
  const history: [number, number][] = [[Number.NEGATIVE_INFINITY, 0]];
  const writes: ModelWrite[] = [];
  let stored: { text: string; version: number } | undefined;

  const service: ApimServiceSnapshot = {
    id: MODEL_SERVICE_ID,
    name: "apim-model",
    location: REGION,
    sku: { name: "Premium", capacity: 1 },
    provisioningState: "Succeeded",
  };
  const apis: ApiSnapshot[] = options.apis.map((name) => ({ id: `${MODEL_SERVICE_ID}/apis/${name}`, name }));

  const succeeded = (): number => [...collections.values()].filter((c) => c.state === "Succeeded").length;
  const onboardedLoad = (): number => capacity.perApi * succeeded();
  const spikeAt = (m: number): number =>
    (capacity.spikes ?? []).reduce(
      (sum, s) => (m >= s.fromMinute && m < s.toMinute ? sum + s.points : sum),
      0,
    );
  /** A change during minute m counts from minute m + 1 (that minute's start is after it). */
  const record = (): void => {
    const load = onboardedLoad();
    const last = history.at(-1);
    if (last?.[1] === load) return;
    if (last?.[0] === minute + 1) last[1] = load;
    else history.push([minute + 1, load]);
  };
  const loadAt = (m: number): number => {
    let load = 0;
    for (const [from, value] of history) if (from <= m) load = value;
    return load;
  };
  const sample = (m: number): number => {
    const load =
      capacity.base + spikeAt(m) + loadAt(m - capacity.lagMinutes) + jitter(capacity.seed, m, capacity.noise);
    return Math.min(100, Math.max(0, load));
  };
  const now = (): Date => new Date(startMs + minute * 60_000 + 30_000);
  const iso = (m: number): string => new Date(startMs + m * 60_000).toISOString();

  /** The peak of the 15 minutes before now that Azure Monitor has published. */
  const reading = (): CapacityReading => {
    const latest = minute - 1 - (capacity.publishDelayMinutes ?? 0);
    let peak = 0;
    for (let m = minute - WINDOW_MINUTES; m <= latest; m += 1) peak = Math.max(peak, sample(m));
    return {
      metric: "Capacity",
      percent: peak,
      latestPercent: sample(latest),
      latestAt: iso(latest),
      perRegion: { [REGION]: peak },
      windowStart: new Date(now().getTime() - WINDOW_MINUTES * 60_000).toISOString(),
      windowEnd: now().toISOString(),
    };
  };

  const endStuck = (): void => {
    if (options.faultsActive?.(minute) ?? false) return;
    for (const collection of collections.values()) {
      if (collection.stuck) {
        collection.stuck = false;
        collection.state = "Succeeded";
      }
    }
    record();
  };

  function ports(mode: Mode, crashAfterCalls = Number.POSITIVE_INFINITY): RolloutPorts {
    let calls = 0;
    /** Each call first checks the run is alive: past the crash point, nothing happens any more. */
    const alive = (): void => {
      calls += 1;
      if (calls > crashAfterCalls) throw new ModelCrash(`the run died before call ${String(calls)}`);
    };
    const statusError = (fault: Extract<ModelFault, { kind: "status" }>): AzureApiError =>
      new AzureApiError(`injected ${String(fault.status)}`, fault.code, fault.status);
    return {
      mode,
      now,
      getState: () => {
        alive();
        if (stored === undefined) return Promise.resolve(undefined);
        // Every read validates, as the real stores do.
        const state = toRolloutState(JSON.parse(stored.text), "model store");
        return Promise.resolve<StoredRollout>({ state, version: String(stored.version) });
      },
      putState: (state, version) => {
        alive();
        if (String(stored?.version) !== String(version)) {
          return Promise.reject(new RolloutConflictError("model store: version moved"));
        }
        stored = { text: JSON.stringify(state), version: (stored?.version ?? 0) + 1 };
        return Promise.resolve(String(stored.version));
      },
      readCapacity: () => {
        alive();
        const fault = options.fault?.({ method: "METRICS", minute });
        if (fault?.kind === "status") return Promise.reject(statusError(fault));
        return Promise.resolve(reading());
      },
      onboard: (api) => {
        alive();
        const key = api.toLowerCase();
        const fault = options.fault?.({ method: "PUT", api, minute });
        const existing = collections.get(key);
        writes.push({ method: "PUT", api, minute, before: existing?.state, ours: true, fault: fault?.kind });
        if (fault?.kind === "status") return Promise.reject(statusError(fault));
        if (fault?.kind === "lro-failed") {
          collections.delete(key);
          record();
          return Promise.reject(new AzureApiError("onboarding failed", fault.code, undefined));
        }
        if (fault?.kind === "stuck") {
          collections.set(key, { state: "InProgress", stuck: true, ours: true });
          const running: ApiCollectionSnapshot = { apiName: api, provisioningState: "InProgress" };
          return Promise.resolve(running);
        }
        collections.set(key, { state: "Succeeded", stuck: false, ours: true });
        record();
        return Promise.resolve<ApiCollectionSnapshot>({ apiName: api, provisioningState: "Succeeded" });
      },
      offboard: (api) => {
        alive();
        const key = api.toLowerCase();
        const fault = options.fault?.({ method: "DELETE", api, minute });
        const existing = collections.get(key);
        writes.push({
          method: "DELETE",
          api,
          minute,
          before: existing?.state,
          ours: existing?.ours ?? false,
          fault: fault?.kind,
        });
        if (fault?.kind === "status") return Promise.reject(statusError(fault));
        const existed = collections.delete(key);
        record();
        if (fault?.kind === "not-found" || !existed) {
          return Promise.reject(new AzureApiError("not found", "ResourceNotFound", 404));
        }
        return Promise.resolve();
      },
    };
  }

  return {
    get minute() {
      return minute;
    },
    advance(minutes) {
      for (let i = 0; i < minutes; i += 1) {
        minute += 1;
        endStuck();
      }
    },
    view: () => ({
      service,
      apis,
      workspaceApis: [],
      selfHostedGatewaysByApi: new Map(),
      collections: new Map(
        [...collections.entries()].map(([key, c]) => [key, { apiName: key, provisioningState: c.state }]),
      ),
    }),
    ports,
    sample,
    liveCount: () => collections.size,
    succeededCount: succeeded,
    writes,
    onboardByHand(api) {
      collections.set(api.toLowerCase(), { state: "Succeeded", stuck: false, ours: false });
      record();
    },
    storedText: () => stored?.text,
    setStoredText(text) {
      stored = { text, version: (stored?.version ?? 0) + 1 };
    },
  };
}

/** One run of the rollout against the model, as the engine runs it: the view, the step, the findings. */
export async function runModelRollout(
  instance: ModelInstance,
  settings: RolloutSettings,
  mode: Mode = "enforce",
  crashAfterCalls?: number,
): Promise<{ readonly run: RolloutRun; readonly planned: PlannedApi[] }> {
  const inventory = inventoryApis(instance.view(), "autoprotect-exclude");
  const run = await runRolloutStep(
    instance.ports(mode, crashAfterCalls),
    MODEL_SERVICE_ID,
    inventory,
    settings,
  );
  return { run, planned: planApiOnboarding(inventory, run.gate) };
}
