// The README's first command: sweep the bundled sample estate in the local simulator, in enforce
// mode, then sweep the state it left behind to show that nothing is left to do.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";

const estateAfter = ".autoprotect/demo-estate.json";
const env = {
  ...process.env,
  AUTOPROTECT_MODE: "enforce",
  AUTOPROTECT_WORKSPACE_ID:
    "/subscriptions/7d3c1f52-8a4e-4b6a-9c2d-0a1b2c3d4e5a/resourceGroups/rg-monitoring/providers/Microsoft.OperationalInsights/workspaces/law-security",
  AUTOPROTECT_AUTHORIZED_IP_RANGES: "203.0.113.0/24",
};

function sweep(title, args) {
  process.stdout.write(`\n== ${title}\n$ autoprotect sweep ${args.join(" ")}\n\n`);
  const run = spawnSync(process.execPath, ["bin/autoprotect.js", "sweep", ...args], {
    stdio: "inherit",
    env,
  });
  if (run.status !== 0) {
    process.stderr.write(`demo: autoprotect exited with ${run.status ?? run.signal}\n`);
    process.exit(run.status ?? 1);
  }
}

mkdirSync(".autoprotect", { recursive: true });
sweep("First sweep: find what is missing and fix it", [
  "--simulate",
  "samples/estate.json",
  "--save-estate",
  estateAfter,
]);
sweep(
  "Second sweep of the state the first one left: no write needed; what remains waits for a running cluster or a person",
  ["--simulate", estateAfter],
);
