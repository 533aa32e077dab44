// Azurite for the benchmarks (the tests' own, test/support/azurite.ts, lives beside vitest): the
// azurite devDependency's bin as a child process on free loopback ports, in memory, telemetry off; it
// exits when our end of its stdin closes.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface BenchAzurite {
  readonly connectionString: string;
  /** Azurite's process, for its CPU time. */
  readonly pid: number;
  stop(): Promise<void>;
}

const ACCOUNT = "devstoreaccount1";
/** Azurite's documented development key: public, accepted only by emulators. */
const KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const WATCHDOG = "data:text/javascript,process.stdin.on('end',()=>process.exit(0)).resume();";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === "object") resolve(address.port);
        else reject(new Error("no port"));
      });
    });
  });
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

export async function startBenchAzurite(): Promise<BenchAzurite> {
  const require = createRequire(import.meta.url);
  const manifestPath = require.resolve("azurite/package.json");
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { bin?: Record<string, string> };
  const bin = join(dirname(manifestPath), manifest.bin?.azurite ?? "");
  const [blob, queue, table] = [await freePort(), await freePort(), await freePort()];
  const cwd = await mkdtemp(join(tmpdir(), "autoprotect-bench-azurite-"));
  // prettier-ignore
  const child = spawn(process.execPath, [
    "--import", WATCHDOG, bin, "--inMemoryPersistence", "--disableTelemetry", "--silent", "--skipApiVersionCheck",
    "--blobHost", "127.0.0.1", "--blobPort", String(blob), "--queueHost", "127.0.0.1", "--queuePort", String(queue),
    "--tableHost", "127.0.0.1", "--tablePort", String(table),
  ], { cwd, stdio: ["pipe", "ignore", "inherit"] });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const endpoint = (port: number): string => `http://127.0.0.1:${String(port)}/${ACCOUNT}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin.end();
      await exited;
    }
    await rm(cwd, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  while (!((await answers(`${endpoint(table)}/Tables`)) && (await answers(`${endpoint(queue)}?comp=list`)))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error("azurite did not start");
    }
    await sleep(25);
  }
  return {
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${KEY};` +
      `BlobEndpoint=${endpoint(blob)};QueueEndpoint=${endpoint(queue)};TableEndpoint=${endpoint(table)};`,
    pid: child.pid ?? 0,
    stop,
  };
}
