/**
 * Azurite, the real local Storage, for the tests (test/support/azurite.ts's `useAzurite`) and the
 * benchmarks: the `azurite` bin of the azurite devDependency (Blob, Queue and Table services), run as
 * a child process on free loopback ports, in memory (nothing written but an empty temp working
 * directory), with telemetry off (this machine reaches no network). It starts in about a second.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface Azurite {
  /** Azurite's well-known development account, pointed at this instance. */
  readonly connectionString: string;
  readonly tableEndpoint: string;
  readonly queueEndpoint: string;
  readonly blobEndpoint: string;
  /** Azurite's process, for its CPU time. */
  readonly pid: number;
  stop(): Promise<void>;
}

/** Azurite's documented development account and key: public, and accepted only by emulators. */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/**
 * Preloaded into the child: it exits when our end of its stdin closes, so an Azurite whose test worker died
 * (even by SIGKILL) never lingers.
 */
const WATCHDOG = "data:text/javascript,process.stdin.on('end',()=>process.exit(0)).resume();";

const START_TIMEOUT_MS = 15_000;

function azuriteBin(): string {
  const require = createRequire(import.meta.url);
  const manifestPath = require.resolve("azurite/package.json");
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { bin?: Record<string, string> };
  const bin = manifest.bin?.azurite;
  if (bin === undefined) throw new Error(`${manifestPath} has no azurite bin`);
  return join(dirname(manifestPath), bin);
}

async function freePort(): Promise<number> {
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

/** Starts Azurite; ports taken between picking and binding are retried on others. */
export async function startAzurite(): Promise<Azurite> {
  const bin = azuriteBin();
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(bin, {
        blob: await freePort(),
        queue: await freePort(),
        table: await freePort(),
      });
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

async function startOnce(
  bin: string,
  ports: { blob: number; queue: number; table: number },
): Promise<Azurite> {
  const cwd = await mkdtemp(join(tmpdir(), "autoprotect-azurite-"));
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    [
      "--import",
      WATCHDOG,
      bin,
      "--inMemoryPersistence",
      "--disableTelemetry",
      "--silent",
      "--skipApiVersionCheck",
      "--blobHost",
      "127.0.0.1",
      "--blobPort",
      String(ports.blob),
      "--queueHost",
      "127.0.0.1",
      "--queuePort",
      String(ports.queue),
      "--tableHost",
      "127.0.0.1",
      "--tablePort",
      String(ports.table),
    ],
    { cwd, stdio: ["pipe", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      resolve(code);
    });
  });
  let spawnError: Error | undefined;
  child.once("error", (error) => {
    spawnError = error;
  });

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(cwd, { recursive: true, force: true });
  };

  const tableEndpoint = `http://127.0.0.1:${String(ports.table)}/${AZURITE_ACCOUNT}`;
  const queueEndpoint = `http://127.0.0.1:${String(ports.queue)}/${AZURITE_ACCOUNT}`;
  const blobEndpoint = `http://127.0.0.1:${String(ports.blob)}/${AZURITE_ACCOUNT}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  try {
    for (;;) {
      if (spawnError !== undefined) throw spawnError;
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`azurite exited (${child.exitCode ?? child.signalCode}): ${output.trim()}`);
      }
      if (
        (await answers(`${tableEndpoint}/Tables`)) &&
        (await answers(`${queueEndpoint}?comp=list`)) &&
        (await answers(`${blobEndpoint}?comp=list`))
      ) {
        break;
      }
      if (Date.now() > deadline) {
        throw new Error(`azurite did not answer within ${String(START_TIMEOUT_MS)} ms: ${output}`);
      }
      await sleep(25);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    tableEndpoint,
    queueEndpoint,
    blobEndpoint,
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
      `BlobEndpoint=${blobEndpoint};QueueEndpoint=${queueEndpoint};TableEndpoint=${tableEndpoint};`,
    pid: child.pid ?? 0,
    stop,
  };
}

/** Any HTTP answer (an unsigned request gets 403) means the service is up. */
async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}
