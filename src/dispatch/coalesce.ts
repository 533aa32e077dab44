/**
 * Coalesces work for the same key within one process: while a run for a key is in flight, later
 * requests for it share ONE follow-up run that starts when the current one ends. The follow-up is
 * needed because the current run may have read the resource before the change that caused the new
 * request; more than one is not, because a run reads the world afresh.
 *
 * N concurrent events for one cluster therefore cost at most two runs, and the second finds the
 * first's fix in place (no write). Across processes, ETags and the rollout store's compare-and-swap
 * keep concurrent runs from losing updates.
 */
export interface Coalescer {
  run<T>(key: string, work: () => Promise<T>): Promise<T>;
  /** Keys with a run in flight (for diagnostics and tests). */
  readonly inFlight: number;
}

interface Slot {
  current: Promise<unknown>;
  followUp: Promise<unknown> | undefined;
}

export function createCoalescer(): Coalescer {
  const slots = new Map<string, Slot>();

  const start = <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const current = work();
    const slot: Slot = { current, followUp: undefined };
    slots.set(key, slot);
    const release = (): void => {
      // The follow-up, if any, has taken the slot over; otherwise the key is free again.
      if (slots.get(key) === slot && slot.followUp === undefined) slots.delete(key);
    };
    current.then(release, release);
    return current;
  };

  return {
    run<T>(rawKey: string, work: () => Promise<T>): Promise<T> {
      const key = rawKey.toLowerCase();
      const slot = slots.get(key);
      if (slot === undefined) return start(key, work);
      if (slot.followUp !== undefined) return slot.followUp as Promise<T>;
      const settled = slot.current.then(
        () => undefined,
        () => undefined,
      );
      const followUp = settled.then(() => {
        slots.delete(key);
        return start(key, work);
      });
      slot.followUp = followUp;
      return followUp;
    },
    get inFlight() {
      return slots.size;
    },
  };
}
