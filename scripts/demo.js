// The README's first command: sweep the bundled sample estate in the local simulator in enforce
// mode, then sweep the state it left behind: nothing is written again, and what remains is
// waiting for something (a running cluster, the next API rollout step, capacity) or for a person.
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
};

function sweep(title) {
  process.stdout.write(`\n== ${title}\n$ autoprotect sweep --simulate ${estate} --save-estate ${estate}\n\n`);
  const run = spawnSync(
    process.execPath,
    ["bin/autoprotect.js", "sweep", "--simulate", estate, "--save-estate", estate],
    { stdio: "inherit", env },
  );
  if (run.status !== 0) {
    process.stderr.write(`demo: autoprotect exited with ${String(run.status ?? run.signal)}\n`);
    process.exit(run.status ?? 1);
  }
}

// Each demo starts from the bundled estate, with no rollout in progress.
rmSync(stateDir, { recursive: true, force: true });
mkdirSync(".autoprotect", { recursive: true });
copyFileSync("samples/estate.json", estate);

sweep("First sweep: find what is missing, fix it, and take the first API rollout step");
sweep(
  "Second sweep of the state the first one left: nothing to write; the next API rollout step is due in 10 minutes",
);
