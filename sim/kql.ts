/**
 * A small, honest subset of KQL for the simulated Log Analytics query API: exactly what the project's
 * queries (docs/queries.kql) use. A query is `let` statements (`let name = tabular expression;`) and a
 * tabular expression: a table or a let name, then each after a `|` one of `where`, `extend`, `project`,
 * `summarize … [by …]`, `join kind=inner|leftouter … on …`, `mv-expand … to typeof(…)`, `order by` /
 * `sort by`, `take` / `limit`. Expressions and functions: kql-eval.ts; sim/README.md lists them.
 *
 * Anything else is refused, naming what is not supported: never a silently wrong answer.
 */
import {
  compareValues,
  compile,
  convert,
  formatTimespan,
  isAggregate,
  nullOf,
  type Column,
  type Compiled,
  type KqlType,
  type Row,
  type Scope,
} from "./kql-eval.js";
import {
  Cursor,
  parseAssignments,
  semantic,
  syntaxError,
  tokenize,
  unsupported,
  type Assignment,
  type Expr,
  type Token,
} from "./kql-syntax.js";
import type { LogAnalyticsColumnType, LogTable } from "./logs.js";

export { QueryRefusal } from "./kql-syntax.js";

export interface QueryColumn {
  readonly name: string;
  /** As the query API spells it: `bool` for boolean. */
  readonly type: string;
}

export interface QueryResult {
  readonly columns: readonly QueryColumn[];
  readonly rows: readonly unknown[][];
}

interface Frame {
  readonly columns: readonly Column[];
  readonly rows: readonly Row[];
}

interface Context {
  readonly now: number;
  readonly queryLength: number;
  /** A table or let name → its rows. */
  resolve(name: Token, operator: string): Frame;
}

// ---------------------------------------------------------------------------------------------------
// Statements and pipelines

/** Splits tokens at `sep` outside parentheses. */
function split(tokens: readonly Token[], sep: string): Token[][] {
  const out: Token[][] = [[]];
  let depth = 0;
  for (const token of tokens) {
    if (token.kind === "op" && token.text === "(") depth += 1;
    if (token.kind === "op" && token.text === ")") depth -= 1;
    if (token.kind === "op" && token.text === sep) {
      if (depth > 0) {
        throw sep === "|"
          ? unsupported("a sub-query in parentheses (bind it with 'let' and use its name)")
          : syntaxError(sep, token.pos);
      }
      out.push([]);
    } else {
      out[out.length - 1]?.push(token);
    }
  }
  return out;
}

function scopeOf(frame: Frame, ctx: Context, operator: string, aggregate = false): Scope {
  return { columns: frame.columns, now: ctx.now, operator, aggregate };
}

function pipeline(tokens: readonly Token[], ctx: Context): Frame {
  const [head = [], ...operators] = split(tokens, "|");
  const source = head[0];
  if (source === undefined) throw syntaxError("<end of query>", ctx.queryLength + 1);
  if (source.kind !== "ident") throw syntaxError(source.text, source.pos);
  if (head.length > 1) {
    throw unsupported(
      `'${source.text}' as the start of a query (only a table or let name, then '|' operators)`,
    );
  }
  let frame = ctx.resolve(source, operators[0]?.[0]?.text ?? "table");
  for (const stage of operators) frame = operator(stage, frame, ctx);
  return frame;
}

function operator(stage: readonly Token[], frame: Frame, ctx: Context): Frame {
  const head = stage[0];
  if (head === undefined) throw syntaxError("|", ctx.queryLength);
  if (head.kind !== "ident") throw syntaxError(head.text, head.pos);
  const name = head.text.toLowerCase();
  const cursor = new Cursor(
    stage.slice(1),
    name === "order" || name === "sort" ? `${name} by` : name,
    ctx.queryLength,
  );
  switch (name) {
    case "where":
      return where(cursor, frame, ctx);
    case "extend":
      return extend(cursor, frame, ctx);
    case "project":
      return project(cursor, frame, ctx);
    case "summarize":
      return summarize(cursor, frame, ctx);
    case "join":
      return join(cursor, frame, ctx);
    case "mv-expand":
      return mvExpand(cursor, frame);
    case "order":
    case "sort":
      return orderBy(cursor, frame);
    case "take":
    case "limit":
      return take(cursor, frame);
    default:
      throw unsupported(`the '${head.text}' operator`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Row operators

function where(cursor: Cursor, frame: Frame, ctx: Context): Frame {
  const [only, ...more] = parseAssignments(cursor);
  if (only === undefined || more.length > 0 || only.name !== undefined) {
    throw syntaxError(",", 0);
  }
  const predicate = compile(only.expr, scopeOf(frame, ctx, "where"));
  if (predicate.type !== "bool") throw semantic(`'where' needs a bool predicate, not ${predicate.type}`);
  return { columns: frame.columns, rows: frame.rows.filter((row) => predicate.eval(row, []) === true) };
}

/** The column a named or plain column expression gives; other unnamed expressions are refused. */
function nameOf(assignment: Assignment, operator: string): string {
  if (assignment.name !== undefined) return assignment.name;
  if (assignment.expr.kind === "column") return assignment.expr.name;
  throw unsupported(`an unnamed expression in '${operator}' (name it: Name = …)`);
}

function withColumn(columns: readonly Column[], column: Column): Column[] {
  const index = columns.findIndex((c) => c.name === column.name);
  if (index < 0) return [...columns, column];
  return columns.map((c, i) => (i === index ? column : c));
}

function extend(cursor: Cursor, frame: Frame, ctx: Context): Frame {
  let current: Frame = frame;
  for (const assignment of parseAssignments(cursor)) {
    const name = nameOf(assignment, "extend");
    const value = compile(assignment.expr, scopeOf(current, ctx, "extend"));
    current = {
      columns: withColumn(current.columns, { name, type: value.type }),
      rows: current.rows.map((row) => ({ ...row, [name]: value.eval(row, []) })),
    };
  }
  return current;
}

function project(cursor: Cursor, frame: Frame, ctx: Context): Frame {
  const scope = scopeOf(frame, ctx, "project");
  const outputs = parseAssignments(cursor).map((a) => ({
    name: nameOf(a, "project"),
    value: compile(a.expr, scope),
  }));
  const names = outputs.map((o) => o.name);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) throw semantic(`'project' operator: column '${duplicate}' is given twice`);
  return {
    columns: outputs.map((o) => ({ name: o.name, type: o.value.type })),
    rows: frame.rows.map((row) => Object.fromEntries(outputs.map((o) => [o.name, o.value.eval(row, [])]))),
  };
}

function orderBy(cursor: Cursor, frame: Frame): Frame {
  cursor.expectWord("by");
  const keys: { name: string; direction: number }[] = [];
  for (;;) {
    const name = cursor.ident();
    if (cursor.isOp("(") || cursor.isOp("."))
      throw unsupported(`expressions in '${cursor.operator}' (only column names)`);
    if (!frame.columns.some((c) => c.name === name.text)) {
      throw semantic(
        `'${cursor.operator}' operator: Failed to resolve scalar expression named '${name.text}'`,
      );
    }
    let direction = -1; // KQL's default is descending.
    if (cursor.isWord("asc") || cursor.isWord("desc"))
      direction = cursor.next().text.toLowerCase() === "asc" ? 1 : -1;
    if (cursor.isWord("nulls")) throw unsupported(`'nulls first/last' in '${cursor.operator}'`);
    keys.push({ name: name.text, direction });
    if (!cursor.isOp(",")) break;
    cursor.next();
  }
  cursor.end();
  const rows = [...frame.rows].sort((a, b) => {
    for (const { name, direction } of keys) {
      const order = compareValues(a[name], b[name]);
      if (order !== 0) return direction * order;
    }
    return 0;
  });
  return { columns: frame.columns, rows };
}

function take(cursor: Cursor, frame: Frame): Frame {
  const count = cursor.next();
  if (count.kind !== "number" || !Number.isInteger(count.value)) throw syntaxError(count.text, count.pos);
  cursor.end();
  return { columns: frame.columns, rows: frame.rows.slice(0, Number(count.value)) };
}

// ---------------------------------------------------------------------------------------------------
// summarize

interface Aggregation {
  readonly columns: readonly Column[];
  values(group: readonly Row[]): unknown[];
}

/** `arg_max(T, *)`, `arg_max(T, A, B)` (also arg_min): the columns of the row with the largest T. */
function argExtreme(
  expr: Extract<Expr, { kind: "call" }>,
  frame: Frame,
  taken: ReadonlySet<string>,
): Aggregation {
  const [target, ...picks] = expr.args;
  if (target?.kind !== "column" || picks.length === 0) {
    throw unsupported(`'${expr.name}()' other than over a column, with '*' or column names`);
  }
  const column = (name: string): Column => {
    const found = frame.columns.find((c) => c.name === name);
    if (found === undefined)
      throw semantic(`'summarize' operator: Failed to resolve scalar expression named '${name}'`);
    return found;
  };
  const targetColumn = column(target.name);
  const star = picks.length === 1 && picks[0]?.kind === "column" && picks[0].name === "*";
  const picked = star
    ? frame.columns
    : picks.map((p) => {
        if (p.kind !== "column")
          throw unsupported(`'${expr.name}()' of expressions (only column names or '*')`);
        return column(p.name);
      });
  const columns: Column[] = [];
  for (const c of [targetColumn, ...picked]) {
    if (!taken.has(c.name) && !columns.some((k) => k.name === c.name)) columns.push(c);
  }
  const sign = expr.name === "arg_max" ? 1 : -1;
  return {
    columns,
    values: (group) => {
      let best: Row | undefined;
      for (const row of group) {
        const value = row[targetColumn.name];
        if (value === null || value === undefined) continue;
        if (best === undefined || sign * compareValues(value, best[targetColumn.name]) > 0) best = row;
      }
      const chosen = best ?? group[0] ?? {};
      return columns.map((c) => chosen[c.name] ?? nullOf(c.type));
    },
  };
}

function aggregation(
  assignment: Assignment,
  frame: Frame,
  ctx: Context,
  taken: ReadonlySet<string>,
): Aggregation {
  const { expr } = assignment;
  if (expr.kind === "call" && (expr.name === "arg_max" || expr.name === "arg_min")) {
    if (assignment.name !== undefined) throw unsupported(`naming the result of '${expr.name}()'`);
    return argExtreme(expr, frame, taken);
  }
  // Compiled first, so that a function the subset lacks is named before anything else.
  const value = compile(expr, scopeOf(frame, ctx, "summarize", true));
  let name = assignment.name;
  if (name === undefined) {
    if (expr.kind === "call" && expr.name === "count" && expr.args.length === 0) name = "count_";
    else
      throw unsupported(
        `an unnamed aggregation in 'summarize' (name it: Name = ${expr.kind === "call" ? `${expr.name}(…)` : "…"})`,
      );
  }
  if (!containsAggregate(expr))
    throw semantic(`'summarize' operator: '${name}' uses no aggregation function`);
  return { columns: [{ name, type: value.type }], values: (group) => [value.eval(group[0] ?? {}, group)] };
}

function containsAggregate(expr: Expr): boolean {
  switch (expr.kind) {
    case "call":
      return isAggregate(expr.name) || expr.args.some(containsAggregate);
    case "binary":
      return containsAggregate(expr.left) || containsAggregate(expr.right);
    case "member":
      return containsAggregate(expr.target);
    case "negate":
      return containsAggregate(expr.operand);
    case "in":
      return containsAggregate(expr.left) || expr.list.some(containsAggregate);
    default:
      return false;
  }
}

/** A `by` key: a named expression, a column, or `bin(Column, size)` (named after its column, as KQL does). */
function groupKey(assignment: Assignment, frame: Frame, ctx: Context): { column: Column; value: Compiled } {
  const { expr } = assignment;
  let name = assignment.name;
  if (name === undefined && expr.kind === "column") name = expr.name;
  if (name === undefined && expr.kind === "call" && expr.name === "bin" && expr.args[0]?.kind === "column") {
    name = expr.args[0].name;
  }
  if (name === undefined) throw unsupported("an unnamed expression in 'summarize … by' (name it: Name = …)");
  const value = compile(expr, scopeOf(frame, ctx, "summarize"));
  if (value.type === "dynamic") throw unsupported("grouping by a dynamic value");
  return { column: { name, type: value.type }, value };
}

function summarize(cursor: Cursor, frame: Frame, ctx: Context): Frame {
  const items = parseAssignments(cursor, ["by"]);
  let keys: { column: Column; value: Compiled }[] = [];
  if (cursor.isWord("by")) {
    cursor.next();
    keys = parseAssignments(cursor).map((a) => groupKey(a, frame, ctx));
  }
  const taken = new Set(keys.map((k) => k.column.name));
  const aggregations = items.map((item) => aggregation(item, frame, ctx, taken));
  const columns = [...keys.map((k) => k.column), ...aggregations.flatMap((a) => a.columns)];
  const names = columns.map((c) => c.name);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) throw semantic(`'summarize' operator: column '${duplicate}' is given twice`);

  const groups = new Map<string, { key: unknown[]; rows: Row[] }>();
  for (const row of frame.rows) {
    const key = keys.map((k) => k.value.eval(row, []));
    const id = JSON.stringify(key);
    const group = groups.get(id);
    if (group === undefined) groups.set(id, { key, rows: [row] });
    else group.rows.push(row);
  }
  // Without `by`, an empty input still gives one row (count() 0), as KQL's.
  if (keys.length === 0 && groups.size === 0) groups.set("[]", { key: [], rows: [] });
  const rows = [...groups.values()].map(({ key, rows: group }) => {
    const values = [...key, ...aggregations.flatMap((a) => a.values(group))];
    return Object.fromEntries(columns.map((c, i) => [c.name, values[i] ?? nullOf(c.type)]));
  });
  return { columns, rows };
}

// ---------------------------------------------------------------------------------------------------
// join and mv-expand

function join(cursor: Cursor, frame: Frame, ctx: Context): Frame {
  if (!cursor.isWord("kind")) {
    throw unsupported(
      "'join' without kind= (its default, innerunique, is not implemented: say kind=inner or kind=leftouter)",
    );
  }
  cursor.next();
  cursor.expectOp("=");
  const kind = cursor.ident().text;
  if (kind !== "inner" && kind !== "leftouter")
    throw unsupported(`'join kind=${kind}' (only inner and leftouter)`);
  if (cursor.isOp("("))
    throw unsupported("a sub-query in parentheses as join's right side (bind it with 'let')");
  const right = ctx.resolve(cursor.ident(), "join");
  cursor.expectWord("on");
  const keys: string[] = [];
  for (;;) {
    const key = cursor.ident();
    if (key.text.startsWith("$") || cursor.isOp(".") || cursor.isOp("=="))
      throw unsupported("'join … on' other than common column names");
    for (const side of [frame, right]) {
      if (!side.columns.some((c) => c.name === key.text)) {
        throw semantic(`'join' operator: Failed to resolve column named '${key.text}'`);
      }
    }
    keys.push(key.text);
    if (!cursor.isOp(",")) break;
    cursor.next();
  }
  cursor.end();

  // Right columns whose names the left has get a number, as KQL names them (ResourceKey1).
  const used = new Set(frame.columns.map((c) => c.name));
  const renamed = right.columns.map((c) => {
    let name = c.name;
    for (let n = 1; used.has(name); n += 1) name = `${c.name}${String(n)}`;
    used.add(name);
    return { from: c.name, column: { name, type: c.type } };
  });
  const keyOf = (row: Row): string | undefined => {
    const values = keys.map((k) => row[k]);
    return values.some((v) => v === null || v === undefined) ? undefined : JSON.stringify(values);
  };
  const index = new Map<string, Row[]>();
  for (const row of right.rows) {
    const key = keyOf(row);
    if (key === undefined) continue;
    index.set(key, [...(index.get(key) ?? []), row]);
  }
  const rows: Row[] = [];
  for (const row of frame.rows) {
    const key = keyOf(row);
    const matches = key === undefined ? [] : (index.get(key) ?? []);
    for (const match of matches) {
      rows.push({ ...row, ...Object.fromEntries(renamed.map((r) => [r.column.name, match[r.from]])) });
    }
    if (matches.length === 0 && kind === "leftouter") {
      rows.push({
        ...row,
        ...Object.fromEntries(renamed.map((r) => [r.column.name, nullOf(r.column.type)])),
      });
    }
  }
  return { columns: [...frame.columns, ...renamed.map((r) => r.column)], rows };
}

const TYPEOF_NAMES: Readonly<Record<string, KqlType>> = {
  string: "string",
  int: "int",
  long: "long",
  real: "real",
  double: "real",
  bool: "bool",
  datetime: "datetime",
  dynamic: "dynamic",
};

function mvExpand(cursor: Cursor, frame: Frame): Frame {
  const targets: { name: string; type: KqlType }[] = [];
  for (;;) {
    const name = cursor.ident().text;
    const column = frame.columns.find((c) => c.name === name);
    if (column === undefined)
      throw semantic(`'mv-expand' operator: Failed to resolve scalar expression named '${name}'`);
    if (column.type !== "dynamic")
      throw semantic(`'mv-expand' operator: '${name}' is ${column.type}, not dynamic`);
    let type: KqlType = "dynamic";
    if (cursor.isWord("to")) {
      cursor.next();
      cursor.expectWord("typeof");
      cursor.expectOp("(");
      const typeName = cursor.ident().text;
      const known = TYPEOF_NAMES[typeName];
      if (known === undefined) throw unsupported(`typeof(${typeName}) in 'mv-expand'`);
      type = known;
      cursor.expectOp(")");
    }
    targets.push({ name, type });
    if (!cursor.isOp(",")) break;
    cursor.next();
  }
  cursor.end();
  const columns = frame.columns.map((c) => targets.find((t) => t.name === c.name) ?? c);
  const rows: Row[] = [];
  for (const row of frame.rows) {
    const arrays = targets.map((t) => {
      const value = row[t.name];
      return Array.isArray(value)
        ? (value as unknown[])
        : value === null || value === undefined
          ? []
          : [value];
    });
    const length = Math.max(0, ...arrays.map((a) => a.length));
    for (let i = 0; i < length; i += 1) {
      const out: Row = { ...row };
      targets.forEach((t, k) => {
        const element = arrays[k]?.[i];
        out[t.name] = element === undefined ? nullOf(t.type) : convert(element, "dynamic", t.type);
      });
      rows.push(out);
    }
  }
  return { columns, rows };
}

// ---------------------------------------------------------------------------------------------------
// Tables in, the API's answer out

function typeOfColumn(type: LogAnalyticsColumnType): KqlType {
  return type === "boolean" ? "bool" : type;
}

function timeOf(value: unknown): number | null {
  if (typeof value !== "string") return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

/** A workspace table as a frame: datetimes as milliseconds, missing values as KQL's nulls. */
function frameOf(table: LogTable, window: { start: number; end: number } | undefined): Frame {
  const columns = table.columns.map((c) => ({ name: c.name, type: typeOfColumn(c.type) }));
  const rows = table.rows
    .filter((row) => {
      if (window === undefined) return true;
      const t = timeOf(row.TimeGenerated);
      return t !== null && t >= window.start && t <= window.end;
    })
    .map((row) =>
      Object.fromEntries(
        columns.map((c) => {
          const value = row[c.name];
          if (c.type === "datetime") return [c.name, timeOf(value)];
          return [c.name, value === undefined || value === null ? nullOf(c.type) : value];
        }),
      ),
    );
  return { columns, rows };
}

/** The query API's cell for a value: ISO datetimes, KQL's timespan text, dynamic values as JSON text. */
function cell(type: KqlType, value: unknown): unknown {
  if (value === null || value === undefined) return type === "string" ? "" : null;
  switch (type) {
    case "datetime":
      return new Date(Number(value)).toISOString();
    case "timespan":
      return formatTimespan(Number(value));
    case "dynamic":
      return JSON.stringify(value);
    default:
      return value;
  }
}

/**
 * Runs `query` over the workspace's tables. `window` (epoch ms, inclusive) is the request's timespan,
 * applied to the table's TimeGenerated before the query, as the API does; `now` is the simulator's clock.
 */
export function runQuery(
  query: string,
  tableOf: (name: string) => LogTable | undefined,
  now: Date,
  window?: { start: number; end: number },
): QueryResult {
  const statements = split(tokenize(query), ";").filter((s) => s.length > 0);
  const bound = new Map<string, Frame>();
  const ctx: Context = {
    now: now.getTime(),
    queryLength: query.length,
    resolve(name, operator) {
      const known = bound.get(name.text);
      if (known !== undefined) return known;
      const table = tableOf(name.text);
      if (table === undefined) {
        throw semantic(
          `'${operator}' operator: Failed to resolve table or column expression named '${name.text}'`,
        );
      }
      return frameOf(table, window);
    },
  };
  const last = statements.pop();
  if (last === undefined) throw syntaxError("<end of query>", 1);
  for (const statement of statements) {
    const [keyword, name, equals, ...rest] = statement;
    if (keyword?.kind !== "ident" || keyword.text !== "let") {
      throw syntaxError(keyword?.text ?? ";", keyword?.pos ?? 1);
    }
    if (name?.kind !== "ident" || equals?.kind !== "op" || equals.text !== "=") {
      throw syntaxError(name?.text ?? "let", name?.pos ?? keyword.pos);
    }
    const start = rest[0];
    if (start?.kind !== "ident" || start.text === "let" || (rest[1]?.kind === "op" && rest[1].text === "(")) {
      throw unsupported(
        `'let ${name.text}' of anything but a tabular expression (a table or let name, then '|' operators)`,
      );
    }
    bound.set(name.text, pipeline(rest, ctx));
  }
  if (last[0]?.kind === "ident" && last[0].text === "let")
    throw syntaxError("<end of query>", query.length + 1);
  const frame = pipeline(last, ctx);
  return {
    columns: frame.columns.map((c) => ({ name: c.name, type: c.type })),
    rows: frame.rows.map((row) => frame.columns.map((c) => cell(c.type, row[c.name]))),
  };
}

/** Parses an ISO 8601 duration (PnW, PnDTnHnMnS) into milliseconds, or undefined. */
export function parseDuration(text: string): number | undefined {
  const match =
    /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(
      text.trim(),
    );
  if (match === null || text.trim().toUpperCase() === "P" || /T$/i.test(text.trim())) return undefined;
  const [, w, d, h, m, s] = match;
  return (
    Number(w ?? 0) * 604_800_000 +
    Number(d ?? 0) * 86_400_000 +
    Number(h ?? 0) * 3_600_000 +
    Number(m ?? 0) * 60_000 +
    Number(s ?? 0) * 1_000
  );
}

/**
 * The query body's `timespan` (an ISO 8601 interval: `PT1H`, `start/end`, `start/PT1H`, `PT1H/end`) as
 * epoch-ms bounds; undefined when it is not one.
 */
export function parseTimespan(timespan: string, now: Date): { start: number; end: number } | undefined {
  const parts = timespan.split("/");
  if (parts.length === 1) {
    const duration = parseDuration(timespan);
    return duration === undefined ? undefined : { start: now.getTime() - duration, end: now.getTime() };
  }
  if (parts.length !== 2) return undefined;
  const [a = "", b = ""] = parts;
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  if (Number.isFinite(ta) && Number.isFinite(tb)) return ta <= tb ? { start: ta, end: tb } : undefined;
  if (Number.isFinite(ta)) {
    const duration = parseDuration(b);
    return duration === undefined ? undefined : { start: ta, end: ta + duration };
  }
  if (Number.isFinite(tb)) {
    const duration = parseDuration(a);
    return duration === undefined ? undefined : { start: tb - duration, end: tb };
  }
  return undefined;
}
