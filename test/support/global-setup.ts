import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** One temporary folder for the whole run (rollout state of simulator worlds), removed at the end. */
export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), "autoprotect-test-"));
  process.env.AUTOPROTECT_TEST_TMP = dir;
  return () => {
    rmSync(dir, { recursive: true, force: true });
  };
}
