/** The simulator's in-memory Azure: subscriptions with their Defender plans, and ARM resources by id. */
import type { ArmResource, Estate, EstatePricing } from "./estate.js";
import { defaultPricings } from "./pricing-plans.js";

export const SIM_TENANT_ID = "00000000-0000-4000-8000-00000000a2e0";

export interface StoredPricing {
  /** The plan's name as the estate (or the default catalogue) spells it. */
  readonly name: string;
  pricing: EstatePricing;
  /** Listed in the estate or written since: exported. Untouched default plans are not. */
  explicit: boolean;
}

export interface StoredSubscription {
  readonly subscriptionId: string;
  readonly displayName: string | undefined;
  readonly state: string | undefined;
  readonly tenantId: string | undefined;
  /** By lower-case plan name, in estate order. */
  readonly pricings: Map<string, StoredPricing>;
}

/** A long-running operation, advanced by its status polls. */
export interface LongRunningOperation {
  readonly operationId: string;
  readonly subscriptionId: string;
  readonly provider: string;
  readonly location: string;
  readonly startTime: string;
  endTime?: string;
  status: "InProgress" | "Succeeded" | "Failed";
  /** InProgress answers still to give before the operation ends. */
  pollsLeft: number;
  /** When set, the operation ends Failed with this error. */
  readonly failure: { code: string; message: string } | undefined;
  /** An `lro-stuck` fault: the operation stays InProgress whatever the polls. */
  readonly stuck: boolean;
  readonly onSucceeded: () => void;
  readonly onFailed: () => void;
}

/**
 * A long-running operation the Location way (Defender for APIs collections): the accepted PUT names the
 * resource's own URL with `$retryUntil`; polls of it answer 202 until `pollsLeft` is spent, then the outcome.
 */
export interface LocationOperation {
  /** The resource the operation writes (as stored). */
  readonly resourceId: string;
  /** The absolute URL handed out in the Location header. */
  readonly location: string;
  status: "InProgress" | "Succeeded" | "Failed";
  pollsLeft: number;
  readonly failure: { code: string; message: string } | undefined;
  readonly stuck: boolean;
  readonly onSucceeded: () => void;
  readonly onFailed: () => void;
}

/** The number of onboarded (Succeeded) API collections of an APIM service from `at` (epoch ms) on. */
export interface OnboardedChange {
  readonly at: number;
  readonly count: number;
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}

export class SimState {
  readonly subscriptions = new Map<string, StoredSubscription>();
  readonly operations = new Map<string, LongRunningOperation>();
  /** Location-polled operations by the lower-case id of the resource they write. */
  readonly locationOperations = new Map<string, LocationOperation>();
  /** By lower-case APIM service id: the onboarded-collection count over time, oldest first (see capacity.ts). */
  readonly onboardedHistory = new Map<string, OnboardedChange[]>();
  readonly capacity: Estate["capacity"];
  /** The simulator's clock (real time unless the simulator was given another). */
  readonly now: () => Date;
  /** When the estate was loaded, by `now`. */
  readonly loadedAt: Date;
  private readonly resources = new Map<string, ArmResource>();
  /**
   * Lists without scanning: by lower-case type, then by each enclosing scope of the id (subscription,
   * resource group, the resource a child or extension resource sits under), the resources in estate
   * order. A scope is every even-length prefix of the id's segments; the odd ones (…/providers/NS)
   * name nothing and are skipped.
   */
  private readonly byTypeAndScope = new Map<string, Map<string, ArmResource>>();
  /** By lower-case resource group id: the resources in it, in estate order (for groups the estate leaves out). */
  private readonly groupMembers = new Map<string, Map<string, ArmResource>>();
  /** Top-level fields the simulator gave resources at load (by lower-case id), left out of exports while unchanged. */
  private readonly loadDefaults = new Map<string, Map<string, string>>();

  constructor(estate: Estate, clock: () => Date = () => new Date()) {
    this.now = () => {
      const time = clock();
      if (!(time instanceof Date) || Number.isNaN(time.getTime())) {
        throw new TypeError(`the simulator's clock returned ${String(time)}, not a valid Date`);
      }
      return new Date(time.getTime());
    };
    this.loadedAt = this.now();
    for (const s of estate.subscriptions) {
      const pricings = new Map<string, StoredPricing>();
      for (const [name, pricing] of Object.entries(s.pricings ?? {})) {
        pricings.set(name.toLowerCase(), { name, pricing: clone(pricing), explicit: true });
      }
      for (const [name, pricing] of Object.entries(defaultPricings())) {
        if (!pricings.has(name.toLowerCase()))
          pricings.set(name.toLowerCase(), { name, pricing, explicit: false });
      }
      this.subscriptions.set(s.subscriptionId.toLowerCase(), {
        subscriptionId: s.subscriptionId,
        displayName: s.displayName,
        state: s.state,
        tenantId: s.tenantId,
        pricings,
      });
    }
    for (const resource of estate.resources) this.put(clone(resource));
    this.capacity = estate.capacity === undefined ? undefined : clone(estate.capacity);
  }

  subscription(subscriptionId: string): StoredSubscription | undefined {
    return this.subscriptions.get(subscriptionId.toLowerCase());
  }

  /** The stored resource itself (not a copy); ids compare without regard to case. */
  get(id: string): ArmResource | undefined {
    return this.resources.get(normalizeId(id));
  }

  /** Adds or replaces (keeping its place in the listing order). */
  put(resource: ArmResource): void {
    const key = normalizeId(resource.id);
    this.resources.set(key, resource);
    for (const bucket of this.bucketsOf(key, resource.type, true)) bucket.set(key, resource);
  }

  /** The index buckets a resource belongs to (created when `create`). */
  private bucketsOf(key: string, type: string, create: boolean): Map<string, ArmResource>[] {
    const buckets: Map<string, ArmResource>[] = [];
    const segments = key.split("/").slice(1);
    const lowerType = type.toLowerCase();
    for (let length = 2; length < segments.length; length += 2) {
      const scope = `/${segments.slice(0, length).join("/")}`;
      const bucket = indexBucket(this.byTypeAndScope, `${lowerType} ${scope}`, create);
      if (bucket !== undefined) buckets.push(bucket);
      if (length === 4 && segments[2] === "resourcegroups") {
        const members = indexBucket(this.groupMembers, scope, create);
        if (members !== undefined) buckets.push(members);
      }
    }
    return buckets;
  }

  /**
   * Gives a loaded resource a field ARM always returns but the estate left out (e.g. an eTag). While the
   * field keeps this value, exports leave it out again, so an untouched estate exports as it was loaded.
   * Values should be derived from the resource's content, so that a reloaded export gets the same ones.
   */
  addLoadDefault(resource: ArmResource, field: string, value: string): void {
    resource[field] = value;
    const key = normalizeId(resource.id);
    const fields = this.loadDefaults.get(key) ?? new Map<string, string>();
    fields.set(field, value);
    this.loadDefaults.set(key, fields);
  }

  delete(id: string): boolean {
    const key = normalizeId(id);
    const resource = this.resources.get(key);
    if (resource === undefined) return false;
    for (const bucket of this.bucketsOf(key, resource.type, false)) bucket.delete(key);
    return this.resources.delete(key);
  }

  /**
   * Resources of `type` whose id starts with `scope` (a subscription, a resource group, or the resource
   * they sit under), in estate order: the stored resources themselves, from an index (no scan).
   */
  list(type: string, scope: string): ArmResource[] {
    const normalized = normalizeId(scope);
    const lowerType = type.toLowerCase();
    // "/a/b" splits into three: an odd count is an even number of segments, a scope the index keeps.
    if (normalized.split("/").length % 2 === 1) {
      return [...(this.byTypeAndScope.get(`${lowerType} ${normalized}`)?.values() ?? [])];
    }
    // Not a scope the index keeps (e.g. ".../providers"): rare, scanned.
    const prefix = `${normalized}/`;
    return [...this.resources.entries()]
      .filter(([key, r]) => key.startsWith(prefix) && r.type.toLowerCase() === lowerType)
      .map(([, r]) => r);
  }

  /** The resources in a resource group (by its id), in estate order. */
  membersOf(groupId: string): ArmResource[] {
    return [...(this.groupMembers.get(normalizeId(groupId))?.values() ?? [])];
  }

  /** Lower-case ids of the resource groups that hold resources in a subscription, in order of their first resource. */
  groupsWithMembers(subscriptionId: string): string[] {
    const prefix = `/subscriptions/${subscriptionId.toLowerCase()}/resourcegroups/`;
    return [...this.groupMembers.entries()]
      .filter(([key, members]) => key.startsWith(prefix) && members.size > 0)
      .map(([key]) => key);
  }

  all(): ArmResource[] {
    return [...this.resources.values()];
  }

  private exported(resource: ArmResource): ArmResource {
    const copy = clone(resource);
    for (const [field, value] of this.loadDefaults.get(normalizeId(resource.id)) ?? []) {
      if (copy[field] === value) Reflect.deleteProperty(copy, field);
    }
    return copy;
  }

  /** The current state in estate format (deep copy). */
  toEstate(): Estate {
    const estate: Estate = {
      subscriptions: [...this.subscriptions.values()].map((s) => ({
        subscriptionId: s.subscriptionId,
        ...(s.displayName === undefined ? {} : { displayName: s.displayName }),
        ...(s.state === undefined ? {} : { state: s.state }),
        ...(s.tenantId === undefined ? {} : { tenantId: s.tenantId }),
        ...pricingsOf(s),
      })),
      resources: this.all().map((r) => this.exported(r)),
    };
    if (this.capacity !== undefined) estate.capacity = clone(this.capacity);
    return estate;
  }
}

function pricingsOf(s: StoredSubscription): { pricings?: Record<string, EstatePricing> } {
  const explicit = [...s.pricings.values()].filter((p) => p.explicit);
  return explicit.length === 0
    ? {}
    : { pricings: Object.fromEntries(explicit.map((p) => [p.name, clone(p.pricing)])) };
}

function indexBucket(
  index: Map<string, Map<string, ArmResource>>,
  key: string,
  create: boolean,
): Map<string, ArmResource> | undefined {
  let bucket = index.get(key);
  if (bucket === undefined && create) {
    bucket = new Map();
    index.set(key, bucket);
  }
  return bucket;
}

export function normalizeId(id: string): string {
  return id.replace(/\/+$/, "").toLowerCase();
}
