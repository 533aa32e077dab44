/**
 * A small, honest subset of KQL for the simulated Log Analytics query API. A query is a table name and
 * then, each after a `|`:
 *
 * - `where C op V [and C op V …]`, op one of `==` `!=` `=~` `!~` `>` `>=` `<` `<=`, V a string ("…" or '…'),
 *   a number, `true`/`false`, `ago(7d)` (units d, h, m, s, ms), `now()` or `datetime("…")`;
 * - `summarize arg_max(C, *) by A, B` (also `arg_min`, a column list instead of `*`, no `by`);
 * - `summarize [N =] count() [by A, B]` (the count column is `count_` unless named);
 * - `project A, B`; `order by A [asc|desc], …` (`sort by`; default desc, as KQL's); `take N` (`limit N`).
 *
 * Anything else is refused, naming what is not supported: never a silently wrong answer.
 */
import type { LogAnalyticsColumnType, LogTable, StreamColumn } from "./logs.js";

export interface QueryColumn {
  readonly name: string;
  /** As the query API spells it: `bool` for boolean. */
  readonly type: string;
}

export interface QueryResult {
  readonly columns: readonly QueryColumn[];
  readonly rows: readonly unknown[][];
}

/** Why a query was refused; `body(correlationId)` is the query API's error answer (400). */
export class QueryRefusal extends Error {
  override readonly name = "QueryRefusal";
  constructor(
    readonly kind: "syntax" | "semantic" | "unsupported",
    message: string,
    readonly detail: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }

  body(correlationId: string): { error: Record<string, unknown> } {
    const base = { code: "BadArgumentError", correlationId };
    switch (this.kind) {
      case "unsupported":
        // Not an Azure answer: the simulator names what its subset lacks, in the message the SDK surfaces.
        return {
          error: {
            ...base,
            message: `The request had some invalid properties: ${this.message}`,
            innererror: { code: "NotSupportedBySimulator", message: this.message },
          },
        };
      case "semantic":
        return {
          error: {
            ...base,
            message: "The request had some invalid properties",
            innererror: {
              code: "SemanticError",
              message: "A semantic error occurred.",
              innererror: { code: "SEM0100", message: this.message, ...this.detail },
            },
          },
        };
      case "syntax":
        return {
          error: {
            ...base,
            message: "The request had some invalid properties",
            innererror: {
              code: "SyntaxError",
              message: "A recognition error occurred in the query.",
              innererror: { code: "SYN0002", message: this.message, ...this.detail },
            },
          },
        };
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Tokens

type TokenKind = "ident" | "number" | "string" | "timespan" | "op";

interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  /** 1-based position in the query. */
  readonly pos: number;
  /** number: its value; timespan: milliseconds; string: the unquoted text. */
  readonly value?: number | string;
}

const TIMESPAN_UNITS: Readonly<Record<string, number>> = {
  d: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  s: 1_000,
  ms: 1,
};
const OPERATORS = ["==", "!=", "=~", "!~", ">=", "<=", ">", "<", "=", "|", ",", "(", ")", "*"];

function syntaxError(text: string, pos: number): QueryRefusal {
  return new QueryRefusal("syntax", `Query could not be parsed at '${text}' on line [1,${String(pos)}]`, {
    line: 1,
    pos,
    token: text,
  });
}

function tokenize(query: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < query.length) {
    const ch = query.charAt(i);
    if (/\s/.test(ch)) {
      i += 1;
      continue;
    }
    const pos = i + 1;
    const rest = query.slice(i);
    if (rest.startsWith("//")) {
      // A comment runs to the end of the line.
      const newline = rest.indexOf("\n");
      i = newline < 0 ? query.length : i + newline + 1;
      continue;
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z]+)*/.exec(rest);
    if (ident !== null) {
      tokens.push({ kind: "ident", text: ident[0], pos });
      i += ident[0].length;
      continue;
    }
    const number = /^\d+(?:\.\d+)?/.exec(rest);
    if (number !== null) {
      const unit = /^[A-Za-z]+/.exec(rest.slice(number[0].length));
      if (unit !== null) {
        const factor = TIMESPAN_UNITS[unit[0]];
        if (factor === undefined) throw syntaxError(number[0] + unit[0], pos);
        tokens.push({ kind: "timespan", text: number[0] + unit[0], pos, value: Number(number[0]) * factor });
        i += number[0].length + unit[0].length;
      } else {
        tokens.push({ kind: "number", text: number[0], pos, value: Number(number[0]) });
        i += number[0].length;
      }
      continue;
    }
    if (ch === '"' || ch === "'") {
      let j = i + 1;
      let value = "";
      while (j < query.length && query.charAt(j) !== ch) {
        if (query.charAt(j) === "\\" && j + 1 < query.length) {
          const escaped = query.charAt(j + 1);
          value += escaped === "n" ? "\n" : escaped === "t" ? "\t" : escaped;
          j += 2;
        } else {
          value += query.charAt(j);
          j += 1;
        }
      }
      if (j >= query.length) throw syntaxError(query.slice(i), pos);
      tokens.push({ kind: "string", text: query.slice(i, j + 1), pos, value });
      i = j + 1;
      continue;
    }
    // Any other character is a token of its own: the parser says what it cannot take, and where (so
    // `between (a .. b)` is refused for `between`, not for its dots).
    const op = OPERATORS.find((o) => rest.startsWith(o)) ?? ch;
    tokens.push({ kind: "op", text: op, pos });
    i += op.length;
  }
  return tokens;
}

/** Splits the tokens into the `|`-separated stages. */
function stages(tokens: readonly Token[]): Token[][] {
  const out: Token[][] = [[]];
  for (const token of tokens) {
    if (token.kind === "op" && token.text === "|") out.push([]);
    else out[out.length - 1]?.push(token);
  }
  return out;
}

/** A cursor over one stage's tokens. */
class Cursor {
  private index = 0;
  constructor(
    private readonly tokens: readonly Token[],
    readonly operator: string,
    private readonly queryLength: number,
  ) {}

  peek(): Token | undefined {
    return this.tokens[this.index];
  }

  next(): Token {
    const token = this.tokens[this.index];
    if (token === undefined) throw syntaxError("<end of query>", this.queryLength + 1);
    this.index += 1;
    return token;
  }

  done(): boolean {
    return this.index >= this.tokens.length;
  }

  isOp(text: string): boolean {
    const token = this.peek();
    return token?.kind === "op" && token.text === text;
  }

  isWord(word: string): boolean {
    const token = this.peek();
    return token?.kind === "ident" && token.text.toLowerCase() === word;
  }

  expectOp(text: string): void {
    const token = this.next();
    if (token.kind !== "op" || token.text !== text) throw syntaxError(token.text, token.pos);
  }

  ident(): Token {
    const token = this.next();
    if (token.kind !== "ident") throw syntaxError(token.text, token.pos);
    return token;
  }

  end(): void {
    const token = this.peek();
    if (token !== undefined) throw unsupported(`'${token.text}' in the '${this.operator}' operator`);
  }
}

function unsupported(what: string): QueryRefusal {
  return new QueryRefusal(
    "unsupported",
    `the simulator's query subset does not support ${what} (it has: where ==, !=, =~, !~, <, <=, >, >= joined by 'and'; ` +
      "summarize arg_max()/arg_min()/count() by columns; project; order by/sort by; take/limit)",
  );
}

// ---------------------------------------------------------------------------------------------------
// Values

type Row = Record<string, unknown>;
type Literal =
  | { kind: "string"; value: string }
  | { kind: "number"; value: number }
  | { kind: "bool"; value: boolean }
  | { kind: "datetime"; value: number };

interface Schema {
  readonly columns: StreamColumn[];
}

function column(schema: Schema, name: string, operator: string, scalar = true): StreamColumn {
  const found = schema.columns.find((c) => c.name === name);
  if (found === undefined) {
    throw new QueryRefusal(
      "semantic",
      `'${operator}' operator: Failed to resolve ${scalar ? "scalar" : "table or column"} expression named '${name}'`,
    );
  }
  return found;
}

function timeOf(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Orders two values of a column's type; null sorts before anything. */
function compare(type: LogAnalyticsColumnType, a: unknown, b: unknown): number {
  const na = a === null || a === undefined;
  const nb = b === null || b === undefined;
  if (na || nb) return na && nb ? 0 : na ? -1 : 1;
  if (type === "datetime") return (timeOf(a) ?? 0) - (timeOf(b) ?? 0);
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b);
  const sa = typeof a === "string" ? a : JSON.stringify(a);
  const sb = typeof b === "string" ? b : JSON.stringify(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function literal(cursor: Cursor, now: number): Literal {
  const token = cursor.next();
  if (token.kind === "string") return { kind: "string", value: String(token.value) };
  if (token.kind === "number") return { kind: "number", value: Number(token.value) };
  if (token.kind === "ident") {
    const word = token.text.toLowerCase();
    if (word === "true" || word === "false") return { kind: "bool", value: word === "true" };
    if (!cursor.isOp("("))
      throw unsupported(`'${token.text}' as a value in 'where' (only literals, ago(), now(), datetime())`);
    cursor.expectOp("(");
    if (word === "ago") {
      const span = cursor.next();
      if (span.kind !== "timespan")
        throw unsupported(`'ago(${span.text})' (ago takes a timespan such as 7d, 12h, 30m)`);
      cursor.expectOp(")");
      return { kind: "datetime", value: now - Number(span.value) };
    }
    if (word === "now") {
      cursor.expectOp(")");
      return { kind: "datetime", value: now };
    }
    if (word === "datetime") {
      const text = cursor.next();
      const ms = text.kind === "string" ? Date.parse(String(text.value)) : Number.NaN;
      if (!Number.isFinite(ms)) throw syntaxError(text.text, text.pos);
      cursor.expectOp(")");
      return { kind: "datetime", value: ms };
    }
    throw unsupported(`the function '${token.text}()'`);
  }
  throw syntaxError(token.text, token.pos);
}

const COMPARISONS = ["==", "!=", "=~", "!~", ">", ">=", "<", "<="];

function predicate(cursor: Cursor, schema: Schema, now: number): (row: Row) => boolean {
  const name = cursor.next();
  if (name.kind !== "ident") {
    if (name.kind === "op" && name.text === "(") throw unsupported("parentheses in 'where'");
    throw syntaxError(name.text, name.pos);
  }
  // `isnotnull(Details.step)`, `tolower(ResourceId) == …`: a function, not a column the query lacks.
  if (cursor.isOp("(")) throw unsupported(`the function '${name.text}()' in 'where'`);
  const col = column(schema, name.text, "where");
  const opToken = cursor.next();
  if (opToken.kind !== "op" || !COMPARISONS.includes(opToken.text)) {
    throw opToken.kind === "ident"
      ? unsupported(`'${opToken.text}' in 'where'`)
      : syntaxError(opToken.text, opToken.pos);
  }
  const op = opToken.text;
  const value = literal(cursor, now);
  const expected: Literal["kind"] =
    col.type === "string"
      ? "string"
      : col.type === "datetime"
        ? "datetime"
        : col.type === "boolean"
          ? "bool"
          : col.type === "dynamic"
            ? "string"
            : "number";
  if (col.type === "dynamic") throw unsupported(`comparing the dynamic column '${col.name}'`);
  if (value.kind !== expected) {
    throw new QueryRefusal(
      "semantic",
      `Cannot compare values of types ${col.type === "boolean" ? "bool" : col.type} and ${value.kind} (column '${col.name}').`,
    );
  }
  if ((op === "=~" || op === "!~") && col.type !== "string") {
    throw new QueryRefusal("semantic", `'${op}' needs string operands; '${col.name}' is ${col.type}.`);
  }
  return (row) => {
    let cell: unknown = row[col.name];
    if (col.type === "datetime") cell = timeOf(cell);
    if (cell === null || cell === undefined) return op === "!=" || op === "!~";
    if (op === "=~" || op === "!~") {
      const same = typeof cell === "string" && cell.toLowerCase() === String(value.value).toLowerCase();
      return op === "=~" ? same : !same;
    }
    const order = compare(col.type === "datetime" ? "long" : col.type, cell, value.value);
    switch (op) {
      case "==":
        return order === 0;
      case "!=":
        return order !== 0;
      case ">":
        return order > 0;
      case ">=":
        return order >= 0;
      case "<":
        return order < 0;
      default:
        return order <= 0;
    }
  };
}

function columnList(cursor: Cursor, schema: Schema, operator: string): StreamColumn[] {
  const list: StreamColumn[] = [];
  for (;;) {
    const token = cursor.next();
    if (token.kind !== "ident") throw syntaxError(token.text, token.pos);
    if (cursor.isOp("(")) throw unsupported(`'${token.text}()' in '${operator}' (only column names)`);
    if (cursor.isOp("=")) throw unsupported(`renaming columns in '${operator}'`);
    list.push(column(schema, token.text, operator));
    if (!cursor.isOp(",")) return list;
    cursor.next();
  }
}

// ---------------------------------------------------------------------------------------------------
// Operators

interface Frame {
  schema: Schema;
  rows: Row[];
}

function where(cursor: Cursor, frame: Frame, now: number): Frame {
  const tests = [predicate(cursor, frame.schema, now)];
  while (!cursor.done()) {
    if (cursor.isWord("and")) {
      cursor.next();
      tests.push(predicate(cursor, frame.schema, now));
      continue;
    }
    const token = cursor.next();
    throw token.kind === "ident"
      ? unsupported(`'${token.text}' in 'where'`)
      : syntaxError(token.text, token.pos);
  }
  return { schema: frame.schema, rows: frame.rows.filter((row) => tests.every((test) => test(row))) };
}

function groupBy(cursor: Cursor, frame: Frame): { keys: StreamColumn[]; groups: Map<string, Row[]> } {
  let keys: StreamColumn[] = [];
  if (cursor.isWord("by")) {
    cursor.next();
    keys = columnList(cursor, frame.schema, "summarize");
  }
  cursor.end();
  const groups = new Map<string, Row[]>();
  for (const row of frame.rows) {
    const key = JSON.stringify(keys.map((k) => row[k.name] ?? null));
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [row]);
    else group.push(row);
  }
  return { keys, groups };
}

function summarize(cursor: Cursor, frame: Frame): Frame {
  let resultName: string | undefined;
  const first = cursor.ident();
  let fn = first;
  if (cursor.isOp("=")) {
    cursor.next();
    resultName = first.text;
    fn = cursor.ident();
  }
  if (!cursor.isOp("(")) throw unsupported(`'${fn.text}' in 'summarize' (an aggregation function is needed)`);
  cursor.next();
  const name = fn.text.toLowerCase();

  if (name === "count") {
    cursor.expectOp(")");
    if (cursor.isOp(",")) throw unsupported("more than one aggregation in 'summarize'");
    const { keys, groups } = groupBy(cursor, frame);
    const countName = resultName ?? "count_";
    const columns: StreamColumn[] = [...keys, { name: countName, type: "long" }];
    const rows: Row[] = [...groups.values()].map((group) => {
      const row: Row = {};
      for (const key of keys) row[key.name] = group[0]?.[key.name] ?? null;
      row[countName] = group.length;
      return row;
    });
    // With no `by`, an empty input still gives one row with count 0, as KQL's.
    if (keys.length === 0 && rows.length === 0) rows.push({ [countName]: 0 });
    return { schema: { columns }, rows };
  }

  if (name === "arg_max" || name === "arg_min") {
    if (resultName !== undefined) throw unsupported(`naming the result of '${fn.text}()'`);
    const target = column(frame.schema, cursor.ident().text, "summarize");
    cursor.expectOp(",");
    let picked: StreamColumn[];
    if (cursor.isOp("*")) {
      cursor.next();
      picked = frame.schema.columns;
    } else {
      picked = columnList(cursor, frame.schema, "summarize");
    }
    cursor.expectOp(")");
    if (cursor.isOp(",")) throw unsupported("more than one aggregation in 'summarize'");
    const { keys, groups } = groupBy(cursor, frame);
    const sign = name === "arg_max" ? 1 : -1;
    const columns: StreamColumn[] = [...keys];
    for (const c of [target, ...picked]) if (!columns.some((k) => k.name === c.name)) columns.push(c);
    const rows: Row[] = [];
    for (const group of groups.values()) {
      let best: Row | undefined;
      for (const row of group) {
        const value = row[target.name];
        if (value === null || value === undefined) continue;
        if (best === undefined || sign * compare(target.type, value, best[target.name]) > 0) best = row;
      }
      const chosen = best ?? group[0];
      if (chosen === undefined) continue;
      const out: Row = {};
      for (const c of columns) out[c.name] = chosen[c.name] ?? null;
      rows.push(out);
    }
    return { schema: { columns }, rows };
  }
  throw unsupported(`the aggregation '${fn.text}()' in 'summarize'`);
}

function project(cursor: Cursor, frame: Frame): Frame {
  const columns = columnList(cursor, frame.schema, "project");
  cursor.end();
  return {
    schema: { columns },
    rows: frame.rows.map((row) => Object.fromEntries(columns.map((c) => [c.name, row[c.name] ?? null]))),
  };
}

function orderBy(cursor: Cursor, frame: Frame, operator: string): Frame {
  if (!cursor.isWord("by"))
    throw syntaxError(cursor.peek()?.text ?? "<end of query>", cursor.peek()?.pos ?? 0);
  cursor.next();
  const keys: { column: StreamColumn; direction: number }[] = [];
  for (;;) {
    const name = cursor.ident();
    if (cursor.isOp("(")) throw unsupported(`'${name.text}()' in '${operator}' (only column names)`);
    const col = column(frame.schema, name.text, operator);
    let direction = -1; // KQL's default is descending.
    if (cursor.isWord("asc") || cursor.isWord("desc"))
      direction = cursor.next().text.toLowerCase() === "asc" ? 1 : -1;
    if (cursor.isWord("nulls")) throw unsupported(`'nulls first/last' in '${operator}'`);
    keys.push({ column: col, direction });
    if (!cursor.isOp(",")) break;
    cursor.next();
  }
  cursor.end();
  const rows = [...frame.rows].sort((a, b) => {
    for (const { column: col, direction } of keys) {
      const order = compare(col.type, a[col.name], b[col.name]);
      if (order !== 0) return direction * order;
    }
    return 0;
  });
  return { schema: frame.schema, rows };
}

function take(cursor: Cursor, frame: Frame): Frame {
  const count = cursor.next();
  if (count.kind !== "number" || !Number.isInteger(count.value)) throw syntaxError(count.text, count.pos);
  cursor.end();
  return { schema: frame.schema, rows: frame.rows.slice(0, Number(count.value)) };
}

/** The query API's cell for a value of a column type: ISO datetimes, dynamic values as JSON text. */
function cell(type: LogAnalyticsColumnType, value: unknown): unknown {
  if (value === null || value === undefined) return type === "string" ? "" : null;
  if (type === "datetime") {
    const ms = timeOf(value);
    return ms === undefined ? null : new Date(ms).toISOString();
  }
  if (type === "dynamic") return typeof value === "string" ? value : JSON.stringify(value);
  return value;
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
  const all = stages(tokenize(query));
  const head = all[0] ?? [];
  const tableToken = head[0];
  if (tableToken === undefined) throw syntaxError("<end of query>", 1);
  if (tableToken.kind !== "ident") throw syntaxError(tableToken.text, tableToken.pos);
  if (head.length > 1) {
    throw unsupported(`'${tableToken.text}' as the start of a query (only a table name, then '|' operators)`);
  }
  const table = tableOf(tableToken.text);
  if (table === undefined) {
    const firstOperator = all[1]?.[0]?.text ?? "table";
    throw new QueryRefusal(
      "semantic",
      `'${firstOperator}' operator: Failed to resolve table or column expression named '${tableToken.text}'`,
    );
  }
  let frame: Frame = {
    schema: { columns: [...table.columns] },
    rows: table.rows
      .filter((row) => {
        if (window === undefined) return true;
        const t = timeOf(row.TimeGenerated);
        return t !== undefined && t >= window.start && t <= window.end;
      })
      .map((row) => ({ ...row })),
  };
  for (const stage of all.slice(1)) {
    const operator = stage[0];
    if (operator === undefined) throw syntaxError("|", query.length);
    if (operator.kind !== "ident") throw syntaxError(operator.text, operator.pos);
    const name = operator.text.toLowerCase();
    const cursor = new Cursor(stage.slice(1), name, query.length);
    switch (name) {
      case "where":
        frame = where(cursor, frame, now.getTime());
        break;
      case "summarize":
        frame = summarize(cursor, frame);
        break;
      case "project":
        frame = project(cursor, frame);
        break;
      case "order":
      case "sort":
        frame = orderBy(cursor, frame, `${name} by`);
        break;
      case "take":
      case "limit":
        frame = take(cursor, frame);
        break;
      default:
        throw unsupported(`the '${operator.text}' operator`);
    }
  }
  const columns = frame.schema.columns;
  return {
    columns: columns.map((c) => ({ name: c.name, type: c.type === "boolean" ? "bool" : c.type })),
    rows: frame.rows.map((row) => columns.map((c) => cell(c.type, row[c.name]))),
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
