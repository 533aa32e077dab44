import type { Finding } from "../model/checks.js";
import type { PricingSnapshot, PricingUpdate } from "../model/pricing.js";
import {
  extensionStates,
  isStandardTier,
  writableExtensions,
  type WritableExtension,
} from "./pricing-body.js";
import { fields, joinWords, nonBlankText, sameWord } from "./read.js";

export const REQUIRED_CONTAINERS_EXTENSIONS = ["ContainerSensor", "AgentlessDiscoveryForKubernetes"] as const;

const REQUIRED_ON = `${joinWords(REQUIRED_CONTAINERS_EXTENSIONS)} on`;

export function planContainersPlan(pricing: PricingSnapshot): Finding<PricingUpdate> {
  const properties = fields(pricing.properties);
  const tier = nonBlankText(properties?.pricingTier);
  const subPlan = nonBlankText(properties?.subPlan);
  const enforce = nonBlankText(properties?.enforce);
  const extensions = writableExtensions(properties?.extensions);
  const standard = isStandardTier(tier);
  const details = {
    pricingTier: tier ?? null,
    ...(subPlan === undefined ? {} : { subPlan }),
    extensions: extensionStates(extensions),
  };

  const problems = REQUIRED_CONTAINERS_EXTENSIONS.map((name) => ({
    name,
    state: requiredState(extensions, name),
  })).filter(({ state }) => state !== "on");
  if (standard && problems.length === 0) {
    return { verdict: "compliant", reason: `the Containers plan is Standard with ${REQUIRED_ON}`, details };
  }

  const kept = (extensions ?? []).map((e) => (isRequired(e.name) ? { ...e, isEnabled: "True" as const } : e));
  const appended = REQUIRED_CONTAINERS_EXTENSIONS.filter(
    (name) => !kept.some((e) => sameWord(e.name, name)),
  ).map((name): WritableExtension => ({ name, isEnabled: "True" }));
  const change: PricingUpdate = {
    pricingTier: "Standard",
    ...(subPlan === undefined ? {} : { subPlan }),
    ...(enforce === undefined ? {} : { enforce }),
    extensions: [...kept, ...appended],
  };

  const reasons = [
    ...(standard ? [] : [`the Containers plan is ${tier ?? "not set"}`]),
    ...problems.map(({ name, state }) => `${name} is ${state}`),
  ];
  const action = standard
    ? `turn on ${joinWords(problems.map((p) => p.name))} in the Containers plan`
    : `set the Containers plan to Standard with ${REQUIRED_ON}`;
  return { verdict: "change", reason: joinWords(reasons), action, change, details };
}

function isRequired(name: string): boolean {
  return REQUIRED_CONTAINERS_EXTENSIONS.some((required) => sameWord(name, required));
}

/** Every entry of that name must be on: a duplicate left off would keep the feature off. */
function requiredState(
  extensions: readonly WritableExtension[] | undefined,
  name: string,
): "on" | "off" | "missing" {
  const matching = (extensions ?? []).filter((e) => sameWord(e.name, name));
  if (matching.length === 0) return "missing";
  return matching.every((e) => e.isEnabled === "True") ? "on" : "off";
}
