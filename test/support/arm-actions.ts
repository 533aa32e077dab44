/**
 * The Azure RBAC action an ARM request needs: the resource type path of the (innermost) provider, and
 * read, write, delete or `{action}/action` by method. Lists need read on the listed type.
 */
export function armActionFor(method: string, path: string): string {
  const segments = path.split("/").filter((s) => s !== "");
  if (segments.at(-1)?.toLowerCase() === "metrics:getbatch") return "Microsoft.Insights/Metrics/Read";
  // A Resource Graph query is a POST that only reads: its operation is "Query resources".
  if (/^providers\/microsoft\.resourcegraph\/resources$/i.test(segments.join("/"))) {
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
