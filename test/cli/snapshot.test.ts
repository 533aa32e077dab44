import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseEstate, type Estate } from "../../sim/index.js";
import { BASE_ENV } from "../support/azure.js";
import { cli, records } from "../support/cli.js";

/** Recognisable fake secrets, planted where a careless snapshot would copy them. */
const SECRETS = {
  servicePrincipal: "FAKE-sp-secret-5f2b9c0e1d",
  adminPassword: "FAKE-P@ssw0rd-7d1e",
  jwt: "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJGQUtFLXVzZXIifQ.FAKEsignature0123456789",
  connectionString:
    "DefaultEndpointsProtocol=https;AccountName=stfake;AccountKey=RkFLRS1hY2NvdW50LWtleS0xMjM0NTY3ODkw;EndpointSuffix=core.windows.net",
  githubToken: "ghp_FAKE0123456789abcdefghijklmnopqrstuv",
  sasUrl: "https://stfake.blob.core.windows.net/c/b?sv=2024-05-04&sr=b&sig=FAKEsasSignature%3D",
};

let dir: string;
let original: string;
let env: Record<string, string>;
beforeAll(async () => {
  dir = await mkdtemp(join(process.env.AUTOPROTECT_TEST_TMP ?? tmpdir(), "autoprotect-snapshot-"));
  env = { ...BASE_ENV, AUTOPROTECT_WORKSPACE_ID: "" };
  // The bundled sample estate (every check, every status), with secrets planted in a cluster, tags and an API.
  const estate = JSON.parse(await readFile("samples/estate.json", "utf8")) as Estate;
  const cluster = estate.resources.find(
    (r) => r.type.toLowerCase() === "microsoft.containerservice/managedclusters",
  );
  if (cluster === undefined) throw new Error("the sample estate has no cluster");
  const properties = cluster.properties ?? {};
  properties.servicePrincipalProfile = { clientId: "msi", secret: SECRETS.servicePrincipal };
  properties.windowsProfile = { adminUsername: "azureuser", adminPassword: SECRETS.adminPassword };
  properties.addonProfiles = {
    ...(properties.addonProfiles as Record<string, unknown>),
    gitops: { enabled: false, config: { header: `Bearer ${SECRETS.jwt}`, store: SECRETS.connectionString } },
  };
  cluster.properties = properties;
  cluster.tags = { ...cluster.tags, "deploy-token": SECRETS.githubToken, backup: SECRETS.sasUrl };
  original = join(dir, "original.json");
  await writeFile(original, JSON.stringify(estate));
});

describe("snapshot: a what-if on a real estate", () => {
  it("writes an estate file --simulate loads, that shows exactly the decisions the estate itself does", async () => {
    const snapshot = join(dir, "snapshot.json");
    const taken = await cli(["snapshot", "--simulate", original, "--out", snapshot], env);
    expect(taken.code).toBe(0);
    expect(taken.stderr).toMatch(
      /^snapshot: 2 subscriptions, \d+ resources written to .*snapshot\.json; \d+ values that looked like secrets were left out; preview the writes with: autoprotect sweep --simulate /,
    );
    const written = JSON.parse(await readFile(snapshot, "utf8")) as unknown;
    expect(() => parseEstate(written, snapshot)).not.toThrow();

    // The same audit against the estate and against its snapshot decides the same, check by check,
    // the agreement with Defender's assessments included.
    const audit = async (path: string): Promise<string[]> => {
      const result = await cli(["sweep", "--simulate", path, "--mode", "audit", "-o", "json"], {
        ...env,
        AUTOPROTECT_CHECKS: "",
        AUTOPROTECT_STATE_DIR: join(dir, `state-${path.endsWith("snapshot.json") ? "s" : "o"}`),
      });
      expect(result.code).toBe(0);
      return records(result.stdout)
        .map((o) => `${o.Check} ${o.ResourceId.toLowerCase()} ${o.Status} ${o.Action}`)
        .sort();
    };
    const decisions = await audit(snapshot);
    expect(decisions).toEqual(await audit(original));
    expect(
      decisions.filter((d) => d.startsWith("defender.agreement ") && / manual /.test(d)).length,
    ).toBeGreaterThan(0);
  });

  it("never copies a secret: tokens, keys, passwords, connection strings, SAS", async () => {
    const snapshot = join(dir, "secrets.json");
    expect((await cli(["snapshot", "--simulate", original, "--out", snapshot], env)).code).toBe(0);
    const text = await readFile(snapshot, "utf8");
    for (const [what, secret] of Object.entries(SECRETS)) {
      expect(text.includes(secret), what).toBe(false);
    }
    // Nor the token the CLI itself signed in with.
    expect(text).not.toContain("simulator-token");
    expect(text).not.toMatch(/AccountKey=|sig=|adminPassword|"secret"/i);
  });

  it("takes --subscription by name, and writes to standard output with --out -", async () => {
    const result = await cli(
      ["snapshot", "--simulate", original, "--out", "-", "--subscription", "Contoso-Payments"],
      env,
    );
    expect(result.code).toBe(0);
    const estate = parseEstate(JSON.parse(result.stdout), "stdout");
    const clusters = estate.resources.filter((r) => r.type.toLowerCase().endsWith("managedclusters"));
    expect(clusters.length).toBeGreaterThan(0);
    expect(clusters.every((r) => r.id.includes("7d3c1f52-8a4e-4b6a-9c2d-0a1b2c3d4e5b"))).toBe(true);
  });

  it("needs --out", async () => {
    const result = await cli(["snapshot", "--simulate", original], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/snapshot needs --out FILE/);
  });
});
