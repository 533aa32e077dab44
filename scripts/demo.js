// The README's first command: sweep the bundled sample estate in the local simulator in enforce
// mode, then sweep the state it left behind: nothing is written again, and what remains is
// waiting for something (a running cluster, an Arc-enabled cluster to reconnect or finish an
// extension's install, the next API rollout step, capacity, Defender for Cloud to assess what was
// fixed) or for a person (a failed extension, a cluster's own plan that turns Defender off, a sensor
// Defender never hears from). A third sweep, 45 simulated minutes later, finds Defender for Cloud
// agreeing about what was fixed, and still not hearing from that one sensor.
// The sweeps send their outcomes to the simulated Log Analytics workspace; a report reads them back.
// Every setting is in one settings file, printed first, and every command is printed exactly as it
// runs: copy them to run them again.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";

const estate = ".autoprotect/demo-estate.json";
const settingsFile = ".autoprotect/demo-settings.json";
const settings = {
  mode: "enforce",
  // The sample estate's workspace for the Defender sensor, and the range added to open API servers.
  workspaceId:
    "/subscriptions/7d3c1f52-8a4e-4b6a-9c2d-0a1b2c3d4e5a/resourceGroups/rg-monitoring/providers/Microsoft.OperationalInsights/workspaces/law-security",
  authorizedIpRanges: ["203.0.113.0/24"],
  stateDir: ".autoprotect/demo-state",
  // Under --simulate outcomes go to the simulator's own Logs Ingestion endpoint, with this rule id;
  // report reads them back from the simulated workspace.
  ingestionEndpoint: "https://dce-autoprotect-demo.westeurope-1.ingest.monitor.azure.com",
  dcrId: "dcr-00000000000000000000000000de0000",
};
/** The sample estate's Log Analytics workspace (its customer id). */
const workspace = "5f0a7a0e-3b8c-4f1e-9a55-2f5c6d7e8f90";

// Only the settings file speaks: AUTOPROTECT_ variables of this shell would override it.
const env = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.startsWith("AUTOPROTECT_")),
);

function autoprotect(title, args) {
  process.stdout.write(`\n== ${title}\n$ npx autoprotect ${args.join(" ")}\n\n`);
  const run = spawnSync(process.execPath, ["bin/autoprotect.js", ...args], { stdio: "inherit", env });
  if (run.status !== 0) {
    process.stderr.write(`demo: autoprotect exited with ${String(run.status ?? run.signal)}\n`);
    process.exit(run.status ?? 1);
  }
}

// Each demo starts from the bundled estate, with no rollout in progress.
rmSync(settings.stateDir, { recursive: true, force: true });
mkdirSync(".autoprotect", { recursive: true });
copyFileSync("samples/estate.json", estate);
writeFileSync(settingsFile, `${JSON.stringify(settings, null, 2)}\n`);
process.stdout.write(`== Settings (${settingsFile}; AUTOPROTECT_ variables of this shell are left out)\n`);
process.stdout.write(`${JSON.stringify(settings, null, 2)}\n`);

const sweep = ["sweep", "--config", settingsFile, "--simulate", estate, "--save-estate", estate];
autoprotect("First sweep: find what is missing, fix it, and take the first API rollout step", sweep);
autoprotect(
  "Second sweep of the state the first one left: nothing to write; the next API rollout step is due in 10 minutes",
  sweep,
);
autoprotect(
  "Third sweep, 45 simulated minutes later: Defender for Cloud has assessed what was fixed and agrees; one sensor it still never hears from",
  [...sweep, "--advance", "45m"],
);
autoprotect("Where the API rollout stands", ["rollout", "status", "--config", settingsFile]);
autoprotect("Coverage now, read back from the simulated Log Analytics workspace", [
  "report",
  "--workspace",
  workspace,
  "--simulate",
  estate,
]);

// The README's next command after the demo: the report page, from the same simulated workspace.
process.stdout.write(
  `\nThe report page (one self-contained HTML file, no network needed to open it):\n` +
    `$ npx autoprotect report --workspace ${workspace} --simulate ${estate} -o html --out .autoprotect/report.html\n`,
);
