/** ARM error answers: `{"error":{"code","message"}}` with the status ARM uses for each code. */

export class ArmError extends Error {
  override readonly name = "ArmError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  body(): { error: { code: string; message: string } } {
    return armErrorBody(this.code, this.message);
  }
}

export function armErrorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

export function authenticationFailed(reason: string): ArmError {
  return new ArmError(401, "AuthenticationFailed", `Authentication failed. ${reason}`, {
    "www-authenticate": `Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", error_description="${reason}"`,
  });
}

export function missingApiVersion(): ArmError {
  return new ArmError(
    400,
    "MissingApiVersionParameter",
    "The api-version query parameter (?api-version=) is required for all requests.",
  );
}

export function unsupportedApiVersion(
  apiVersion: string,
  typeName: string,
  location: string,
  supported: readonly string[],
): ArmError {
  return new ArmError(
    400,
    "NoRegisteredProviderFound",
    `No registered resource provider found for location '${location}' and API version '${apiVersion}' for type '${typeName}'. ` +
      `The supported api-versions are '${supported.join(", ")}'.`,
  );
}

export function subscriptionNotFound(subscriptionId: string): ArmError {
  return new ArmError(
    404,
    "SubscriptionNotFound",
    `The subscription '${subscriptionId}' could not be found.`,
  );
}

/**
 * `qualifiedName` is the namespace followed by the type/name pairs, as ARM spells it in this message:
 * "Microsoft.ContainerService/managedClusters/aks1", "Microsoft.ApiManagement/service/apim1/apis/echo".
 */
export function resourceNotFound(qualifiedName: string, resourceGroup: string | undefined): ArmError {
  const scope = resourceGroup === undefined ? "" : ` under resource group '${resourceGroup}'`;
  return new ArmError(
    404,
    "ResourceNotFound",
    `The Resource '${qualifiedName}'${scope} was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );
}

export function routeNotFound(method: string, path: string): ArmError {
  return new ArmError(
    404,
    "NotFound",
    `The request ${method} '${path}' does not match any route served by the Azure control-plane simulator.`,
  );
}

export function methodNotAllowed(method: string, path: string): ArmError {
  return new ArmError(
    405,
    "MethodNotAllowed",
    `The requested resource does not support http method '${method}' (path '${path}').`,
  );
}

export function invalidRequestContent(detail: string): ArmError {
  return new ArmError(
    400,
    "InvalidRequestContent",
    `The request content was invalid and could not be deserialized: ${detail}`,
  );
}

export function preconditionFailed(detail: string): ArmError {
  return new ArmError(412, "PreconditionFailed", detail);
}

export function operationNotAllowed(message: string): ArmError {
  return new ArmError(409, "OperationNotAllowed", message);
}

export function badRequest(code: string, message: string): ArmError {
  return new ArmError(400, code, message);
}
