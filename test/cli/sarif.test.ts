import { createRequire } from "node:module";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { RULES } from "../../src/cli/sarif.js";
import { CHECK_IDS } from "../../src/model/checks.js";
import type { OutcomeRecord } from "../../src/model/outcome.js";
import { BASE_ENV } from "../support/azure.js";
import { cli } from "../support/cli.js";

/**
 * The SARIF 2.1.0 schema (OASIS, as published in the schema store: sarif-2.1.0-rtm.5, draft-04), from
 * the npm package @microsoft/jest-sarif (MIT), kept in test/cli/fixtures; ajv 6 reads draft-04.
 */
const require = createRequire(import.meta.url);
type Validate = ((data: unknown) => boolean) & { errors?: unknown[] | null };
function sarifValidator(): Validate {
  const Ajv = require("ajv") as new (options: Record<string, unknown>) => {
    addMetaSchema(schema: unknown): void;
    compile(schema: unknown): Validate;
  };
  const ajv = new Ajv({ schemaId: "auto", allErrors: true });
  ajv.addMetaSchema(require("ajv/lib/refs/json-schema-draft-04.json"));
  return ajv.compile(require("./fixtures/sarif-schema-2.1.0.json"));
}

interface SarifLog {
  version: string;
  runs: {
    tool: { driver: { name: string; rules: { id: string; helpUri: string; help: { text: string } }[] } };
    invocations: { executionSuccessful: boolean }[];
    results: {
      ruleId: string;
      ruleIndex: number;
      level: string;
      message: { text: string };
      locations: {
        physicalLocation: { artifactLocation: { uri: string } };
        logicalLocations: { fullyQualifiedName: string }[];
      }[];
      partialFingerprints: Record<string, string>;
      properties: { status: string };
    }[];
  }[];
}

let env: Record<string, string>;
beforeAll(async () => {
  const dir = await mkdtemp(join(process.env.AUTOPROTECT_TEST_TMP ?? tmpdir(), "autoprotect-sarif-"));
  env = { ...BASE_ENV, AUTOPROTECT_STATE_DIR: join(dir, "state") };
});

const AUDIT = ["sweep", "--simulate", "samples/estate.json", "--mode", "audit"];

describe("-o sarif", () => {
  it("is valid SARIF 2.1.0: one rule per check id, one result per outcome that is not compliant", async () => {
    const sarif = await cli([...AUDIT, "-o", "sarif"], env);
    expect(sarif.code).toBe(0);
    const log = JSON.parse(sarif.stdout) as SarifLog;
    const validate = sarifValidator();
    expect(validate(log), JSON.stringify(validate.errors)).toBe(true);

    const run = log.runs[0];
    expect(run?.tool.driver.name).toBe("autoprotect");
    const rules = run?.tool.driver.rules ?? [];
    expect(rules.map((r) => r.id)).toEqual([...CHECK_IDS]);
    for (const rule of rules) expect(rule.helpUri).toMatch(/^https:\/\/learn\.microsoft\.com\//);

    const json = await cli([...AUDIT, "-o", "json"], env);
    const outcomes = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as OutcomeRecord);
    const findings = outcomes.filter((o) => ["planned", "deferred", "manual", "failed"].includes(o.Status));
    const key = (check: string, resource: string, status: string): string =>
      `${check} ${resource.toLowerCase()} ${status}`;
    const results = run?.results ?? [];
    expect(
      results
        .map((r) =>
          key(r.ruleId, r.locations[0]?.logicalLocations[0]?.fullyQualifiedName ?? "", r.properties.status),
        )
        .sort(),
    ).toEqual(findings.map((o) => key(o.Check, o.ResourceId, o.Status)).sort());
    for (const result of results) {
      expect(rules[result.ruleIndex]?.id).toBe(result.ruleId);
      expect(result.level).toBe(
        { planned: "error", failed: "error", manual: "warning", deferred: "note" }[result.properties.status],
      );
      // Code scanning takes only paths: the resource id as a relative path.
      expect(result.locations[0]?.physicalLocation.artifactLocation.uri).toMatch(/^subscriptions\//);
    }
  });

  it("fingerprints the same finding the same way on the next run", async () => {
    const fingerprints = async (): Promise<string[]> =>
      ((JSON.parse((await cli([...AUDIT, "-o", "sarif"], env)).stdout) as SarifLog).runs[0]?.results ?? [])
        .map((r) => Object.values(r.partialFingerprints).join())
        .sort();
    const first = await fingerprints();
    expect(first.length).toBeGreaterThan(0);
    expect(new Set(first).size).toBe(first.length);
    expect(await fingerprints()).toEqual(first);
  });

  it("gates a pipeline with --fail-on: planned findings exit 1, with the SARIF still written", async () => {
    const gated = await cli([...AUDIT, "-o", "sarif", "--fail-on", "planned,manual,failed"], env);
    expect(gated.code).toBe(1);
    expect((JSON.parse(gated.stdout) as SarifLog).runs[0]?.results.length).toBeGreaterThan(0);
  });

  it("the schema test can fail: a result with a level SARIF does not know is refused", () => {
    const validate = sarifValidator();
    const broken = {
      version: "2.1.0",
      runs: [{ tool: { driver: { name: "x" } }, results: [{ message: { text: "m" }, level: "fatal" }] }],
    };
    expect(validate(broken)).toBe(false);
  });

  it("has a rule text with a Microsoft Learn link for every check id", () => {
    for (const check of CHECK_IDS) {
      expect(RULES[check]?.helpUri, check).toMatch(/^https:\/\/learn\.microsoft\.com\/azure\//);
    }
  });
});
