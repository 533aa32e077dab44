/**
 * The Azure RBAC action an ARM request needs: the resource type path of the (innermost) provider, and
 * read, write, delete or `{action}/action` by method. Lists need read on the listed type.
 */
export function armActionFor(method: string, path: string): string {
  const segments = path.split("/").filter((s) => s !== "");
  if (segments.at(-1)?.toLowerCase() === "metrics:getbatch") return "Microsoft.Insights/Metrics/Read";
  // A Resource Graph query is a POST that reads ("Submits a query on resources within specified
  // subscriptions"): Microsoft.ResourceGraph/resources/read.
  if (path.toLowerCase() === "/providers/microsoft.resourcegraph/resources") {
    return "Microsoft.ResourceGraph/resources/read";
  }
  const lastProviders = segments.map((s) => s.toLowerCase()).lastIndexOf("providers");
  let typePath: string[];
  if (lastProviders === -1) {
    // /subscriptions, /subscriptions/{s}, /subscriptions/{s}/resourceGroups[/{rg}]
    typePath = ["Microsoft.Resources", "subscriptions"];
    if (segments[2]?.toLowerCase() === "resourcegroups") typePath.push("resourceGroups");
  } else {
    const namespace = segments[lastProviders + 1] ?? "";
    const rest = segments.slice(lastProviders + 2);
    // Type/name pairs: even positions are types (a trailing type without a name is a list).
    typePath = [namespace, ...rest.filter((_s, index) => index % 2 === 0)];
  }
  const verb =
    method === "GET"
      ? "read"
      : method === "PUT" || method === "PATCH"
        ? "write"
        : method === "DELETE"
          ? "delete"
          : "action";
  return `${typePath.join("/")}/${verb}`;
}

/** Whether `action` is granted by `granted` (ARM compares case-insensitively; `*` matches any suffix). */
export function grants(granted: readonly string[], action: string): boolean {
  return granted.some((pattern) => {
    const p = pattern.toLowerCase();
    const a = action.toLowerCase();
    return p.endsWith("*") ? a.startsWith(p.slice(0, -1)) : p === a;
  });
}

/**
 * What a Resource Graph query also needs: it returns only the rows of types the caller may read, so a
 * query of `securityresources` for Defender's assessments needs `Microsoft.Security/assessments/read`
 * (Resource Graph overview, "Permissions in Azure Resource Graph": at least read access to the
 * resources queried; rows the caller cannot read are left out, not refused).
 */
export function actionsReadThrough(method: string, path: string, body: unknown): string[] {
  if (method !== "POST" || path.toLowerCase() !== "/providers/microsoft.resourcegraph/resources") return [];
  const query = typeof body === "object" && body !== null ? (body as { query?: unknown }).query : undefined;
  return typeof query === "string" && /microsoft\.security\/assessments/i.test(query)
    ? ["Microsoft.Security/assessments/read"]
    : [];
}
