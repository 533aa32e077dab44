/**
 * Safe by default for people: before an enforce run against Azure, a banner says where, in which mode
 * and what may change; on a terminal it asks first (`--yes` skips the question; pipelines, which have
 * no terminal, are not asked). Simulated and audit runs change nothing real and are not asked.
 */
import type { CheckId } from "../model/checks.js";
import type { Config } from "../model/config.js";
import type { SettingSource } from "./settings.js";

/** What enforce may change, per check, in the words of the banner. */
function changes(config: Config): string[] {
  const on = (check: CheckId): boolean => config.checks.includes(check);
  const lines: string[] = [];
  if (on("defender.containers-plan"))
    lines.push(
      "turn on Defender for Containers (with its sensor and agentless discovery) in subscriptions with clusters",
    );
  if (on("aks.defender-sensor"))
    lines.push(
      `enable the Defender sensor on AKS clusters (workspace ${config.workspaceId ?? "not set: AUTOPROTECT_WORKSPACE_ID"})`,
    );
  if (on("aks.azure-policy")) lines.push("enable the Azure Policy add-on on AKS clusters");
  if (on("aks.authorized-ips"))
    lines.push(
      config.authorizedIpRanges.length === 0
        ? "nothing for authorized IP ranges (AUTOPROTECT_AUTHORIZED_IP_RANGES is empty: reported only)"
        : `add authorized IP ranges ${config.authorizedIpRanges.join(", ")} to unrestricted AKS API servers`,
    );
  if (on("defender.apis-plan"))
    lines.push(`turn on Defender for APIs (${config.apiSubPlan}) in subscriptions with API Management`);
  if (on("apim.api-onboarding"))
    lines.push(
      `onboard APIs to Defender for APIs, a few at a time while capacity stays under ${String(config.capacityLimit)}%`,
    );
  return lines;
}

const SOURCES: Readonly<Record<SettingSource, string>> = {
  flag: "--mode",
  environment: "AUTOPROTECT_MODE",
  file: "the settings file",
  default: "the default",
};

/** The banner of an enforce run against Azure: where (in words), mode, and what it may change. */
export function enforceBanner(config: Config, where: string, modeSource: SettingSource): string {
  const checks =
    config.checks.length === 0 ? "none" : config.checks.length >= 7 ? "all" : config.checks.join(", ");
  return [
    `autoprotect: ENFORCE mode (from ${SOURCES[modeSource]}) against Azure: ${where}; checks: ${checks}.`,
    "It may:",
    ...changes(config).map((line) => `  - ${line}`),
    "It never disables a protection, removes a range or lowers a plan. --mode audit shows the same without writing.",
    "",
  ].join("\n");
}

/** Whether the answer is yes. */
export function isYes(answer: string | undefined): boolean {
  return answer !== undefined && /^\s*(y|yes)\s*$/i.test(answer);
}
