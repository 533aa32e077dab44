/**
 * Injected faults waiting for the requests they hit: which request a fault matches, counting down its
 * `times`, and what is left of them for a saved estate (a fault keeps its place and its remaining times).
 */
import { FAULT_KINDS, invalidRegex, type EstateFault, type FaultKind, type FaultSpec } from "./estate.js";

export interface PendingFaults {
  /** Checks the spec (RangeError naming what is wrong) and queues it behind the others. */
  inject(spec: FaultSpec): void;
  /** The first pending fault of one of `kinds` that matches the request, counted down; undefined if none. */
  take(method: string, path: string, kinds: readonly FaultKind[]): FaultSpec | undefined;
  clear(): void;
  /** Those not used up, as an estate lists them: `times` is what remains; a RegExp `path` becomes `pathRegex`. */
  remaining(): EstateFault[];
}

interface Pending {
  readonly spec: FaultSpec;
  readonly matchesPath: (path: string) => boolean;
  left: number;
}

function pathMatcher(spec: FaultSpec): (path: string) => boolean {
  const { path, pathRegex } = spec;
  if (path !== undefined && pathRegex !== undefined) {
    throw new RangeError("a fault takes path or pathRegex, not both");
  }
  if (pathRegex !== undefined) {
    const problem = invalidRegex(pathRegex);
    if (problem !== undefined) {
      throw new RangeError(`fault pathRegex '${pathRegex}' is not a valid regular expression (${problem})`);
    }
    const regex = new RegExp(pathRegex, "i");
    return (candidate) => regex.test(candidate);
  }
  if (typeof path === "string") {
    const whole = path.replace(/\/+$/, "").toLowerCase();
    return (candidate) => candidate.toLowerCase() === whole;
  }
  if (path instanceof RegExp) {
    return (candidate) => {
      // A global or sticky RegExp remembers where it stopped; every request is tested from the start.
      path.lastIndex = 0;
      return path.test(candidate);
    };
  }
  throw new RangeError("a fault needs a path (string or RegExp) or a pathRegex");
}

/** The fault as an estate spells it, its fields in their order; `times` stays implicit while it was and one use is left. */
function estateFault(spec: FaultSpec, left: number): EstateFault {
  const fields = Object.entries(spec).flatMap(([key, value]: [string, unknown]): [string, unknown][] => {
    if (value === undefined) return [];
    if (key === "path" && value instanceof RegExp) return [["pathRegex", value.source]];
    if (key === "times") return [["times", left]];
    return [[key, structuredClone(value)]];
  });
  if (spec.times === undefined && left !== 1) fields.push(["times", left]);
  return Object.fromEntries(fields) as EstateFault;
}

export function pendingFaults(): PendingFaults {
  let pending: Pending[] = [];
  return {
    inject(spec) {
      if (!(FAULT_KINDS as readonly string[]).includes(spec.kind)) {
        throw new RangeError(`fault kind must be one of ${FAULT_KINDS.join(", ")}, not '${spec.kind}'`);
      }
      const times = spec.times ?? 1;
      if (!Number.isInteger(times) || times < 1) {
        throw new RangeError(`fault times must be a positive integer, not ${String(times)}`);
      }
      pending.push({ spec, matchesPath: pathMatcher(spec), left: times });
    },
    take(method, path, kinds) {
      const found = pending.find(
        (f) =>
          kinds.includes(f.spec.kind) &&
          (f.spec.method === undefined || f.spec.method.toUpperCase() === method.toUpperCase()) &&
          f.matchesPath(path),
      );
      if (found === undefined) return undefined;
      found.left -= 1;
      if (found.left === 0) pending = pending.filter((f) => f !== found);
      return found.spec;
    },
    clear() {
      pending = [];
    },
    remaining: () => pending.map((f) => estateFault(f.spec, f.left)),
  };
}
