// The README's first command: sweep the bundled sample estate in the local simulator in enforce
// mode, then sweep the state it left behind: nothing is written again, and what remains is
// waiting for something (a running cluster, an Arc-enabled cluster to reconnect or finish an
// extension's install, the next API rollout step, capacity) or for a person (a failed extension, a
// cluster's own plan that turns Defender off).
// Both sweeps send their outcomes to the simulated Log Analytics workspace; a report reads them back.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";

const estate = ".autoprotect/demo-estate.json";
const stateDir = ".autoprotect/demo-state";
const env = {
  ...process.env,
  AUTOPROTECT_MODE: "enforce",
  AUTOPROTECT_WORKSPACE_ID:
    "/subscriptions/7d3c1f52-8a4e-4b6a-9c2d-0a1b2c3d4e5a/resourceGroups/rg-monitoring/providers/Microsoft.OperationalInsights/workspaces/law-security",
  AUTOPROTECT_AUTHORIZED_IP_RANGES: "203.0.113.0/24",
  AUTOPROTECT_STATE_DIR: stateDir,
  // Under --simulate outcomes go to the simulator's own Logs Ingestion endpoint, with this rule id.
  AUTOPROTECT_INGESTION_ENDPOINT: "https://dce-autoprotect-demo.westeurope-1.ingest.monitor.azure.com",
  AUTOPROTECT_DCR_ID: "dcr-00000000000000000000000000de0000",
};
/** The sample estate's Log Analytics workspace (its customer id). */
const workspace = "5f0a7a0e-3b8c-4f1e-9a55-2f5c6d7e8f90";

function autoprotect(title, args) {
  process.stdout.write(`\n== ${title}\n$ autoprotect ${args.join(" ")}\n\n`);
  const run = spawnSync(process.execPath, ["bin/autoprotect.js", ...args], { stdio: "inherit", env });
  if (run.status !== 0) {
    process.stderr.write(`demo: autoprotect exited with ${String(run.status ?? run.signal)}\n`);
    process.exit(run.status ?? 1);
  }
}

// Each demo starts from the bundled estate, with no rollout in progress.
rmSync(stateDir, { recursive: true, force: true });
mkdirSync(".autoprotect", { recursive: true });
copyFileSync("samples/estate.json", estate);

const sweep = ["sweep", "--simulate", estate, "--save-estate", estate];
autoprotect("First sweep: find what is missing, fix it, and take the first API rollout step", sweep);
autoprotect(
  "Second sweep of the state the first one left: nothing to write; the next API rollout step is due in 10 minutes",
  sweep,
);
autoprotect("Coverage now, read back from the simulated Log Analytics workspace", [
  "report",
  "--workspace",
  workspace,
  "--simulate",
  estate,
]);
