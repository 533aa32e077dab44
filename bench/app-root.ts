/**
 * A module of the app build under `appRoot` (this build's dist/, or today's in dist/baseline/dist/), so
 * one benchmark drives either build with the same code.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";

export async function loadFromApp<T>(appRoot: string, path: string): Promise<T> {
  return (await import(pathToFileURL(join(appRoot, path)).href)) as T;
}
