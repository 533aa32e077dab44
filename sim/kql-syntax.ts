/**
 * The simulated Log Analytics query API's KQL subset: tokens, the refusal the API answers with, and
 * the expression grammar. What is parsed here is evaluated by kql-eval.ts; the operators are in kql.ts.
 */

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

export function syntaxError(text: string, pos: number): QueryRefusal {
  return new QueryRefusal("syntax", `Query could not be parsed at '${text}' on line [1,${String(pos)}]`, {
    line: 1,
    pos,
    token: text,
  });
}

export function unsupported(what: string): QueryRefusal {
  return new QueryRefusal(
    "unsupported",
    `the simulator's query subset does not support ${what} (what it has: sim/README.md, "The KQL subset")`,
  );
}

export function semantic(message: string): QueryRefusal {
  return new QueryRefusal("semantic", message);
}

// ---------------------------------------------------------------------------------------------------
// Tokens

export type TokenKind = "ident" | "number" | "string" | "timespan" | "op";

export interface Token {
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
const OPERATORS = [
  "==",
  "!=",
  "=~",
  "!~",
  ">=",
  "<=",
  ">",
  "<",
  "=",
  "|",
  ",",
  "(",
  ")",
  "*",
  "+",
  "-",
  "/",
  ".",
  ";",
];

function stringToken(query: string, i: number, pos: number): { token: Token; end: number } {
  const verbatim = query.charAt(i) === "@";
  const start = verbatim ? i + 1 : i;
  const quote = query.charAt(start);
  let j = start + 1;
  let value = "";
  while (j < query.length && query.charAt(j) !== quote) {
    if (!verbatim && query.charAt(j) === "\\" && j + 1 < query.length) {
      const escaped = query.charAt(j + 1);
      value += escaped === "n" ? "\n" : escaped === "t" ? "\t" : escaped;
      j += 2;
    } else {
      value += query.charAt(j);
      j += 1;
    }
  }
  if (j >= query.length) throw syntaxError(query.slice(i), pos);
  return { token: { kind: "string", text: query.slice(i, j + 1), pos, value }, end: j + 1 };
}

export function tokenize(query: string): Token[] {
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
    if (ch === '"' || ch === "'" || (ch === "@" && /^@["']/.test(rest))) {
      const { token, end } = stringToken(query, i, pos);
      tokens.push(token);
      i = end;
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
    // Any other character is a token of its own: the parser says what it cannot take, and where (so
    // `between (a .. b)` is refused for `between`, not for its dots).
    const op = OPERATORS.find((o) => rest.startsWith(o)) ?? ch;
    tokens.push({ kind: "op", text: op, pos });
    i += op.length;
  }
  return tokens;
}

/** A cursor over one operator's tokens. */
export class Cursor {
  private index = 0;
  constructor(
    private readonly tokens: readonly Token[],
    readonly operator: string,
    private readonly queryLength: number,
  ) {}

  peek(offset = 0): Token | undefined {
    return this.tokens[this.index + offset];
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

  isOp(text: string, offset = 0): boolean {
    const token = this.peek(offset);
    return token?.kind === "op" && token.text === text;
  }

  isWord(word: string, offset = 0): boolean {
    const token = this.peek(offset);
    return token?.kind === "ident" && token.text.toLowerCase() === word;
  }

  expectOp(text: string): void {
    const token = this.next();
    if (token.kind !== "op" || token.text !== text) throw syntaxError(token.text, token.pos);
  }

  expectWord(word: string): void {
    const token = this.next();
    if (token.kind !== "ident" || token.text.toLowerCase() !== word) throw syntaxError(token.text, token.pos);
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

// ---------------------------------------------------------------------------------------------------
// Expressions

export type LiteralType = "string" | "long" | "real" | "bool" | "datetime" | "timespan" | "int" | "dynamic";

export type Expr =
  | { readonly kind: "literal"; readonly type: LiteralType; readonly value: unknown }
  | { readonly kind: "column"; readonly name: string }
  | { readonly kind: "member"; readonly target: Expr; readonly name: string }
  | { readonly kind: "call"; readonly name: string; readonly args: readonly Expr[] }
  | { readonly kind: "binary"; readonly op: string; readonly left: Expr; readonly right: Expr }
  | {
      readonly kind: "in";
      readonly left: Expr;
      readonly list: readonly Expr[];
      readonly negated: boolean;
      /** `in~`: strings compared without regard to case. */
      readonly caseless: boolean;
    }
  | { readonly kind: "negate"; readonly operand: Expr };

const COMPARISONS = new Set(["==", "!=", "=~", "!~", ">", ">=", "<", "<="]);
/** KQL's word operators the subset lacks: refused by name rather than as a syntax error. */
const WORD_OPERATORS = new Set([
  "contains",
  "contains_cs",
  "has",
  "has_cs",
  "hasprefix",
  "hassuffix",
  "startswith",
  "endswith",
  "matches",
  "between",
  "has_any",
  "has_all",
  "like",
]);
/** `real(null)` and the like: a typed null. */
const TYPE_NAMES = new Set<LiteralType>([
  "string",
  "long",
  "real",
  "bool",
  "datetime",
  "timespan",
  "int",
  "dynamic",
]);

function isTypeName(name: string): name is LiteralType {
  return (TYPE_NAMES as ReadonlySet<string>).has(name);
}

export function parseExpression(cursor: Cursor): Expr {
  return parseOr(cursor);
}

function parseOr(cursor: Cursor): Expr {
  let left = parseAnd(cursor);
  while (cursor.isWord("or")) {
    cursor.next();
    left = { kind: "binary", op: "or", left, right: parseAnd(cursor) };
  }
  return left;
}

function parseAnd(cursor: Cursor): Expr {
  let left = parseComparison(cursor);
  while (cursor.isWord("and")) {
    cursor.next();
    left = { kind: "binary", op: "and", left, right: parseComparison(cursor) };
  }
  return left;
}

function parseComparison(cursor: Cursor): Expr {
  const left = parseAdditive(cursor);
  const token = cursor.peek();
  if (token === undefined) return left;
  if (token.kind === "op" && COMPARISONS.has(token.text)) {
    cursor.next();
    return { kind: "binary", op: token.text, left, right: parseAdditive(cursor) };
  }
  const negated = token.kind === "op" && token.text === "!" && cursor.peek(1)?.text === "in";
  if (token.kind === "op" && token.text === "!" && cursor.peek(1)?.kind === "ident" && !negated) {
    throw unsupported(`'!${cursor.peek(1)?.text ?? ""}' in '${cursor.operator}'`);
  }
  if ((token.kind === "ident" && token.text === "in") || negated) {
    if (negated) cursor.next();
    cursor.next();
    const caseless = cursor.isOp("~");
    if (caseless && negated) throw unsupported(`'!in~' in '${cursor.operator}'`);
    if (caseless) cursor.next();
    cursor.expectOp("(");
    const list: Expr[] = [];
    for (;;) {
      list.push(parseAdditive(cursor));
      if (!cursor.isOp(",")) break;
      cursor.next();
    }
    cursor.expectOp(")");
    return { kind: "in", left, list, negated, caseless };
  }
  if (token.kind === "ident" && WORD_OPERATORS.has(token.text.toLowerCase())) {
    throw unsupported(`'${token.text}' in '${cursor.operator}'`);
  }
  return left;
}

function parseAdditive(cursor: Cursor): Expr {
  let left = parseMultiplicative(cursor);
  while (cursor.isOp("+") || cursor.isOp("-")) {
    const op = cursor.next().text;
    left = { kind: "binary", op, left, right: parseMultiplicative(cursor) };
  }
  return left;
}

function parseMultiplicative(cursor: Cursor): Expr {
  let left = parseUnary(cursor);
  while (cursor.isOp("*") || cursor.isOp("/") || cursor.isOp("%")) {
    const op = cursor.next().text;
    if (op === "%") throw unsupported(`'%' in '${cursor.operator}'`);
    left = { kind: "binary", op, left, right: parseUnary(cursor) };
  }
  return left;
}

function parseUnary(cursor: Cursor): Expr {
  if (cursor.isOp("-")) {
    cursor.next();
    return { kind: "negate", operand: parseUnary(cursor) };
  }
  return parsePostfix(cursor);
}

function parsePostfix(cursor: Cursor): Expr {
  let target = parsePrimary(cursor);
  for (;;) {
    if (cursor.isOp(".")) {
      cursor.next();
      const member = cursor.ident();
      target = { kind: "member", target, name: member.text };
      continue;
    }
    if (cursor.isOp("[")) throw unsupported(`indexing with [] in '${cursor.operator}'`);
    return target;
  }
}

function callArguments(cursor: Cursor): Expr[] {
  cursor.expectOp("(");
  const args: Expr[] = [];
  if (cursor.isOp(")")) {
    cursor.next();
    return args;
  }
  for (;;) {
    args.push(parseExpression(cursor));
    if (cursor.isOp(",")) {
      cursor.next();
      continue;
    }
    cursor.expectOp(")");
    return args;
  }
}

function parsePrimary(cursor: Cursor): Expr {
  const token = cursor.next();
  switch (token.kind) {
    case "number":
      return {
        kind: "literal",
        type: token.text.includes(".") ? "real" : "long",
        value: Number(token.value),
      };
    case "string":
      return { kind: "literal", type: "string", value: String(token.value) };
    case "timespan":
      return { kind: "literal", type: "timespan", value: Number(token.value) };
    case "op":
      if (token.text === "(") {
        const inner = parseExpression(cursor);
        cursor.expectOp(")");
        return inner;
      }
      // `arg_max(T, *)`: all columns, which only arg_max and arg_min take.
      if (token.text === "*" && (cursor.isOp(")") || cursor.isOp(","))) return { kind: "column", name: "*" };
      throw syntaxError(token.text, token.pos);
    case "ident":
      break;
  }
  const word = token.text;
  if (word === "true" || word === "false") return { kind: "literal", type: "bool", value: word === "true" };
  if (!cursor.isOp("(")) return { kind: "column", name: word };
  if (isTypeName(word) && cursor.isWord("null", 1) && cursor.isOp(")", 2)) {
    cursor.next();
    cursor.next();
    cursor.next();
    return { kind: "literal", type: word, value: null };
  }
  if (word === "datetime") {
    cursor.expectOp("(");
    const text = cursor.next();
    const ms = text.kind === "string" ? Date.parse(String(text.value)) : Number.NaN;
    if (!Number.isFinite(ms)) throw syntaxError(text.text, text.pos);
    cursor.expectOp(")");
    return { kind: "literal", type: "datetime", value: ms };
  }
  return { kind: "call", name: word, args: callArguments(cursor) };
}

/** `Name = expr` or `expr`, as `extend`, `project` and `summarize` take them. */
export interface Assignment {
  readonly name: string | undefined;
  readonly expr: Expr;
}

export function parseAssignment(cursor: Cursor): Assignment {
  const first = cursor.peek();
  if (first?.kind === "ident" && cursor.isOp("=", 1)) {
    cursor.next();
    cursor.next();
    return { name: first.text, expr: parseExpression(cursor) };
  }
  return { name: undefined, expr: parseExpression(cursor) };
}

/** A comma-separated list of assignments, up to a word such as `by` (not consumed) or the end. */
export function parseAssignments(cursor: Cursor, stopWords: readonly string[] = []): Assignment[] {
  const list: Assignment[] = [];
  for (;;) {
    list.push(parseAssignment(cursor));
    if (!cursor.isOp(",")) break;
    cursor.next();
  }
  const token = cursor.peek();
  if (token !== undefined && !(token.kind === "ident" && stopWords.includes(token.text.toLowerCase()))) {
    throw token.kind === "ident"
      ? unsupported(`'${token.text}' in '${cursor.operator}'`)
      : syntaxError(token.text, token.pos);
  }
  return list;
}
