// The simulator in a process of its own, so a benchmark's figures for the app (CPU, RSS, event-loop
// time) are the app's alone. The parent forks this file with an estate recipe and the simulator's
// options; it answers over IPC with its endpoint and CA, then with what it saw: every request (method,
// path, status, arrival time), the TLS connections it accepted, and its own CPU time and peak RSS.
import { fork, type ChildProcess } from "node:child_process";
import { subscribe } from "node:diagnostics_channel";
import type { IncomingMessage } from "node:http";
import { fileURLToPath } from "node:url";
import { startSimulator, type SimulatorOptions } from "../sim/index.js";
import { buildEstate, type EstateRecipe } from "./estates.js";

export interface SimProcessOptions {
  readonly recipe: EstateRecipe;
  readonly latencyMs?: number;
  readonly pageSize?: number;
  readonly lroPolls?: number;
  /** ARM's documented throttling (sim/throttling.ts). */
  readonly throttling?: boolean;
}

/** One request as the simulator saw it arrive; `at` is epoch milliseconds, sub-millisecond. */
export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly at: number;
}

export interface SimProcessStats {
  readonly requests: number;
  /** Answers by status code. */
  readonly statuses: Record<string, number>;
  readonly throttled: number;
  /** TLS connections the simulator accepted (keep-alive connections are reused). */
  readonly connections: number;
  readonly cpuMs: number;
  readonly peakRssMiB: number;
}

type Command = { readonly id: number; readonly kind: "stats" | "requests" | "clear" | "close" };
type Reply = { readonly id: number; readonly value: unknown };

export interface SimProcess {
  readonly endpoint: string;
  readonly ca: string;
  stats(): Promise<SimProcessStats>;
  requests(): Promise<SeenRequest[]>;
  /** Forgets the requests (and connections) seen so far. */
  clear(): Promise<void>;
  close(): Promise<void>;
}

const now = (): number => performance.timeOrigin + performance.now();

/** Forks the simulator's process and waits until it listens. */
export async function startSimProcess(options: SimProcessOptions): Promise<SimProcess> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ["--sim-process"], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
    serialization: "advanced",
  });
  const ready = await new Promise<{ endpoint: string; ca: string }>((resolve, reject) => {
    child.once("message", (message) => {
      resolve(message as { endpoint: string; ca: string });
    });
    child.once("exit", (code) => {
      reject(new Error(`the simulator's process exited (${String(code)}) before it listened`));
    });
    child.send(options);
  });
  let next = 0;
  const pending = new Map<number, (value: unknown) => void>();
  child.on("message", (message) => {
    const reply = message as Reply;
    pending.get(reply.id)?.(reply.value);
    pending.delete(reply.id);
  });
  const ask = <T>(kind: Command["kind"]): Promise<T> =>
    new Promise((resolve) => {
      next += 1;
      pending.set(next, resolve as (value: unknown) => void);
      child.send({ id: next, kind } satisfies Command);
    });
  return {
    ...ready,
    stats: () => ask<SimProcessStats>("stats"),
    requests: () => ask<SeenRequest[]>("requests"),
    clear: () => ask<undefined>("clear"),
    async close() {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      await ask<undefined>("close");
      await exited;
    },
  };
}

/** The child: builds the estate, starts the simulator, answers the parent. */
async function serve(options: SimProcessOptions): Promise<void> {
  const seen: { method: string; path: string; at: number }[] = [];
  const sockets = new WeakSet<object>();
  let connections = 0;
  subscribe("http.server.request.start", (message) => {
    const { request } = message as { request: IncomingMessage };
    if (!sockets.has(request.socket)) {
      sockets.add(request.socket);
      connections += 1;
    }
  });
  const simOptions: SimulatorOptions = {
    estate: buildEstate(options.recipe),
    latencyMs: options.latencyMs ?? 0,
    ...(options.pageSize === undefined ? {} : { pageSize: options.pageSize }),
    ...(options.lroPolls === undefined ? {} : { lroPolls: options.lroPolls }),
    ...(options.throttling === true ? { throttling: true } : {}),
    // Arrival, after the body is read, before the simulator's own latency and answer.
    onRequest: ({ method, path }) => {
      seen.push({ method, path, at: now() });
    },
  };
  const sim = await startSimulator(simOptions);
  process.on("message", (raw) => {
    const command = raw as Command;
    const reply = (value: unknown): void => {
      process.send?.({ id: command.id, value } satisfies Reply);
    };
    switch (command.kind) {
      case "stats": {
        const cpu = process.cpuUsage();
        const statuses: Record<string, number> = {};
        for (const r of sim.requests) statuses[String(r.status)] = (statuses[String(r.status)] ?? 0) + 1;
        reply({
          requests: sim.requests.length,
          statuses,
          throttled: sim.throttledRequests,
          connections,
          cpuMs: Math.round((cpu.user + cpu.system) / 1000),
          peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
        } satisfies SimProcessStats);
        return;
      }
      case "requests":
        reply(seen satisfies SeenRequest[]);
        return;
      case "clear":
        seen.length = 0;
        sim.clearRequests();
        connections = 0;
        reply(undefined);
        return;
      case "close":
        void sim.close().then(() => {
          reply(undefined);
          process.disconnect();
        });
        return;
    }
  });
  process.send?.({ endpoint: sim.endpoint, ca: sim.ca });
}

if (process.argv.includes("--sim-process")) {
  process.once("message", (options) => {
    void serve(options as SimProcessOptions);
  });
}
