/**
 * The manual HTTP trigger's request body: `{ "resourceId": "…" }` or `{ "subscriptionId": "…" }`,
 * optionally `"dryRun": true`. Every rejection names what was wrong, for a problem+json answer.
 */
import { inScope } from "../model/config.js";
import { assertReconcilable, UnsupportedTargetError } from "../model/targets.js";
import { isSubscriptionIdValid, parseResourceId, ResourceIdError } from "../model/resource-id.js";

/** Bodies are a few hundred bytes; anything much larger is not a reconcile request. */
export const MAX_REQUEST_BYTES = 16 * 1024;

export type ReconcileRequest =
  | { readonly kind: "resource"; readonly resourceId: string; readonly dryRun: boolean }
  | { readonly kind: "subscription"; readonly subscriptionId: string; readonly dryRun: boolean };

export class BadRequestError extends Error {
  override readonly name = "BadRequestError";
  constructor(
    message: string,
    readonly status: 400 | 413 | 415 = 400,
  ) {
    super(message);
  }
}

const FIELDS = new Set(["resourceId", "subscriptionId", "dryRun"]);

export function parseReconcileRequest(
  body: string,
  options: { readonly contentType?: string | null; readonly subscriptions: readonly string[] },
): ReconcileRequest {
  if (Buffer.byteLength(body, "utf8") > MAX_REQUEST_BYTES) {
    throw new BadRequestError(`the body is larger than ${String(MAX_REQUEST_BYTES)} bytes`, 413);
  }
  const type = options.contentType?.split(";")[0]?.trim().toLowerCase();
  if (type !== undefined && type !== "" && type !== "application/json") {
    throw new BadRequestError(`the body must be application/json, not ${type}`, 415);
  }
  if (body.trim() === "")
    throw new BadRequestError('the body is empty; send {"resourceId": "…"} or {"subscriptionId": "…"}');
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    throw new BadRequestError(`the body is not JSON: ${(error as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new BadRequestError("the body must be a JSON object");
  }
  const record = value as Record<string, unknown>;
  const unknown = Object.keys(record).filter((key) => !FIELDS.has(key));
  if (unknown.length > 0) {
    throw new BadRequestError(
      `unknown field${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `'${k}'`).join(", ")}; ` +
        "expected resourceId or subscriptionId, and optionally dryRun",
    );
  }
  const dryRun = record.dryRun ?? false;
  if (typeof dryRun !== "boolean") throw new BadRequestError("dryRun must be true or false");
  const hasResource = record.resourceId !== undefined;
  const hasSubscription = record.subscriptionId !== undefined;
  if (hasResource === hasSubscription) {
    throw new BadRequestError("give exactly one of resourceId and subscriptionId");
  }
  const checkScope = (subscriptionId: string): void => {
    if (!inScope(options, subscriptionId)) {
      throw new BadRequestError(`subscription ${subscriptionId} is not in AUTOPROTECT_SUBSCRIPTIONS`);
    }
  };
  if (hasSubscription) {
    const subscriptionId = record.subscriptionId;
    if (typeof subscriptionId !== "string" || !isSubscriptionIdValid(subscriptionId.trim())) {
      throw new BadRequestError(
        `subscriptionId must be a subscription GUID, not ${JSON.stringify(subscriptionId)}`,
      );
    }
    checkScope(subscriptionId.trim());
    return { kind: "subscription", subscriptionId: subscriptionId.trim(), dryRun };
  }
  const resourceId = record.resourceId;
  if (typeof resourceId !== "string") throw new BadRequestError("resourceId must be a string");
  try {
    const parsed = parseResourceId(resourceId);
    assertReconcilable(parsed);
    checkScope(parsed.subscriptionId);
    return { kind: "resource", resourceId: parsed.id, dryRun };
  } catch (error) {
    if (error instanceof ResourceIdError || error instanceof UnsupportedTargetError) {
      throw new BadRequestError(`resourceId: ${error.message}`);
    }
    throw error;
  }
}
