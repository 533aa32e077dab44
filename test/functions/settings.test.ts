import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CONFIG_VARIABLES } from "../../src/model/config.js";

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");

describe("app settings", () => {
  const autoprotect = Object.keys(CONFIG_VARIABLES).filter((name) => name.startsWith("AUTOPROTECT_"));

  it("local.settings.sample.json sets every variable the code reads, with Azurite as storage", () => {
    const values = (JSON.parse(read("local.settings.sample.json")) as { Values: Record<string, string> })
      .Values;
    for (const name of autoprotect) expect(Object.keys(values), name).toContain(name);
    expect(values.AzureWebJobsStorage).toBe("UseDevelopmentStorage=true");
    expect(values.FUNCTIONS_WORKER_RUNTIME).toBe("node");
  });

  it("the README documents every variable the code reads", () => {
    const readme = read("README.md");
    for (const name of Object.keys(CONFIG_VARIABLES)) expect(readme, name).toContain(`\`${name}\``);
  });

  it("host.json retries queue work a bounded number of times and uses the v4 extension bundle", () => {
    const host = JSON.parse(read("host.json")) as {
      extensions: { queues: { maxDequeueCount: number; messageEncoding: string } };
      extensionBundle: { id: string; version: string };
    };
    expect(host.extensions.queues.maxDequeueCount).toBeGreaterThan(1);
    expect(host.extensions.queues.maxDequeueCount).toBeLessThanOrEqual(10);
    // The scheduler sends base64 JSON: the trigger must decode the same.
    expect(host.extensions.queues.messageEncoding).toBe("base64");
    expect(host.extensionBundle).toEqual({
      id: "Microsoft.Azure.Functions.ExtensionBundle",
      version: "[4.*, 5.0.0)",
    });
  });
});
