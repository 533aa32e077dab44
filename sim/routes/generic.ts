/**
 * Any other resource in the estate, served as stored by a plain GET of its id with any api-version.
 * Ids shaped like resources that the estate does not hold answer ARM's ResourceNotFound.
 * This module must come last in the route table: specific routes win.
 */
import { resourceNotFound } from "../arm-errors.js";
import { typeOfResourceId } from "../estate.js";
import { clone } from "../state.js";
import type { ProviderModule } from "./types.js";

/** "Microsoft.ApiManagement/service/apim1/apis/echo": the part of the id after its last provider section. */
function qualifiedName(segments: readonly string[]): string {
  let providerIndex = -1;
  for (let i = 2; i < segments.length; i += 2) {
    if (segments[i]?.toLowerCase() === "providers") providerIndex = i;
  }
  return segments.slice(providerIndex + 1).join("/");
}

export const genericModule: ProviderModule = {
  name: "generic",
  routes: [
    {
      method: "GET",
      match: (segments) => {
        const type = typeOfResourceId(`/${segments.join("/")}`);
        if (
          type === undefined ||
          !type.includes("/") ||
          type.toLowerCase().startsWith("microsoft.resources/")
        ) {
          return undefined;
        }
        return { subscriptionId: segments[1] ?? "" };
      },
      apiVersions: "any",
      typeName: "resources",
      handle: (ctx) => {
        const stored = ctx.state.get(ctx.request.path);
        if (stored === undefined) {
          const segments = ctx.request.path.split("/").slice(1);
          const group = segments[2]?.toLowerCase() === "resourcegroups" ? segments[3] : undefined;
          throw resourceNotFound(qualifiedName(segments), group);
        }
        return { status: 200, body: clone(stored) };
      },
    },
  ],
};
