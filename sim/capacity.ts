/**
 * The estate's capacity model: an APIM service's load is `base + perApi × onboarded` percent, where
 * `onboarded` is the number of its Defender for APIs collections that have Succeeded. The simulator
 * keeps, per service, the history of that count by the simulator's clock, so a metric data point for
 * minute m can reflect the count at m − lag (a delayed signal, as Azure Monitor's is).
 */
import { APIM_SERVICE_TYPE, onboardedCount } from "./apim.js";
import { normalizeId, type OnboardedChange, type SimState } from "./state.js";

export interface CapacityModel {
  readonly base: number;
  readonly perApi: number;
}

/** The model a service without a `capacity` entry gets. */
export const DEFAULT_CAPACITY: CapacityModel = { base: 10, perApi: 0 };

export function capacityModelOf(state: SimState, serviceId: string): CapacityModel {
  const key = normalizeId(serviceId);
  for (const [id, model] of Object.entries(state.capacity ?? {})) {
    if (normalizeId(id) === key) return model;
  }
  return DEFAULT_CAPACITY;
}

/** Starts every service's history at the load time, with the collections the estate lists as Succeeded. */
export function startOnboardedHistory(state: SimState): void {
  const at = state.loadedAt.getTime();
  for (const service of state.all()) {
    if (service.type.toLowerCase() !== APIM_SERVICE_TYPE.toLowerCase()) continue;
    state.onboardedHistory.set(normalizeId(service.id), [{ at, count: onboardedCount(state, service.id) }]);
  }
}

/** Records the service's current onboarded count at the clock's time, when it changed. */
export function recordOnboarded(state: SimState, serviceId: string): void {
  const key = normalizeId(serviceId);
  const history = state.onboardedHistory.get(key) ?? [];
  const count = onboardedCount(state, serviceId);
  if (history.at(-1)?.count === count) return;
  history.push({ at: state.now().getTime(), count });
  state.onboardedHistory.set(key, history);
}

/**
 * The onboarded count at `at` (epoch ms): the newest change at or before it; before the first change
 * (the load), the load-time count.
 */
export function onboardedAt(state: SimState, serviceId: string, at: number): number {
  const history: readonly OnboardedChange[] = state.onboardedHistory.get(normalizeId(serviceId)) ?? [];
  let found: OnboardedChange | undefined;
  for (const change of history) {
    if (change.at <= at && (found === undefined || change.at >= found.at)) found = change;
  }
  return (found ?? history[0])?.count ?? onboardedCount(state, serviceId);
}

/** cyrb53: a small, well-mixed 53-bit string hash. */
function hash(text: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** mulberry32's first output for a 32-bit seed: a uniform number in [0, 1). */
function mulberry32(seed: number): number {
  let t = (seed + 0x6d2b79f5) | 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/**
 * Deterministic noise in [−amplitude, +amplitude]: a PRNG seeded from the simulator's seed and the
 * sample's identity (service, metric, region, minute), so the same minute always reads the same.
 */
export function noise(amplitude: number, seed: number, key: string): number {
  if (amplitude === 0) return 0;
  const u = mulberry32(hash(`${String(seed)}|${key.toLowerCase()}`) % 4294967296);
  return amplitude * (2 * u - 1);
}

export function clampPercent(value: number): number {
  return Math.min(100, Math.max(0, value));
}
