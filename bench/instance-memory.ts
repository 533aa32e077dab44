/**
 * A Flex Consumption instance's memory for a benchmark's worker process (issue 16).
 *
 * Node sizes V8's heap from the memory its process may use: the machine's, or its memory cgroup's
 * limit when that is lower (Node's `process.constrainedMemory()`). V8 then lets garbage grow in
 * proportion: on this 24 GiB machine a worker gets a 4 GiB heap and lets its old generation grow to
 * about four times what survived the last full collection before collecting again; inside a 2,048 MB
 * cgroup the heap is 1 GiB and it grows to about 1.7 times (both measured here, Node 20,
 * `--trace-gc`). So a worker's peak RSS measured on a big machine is not what it is on an instance of
 * `instanceMemoryMB` (infra/main.bicep), if its container has that limit, as a Linux container's memory
 * limit is a cgroup's (not verified in Azure). Where a memory cgroup can be made (root, cgroup v1 or
 * v2), each worker starts inside one of the instance's size; elsewhere it runs unconstrained, and the
 * figures say so.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface InstanceMemory {
  /** The cgroup's limit, or undefined where none could be made (the worker runs unconstrained). */
  readonly limitMiB: number | undefined;
  /** `command args`, started inside the cgroup: a shell that joins it, then execs the command. */
  spawnArgs(command: string, args: readonly string[]): [string, string[]];
  /** Removes the cgroup; call once its processes have exited. */
  remove(): void;
}

const CGROUP_ROOT = "/sys/fs/cgroup";

/** infra/main.bicep's default `instanceMemoryMB`: the memory of each instance the Bicep deploys. */
export function deployedInstanceMemoryMB(repositoryRoot: string): number {
  const bicep = readFileSync(join(repositoryRoot, "infra", "main.bicep"), "utf8");
  const match = /^param instanceMemoryMB int = (\d+)$/m.exec(bicep);
  if (match?.[1] === undefined) throw new Error("infra/main.bicep has no default for instanceMemoryMB");
  return Number(match[1]);
}

/** The directory of a new memory cgroup limited to `bytes` (v2, else v1), or undefined where none can be. */
function makeCgroup(name: string, bytes: number): string | undefined {
  const v2Controllers = join(CGROUP_ROOT, "cgroup.controllers");
  const v2 = existsSync(v2Controllers) && readFileSync(v2Controllers, "utf8").split(/\s+/).includes("memory");
  const v1 = !v2 && existsSync(join(CGROUP_ROOT, "memory", "memory.limit_in_bytes"));
  if (!v2 && !v1) return undefined;
  const dir = v2 ? join(CGROUP_ROOT, name) : join(CGROUP_ROOT, "memory", name);
  try {
    mkdirSync(dir);
  } catch {
    return undefined; // not root, or a read-only cgroup file system: unconstrained
  }
  try {
    writeFileSync(join(dir, v2 ? "memory.max" : "memory.limit_in_bytes"), String(bytes));
    return dir;
  } catch {
    // The group was made but takes no limit (v2 without the memory controller delegated to it).
    rmdirSync(dir);
    return undefined;
  }
}

export function instanceMemory(name: string, memoryMB: number): InstanceMemory {
  const dir = makeCgroup(`autoprotect-bench-${name}`, memoryMB * 1024 * 1024);
  return {
    limitMiB: dir === undefined ? undefined : memoryMB,
    spawnArgs(command, args) {
      if (dir === undefined) return [command, [...args]];
      // The cgroup must hold the process before Node starts: V8's heap is sized when it is made.
      return ["/bin/sh", ["-c", 'echo $$ > "$0" && exec "$@"', join(dir, "cgroup.procs"), command, ...args]];
    },
    remove() {
      if (dir === undefined) return;
      try {
        rmdirSync(dir);
      } catch {
        // Still holding a process that outlived the benchmark; the kernel keeps the empty group harmlessly.
      }
    },
  };
}
