import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { HANDLED_EVENT_TYPES, HANDLED_OPERATION_PREFIXES, parseEvent } from "../../src/events/parse.js";
import { CONFIG_VARIABLES } from "../../src/model/config.js";
import { OUTCOME_COLUMNS } from "../../src/outcomes/schema.js";

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");
type Json = Record<string, unknown>;
const template = JSON.parse(read("infra/main.json")) as Json;

/** Every resource in the compiled template, nested deployments included. */
function resources(node: unknown, found: Json[] = []): Json[] {
  if (Array.isArray(node)) for (const item of node) resources(item, found);
  else if (typeof node === "object" && node !== null) {
    const record = node as Json;
    if (typeof record.type === "string" && "properties" in record) found.push(record);
    for (const value of Object.values(record)) resources(value, found);
  }
  return found;
}
const all = resources(template);
const ofType = (type: string) => all.filter((r) => String(r.type).toLowerCase() === type.toLowerCase());

/** The variables of the (nested) template a resource sits in, to resolve `[variables('x')]`. */
function variablesAround(resource: Json, node: unknown = template): Json | undefined {
  if (typeof node !== "object" || node === null) return undefined;
  const record = node as Json;
  if (Array.isArray(record.resources) && (record.resources as unknown[]).includes(resource)) {
    return (record.variables ?? {}) as Json;
  }
  for (const value of Object.values(record)) {
    const hit = variablesAround(resource, value);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

/** Follows `[variables('x')]` and `[variables('x').Field]`, as bicep compiles loadJsonContent. */
function resolve(value: unknown, resource: Json): unknown {
  const match = typeof value === "string" ? /^\[variables\('([^']+)'\)(?:\.(\w+))?\]$/.exec(value) : null;
  if (match?.[1] === undefined) return value;
  const variable = resolve(variablesAround(resource)?.[match[1]], resource);
  return match[2] === undefined ? variable : (variable as Json | undefined)?.[match[2]];
}

describe("the compiled template (infra/main.json)", () => {
  it("gives the outcome table and the rule's stream exactly the outcome record's columns", () => {
    const [table] = ofType("Microsoft.OperationalInsights/workspaces/tables");
    const [rule] = ofType("Microsoft.Insights/dataCollectionRules");
    if (table === undefined || rule === undefined) throw new Error("no table or rule in the template");
    const schema = (table.properties as { schema: { columns: unknown } }).schema;
    expect(resolve(schema.columns, table)).toEqual(OUTCOME_COLUMNS);
    const streams = (rule.properties as { streamDeclarations: Record<string, { columns: unknown }> })
      .streamDeclarations;
    const declared = Object.values(streams);
    expect(declared).toHaveLength(1);
    expect(resolve(declared[0]?.columns, rule)).toEqual(OUTCOME_COLUMNS);
  });

  it("subscribes to the write events the handler acts on, filtered on exactly its operation names", () => {
    const filterFile = JSON.parse(read("infra/event-filter.json")) as {
      includedEventTypes: string[];
      operationNamePrefixes: string[];
    };
    expect(filterFile.operationNamePrefixes).toEqual([...HANDLED_OPERATION_PREFIXES]);
    // The subscription system topic emits ResourceWriteSuccess; the handler's other types (Resource
    // Notifications, APIM's own topic) name the same writes and are for deployments that wire them.
    expect(filterFile.includedEventTypes).toEqual(["Microsoft.Resources.ResourceWriteSuccess"]);
    for (const type of filterFile.includedEventTypes) expect(HANDLED_EVENT_TYPES).toContain(type);

    const [subscription] = ofType("Microsoft.EventGrid/systemTopics/eventSubscriptions");
    if (subscription === undefined) throw new Error("no event subscription in the template");
    const filter = (subscription.properties as { filter: Json }).filter;
    expect(JSON.stringify(filter)).toContain("data.operationName");
    const compiled = JSON.stringify(template);
    for (const prefix of HANDLED_OPERATION_PREFIXES) expect(compiled).toContain(prefix);
    const properties = subscription.properties as {
      retryPolicy?: Json;
      deadLetterWithResourceIdentity?: Json;
    };
    expect(properties.retryPolicy).toBeDefined();
    expect(properties.deadLetterWithResourceIdentity).toBeDefined();
  });

  it.each(HANDLED_OPERATION_PREFIXES.map((prefix) => [prefix]))(
    "lets through only writes the handler reconciles: %s",
    async (prefix) => {
      const sub = "0a1b2c3d-0000-4000-8000-00000000000a";
      const uri = prefix.startsWith("Microsoft.Security")
        ? `/subscriptions/${sub}/providers/Microsoft.Security/pricings/Api`
        : prefix.startsWith("Microsoft.ContainerService")
          ? `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/a`
          : prefix.includes("gateways")
            ? `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.ApiManagement/service/s/gateways/g/apis/a`
            : prefix.includes("apis")
              ? `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.ApiManagement/service/s/apis/a`
              : `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.ApiManagement/service/s`;
      const operation = prefix.endsWith("/") ? `${prefix}write` : prefix;
      const verdict = await parseEvent({
        id: "e",
        topic: `/subscriptions/${sub}`,
        subject: uri,
        eventType: "Microsoft.Resources.ResourceWriteSuccess",
        eventTime: "2026-11-25T10:00:00Z",
        data: { resourceUri: uri, operationName: operation, status: "Succeeded" },
        dataVersion: "2",
        metadataVersion: "1",
      });
      expect(verdict.kind).toBe("reconcile");
    },
  );

  it("has an app setting for every configuration variable the code reads", () => {
    const [settings] = ofType("Microsoft.Web/sites/config").filter((r) =>
      String(r.name).includes("appsettings"),
    );
    if (settings === undefined) throw new Error("no appsettings resource");
    const names = Object.keys(settings.properties as Json);
    // The connection-string form is for Azurite: in Azure the account has shared keys off and the
    // host reaches it through AzureWebJobsStorage__accountName with the managed identity.
    const expected = Object.keys(CONFIG_VARIABLES).filter((name) => name !== "AzureWebJobsStorage");
    for (const name of expected) expect(names, name).toContain(name);
    expect(names).not.toContain("AzureWebJobsStorage");
  });

  it("assigns the custom role loaded from infra/autoprotect-role.json, the one the role test checks", () => {
    const role = JSON.parse(read("infra/autoprotect-role.json")) as { Actions: string[] };
    const [definition] = ofType("Microsoft.Authorization/roleDefinitions");
    if (definition === undefined) throw new Error("no role definition");
    const [permissions] = (definition.properties as { permissions: { actions: unknown }[] }).permissions;
    expect(resolve(permissions?.actions, definition)).toEqual(role.Actions);
  });
});

describe("bicep build and lint", () => {
  it("compile without warnings, and infra/main.json is what bicep build produces", () => {
    const required = process.env.AUTOPROTECT_REQUIRE_BICEP === "1";
    for (const command of ["lint", "check"]) {
      const run = spawnSync(process.execPath, ["scripts/bicep.js", command], {
        encoding: "utf8",
        timeout: 240_000,
      });
      if (run.status === 3 && !required) {
        console.warn(`infra checks skipped: ${run.stdout.trim() || run.stderr.trim()}`);
        return;
      }
      expect(run.status, `${command}: ${run.stdout}${run.stderr}`).toBe(0);
    }
  }, 300_000);
});
