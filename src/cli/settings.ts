/**
 * The CLI's settings: a settings file (`autoprotect.json`), the environment (the Functions app's
 * settings, unchanged) and flags. Later wins: file, then environment, then flags. Every key of the
 * file is an AUTOPROTECT_ variable in camelCase (`authorizedIpRanges` is
 * AUTOPROTECT_AUTHORIZED_IP_RANGES), so the one table of variables (CONFIG_VARIABLES) is also the
 * file's, and loadConfig validates both the same way.
 */
import { access, readFile } from "node:fs/promises";
import { CONFIG_VARIABLES, ConfigError, loadConfig, type Config } from "../model/config.js";
import type { CliArguments } from "./args.js";

type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_SETTINGS_FILE = "autoprotect.json";

/** Settings the file does not take: the Functions host's own. */
const NOT_IN_FILE = new Set(["AUTOPROTECT_SWEEP_SCHEDULE"]);

/** `AUTOPROTECT_AUTHORIZED_IP_RANGES` → `authorizedIpRanges`. */
export function settingKey(variable: string): string {
  return variable
    .replace(/^AUTOPROTECT_/, "")
    .toLowerCase()
    .replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** File key → variable, for every AUTOPROTECT_ variable the file may set. */
export function settingKeys(): Map<string, string> {
  return new Map(
    Object.keys(CONFIG_VARIABLES)
      .filter((v) => v.startsWith("AUTOPROTECT_") && !NOT_IN_FILE.has(v))
      .map((v) => [settingKey(v), v] as const),
  );
}

/** Bad settings (file or flag): exit 2 with this line. */
export class SettingsError extends Error {
  override readonly name = "SettingsError";
}

/** Where each setting came from, for the banner ("mode enforce, from AUTOPROTECT_MODE"). */
export type SettingSource = "flag" | "environment" | "file" | "default";

export interface Settings {
  readonly config: Config;
  /** The settings file that was read, if any. */
  readonly file: string | undefined;
  readonly modeSource: SettingSource;
}

function fileValue(value: unknown, key: string, file: string): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "boolean") return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value.join(",");
  throw new SettingsError(
    `${file}: ${key} must be a string, a number, true/false or a list of strings, not ${JSON.stringify(value)}`,
  );
}

/** The file's settings as the variables they stand for; a missing default file is no settings. */
export async function readSettingsFile(
  path: string | undefined,
): Promise<{ file: string | undefined; env: Record<string, string> }> {
  const file = path ?? DEFAULT_SETTINGS_FILE;
  if (path === undefined) {
    try {
      await access(file);
    } catch {
      return { file: undefined, env: {} };
    }
  }
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new SettingsError(
      `${file}: cannot read the settings file (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SettingsError(`${file}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new SettingsError(`${file}: the settings must be a JSON object`);
  }
  const keys = settingKeys();
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(json)) {
    if (key === "$schema") continue;
    const variable = keys.get(key);
    if (variable === undefined) {
      throw new SettingsError(`${file}: unknown setting '${key}' (known: ${[...keys.keys()].join(", ")})`);
    }
    env[variable] = fileValue(value, key, file);
  }
  return { file, env };
}

/**
 * The configuration of one CLI run: file, environment and flags merged (later wins), validated by
 * loadConfig; a bad value is named as it was written (the file's key, or the variable).
 */
export async function loadSettings(
  args: Pick<CliArguments, "config" | "mode" | "checks">,
  env: Env,
): Promise<Settings> {
  const { file, env: fromFile } = await readSettingsFile(args.config);
  const flags: Record<string, string> = {};
  if (args.mode !== undefined) flags.AUTOPROTECT_MODE = args.mode;
  if (args.checks !== undefined) flags.AUTOPROTECT_CHECKS = args.checks.join(",");
  const present = (source: Env, variable: string): boolean => (source[variable] ?? "").trim() !== "";
  const merged: Record<string, string | undefined> = { ...fromFile };
  for (const [variable, value] of Object.entries(env)) {
    // An empty variable does not hide the file's value: it is read as unset everywhere.
    if (value !== undefined && (value.trim() !== "" || !(variable in fromFile))) merged[variable] = value;
  }
  Object.assign(merged, flags);
  let config: Config;
  try {
    config = loadConfig(merged);
  } catch (error) {
    if (
      error instanceof ConfigError &&
      file !== undefined &&
      !present(env, error.variable) &&
      error.variable in fromFile
    ) {
      throw new SettingsError(
        `${file}: ${settingKey(error.variable)}${error.message.slice(error.variable.length)}`,
      );
    }
    if (error instanceof ConfigError && error.variable in flags) {
      const name = error.variable === "AUTOPROTECT_MODE" ? "--mode" : "--checks";
      throw new SettingsError(`${name}${error.message.slice(error.variable.length)}`);
    }
    throw error;
  }
  const modeSource: SettingSource =
    args.mode !== undefined
      ? "flag"
      : present(env, "AUTOPROTECT_MODE")
        ? "environment"
        : "AUTOPROTECT_MODE" in fromFile
          ? "file"
          : "default";
  return { config, file, modeSource };
}
