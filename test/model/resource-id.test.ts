import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseResourceId, parseWorkspaceId, ResourceIdError } from "../../src/model/resource-id.js";

const SUB = "0a1b2c3d-0000-4000-8000-00000000000a";
const RG = `/subscriptions/${SUB}/resourceGroups/rg-aks`;
const CLUSTERS = `${RG}/providers/Microsoft.ContainerService/managedClusters`;
const SERVICES = `/subscriptions/${SUB}/resourceGroups/rg-apis/providers/Microsoft.ApiManagement/service`;
const ARC = `${RG}/providers/Microsoft.Kubernetes/connectedClusters`;

describe("parseResourceId refuses ids ARM would refuse, naming the id and the reason", () => {
  const refusals: [string, string, RegExp][] = [
    ["an empty id", "  ", /resource id is empty/],
    ["a relative id", "subscriptions/x", /must start with '\/subscriptions\/'/],
    ["an empty segment", `${RG}//providers/Microsoft.ContainerService/managedClusters/a`, /empty segment/],
    ["a '.' cluster name (the list URL)", `${CLUSTERS}/.`, /has a '\.' segment/],
    ["a '..' cluster name", `${CLUSTERS}/..`, /has a '\.\.' segment/],
    ["a '..' climbing out of a cluster", `${CLUSTERS}/aks/../other`, /has a '\.\.' segment/],
    [
      "a '.' resource group",
      `/subscriptions/${SUB}/resourceGroups/./providers/Microsoft.Web/sites/a`,
      /'\.' segment/,
    ],
    [
      "a subscription that is not a GUID",
      "/subscriptions/prod/resourceGroups/rg",
      /subscription id 'prod' is not a GUID/,
    ],
    ["a type without a name", CLUSTERS, /must end with a '\{type\}\/\{name\}' pair/],
    ["no provider section", `${RG}/managedClusters/a`, /no '\/providers\/\{namespace\}' section/],
    [
      "a namespace that is not one",
      `${RG}/providers/Microsoft/managedClusters/a`,
      /'Microsoft' is not a resource provider namespace/,
    ],
    [
      "a type that is not one",
      `${RG}/providers/Microsoft.ContainerService/managed$Clusters/a`,
      /is not a resource type/,
    ],
    [
      "a control character",
      `${CLUSTERS}/aks\u0001`,
      /cluster name 'aks\\u0001' contains "\\u0001", which ARM never accepts/,
    ],
    ["a line break (kept on one line)", `${CLUSTERS}/a\nb`, /cluster name 'a\\nb' contains "\\n"/],
    ["%", `${CLUSTERS}/a%2e`, /contains "%"/],
    ["&", `${SERVICES}/apim/apis/a&b`, /API name 'a&b' contains "&"/],
    ["a backslash", `${CLUSTERS}/a\\b`, /contains "\\\\"/],
    ["?", `${CLUSTERS}/a?api-version=1`, /contains "\?"/],
    ["#", `${CLUSTERS}/a#b`, /contains "#"/],
    ["<", `${ARC}/a<b`, /connectedClusters name 'a<b' contains "<"/],
    [">", `${ARC}/a>b`, /contains ">"/],
    ["*", `${SERVICES}/apim/apis/*`, /contains "\*"/],
    ["a trailing period", `${ARC}/arc.`, /ends with a period or a space/],
    [
      "a resource group ending with a period",
      `/subscriptions/${SUB}/resourceGroups/rg.`,
      /resource group name 'rg\.' ends with a period/,
    ],
    [
      "a resource group with a space",
      `/subscriptions/${SUB}/resourceGroups/rg one`,
      /resource group name 'rg one' must have letters, digits/,
    ],
    [
      "a resource group of 91 characters",
      `/subscriptions/${SUB}/resourceGroups/${"r".repeat(91)}`,
      /longer than 90 characters/,
    ],
    [
      "a cluster name starting with a hyphen",
      `${CLUSTERS}/-aks`,
      /cluster name '-aks' must have letters, digits, underscores and hyphens/,
    ],
    ["a cluster name ending with an underscore", `${CLUSTERS}/aks_`, /cluster name 'aks_' must have/],
    ["a cluster name with a period", `${CLUSTERS}/aks.prod`, /cluster name 'aks\.prod' must have/],
    ["a cluster name of 64 characters", `${CLUSTERS}/${"a".repeat(64)}`, /longer than 63 characters/],
    [
      "a service name starting with a digit",
      `${SERVICES}/1apim`,
      /API Management service name '1apim' must have/,
    ],
    [
      "a service name with an underscore",
      `${SERVICES}/apim_1`,
      /API Management service name 'apim_1' must have/,
    ],
    ["a service name of 51 characters", `${SERVICES}/${"a".repeat(51)}`, /longer than 50 characters/],
    ["an API id with a colon", `${SERVICES}/apim/apis/a:b`, /API name 'a:b' must have no \* # & \+ : < > \?/],
    ["an API id with a plus", `${SERVICES}/apim/apis/a+b`, /API name 'a\+b' must have/],
    ["an API id of 257 characters", `${SERVICES}/apim/apis/${"a".repeat(257)}`, /longer than 256 characters/],
  ];
  it.each(refusals)("%s", (_name, id, reason) => {
    let error: unknown;
    try {
      parseResourceId(id);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ResourceIdError);
    const message = (error as Error).message;
    expect(message).toMatch(reason);
    // Always one line, and naming the id (control characters escaped) unless there is none.
    expect(message).not.toMatch(/[\r\n]/);
    if (id.trim() !== "") expect(message).toContain(JSON.stringify(id.trim()).slice(1, -1).slice(0, 40));
  });

  const accepted: [string, string, string][] = [
    ["a cluster", `${CLUSTERS}/aks-prod_1`, "Microsoft.ContainerService/managedClusters"],
    ["a one-character cluster name", `${CLUSTERS}/a`, "Microsoft.ContainerService/managedClusters"],
    [
      "a 63-character cluster name",
      `${CLUSTERS}/${"a".repeat(63)}`,
      "Microsoft.ContainerService/managedClusters",
    ],
    ["a trailing slash", `${CLUSTERS}/aks/`, "Microsoft.ContainerService/managedClusters"],
    [
      "a resource group with Unicode letters, parentheses and periods",
      `/subscriptions/${SUB}/resourceGroups/rg-ü.(1)`,
      "Microsoft.Resources/resourceGroups",
    ],
    ["an API revision", `${SERVICES}/apim/apis/echo-api;rev=2`, "Microsoft.ApiManagement/service/apis"],
    [
      "an API id with periods and underscores",
      `${SERVICES}/apim/apis/petstore.v1_beta`,
      "Microsoft.ApiManagement/service/apis",
    ],
    ["a connected cluster", `${ARC}/arc-1`, "Microsoft.Kubernetes/connectedClusters"],
    [
      "a plan on a cluster (an extension resource)",
      `${CLUSTERS}/aks/providers/Microsoft.Security/pricings/Containers`,
      "Microsoft.ContainerService/managedClusters/providers/pricings",
    ],
    ["a subscription", `/subscriptions/${SUB}`, "Microsoft.Resources/subscriptions"],
    [
      "ARM's lower-case spelling",
      `/subscriptions/${SUB}/resourcegroups/rg/providers/microsoft.containerservice/managedclusters/aks`,
      "microsoft.containerservice/managedclusters",
    ],
  ];
  it.each(accepted)("accepts %s", (_name, id, type) => {
    expect(parseResourceId(id).type).toBe(type);
  });

  it("never lets a '.' or '..' name through, however the id is spelt", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(
          CLUSTERS,
          SERVICES,
          `${SERVICES}/apim/apis`,
          ARC,
          `/subscriptions/${SUB}/resourceGroups`,
        ),
        fc.constantFrom(".", ".."),
        fc.constantFrom("", "/", "/x/y"),
        (prefix, dots, suffix) => {
          expect(() => parseResourceId(`${prefix}/${dots}${suffix}`)).toThrow(ResourceIdError);
        },
      ),
    );
  });
});

describe("parseWorkspaceId", () => {
  it("refuses azure-rest-api-specs' placeholder workspace id, and ids of other types", () => {
    expect(() =>
      parseWorkspaceId(
        "/subscriptions/SUB_ID/resourcegroups/RG_NAME/providers/microsoft.operationalinsights/workspaces/WORKSPACE_NAME",
      ),
    ).toThrow(/subscription id 'SUB_ID' is not a GUID/);
    expect(() => parseWorkspaceId(`${CLUSTERS}/aks`)).toThrow(
      /is a Microsoft.ContainerService\/managedClusters, not a Log Analytics workspace/,
    );
    const error = (() => {
      try {
        parseWorkspaceId(`${CLUSTERS}/aks`);
      } catch (caught) {
        return caught as ResourceIdError;
      }
      return undefined;
    })();
    expect(error?.reason).toBe(
      "it is a Microsoft.ContainerService/managedClusters, not a Log Analytics workspace",
    );
  });

  it("gives the resource group and name of a workspace", () => {
    const id = `/subscriptions/${SUB}/resourceGroups/rg-monitor/providers/Microsoft.OperationalInsights/workspaces/law-1`;
    expect(parseWorkspaceId(id)).toMatchObject({
      subscriptionId: SUB,
      resourceGroup: "rg-monitor",
      name: "law-1",
    });
  });
});
