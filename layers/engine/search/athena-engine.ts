import { ConfigError, DescribeError, expected } from '../errors.ts';
import type { Colour, DescriptionRecord, StageState } from '../record/schema.ts';
import { ENV, type Env, readRequiredEnv } from '../settings.ts';
import { searchTerms } from '../words.ts';
import {
  ATHENA_DIALECT,
  type CompiledSearch,
  compileSearch,
  MAX_RANKED_MATCHES,
  type ResultColumn,
  type SearchTable,
  type SqlDialect,
  type SqlParam,
} from './athena-sql.ts';
import {
  compareHits,
  hitOf,
  relevance,
  type SearchDocument,
  type SearchResponse,
  searchDocument,
} from './document.ts';
import { encodeCursor, SEARCH_FIELDS, type SearchField, type SearchQuery } from './query.ts';

/** One result row: column → text (Athena returns every value as text), NULL as undefined. */
export type SqlRow = Readonly<Partial<Record<ResultColumn, string>>>;

/**
 * The port the Athena adapter implements (layers/adapters/athena-search.ts): run one parameterised
 * statement within the deadline and return its rows. The local integration test implements it
 * with an embedded SQL engine.
 */
export interface SqlRunner {
  run(statement: {
    sql: string;
    params: readonly SqlParam[];
  }): Promise<{ rows: SqlRow[]; bytesScanned?: number }>;
}

/** The query did not finish within the wait (it was stopped): HTTP 504. */
export class SearchTimeoutError extends DescribeError {
  readonly code = 'SEARCH_TIMEOUT' as const;
  readonly permanent = false;
}

/** The query would scan more than the workgroup allows per query: HTTP 503, narrow the search. */
export class SearchScanLimitError extends DescribeError {
  readonly code = 'SEARCH_SCAN_LIMIT' as const;
  readonly permanent = true;
}

/**
 * Athena failed or was cancelled for another reason: HTTP 502. The message is Athena's own reason,
 * which may quote the SQL, table names and S3 paths: for the log only. The client gets
 * SEARCH_FAILED_MESSAGE and `detail` (the query execution id, when there is one).
 */
export class SearchFailedError extends DescribeError {
  readonly code = 'SEARCH_FAILED' as const;
  readonly permanent = false;
}

/** What a client is told when Athena fails a search (the reason is logged, never returned). */
export const SEARCH_FAILED_MESSAGE =
  'The search failed in Athena. Try again; if it keeps failing, give the operator the request id (the reason is in the log).';

/**
 * Athena refused to start or poll the query for now (TooManyRequestsException: the account's
 * concurrent-query or API rate limit), after the SDK's own retries: HTTP 503 with Retry-After.
 * The message is ours, not Athena's.
 */
export class SearchBusyError extends DescribeError {
  readonly code = 'SEARCH_BUSY' as const;
  readonly permanent = false;
}

/** Seconds a client should wait before asking again after a SearchBusyError. */
export const SEARCH_RETRY_AFTER_SECONDS = 2;

export interface AthenaSearchOptions {
  readonly runner: SqlRunner;
  readonly table: SearchTable;
  /** @default ATHENA_DIALECT */
  readonly dialect?: SqlDialect;
  readonly onQuery?: (info: { terms: number; rows: number; bytesScanned?: number; ms: number }) => void;
}

function json<T>(text: string | undefined, fallback: T): T {
  if (text === undefined || text === '') return fallback;
  return JSON.parse(text) as T;
}

/** The record fields search reads, back from one row (the rest of the sidecar stays in S3). */
export function recordOfRow(row: SqlRow): DescriptionRecord {
  const updatedAt = row.uploaded_at ?? '';
  const categories = json<string[]>(row.category_ids_json, []);
  return {
    schemaVersion: 2,
    source: { kind: 's3', key: row.key ?? '', size: 0 },
    // uploaded_at is already uploadedAtOf's choice (createdAt, else the fast stage's time).
    ...(updatedAt ? { createdAt: updatedAt } : {}),
    status: {
      fast: { state: (row.fast_state ?? 'pending') as StageState, updatedAt },
      detailed: {
        state: (row.detailed_state ?? 'pending') as StageState,
        updatedAt: row.detailed_updated_at ?? updatedAt,
      },
    },
    ...(row.caption !== undefined ? { caption: row.caption } : {}),
    ...(row.detailed_description !== undefined ? { detailedDescription: row.detailed_description } : {}),
    ...(row.text_full !== undefined ? { text: { full: row.text_full, lines: [] } } : {}),
    ...(row.colours_json !== undefined ? { colours: json<Colour[]>(row.colours_json, []) } : {}),
    ...(row.labels_json !== undefined ? { labels: json<string[]>(row.labels_json, []) } : {}),
    ...(row.category_ids_json !== undefined
      ? { categories: categories.map((id) => ({ id, score: 0, evidence: [] })) }
      : {}),
    models: {},
    timings: {},
    errors: {},
  };
}

/** The search document of a row: answers come as the text SQL already joined. */
function documentOfRow(row: SqlRow): SearchDocument {
  const doc = searchDocument(recordOfRow(row));
  return { ...doc, fields: { ...doc.fields, answers: row.answers_text ?? '' } };
}

/** Relevance as query.ts defines it: Σ over terms of the best weight among the fields holding it. */
export function scoreDocument(doc: SearchDocument, terms: readonly string[]): number {
  if (terms.length === 0) return 0;
  const tokens = new Map<SearchField, Set<string>>(
    SEARCH_FIELDS.map((field) => [field, new Set(searchTerms(doc.fields[field]))]),
  );
  const fieldsByTerm = new Map<string, SearchField[]>(
    terms.map((term) => [term, SEARCH_FIELDS.filter((field) => tokens.get(field)?.has(term))]),
  );
  return relevance(fieldsByTerm);
}

/**
 * Search the sidecars with SQL: compile (athena-sql.ts), run, and page. Date order is SQL's; for
 * relevance the newest MAX_RANKED_MATCHES matches are scored here with the shared scoring, so both
 * engines rank alike.
 */
export function createAthenaSearch(
  options: AthenaSearchOptions,
): (query: SearchQuery) => Promise<SearchResponse> {
  const { runner, table } = options;
  const dialect = options.dialect ?? ATHENA_DIALECT;
  return async (query) => {
    const compiled: CompiledSearch = compileSearch(query, table, dialect);
    const started = Date.now();
    const { rows, bytesScanned } = await runner.run({ sql: compiled.sql, params: compiled.params });
    options.onQuery?.({
      terms: query.terms.length,
      rows: rows.length,
      bytesScanned,
      ms: Date.now() - started,
    });
    let total = rows.length > 0 ? Number(rows[0]?.total_matches ?? rows.length) : 0;
    if (rows.length === 0 && query.offset > 0 && query.sort === 'date') {
      // A date page past the end (OFFSET skipped every match) returns no row to read the count
      // from; the local engine still counts, so ask for the first match alone (rare: the matches
      // shrank between pages, or a cursor was kept too long).
      const first = compileSearch({ ...query, offset: 0, limit: 1 }, table, dialect);
      const counted = await runner.run({ sql: first.sql, params: first.params });
      total = Number(counted.rows[0]?.total_matches ?? 0);
    }
    const hits = rows.map((row) => {
      const doc = documentOfRow(row);
      return hitOf(doc, scoreDocument(doc, query.terms));
    });
    let page: typeof hits;
    let more: boolean;
    if (query.sort === 'date') {
      page = hits.slice(0, query.limit);
      more = hits.length > query.limit;
    } else {
      const ranked = hits.slice(0, MAX_RANKED_MATCHES).sort(compareHits('relevance'));
      page = ranked.slice(query.offset, query.offset + query.limit);
      more = query.offset + query.limit < ranked.length;
    }
    return {
      results: page,
      ...(more ? { nextCursor: encodeCursor(query, query.offset + query.limit) } : {}),
      total,
    };
  };
}

export interface AthenaSearchSettings {
  readonly workGroup: string;
  readonly table: SearchTable;
}

/**
 * Read once at cold start: SEARCH_WORKGROUP, SEARCH_DATABASE, SEARCH_TABLE (infra sets all three,
 * or none when search is off). Absent workgroup: no search; a half-set or malformed one fails fast.
 */
export function readAthenaSearchSettings(env: Env = process.env): AthenaSearchSettings | undefined {
  const workGroup = env[ENV.SEARCH_WORKGROUP];
  if (!workGroup) return undefined;
  const glueName = (name: string) => {
    const value = readRequiredEnv(env, name);
    if (!/^[a-z0-9_]{1,255}$/.test(value)) {
      throw new ConfigError(expected('a Glue name (lower-case letters, digits, _)', name, value));
    }
    return value;
  };
  return Object.freeze({
    workGroup,
    table: Object.freeze({ database: glueName(ENV.SEARCH_DATABASE), table: glueName(ENV.SEARCH_TABLE) }),
  });
}
