import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { cli } from "../support/cli.js";
import { cluster, clusterId, estate } from "../support/estate.js";

let dir: string;
let estatePath: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "autoprotect-ids-"));
  estatePath = join(dir, "estate.json");
  await writeFile(estatePath, JSON.stringify(estate([cluster("aks-open")])));
});

describe("autoprotect reconcile refuses ids ARM would refuse: exit 2, one line, nothing read or written", () => {
  const clusters = clusterId("aks-open").replace(/\/aks-open$/, "");
  const cases: [string, string, RegExp][] = [
    ["the cluster list as a cluster ('.')", `${clusters}/.`, /has a '\.' segment/],
    ["a '..' segment", `${clusters}/aks-open/../aks-open`, /has a '\.\.' segment/],
    ["a '%' in a name", `${clusters}/aks%2Dopen`, /cluster name 'aks%2Dopen' contains "%"/],
    ["a control character (printed escaped)", `${clusters}/aks\u0007`, /cluster name 'aks\\u0007' contains/],
    ["a trailing period", `${clusters}/aks-open.`, /ends with a period/],
  ];
  it.each(cases)("%s", async (_name, id, message) => {
    const saved = join(dir, "saved.json");
    const result = await cli(["reconcile", id, "--simulate", estatePath, "--json", "--save-estate", saved]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/^autoprotect: resource id '/);
    expect(result.stderr).toMatch(message);
    // Refused before the simulator starts: no estate is saved, so nothing can have been read or written.
    await expect(readFile(saved, "utf8")).rejects.toThrow(/ENOENT/);
  });
});
