/**
 * Typed evaluation of the KQL subset's expressions: scalar functions, operators with KQL's types
 * (datetime − datetime is a timespan, long / long stays long, strings are never null), and the
 * aggregation functions `summarize` takes. A name or a type combination outside the subset is refused
 * when the query is compiled, before any row is read.
 */
import { semantic, unsupported, type Expr, type LiteralType } from "./kql-syntax.js";

export type KqlType = LiteralType;

export interface Column {
  readonly name: string;
  readonly type: KqlType;
}

/**
 * A row: datetime and timespan as milliseconds, numbers as numbers, dynamic values as parsed JSON,
 * strings as strings (never null); null for a missing value of any other type.
 */
export type Row = Record<string, unknown>;

export interface Compiled {
  readonly type: KqlType;
  /** `row` in a row context; in a summarize aggregation, `group` holds the group's rows. */
  eval(row: Row, group: readonly Row[]): unknown;
}

export interface Scope {
  readonly columns: readonly Column[];
  readonly now: number;
  readonly operator: string;
  /** True while compiling a summarize aggregation: columns only inside aggregation functions. */
  readonly aggregate: boolean;
}

const NUMERIC = new Set<KqlType>(["long", "int", "real"]);

export function isNumeric(type: KqlType): boolean {
  return NUMERIC.has(type);
}

function isNull(value: unknown): value is null | undefined {
  return value === null || value === undefined;
}

export function nullOf(type: KqlType): unknown {
  return type === "string" ? "" : null;
}

/** The wider of two numeric types (int < long < real). */
function widen(a: KqlType, b: KqlType): KqlType {
  if (a === "real" || b === "real") return "real";
  if (a === "long" || b === "long") return "long";
  return "int";
}

/** The type both branches of `iff` or every argument of `coalesce` share. */
function common(types: readonly KqlType[], what: string): KqlType {
  const [first, ...rest] = types;
  if (first === undefined) throw semantic(`${what} needs arguments`);
  return rest.reduce((acc, type) => {
    if (acc === type) return acc;
    if (isNumeric(acc) && isNumeric(type)) return widen(acc, type);
    throw semantic(`${what}: arguments of types ${acc} and ${type} do not match`);
  }, first);
}

// ---------------------------------------------------------------------------------------------------
// Conversions

/** A scalar (string, number, boolean) as text; anything else as JSON. */
function scalarText(value: unknown): string {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean"
    ? String(value)
    : JSON.stringify(value);
}

export function toText(type: KqlType, value: unknown): string {
  if (isNull(value)) return "";
  switch (type) {
    case "string":
      return scalarText(value);
    case "datetime":
      return new Date(Number(value)).toISOString();
    case "timespan":
      return formatTimespan(Number(value));
    default:
      return scalarText(value);
  }
}

export function toReal(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "string" && value.trim() !== "") {
    const number = Number(value);
    return Number.isFinite(number) ? number : null;
  }
  return null;
}

/** KQL's timespan text: `[d.]hh:mm:ss[.fffffff]`. */
export function formatTimespan(ms: number): string {
  const sign = ms < 0 ? "-" : "";
  let rest = Math.abs(ms);
  const days = Math.floor(rest / 86_400_000);
  rest -= days * 86_400_000;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  const ticks = Math.round((rest - seconds * 1000) * 10_000);
  const two = (n: number): string => String(n).padStart(2, "0");
  const fraction = ticks === 0 ? "" : `.${String(ticks).padStart(7, "0")}`;
  return `${sign}${days > 0 ? `${String(days)}.` : ""}${two(hours)}:${two(minutes)}:${two(seconds)}${fraction}`;
}

/** A value converted to a column type, as `mv-expand … to typeof(T)` does. */
export function convert(value: unknown, from: KqlType, to: KqlType): unknown {
  if (from === to) return value;
  if (isNull(value)) return nullOf(to);
  switch (to) {
    case "string":
      return toText(from, value);
    case "real":
      return toReal(value);
    case "long":
    case "int": {
      const number = toReal(value);
      return number === null ? null : Math.trunc(number);
    }
    case "bool":
      return typeof value === "boolean" ? value : null;
    case "datetime": {
      const ms = typeof value === "string" ? Date.parse(value) : Number.NaN;
      return Number.isFinite(ms) ? ms : null;
    }
    default:
      throw unsupported(`converting ${from} to ${to}`);
  }
}

/** Orders two values of one type; null sorts first. */
export function compareValues(a: unknown, b: unknown): number {
  const na = isNull(a);
  const nb = isNull(b);
  if (na || nb) return na && nb ? 0 : na ? -1 : 1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b);
  const sa = typeof a === "string" ? a : JSON.stringify(a);
  const sb = typeof b === "string" ? b : JSON.stringify(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------------
// Compiling

export function compile(expr: Expr, scope: Scope): Compiled {
  switch (expr.kind) {
    case "literal":
      return { type: expr.type, eval: () => (expr.value === null ? nullOf(expr.type) : expr.value) };
    case "column":
      return columnRef(expr.name, scope);
    case "member":
      return member(expr, scope);
    case "call":
      return call(expr.name, expr.args, scope);
    case "binary":
      return binary(expr.op, expr.left, expr.right, scope);
    case "in":
      return inList(expr, scope);
    case "negate": {
      const operand = compile(expr.operand, scope);
      if (!isNumeric(operand.type) && operand.type !== "timespan") {
        throw semantic(`unary '-' is not defined for ${operand.type}`);
      }
      return {
        type: operand.type,
        eval: (row, group) => {
          const value = operand.eval(row, group);
          return typeof value === "number" ? -value : null;
        },
      };
    }
  }
}

function columnRef(name: string, scope: Scope): Compiled {
  const found = scope.columns.find((c) => c.name === name);
  if (found === undefined) {
    throw semantic(`'${scope.operator}' operator: Failed to resolve scalar expression named '${name}'`);
  }
  if (scope.aggregate) {
    throw semantic(
      `'${scope.operator}' operator: '${name}' is neither an aggregation nor a 'by' column (use it inside an aggregation function)`,
    );
  }
  return {
    type: found.type,
    eval: (row) => {
      const value = row[name];
      return isNull(value) ? nullOf(found.type) : value;
    },
  };
}

function member(expr: Extract<Expr, { kind: "member" }>, scope: Scope): Compiled {
  const target = compile(expr.target, scope);
  if (target.type !== "dynamic") {
    throw semantic(`'.${expr.name}': only dynamic values have properties, not ${target.type}`);
  }
  return {
    type: "dynamic",
    eval: (row, group) => {
      const value = target.eval(row, group);
      if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
      const property = (value as Record<string, unknown>)[expr.name];
      return property === undefined ? null : property;
    },
  };
}

function inList(expr: Extract<Expr, { kind: "in" }>, scope: Scope): Compiled {
  const { negated, caseless } = expr;
  const left = compile(expr.left, scope);
  const list = expr.list.map((e) => compile(e, scope));
  if (caseless && left.type !== "string") throw semantic(`'in~' compares strings, not ${left.type}`);
  const same = (a: unknown, b: unknown): boolean =>
    caseless ? String(a).toLowerCase() === String(b).toLowerCase() : compareValues(a, b) === 0;
  for (const item of list) {
    const fits = item.type === left.type || (isNumeric(item.type) && isNumeric(left.type));
    if (!fits || left.type === "dynamic") {
      throw semantic(`'in': cannot compare values of types ${left.type} and ${item.type}`);
    }
  }
  return {
    type: "bool",
    eval: (row, group) => {
      const value = left.eval(row, group);
      if (isNull(value)) return null;
      const found = list.some((item) => same(value, item.eval(row, group)));
      return negated ? !found : found;
    },
  };
}

function logical(op: string, left: Compiled, right: Compiled): Compiled {
  if (left.type !== "bool" || right.type !== "bool") {
    throw semantic(`'${op}' needs bool operands, not ${left.type} and ${right.type}`);
  }
  return {
    type: "bool",
    eval: (row, group) => {
      const a = left.eval(row, group) as boolean | null;
      const b = right.eval(row, group) as boolean | null;
      if (op === "and") return a === false || b === false ? false : a === null || b === null ? null : true;
      return a === true || b === true ? true : a === null || b === null ? null : false;
    },
  };
}

function comparison(op: string, left: Compiled, right: Compiled): Compiled {
  const comparable =
    left.type === right.type ? left.type !== "dynamic" : isNumeric(left.type) && isNumeric(right.type);
  if (!comparable) {
    if (left.type === "dynamic" || right.type === "dynamic") {
      throw unsupported(`comparing dynamic values with '${op}' (convert them: tostring(), todouble())`);
    }
    throw semantic(`Cannot compare values of types ${left.type} and ${right.type}.`);
  }
  if ((op === "=~" || op === "!~") && left.type !== "string") {
    throw semantic(`'${op}' needs string operands, not ${left.type}.`);
  }
  return {
    type: "bool",
    eval: (row, group) => {
      const a = left.eval(row, group);
      const b = right.eval(row, group);
      if (isNull(a) || isNull(b)) return null;
      if (op === "=~" || op === "!~") {
        const same = scalarText(a).toLowerCase() === scalarText(b).toLowerCase();
        return op === "=~" ? same : !same;
      }
      const order = compareValues(a, b);
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
    },
  };
}

/** The result type of `left op right` for + - * /, or undefined when KQL does not define it. */
function arithmeticType(op: string, a: KqlType, b: KqlType): KqlType | undefined {
  if (isNumeric(a) && isNumeric(b)) return widen(a, b);
  const pair = `${a} ${op} ${b}`;
  const table: Readonly<Record<string, KqlType>> = {
    "datetime - datetime": "timespan",
    "datetime - timespan": "datetime",
    "datetime + timespan": "datetime",
    "timespan + datetime": "datetime",
    "timespan + timespan": "timespan",
    "timespan - timespan": "timespan",
    "timespan / timespan": "real",
  };
  const fixed = table[pair];
  if (fixed !== undefined) return fixed;
  if (
    (op === "*" && isNumeric(a) && b === "timespan") ||
    (a === "timespan" && isNumeric(b) && (op === "*" || op === "/"))
  ) {
    return "timespan";
  }
  return undefined;
}

function arithmetic(op: string, left: Compiled, right: Compiled): Compiled {
  const type = arithmeticType(op, left.type, right.type);
  if (type === undefined)
    throw semantic(`Operator '${op}' is not defined for ${left.type} and ${right.type}.`);
  const integral = type === "long" || type === "int";
  return {
    type,
    eval: (row, group) => {
      const a = left.eval(row, group);
      const b = right.eval(row, group);
      if (typeof a !== "number" || typeof b !== "number") return null;
      let result: number;
      switch (op) {
        case "+":
          result = a + b;
          break;
        case "-":
          result = a - b;
          break;
        case "*":
          result = a * b;
          break;
        default:
          if (b === 0 && integral) return null;
          result = integral ? Math.trunc(a / b) : a / b;
      }
      return Number.isFinite(result) ? result : null;
    },
  };
}

function binary(op: string, leftExpr: Expr, rightExpr: Expr, scope: Scope): Compiled {
  const left = compile(leftExpr, scope);
  const right = compile(rightExpr, scope);
  if (op === "and" || op === "or") return logical(op, left, right);
  if (["+", "-", "*", "/"].includes(op)) return arithmetic(op, left, right);
  return comparison(op, left, right);
}

// ---------------------------------------------------------------------------------------------------
// Scalar functions

function arity(name: string, args: readonly Expr[], min: number, max = min): void {
  if (args.length < min || args.length > max) {
    const count = min === max ? String(min) : `${String(min)} to ${String(max)}`;
    throw semantic(`function '${name}' expects ${count} arguments, got ${String(args.length)}`);
  }
}

function constant(expr: Expr | undefined, type: "string" | "number", what: string): string | number {
  if (expr?.kind !== "literal" || expr.value === null) throw semantic(`${what} must be a constant`);
  if (type === "string" && typeof expr.value === "string") return expr.value;
  if (type === "number" && typeof expr.value === "number") return expr.value;
  throw semantic(`${what} must be a ${type === "string" ? "string" : "number"} constant`);
}

/** An RE2 pattern as a JavaScript RegExp: a leading `(?i)` is the i flag; other inline flags are refused. */
function regex(pattern: string): RegExp {
  const insensitive = pattern.startsWith("(?i)");
  const body = insensitive ? pattern.slice(4) : pattern;
  if (/\(\?[a-zA-Z]/.test(body)) throw unsupported(`inline flags other than a leading (?i) in '${pattern}'`);
  try {
    return new RegExp(body, insensitive ? "i" : "");
  } catch {
    throw semantic(`extract(): '${pattern}' is not a valid regular expression`);
  }
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return (Math.sign(value) * Math.round(Math.abs(value) * factor)) / factor;
}

type ScalarCompiler = (args: readonly Expr[], scope: Scope, name: string) => Compiled;

function unary(
  type: KqlType,
  accepts: (t: KqlType) => boolean,
  fn: (value: unknown, argType: KqlType) => unknown,
): ScalarCompiler {
  return (args, scope, name) => {
    arity(name, args, 1);
    const [first] = args;
    if (first === undefined) throw semantic(`function '${name}' needs an argument`);
    const arg = compile(first, scope);
    if (!accepts(arg.type)) throw semantic(`function '${name}' does not take a ${arg.type} argument`);
    return { type, eval: (row, group) => fn(arg.eval(row, group), arg.type) };
  };
}

const anyType = (): boolean => true;

const SCALARS: Readonly<Record<string, ScalarCompiler>> = {
  tolower: unary(
    "string",
    (t) => t === "string",
    (v) => String(v).toLowerCase(),
  ),
  tostring: unary("string", anyType, (v, t) => toText(t, v)),
  todouble: unary("real", anyType, (v) => (isNull(v) ? null : toReal(v))),
  toint: unary("int", anyType, (v) => {
    const number = isNull(v) ? null : toReal(v);
    return number === null ? null : Math.trunc(number);
  }),
  isnull: unary("bool", anyType, (v, t) => t !== "string" && isNull(v)),
  isnotnull: unary("bool", anyType, (v, t) => t === "string" || !isNull(v)),
  ago: (args, scope, name) => {
    arity(name, args, 1);
    const span = compile(args[0] ?? { kind: "literal", type: "timespan", value: 0 }, scope);
    if (span.type !== "timespan")
      throw unsupported(`'ago()' of a ${span.type} (ago takes a timespan such as 7d, 12h, 30m)`);
    return {
      type: "datetime",
      eval: (row, group) => {
        const value = span.eval(row, group);
        return typeof value === "number" ? scope.now - value : null;
      },
    };
  },
  now: (args, scope, name) => {
    arity(name, args, 0);
    return { type: "datetime", eval: () => scope.now };
  },
  round: (args, scope, name) => {
    arity(name, args, 1, 2);
    const value = compile(args[0] ?? { kind: "literal", type: "long", value: 0 }, scope);
    if (!isNumeric(value.type)) throw semantic(`function 'round' does not take a ${value.type} argument`);
    const digits = args[1] === undefined ? 0 : Number(constant(args[1], "number", "round()'s precision"));
    return {
      type: value.type,
      eval: (row, group) => {
        const number = value.eval(row, group);
        return typeof number === "number" ? round(number, digits) : null;
      },
    };
  },
  strcat: (args, scope, name) => {
    if (args.length < 1) arity(name, args, 1, 64);
    const parts = args.map((a) => compile(a, scope));
    return {
      type: "string",
      eval: (row, group) => parts.map((p) => toText(p.type, p.eval(row, group))).join(""),
    };
  },
  iff: (args, scope, name) => {
    arity(name, args, 3);
    const [c, a, b] = args.map((e) => compile(e, scope));
    if (c === undefined || a === undefined || b === undefined) throw semantic("iff() needs three arguments");
    if (c.type !== "bool") throw semantic(`iff(): the condition is ${c.type}, not bool`);
    const type = common([a.type, b.type], "iff()");
    return {
      type,
      eval: (row, group) => (c.eval(row, group) === true ? a.eval(row, group) : b.eval(row, group)),
    };
  },
  coalesce: (args, scope, name) => {
    arity(name, args, 2, 64);
    const parts = args.map((a) => compile(a, scope));
    const type = common(
      parts.map((p) => p.type),
      "coalesce()",
    );
    return {
      type,
      eval: (row, group) => {
        for (const part of parts) {
          const value = part.eval(row, group);
          // For strings, KQL's coalesce takes the first non-empty one.
          if (!isNull(value) && !(type === "string" && value === "")) return value;
        }
        return nullOf(type);
      },
    };
  },
  extract: (args, scope, name) => {
    arity(name, args, 3);
    const pattern = regex(String(constant(args[0], "string", "extract()'s regular expression")));
    const index = Number(constant(args[1], "number", "extract()'s capture group"));
    const text = compile(args[2] ?? { kind: "literal", type: "string", value: "" }, scope);
    if (text.type !== "string") throw semantic(`extract(): the source is ${text.type}, not string`);
    return {
      type: "string",
      eval: (row, group) => pattern.exec(String(text.eval(row, group)))?.[index] ?? "",
    };
  },
  pack_array: (args, scope) => {
    const parts = args.map((a) => compile(a, scope));
    return {
      type: "dynamic",
      eval: (row, group) =>
        parts.map((p) => {
          const value = p.eval(row, group);
          if (isNull(value)) return null;
          if (p.type === "datetime") return new Date(Number(value)).toISOString();
          if (p.type === "timespan") return formatTimespan(Number(value));
          return value;
        }),
    };
  },
  bin: (args, scope, name) => {
    arity(name, args, 2);
    const value = compile(args[0] ?? { kind: "literal", type: "long", value: 0 }, scope);
    const size = compile(args[1] ?? { kind: "literal", type: "long", value: 1 }, scope);
    const fits =
      ((value.type === "datetime" || value.type === "timespan") && size.type === "timespan") ||
      (isNumeric(value.type) && isNumeric(size.type));
    if (!fits) throw semantic(`bin(): cannot bin a ${value.type} by a ${size.type}`);
    return {
      type: value.type,
      eval: (row, group) => {
        const v = value.eval(row, group);
        const s = size.eval(row, group);
        if (typeof v !== "number" || typeof s !== "number" || s <= 0) return null;
        return Math.floor(v / s) * s;
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------------
// Aggregation functions (summarize)

type AggregateCompiler = (args: readonly Expr[], scope: Scope, name: string) => Compiled;

function rowScope(scope: Scope): Scope {
  return { ...scope, aggregate: false };
}

function over(
  args: readonly Expr[],
  scope: Scope,
  fn: (values: unknown[], type: KqlType) => unknown,
  result?: (type: KqlType) => KqlType,
): Compiled {
  const arg = compile(args[0] ?? { kind: "literal", type: "long", value: 1 }, rowScope(scope));
  return {
    type: result === undefined ? arg.type : result(arg.type),
    eval: (_row, group) =>
      fn(
        group.map((r) => arg.eval(r, group)),
        arg.type,
      ),
  };
}

function predicateOver(expr: Expr | undefined, scope: Scope, name: string): Compiled {
  if (expr === undefined) throw semantic(`function '${name}' needs a predicate`);
  const predicate = compile(expr, rowScope(scope));
  if (predicate.type !== "bool") throw semantic(`${name}(): the predicate is ${predicate.type}, not bool`);
  return predicate;
}

function extreme(values: readonly unknown[], sign: number): unknown {
  let best: unknown = null;
  for (const value of values) {
    if (isNull(value)) continue;
    if (isNull(best) || sign * compareValues(value, best) > 0) best = value;
  }
  return best;
}

const AGGREGATES: Readonly<Record<string, AggregateCompiler>> = {
  count: (args, _scope, name) => {
    arity(name, args, 0);
    return { type: "long", eval: (_row, group) => group.length };
  },
  countif: (args, scope, name) => {
    arity(name, args, 1);
    const predicate = predicateOver(args[0], scope, name);
    return {
      type: "long",
      eval: (_row, group) => group.filter((r) => predicate.eval(r, group) === true).length,
    };
  },
  dcount: (args, scope, name) => {
    arity(name, args, 1);
    return over(
      args,
      scope,
      (values) => new Set(values.filter((v) => !isNull(v)).map((v) => JSON.stringify(v))).size,
      () => "long",
    );
  },
  min: (args, scope, name) => {
    arity(name, args, 1);
    return over(args, scope, (values) => extreme(values, -1));
  },
  max: (args, scope, name) => {
    arity(name, args, 1);
    return over(args, scope, (values) => extreme(values, 1));
  },
  maxif: (args, scope, name) => {
    arity(name, args, 2);
    const value = compile(args[0] ?? { kind: "literal", type: "long", value: 0 }, rowScope(scope));
    const predicate = predicateOver(args[1], scope, name);
    return {
      type: value.type,
      eval: (_row, group) =>
        extreme(
          group.filter((r) => predicate.eval(r, group) === true).map((r) => value.eval(r, group)),
          1,
        ),
    };
  },
  take_anyif: (args, scope, name) => {
    arity(name, args, 2);
    const value = compile(args[0] ?? { kind: "literal", type: "long", value: 0 }, rowScope(scope));
    const predicate = predicateOver(args[1], scope, name);
    return {
      type: value.type,
      eval: (_row, group) =>
        group
          .filter((r) => predicate.eval(r, group) === true)
          .map((r) => value.eval(r, group))
          .find((v) => !isNull(v)) ?? nullOf(value.type),
    };
  },
  take_any: (args, scope, name) => {
    arity(name, args, 1);
    return over(args, scope, (values, type) => values.find((v) => !isNull(v)) ?? nullOf(type));
  },
  percentile: (args, scope, name) => {
    arity(name, args, 2);
    const p = Number(constant(args[1], "number", "percentile()'s percentile"));
    if (p < 0 || p > 100) throw semantic(`percentile(): ${String(p)} is not between 0 and 100`);
    const value = compile(args[0] ?? { kind: "literal", type: "long", value: 0 }, rowScope(scope));
    if (!isNumeric(value.type) && value.type !== "datetime" && value.type !== "timespan") {
      throw semantic(`percentile() does not take a ${value.type} argument`);
    }
    return {
      type: value.type,
      eval: (_row, group) => {
        // The nearest-rank percentile (KQL estimates it; for the simulator's small tables it is exact).
        const sorted = group
          .map((r) => value.eval(r, group))
          .filter((v): v is number => typeof v === "number")
          .sort((a, b) => a - b);
        if (sorted.length === 0) return null;
        const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
        return sorted[rank - 1] ?? null;
      },
    };
  },
};

export function isAggregate(name: string): boolean {
  return Object.hasOwn(AGGREGATES, name) || name === "arg_max" || name === "arg_min";
}

function call(name: string, args: readonly Expr[], scope: Scope): Compiled {
  if (isAggregate(name)) {
    if (!scope.aggregate) {
      throw semantic(
        `'${name}()' is an aggregation function: it belongs in 'summarize', not '${scope.operator}'`,
      );
    }
    const aggregate = AGGREGATES[name];
    if (aggregate === undefined)
      throw unsupported(`'${name}()' inside an expression (only as a summarize aggregation of its own)`);
    return aggregate(args, scope, name);
  }
  const scalar = SCALARS[name];
  if (scalar === undefined) {
    throw unsupported(`the function '${name}()' in '${scope.operator}'`);
  }
  return scalar(args, scope, name);
}
