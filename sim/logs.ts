/**
 * Azure Monitor Logs in the simulator: one data collection rule (DCR) whose custom streams the Logs
 * Ingestion API fills, and the Log Analytics workspace tables the query API reads them back from.
 *
 * A stream `Custom-X` (or `Custom-X_CL`) lands in the custom table `X_CL`, as a DCR whose data flow sends
 * the stream unchanged to the table of the same name does (custom tables always end in `_CL`). The
 * table's columns are the stream's; a stream that declares no `TimeGenerated` gets one (datetime, the
 * time the row was received), as Log Analytics requires of every table.
 */

export type LogAnalyticsColumnType = "string" | "datetime" | "real" | "long" | "int" | "boolean" | "dynamic";

export const COLUMN_TYPES: readonly LogAnalyticsColumnType[] = [
  "string",
  "datetime",
  "real",
  "long",
  "int",
  "boolean",
  "dynamic",
];

export interface StreamColumn {
  readonly name: string;
  readonly type: LogAnalyticsColumnType;
}

export interface IngestionOptions {
  /** The rule's immutable id: `dcr-` and 32 hex digits. */
  dataCollectionRuleId: string;
  /** The rule's stream declarations: name (`Custom-…`) → its columns, in order. */
  streams: Record<string, readonly StreamColumn[]>;
  /** The workspace id (its `customerId` GUID) of the rule's destination, which the query API answers for. */
  workspaceId?: string;
  /**
   * The first N uploads that are stored lose their answer: the rows are kept, and the client gets a 500
   * instead of the 204, as when the service stored them and the answer never arrived. A client that
   * retries sends the same rows again. Default 0.
   */
  loseAnswers?: number;
}

/** A row the ingestion API accepted: as sent, with when it was received (the simulator's clock, ISO). */
export interface IngestedRow {
  readonly receivedAt: string;
  readonly row: Readonly<Record<string, unknown>>;
}

/** A workspace table as the query API reads it: every column typed, rows as column → value. */
export interface LogTable {
  readonly name: string;
  readonly columns: readonly StreamColumn[];
  readonly rows: readonly Readonly<Record<string, unknown>>[];
}

/** The Logs Ingestion API's limit per call, compressed and uncompressed ("1 MB"; taken as 1 MiB). */
export const MAX_INGESTION_BYTES = 1024 * 1024;

const DCR_ID = /^dcr-[0-9a-f]{32}$/i;
const STREAM_NAME = /^Custom-[A-Za-z0-9_]+$/;
const COLUMN_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,44}$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** ISO 8601 date, optionally with a time of day and offset (what Log Analytics reads as a datetime). */
const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;
const INT_MIN = -2_147_483_648;
const INT_MAX = 2_147_483_647;

/** `Custom-X` and `Custom-X_CL` → `X_CL`. */
export function tableOfStream(stream: string): string {
  const base = stream.replace(/^Custom-/, "");
  return base.endsWith("_CL") ? base : `${base}_CL`;
}

function describeValue(value: unknown): string {
  if (typeof value === "string")
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === "number") return `the number ${String(value)}`;
  if (typeof value === "boolean") return `the boolean ${String(value)}`;
  return Array.isArray(value) ? "an array" : "an object";
}

/** Why `value` does not fit a column of `type`, or undefined when it does (null fits every column). */
export function typeMismatch(type: LogAnalyticsColumnType, value: unknown): string | undefined {
  if (value === null) return undefined;
  switch (type) {
    case "string":
      return typeof value === "string" ? undefined : `a string, not ${describeValue(value)}`;
    case "datetime":
      return typeof value === "string" && ISO_DATETIME.test(value) && Number.isFinite(Date.parse(value))
        ? undefined
        : `an ISO 8601 date and time string, not ${describeValue(value)}`;
    case "real":
      return typeof value === "number" ? undefined : `a number, not ${describeValue(value)}`;
    case "long":
      return typeof value === "number" && Number.isInteger(value)
        ? undefined
        : `a whole number, not ${describeValue(value)}`;
    case "int":
      return typeof value === "number" && Number.isInteger(value) && value >= INT_MIN && value <= INT_MAX
        ? undefined
        : `a 32-bit whole number, not ${describeValue(value)}`;
    case "boolean":
      return typeof value === "boolean" ? undefined : `true or false, not ${describeValue(value)}`;
    case "dynamic":
      return undefined;
  }
}

/** Checks the options once, at start: a bad declaration is the test's mistake, not a request's. */
function validateOptions(options: IngestionOptions): void {
  if (!DCR_ID.test(options.dataCollectionRuleId)) {
    throw new RangeError(
      `ingestion.dataCollectionRuleId '${options.dataCollectionRuleId}' is not an immutable id (dcr- and 32 hex digits)`,
    );
  }
  const lose: unknown = options.loseAnswers;
  if (lose !== undefined && !(typeof lose === "number" && Number.isInteger(lose) && lose >= 0)) {
    throw new RangeError(
      `ingestion.loseAnswers must be a whole number, 0 or more, not ${JSON.stringify(lose)}`,
    );
  }
  if (options.workspaceId !== undefined && !GUID.test(options.workspaceId)) {
    throw new RangeError(
      `ingestion.workspaceId '${options.workspaceId}' is not a GUID (the workspace's customerId)`,
    );
  }
  const tables = new Map<string, string>();
  for (const [stream, columns] of Object.entries(options.streams)) {
    if (!STREAM_NAME.test(stream)) {
      throw new RangeError(
        `ingestion.streams: '${stream}' is not a custom stream name (Custom- and letters, digits, _)`,
      );
    }
    const table = tableOfStream(stream);
    const other = tables.get(table);
    if (other !== undefined)
      throw new RangeError(`ingestion.streams: '${other}' and '${stream}' both land in ${table}`);
    tables.set(table, stream);
    const list: unknown = columns;
    if (!Array.isArray(list) || columns.length === 0) {
      throw new RangeError(`ingestion.streams['${stream}'] must list its columns`);
    }
    const seen = new Set<string>();
    for (const [index, column] of columns.entries()) {
      const where = `ingestion.streams['${stream}'][${String(index)}]`;
      // Declared by hand in tests: check what arrived, not what the type promises.
      const name: unknown = column.name;
      const type: unknown = column.type;
      if (typeof name !== "string" || !COLUMN_NAME.test(name)) {
        throw new RangeError(`${where}.name ${JSON.stringify(name)} is not a column name`);
      }
      if (seen.has(name.toLowerCase())) throw new RangeError(`${where}: column '${name}' is declared twice`);
      seen.add(name.toLowerCase());
      if (typeof type !== "string" || !(COLUMN_TYPES as readonly string[]).includes(type)) {
        throw new RangeError(
          `${where}.type ${JSON.stringify(type)} is not one of ${COLUMN_TYPES.join(", ")}`,
        );
      }
    }
  }
}

/** A refusal of an upload, with the status and `{"error":{"code","message"}}` it is answered with. */
export class IngestionRefusal extends Error {
  override readonly name = "IngestionRefusal";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * Why a row does not fit a stream's columns, phrased to follow "Row N" (" is …" or ": column …"), or
 * undefined when it fits.
 */
function rowProblem(columns: readonly StreamColumn[], stream: string, row: unknown): string | undefined {
  if (typeof row !== "object" || row === null || Array.isArray(row)) {
    return ` is ${describeValue(row)}, not an object`;
  }
  const types = new Map(columns.map((c) => [c.name, c.type]));
  for (const [name, value] of Object.entries(row as Record<string, unknown>)) {
    const type = types.get(name);
    if (type === undefined) {
      return `: '${name}' is not a column of stream '${stream}' (${columns.map((c) => c.name).join(", ")})`;
    }
    const mismatch = typeMismatch(type, value);
    if (mismatch !== undefined) return `: column '${name}' is ${type} and takes ${mismatch}`;
  }
  return undefined;
}

/** A saved estate's `logs` that do not fit the rule the simulator was started with. */
export class StoredLogsError extends Error {
  override readonly name = "StoredLogsError";
}

export class LogsStore {
  private readonly options: IngestionOptions | undefined;
  private readonly stored = new Map<string, IngestedRow[]>();
  private down: { retryAfterSeconds: number } | undefined;
  private answersToLose: number;

  constructor(
    options: IngestionOptions | undefined,
    private readonly now: () => Date,
  ) {
    if (options !== undefined) validateOptions(options);
    this.options = options === undefined ? undefined : structuredClone(options);
    this.answersToLose = options?.loseAnswers ?? 0;
  }

  /** Whether the answer to the upload just stored is lost (counts down `loseAnswers`). */
  takeLostAnswer(): boolean {
    if (this.answersToLose === 0) return false;
    this.answersToLose -= 1;
    return true;
  }

  setDown(down: boolean, retryAfterSeconds = 1): void {
    if (!Number.isFinite(retryAfterSeconds) || retryAfterSeconds < 0) {
      throw new RangeError(
        `retryAfterSeconds must be a finite number, 0 or more, not ${String(retryAfterSeconds)}`,
      );
    }
    this.down = down ? { retryAfterSeconds: Math.ceil(retryAfterSeconds) } : undefined;
  }

  rows(stream: string): readonly IngestedRow[] {
    return structuredClone(this.stored.get(stream) ?? []);
  }

  clear(): void {
    this.stored.clear();
  }

  /**
   * Puts back rows an earlier simulator accepted (an estate's `logs`), in order and with their
   * `receivedAt`. Rows of a declared stream must fit its columns as an upload must (else a
   * StoredLogsError naming `logs["stream"][i]`); rows of streams the rule does not declare are kept
   * as they are, for `rows()` and `snapshot()`, but no table shows them.
   */
  restore(logs: Readonly<Record<string, readonly IngestedRow[]>>): void {
    for (const [stream, rows] of Object.entries(logs)) {
      const columns = this.options?.streams[stream];
      if (columns !== undefined) {
        for (const [index, { row }] of rows.entries()) {
          const problem = rowProblem(columns, stream, row);
          if (problem !== undefined) {
            throw new StoredLogsError(
              `logs[${JSON.stringify(stream)}][${String(index)}].row${problem.startsWith(":") ? problem : `:${problem}`}`,
            );
          }
        }
      }
      const list = this.stored.get(stream) ?? [];
      for (const { receivedAt, row } of rows) list.push({ receivedAt, row: structuredClone(row) });
      this.stored.set(stream, list);
    }
  }

  /** Every stream's rows (also streams restored empty), for an estate's `logs`; a deep copy. */
  snapshot(): Record<string, IngestedRow[]> {
    return Object.fromEntries(
      [...this.stored.entries()].map(([stream, rows]) => [stream, structuredClone(rows)]),
    );
  }

  /** The declared rule, when `ruleId` names it (ids compare without regard to case). */
  knowsRule(ruleId: string): boolean {
    return (
      this.options !== undefined && this.options.dataCollectionRuleId.toLowerCase() === ruleId.toLowerCase()
    );
  }

  knowsWorkspace(workspaceId: string): boolean {
    return (
      this.options?.workspaceId !== undefined &&
      this.options.workspaceId.toLowerCase() === workspaceId.toLowerCase()
    );
  }

  /**
   * Validates and stores one upload, all or nothing. Throws an IngestionRefusal, checking in this order:
   * an outage (503), an unknown rule (404), an unknown stream (400), what `read` throws (the body's size,
   * encoding and JSON), a body that is not an array, and rows that do not fit the stream (400).
   */
  ingest(ruleId: string, stream: string, read: () => unknown): number {
    if (this.down !== undefined) {
      throw new IngestionRefusal(
        503,
        "ServiceUnavailable",
        "The service is temporarily unavailable (simulated outage). Retry after the duration in the Retry-After header.",
        { "retry-after": String(this.down.retryAfterSeconds) },
      );
    }
    if (!this.knowsRule(ruleId) || this.options === undefined) {
      throw new IngestionRefusal(
        404,
        "NotFound",
        `Data collection rule with immutable Id '${ruleId}' not found.`,
      );
    }
    const columns = this.options.streams[stream];
    if (columns === undefined) {
      const declared = Object.keys(this.options.streams).join(", ");
      throw new IngestionRefusal(
        400,
        "InvalidStream",
        `Stream '${stream}' is not declared in data collection rule '${this.options.dataCollectionRuleId}'. Declared streams: ${declared}.`,
      );
    }
    const body = read();
    if (!Array.isArray(body)) {
      throw new IngestionRefusal(
        400,
        "InvalidRequestContent",
        "The request body must be a JSON array of objects.",
      );
    }
    for (const [index, row] of body.entries()) {
      const problem = rowProblem(columns, stream, row);
      if (problem !== undefined) {
        throw new IngestionRefusal(
          400,
          "InvalidPayload",
          `Row ${String(index)}${problem}; nothing from this request was ingested.`,
        );
      }
    }
    const receivedAt = this.now().toISOString();
    const list = this.stored.get(stream) ?? [];
    for (const row of body as Record<string, unknown>[]) list.push({ receivedAt, row: structuredClone(row) });
    this.stored.set(stream, list);
    return body.length;
  }

  /** The workspace's custom tables: one per declared stream, holding what was ingested into it. */
  table(name: string): LogTable | undefined {
    if (this.options === undefined) return undefined;
    for (const [stream, declared] of Object.entries(this.options.streams)) {
      if (tableOfStream(stream) !== name) continue;
      const hasTime = declared.some((c) => c.name === "TimeGenerated");
      const columns: StreamColumn[] = hasTime
        ? [...declared]
        : [{ name: "TimeGenerated", type: "datetime" }, ...declared];
      const rows = (this.stored.get(stream) ?? []).map(({ receivedAt, row }) => {
        const out: Record<string, unknown> = {};
        for (const column of columns) {
          const value = row[column.name];
          // KQL strings are never null: a missing string reads as "".
          out[column.name] =
            column.name === "TimeGenerated" && (value === undefined || value === null)
              ? receivedAt
              : (value ?? (column.type === "string" ? "" : null));
        }
        return out;
      });
      return { name, columns, rows };
    }
    return undefined;
  }

  tableNames(): string[] {
    return this.options === undefined ? [] : Object.keys(this.options.streams).map(tableOfStream);
  }
}
