/**
 * Headless Chromium (Debian's package) driven over the Chrome DevTools Protocol on a pipe
 * (`--remote-debugging-pipe`: messages as JSON, each ended by a NUL byte, written to the browser's fd 3
 * and read from its fd 4). No library, no port: the browser is the test's child process and ends with it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import type { Readable, Writable } from "node:stream";

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

/** The Chromium binary: AUTOPROTECT_CHROMIUM when set, else Debian's. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const given = env.AUTOPROTECT_CHROMIUM;
  if (given !== undefined && given !== "") return existsSync(given) ? given : undefined;
  return CANDIDATES.find((path) => existsSync(path));
}

interface Message {
  readonly id?: number;
  readonly method?: string;
  readonly params?: Record<string, unknown>;
  readonly result?: Record<string, unknown>;
  readonly error?: { message: string };
  readonly sessionId?: string;
}

type Listener = (method: string, params: Record<string, unknown>, sessionId: string | undefined) => void;

/** How long one protocol call may take before the test fails instead of hanging. */
const CALL_TIMEOUT_MS = 30_000;

export class Browser {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  private readonly listeners = new Set<Listener>();
  private buffer = "";

  private constructor(
    private readonly child: ChildProcess,
    private readonly input: Writable,
    output: Readable,
  ) {
    output.setEncoding("utf8");
    output.on("data", (chunk: string) => {
      this.buffer += chunk;
      let end = this.buffer.indexOf("\0");
      while (end >= 0) {
        const text = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 1);
        this.receive(JSON.parse(text) as Message);
        end = this.buffer.indexOf("\0");
      }
    });
    child.on("exit", () => {
      for (const { reject, timer } of this.pending.values()) {
        clearTimeout(timer);
        reject(new Error("Chromium exited"));
      }
      this.pending.clear();
    });
  }

  static launch(executable: string, userDataDir: string): Promise<Browser> {
    const child = spawn(
      executable,
      [
        "--headless",
        "--remote-debugging-pipe",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--mute-audio",
        // Nothing may leave the machine: names resolve nowhere, and a request would show as a failure.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        `--user-data-dir=${userDataDir}`,
        "about:blank",
      ],
      { stdio: ["ignore", "ignore", "ignore", "pipe", "pipe"] },
    );
    const input = child.stdio[3] as Writable | null;
    const output = child.stdio[4] as Readable | null;
    if (input === null || output === null) throw new Error("Chromium's debugging pipe is missing");
    const browser = new Browser(child, input, output);
    return new Promise((resolve, reject) => {
      child.once("error", reject);
      browser.send("Browser.getVersion").then(() => {
        resolve(browser);
      }, reject);
    });
  }

  private receive(message: Message): void {
    if (message.id !== undefined) {
      const waiting = this.pending.get(message.id);
      if (waiting === undefined) return;
      this.pending.delete(message.id);
      clearTimeout(waiting.timer);
      if (message.error !== undefined) waiting.reject(new Error(message.error.message));
      else waiting.resolve(message.result ?? {});
      return;
    }
    if (message.method !== undefined) {
      for (const listener of this.listeners)
        listener(message.method, message.params ?? {}, message.sessionId);
    }
  }

  send(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<Record<string, unknown>> {
    const id = this.nextId;
    this.nextId += 1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method} had no answer within ${String(CALL_TIMEOUT_MS)} ms`));
      }, CALL_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.input.write(
        `${JSON.stringify({ id, method, params, ...(sessionId === undefined ? {} : { sessionId }) })}\0`,
      );
    });
  }

  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async newPage(): Promise<Page> {
    const { targetId } = (await this.send("Target.createTarget", { url: "about:blank" })) as {
      targetId: string;
    };
    const { sessionId } = (await this.send("Target.attachToTarget", { targetId, flatten: true })) as {
      sessionId: string;
    };
    const page = new Page(this, sessionId);
    await Promise.all(
      ["Page.enable", "Runtime.enable", "Log.enable", "Network.enable"].map((m) =>
        this.send(m, {}, sessionId),
      ),
    );
    return page;
  }

  async close(): Promise<void> {
    await this.send("Browser.close").catch(() => undefined);
    if (this.child.exitCode === null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.child.kill("SIGKILL");
          resolve();
        }, 5000);
        this.child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

export class Page {
  /** Console errors, uncaught exceptions and the browser's own error log entries (CSP, failed loads). */
  readonly errors: string[] = [];
  /** Every URL the page asked for. */
  readonly requests: string[] = [];
  private loaded: (() => void) | undefined;

  constructor(
    private readonly browser: Browser,
    private readonly sessionId: string,
  ) {
    browser.on((method, params, session) => {
      if (session !== sessionId) return;
      if (method === "Runtime.consoleAPICalled" && (params.type === "error" || params.type === "assert")) {
        this.errors.push(`console.${params.type}: ${JSON.stringify(params.args)}`);
      } else if (method === "Runtime.exceptionThrown") {
        this.errors.push(`exception: ${JSON.stringify(params.exceptionDetails)}`);
      } else if (method === "Log.entryAdded") {
        const entry = params.entry as { level?: string; text?: string; url?: string } | undefined;
        if (entry?.level === "error") this.errors.push(`log: ${entry.text ?? ""} ${entry.url ?? ""}`);
      } else if (method === "Network.requestWillBeSent") {
        const request = params.request as { url?: string } | undefined;
        this.requests.push(request?.url ?? "");
      } else if (method === "Page.loadEventFired") {
        this.loaded?.();
      }
    });
  }

  private send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.browser.send(method, params, this.sessionId);
  }

  async goto(url: string): Promise<void> {
    const loaded = new Promise<void>((resolve) => (this.loaded = resolve));
    const answer = (await this.send("Page.navigate", { url })) as { errorText?: string };
    if (answer.errorText !== undefined) throw new Error(`cannot open ${url}: ${answer.errorText}`);
    await loaded;
  }

  async setViewport(width: number, height: number, mobile = false): Promise<void> {
    await this.send("Emulation.setDeviceMetricsOverride", { width, height, deviceScaleFactor: 1, mobile });
  }

  /** `media` "print" or "" (screen); `scheme` the reader's light or dark preference. */
  async emulate(media: "print" | "", scheme: "light" | "dark"): Promise<void> {
    await this.send("Emulation.setEmulatedMedia", {
      media,
      features: [{ name: "prefers-color-scheme", value: scheme }],
    });
  }

  async evaluate<T>(expression: string): Promise<T> {
    const answer = (await this.send("Runtime.evaluate", { expression, returnByValue: true })) as {
      result: { value?: unknown };
      exceptionDetails?: unknown;
    };
    if (answer.exceptionDetails !== undefined)
      throw new Error(`evaluate failed: ${JSON.stringify(answer.exceptionDetails)}`);
    return answer.result.value as T;
  }

  /** A PNG of the page's region (page coordinates), beyond the viewport if need be. */
  async screenshot(clip: { x: number; y: number; width: number; height: number }): Promise<Buffer> {
    const { data } = (await this.send("Page.captureScreenshot", {
      format: "png",
      clip: { ...clip, scale: 1 },
      captureBeyondViewport: true,
    })) as { data: string };
    return Buffer.from(data, "base64");
  }

  async pdf(): Promise<Buffer> {
    const { data } = (await this.send("Page.printToPDF", { printBackground: true })) as { data: string };
    return Buffer.from(data, "base64");
  }
}
