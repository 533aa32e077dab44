import { afterAll, beforeAll } from "vitest";
import { startAzurite, type Azurite } from "../../bench/azurite.js";

export { startAzurite, type Azurite } from "../../bench/azurite.js";

/** One Azurite for the test file: started before its tests, stopped after; call the result to reach it. */
export function useAzurite(): () => Azurite {
  let azurite: Azurite | undefined;
  beforeAll(async () => {
    azurite = await startAzurite();
  });
  afterAll(async () => {
    await azurite?.stop();
  });
  return () => {
    if (azurite === undefined) throw new Error("Azurite is not started yet (use it inside a test)");
    return azurite;
  };
}
