/**
 * One delivering process for test/outcomes/spool-processes.test.ts, bundled with esbuild and run with
 * node: it delivers the outcomes in a JSON file through the spool in a state folder that other
 * processes share, to the simulator's Logs Ingestion endpoint, when told "go" on stdin.
 *
 *   node worker.mjs STATE_DIR ENDPOINT CA_FILE RULE_ID OUTCOMES_FILE
 *
 * Prints "ready", then the delivery's report as one JSON line.
 */
import { readFileSync } from "node:fs";
import { createOutcomeUploader } from "../../src/azure/ingestion.js";
import type { OutcomeRecord } from "../../src/model/outcome.js";
import { deliverOutcomes } from "../../src/outcomes/delivery.js";
import { createFileSpool } from "../../src/outcomes/file-spool.js";
import { OUTCOME_STREAM } from "../../src/outcomes/schema.js";

const [dir = "", endpoint = "", caFile = "", ruleId = "", outcomesFile = ""] = process.argv.slice(2);
const credential = {
  getToken: () => Promise.resolve({ token: "simulator-token", expiresOnTimestamp: Date.now() + 3_600_000 }),
};
const uploader = createOutcomeUploader(
  { credential, tlsCa: readFileSync(caFile, "utf8"), retry: { maxRetries: 1, retryDelayInMs: 5 } },
  { endpoint, ruleId, stream: OUTCOME_STREAM },
);
const outcomes = JSON.parse(readFileSync(outcomesFile, "utf8")) as OutcomeRecord[];
const go = new Promise((resolve) => process.stdin.once("data", resolve));
process.stdout.write("ready\n");
await go;
const report = await deliverOutcomes(outcomes, { uploader, spool: createFileSpool(dir) });
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(0);
