import { describe, expect, it } from "vitest";
import { createCoalescer } from "../../src/dispatch/coalesce.js";

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("createCoalescer", () => {
  it("runs work for a free key at once", async () => {
    const coalescer = createCoalescer();
    await expect(coalescer.run("a", () => Promise.resolve(1))).resolves.toBe(1);
    expect(coalescer.inFlight).toBe(0);
  });

  it("gives requests that arrive during a run one shared follow-up run, started after it", async () => {
    const coalescer = createCoalescer();
    const first = deferred<string>();
    const starts: string[] = [];
    const a = coalescer.run("Cluster", () => {
      starts.push("first");
      return first.promise;
    });
    const followUps = [1, 2, 3, 4].map((n) =>
      coalescer.run("cluster", () => {
        starts.push(`follow-up ${String(n)}`);
        return Promise.resolve(`again ${String(n)}`);
      }),
    );
    expect(starts).toEqual(["first"]);
    first.resolve("done");
    await expect(a).resolves.toBe("done");
    const results = await Promise.all(followUps);
    // Only the first waiting request's work ran; all waiting requests share its result.
    expect(starts).toEqual(["first", "follow-up 1"]);
    expect(new Set(results)).toEqual(new Set(["again 1"]));
    expect(coalescer.inFlight).toBe(0);
  });

  it("still runs the follow-up when the current run fails, and keeps keys apart", async () => {
    const coalescer = createCoalescer();
    const failing = deferred<number>();
    const a = coalescer.run("x", () => failing.promise);
    const b = coalescer.run("x", () => Promise.resolve(2));
    const other = coalescer.run("y", () => Promise.resolve(3));
    await expect(other).resolves.toBe(3);
    failing.reject(new Error("boom"));
    await expect(a).rejects.toThrow("boom");
    await expect(b).resolves.toBe(2);
    expect(coalescer.inFlight).toBe(0);
  });

  it("starts afresh for requests after the follow-up has begun", async () => {
    const coalescer = createCoalescer();
    const first = deferred<number>();
    const second = deferred<number>();
    const runs: number[] = [];
    void coalescer.run("k", () => (runs.push(1), first.promise));
    const followUp = coalescer.run("k", () => (runs.push(2), second.promise));
    first.resolve(1);
    await new Promise((r) => setTimeout(r, 0));
    expect(runs).toEqual([1, 2]);
    // The follow-up is now the current run: a new request waits for it and gets its own follow-up.
    const third = coalescer.run("k", () => (runs.push(3), Promise.resolve(3)));
    second.resolve(2);
    await expect(followUp).resolves.toBe(2);
    await expect(third).resolves.toBe(3);
    expect(runs).toEqual([1, 2, 3]);
  });
});
