import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/main.js";
import type { OutcomeRecord } from "../../src/model/outcome.js";
import { BASE_ENV } from "../support/azure.js";
import { SUB_A, cluster, clusterId, estate } from "../support/estate.js";

/** Events that are not in the repository: generated mixes of kinds, schemas, casing and duplicates. */
type Kind =
  "cluster-write" | "agentpool-write" | "notification" | "storage-write" | "apicollection-write" | "delete";

function eventFor(
  kind: Kind,
  name: string,
  schema: "eventgrid" | "cloudevents",
  n: number,
): Record<string, unknown> {
  const id = clusterId(name);
  const write = (resourceUri: string, operationName: string) => ({
    resourceUri,
    operationName,
    status: "Succeeded",
    subscriptionId: SUB_A,
  });
  let type = "Microsoft.Resources.ResourceWriteSuccess";
  let subject = id;
  let data: Record<string, unknown>;
  switch (kind) {
    case "cluster-write":
      data = write(
        id.toUpperCase().replace("/SUBSCRIPTIONS/", "/subscriptions/"),
        "Microsoft.ContainerService/managedClusters/write",
      );
      break;
    case "agentpool-write":
      subject = `${id}/agentPools/np${String(n)}`;
      data = write(subject, "Microsoft.ContainerService/managedClusters/agentPools/write");
      break;
    case "notification":
      type = "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated";
      data = {
        resourceInfo: { id, name, type: "Microsoft.ContainerService/managedClusters", properties: {} },
      };
      break;
    case "storage-write":
      subject = `/subscriptions/${SUB_A}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st${String(n)}`;
      data = write(subject, "Microsoft.Storage/storageAccounts/write");
      break;
    case "apicollection-write":
      subject = `/subscriptions/${SUB_A}/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim/providers/Microsoft.Security/apiCollections/a${String(n)}`;
      data = write(subject, "Microsoft.Security/apiCollections/write");
      break;
    case "delete":
      type = "Microsoft.Resources.ResourceDeleteSuccess";
      data = write(id, "Microsoft.ContainerService/managedClusters/delete");
      break;
  }
  return schema === "eventgrid"
    ? {
        id: `e${String(n)}`,
        topic: `/subscriptions/${SUB_A}`,
        subject,
        eventType: type,
        eventTime: "2026-11-25T10:00:00Z",
        data,
        dataVersion: "1",
        metadataVersion: "1",
      }
    : {
        id: `e${String(n)}`,
        source: `/subscriptions/${SUB_A}`,
        subject,
        type,
        time: "2026-11-25T10:00:00Z",
        data,
        specversion: "1.0",
      };
}

const RECONCILING: ReadonlySet<Kind> = new Set(["cluster-write", "agentpool-write", "notification"]);

describe("autoprotect event on generated event files", () => {
  it("reconciles exactly the clusters the events name, once each, and notes every other event", async () => {
    const dir = await mkdtemp(join(tmpdir(), "autoprotect-events-"));
    const estatePath = join(dir, "estate.json");
    const names = ["aks-a", "aks-b", "aks-c"];
    await writeFile(estatePath, JSON.stringify(estate(names.map((n) => cluster(n)))));
    const generated = fc.array(
      fc.record({
        kind: fc.constantFrom<Kind>(
          "cluster-write",
          "agentpool-write",
          "notification",
          "storage-write",
          "apicollection-write",
          "delete",
        ),
        name: fc.constantFrom(...names, "aks-deleted"),
        schema: fc.constantFrom<"eventgrid" | "cloudevents">("eventgrid", "cloudevents"),
      }),
      { minLength: 1, maxLength: 12 },
    );
    let file = 0;
    await fc.assert(
      fc.asyncProperty(generated, fc.boolean(), async (events, asArray) => {
        file += 1;
        const payload = events.map((e, n) => eventFor(e.kind, e.name, e.schema, n));
        const path = join(dir, `events-${String(file)}.json`);
        await writeFile(path, JSON.stringify(asArray || payload.length > 1 ? payload : payload[0]));
        let stdout = "";
        let stderr = "";
        const code = await runCli(["event", path, "--simulate", estatePath, "--json", "--dry-run"], {
          stdout: { write: (t: string) => (stdout += t) },
          stderr: { write: (t: string) => (stderr += t) },
          env: BASE_ENV,
        });
        expect(code).toBe(0);
        const outcomes = stdout
          .split("\n")
          .filter((l) => l !== "")
          .map((l) => JSON.parse(l) as OutcomeRecord);
        const named = new Set(
          events.filter((e) => RECONCILING.has(e.kind)).map((e) => clusterId(e.name).toLowerCase()),
        );
        const clusters = new Set(
          outcomes
            .filter((o) => o.ResourceType.toLowerCase().endsWith("managedclusters"))
            .map((o) => o.ResourceId.toLowerCase()),
        );
        expect(clusters).toEqual(named);
        for (const id of named) {
          // One outcome per cluster check; a cluster that does not exist is one "not found".
          const expected = id.endsWith("/aks-deleted") ? 1 : 5;
          expect(outcomes.filter((o) => o.ResourceId.toLowerCase() === id)).toHaveLength(expected);
        }
        // However an event spelt the id, outcomes carry ARM's spelling.
        for (const o of outcomes.filter(
          (x) =>
            !x.ResourceId.toLowerCase().endsWith("/aks-deleted") &&
            x.ResourceType.endsWith("managedClusters"),
        )) {
          expect(names.map((n) => clusterId(n))).toContain(o.ResourceId);
        }
        const deleted = outcomes.filter((o) => o.ResourceId.toLowerCase().endsWith("/aks-deleted"));
        expect(deleted.every((o) => o.Status === "skipped")).toBe(true);
        const ignored = events.filter((e) => !RECONCILING.has(e.kind)).length;
        expect(stderr.split("\n").filter((l) => l.includes(": ignored ")).length).toBe(ignored);
      }),
      { numRuns: 25 },
    );
  });
});
