/**
 * What a CLI run is about, as people type it: subscriptions by id or display name (as `az` takes
 * them), each once; and the sign-in it needs, tried once before anything else so that a missing one is
 * one line saying what to do, not a stack of credential errors.
 */
import type { TokenCredential } from "@azure/core-auth";
import type { SubscriptionInfo } from "../azure/resources.js";
import { ARM_SCOPE } from "../azure/connection.js";
import { inScope, type Config } from "../model/config.js";
import { isSubscriptionIdValid } from "../model/resource-id.js";

/** Bad input found once Azure could be asked (an unknown or ambiguous name): exit 2, nothing run. */
export class ScopeError extends Error {
  override readonly name = "ScopeError";
}

/**
 * `--subscription` values (ids or display names) as subscription ids, each once, in the order given.
 * Names are looked up in `list()` (asked only when a name is given), without regard to case.
 */
export async function resolveSubscriptions(
  requested: readonly string[],
  list: () => Promise<SubscriptionInfo[]>,
): Promise<string[]> {
  let visible: SubscriptionInfo[] | undefined;
  const ids: string[] = [];
  for (const raw of requested) {
    const value = raw.trim();
    let id: string;
    if (isSubscriptionIdValid(value)) {
      id = value;
    } else {
      visible ??= await list();
      const named = visible.filter((s) => s.displayName.toLowerCase() === value.toLowerCase());
      const only = named[0];
      if (only === undefined) {
        throw new ScopeError(
          `--subscription '${value}' is neither a subscription id (GUID) nor the name of one of the ` +
            `${String(visible.length)} subscriptions this sign-in can see`,
        );
      }
      if (named.length > 1) {
        throw new ScopeError(
          `--subscription '${value}' names ${String(named.length)} subscriptions ` +
            `(${named.map((s) => s.subscriptionId).join(", ")}): give the id`,
        );
      }
      id = only.subscriptionId;
    }
    if (!ids.some((known) => known.toLowerCase() === id.toLowerCase())) ids.push(id);
  }
  return ids;
}

/** Refuses subscriptions outside AUTOPROTECT_SUBSCRIPTIONS before anything is run. */
export function checkAllowed(subscriptionId: string, config: Config): void {
  if (!inScope(config, subscriptionId)) {
    throw new ScopeError(`subscription '${subscriptionId}' is outside AUTOPROTECT_SUBSCRIPTIONS`);
  }
}

/** No sign-in to Azure: one line, what to do. */
export class SignInError extends Error {
  override readonly name = "SignInError";
}

export const SIGN_IN_HELP =
  "cannot sign in to Azure: run 'az login' (or set up a managed identity or AZURE_CLIENT_ID/" +
  "AZURE_TENANT_ID/AZURE_CLIENT_SECRET), or add --simulate ESTATE.json to run against the local simulator";

/** Gets one token for Azure Resource Manager, or throws SignInError with the way out. */
export async function checkSignIn(credential: TokenCredential): Promise<void> {
  try {
    const token = await credential.getToken(ARM_SCOPE);
    if (token === null) throw new Error("no token");
  } catch {
    // The credential chain's own text (six credentials, each with its reason) helps nobody here.
    throw new SignInError(SIGN_IN_HELP);
  }
}
