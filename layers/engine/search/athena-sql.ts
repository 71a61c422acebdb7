import { searchTerms } from '../words.ts';
import { type SearchQuery, SearchQueryError } from './query.ts';
import { FOLD_LIGATURES, FOLD_TABLE, surfaceForms } from './text.ts';

/**
 * The search query compiled to one SQL statement for Athena (Trino SQL) over the Glue table of
 * sidecars. Every value that came from the request is a `?` placeholder with an entry in `params`;
 * the SQL text holds only constants of this file, the configured table name, and integers the
 * parser range-checked (OFFSET/LIMIT). Athena accepts `?` only in WHERE, so the statement filters
 * in SQL and the engine ranks by relevance from the columns it returns (athena-engine.ts).
 *
 * Words match as in text.ts: the text is case-folded and accent-folded by text.ts's own table
 * (`normalize` to NFC, `replace` per ligature, `translate` over FOLD_TABLE, then `lower`), and each query term must appear as a
 * whole word in one of its surface forms (dog → dog|dogs), delimited by non-letters/digits.
 */

export type SqlParam =
  | { readonly type: 'varchar'; readonly value: string }
  | { readonly type: 'double'; readonly value: number };

/** The few spellings that differ between Trino (Athena) and the engine the local test runs. */
export interface SqlDialect {
  /** `transform(list, x -> body)` */
  readonly transform: (list: string, variable: string, body: string) => string;
  /** Σ value over the list's elements where cond holds (NULL for a NULL list). */
  readonly sumWhere: (list: string, variable: string, cond: string, value: string) => string;
  /** `array_join(list, separator)` */
  readonly arrayJoin: (list: string, separator: string) => string;
  /** A value as JSON text. */
  readonly jsonText: (value: string) => string;
  /** The string in Unicode normal form C. */
  readonly nfc: (value: string) => string;
}

export const ATHENA_DIALECT: SqlDialect = Object.freeze<SqlDialect>({
  transform: (list, x, body) => `transform(${list}, ${x} -> ${body})`,
  sumWhere: (list, x, cond, value) =>
    `reduce(${list}, 0e0, (s, ${x}) -> s + IF(${cond}, ${value}, 0e0), s -> s)`,
  arrayJoin: (list, separator) => `array_join(${list}, ${separator})`,
  jsonText: (value) => `json_format(CAST(${value} AS JSON))`,
  nfc: (value) => `normalize(${value}, NFC)`,
});

export interface SearchTable {
  /** Glue database and table: lower-case letters, digits and `_` (deploy configuration). */
  readonly database: string;
  readonly table: string;
}

/**
 * Relevance needs every match's fields, so a relevance search ranks at most this many matches:
 * the newest ones (the response's `total` still counts all).
 */
export const MAX_RANKED_MATCHES = 1000;

/** Athena's limit on one execution parameter (API reference: 1..1024 characters). */
export const MAX_EXECUTION_PARAMETER_LENGTH = 1024;

export interface CompiledSearch {
  readonly sql: string;
  readonly params: readonly SqlParam[];
  /** Rows the statement skips and returns at most (date: the page + 1; relevance: the candidates + 1). */
  readonly offset: number;
  readonly limit: number;
}

/** Columns every row has; JSON columns hold JSON text. */
export const RESULT_COLUMNS = [
  'key',
  'uploaded_at',
  'fast_state',
  'detailed_state',
  'detailed_updated_at',
  'caption',
  'detailed_description',
  'text_full',
  'labels_json',
  'category_ids_json',
  'colours_json',
  'answers_text',
  'total_matches',
] as const;
export type ResultColumn = (typeof RESULT_COLUMNS)[number];

/** Separates list items (labels, category ids) so a phrase cannot run from one item into the next. */
const ITEM_SEPARATOR = '\u001f';
const NOT_WORD = '[^\\p{L}\\p{N}]';

/** A constant of this file as a SQL string literal (quotes doubled; Trino has no backslash escapes). */
function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * Case- and accent-folded text, exactly as text.ts's foldText: NFC, the ligatures, FOLD_TABLE,
 * then `lower` (which maps Σ to σ, as foldText's last step does for JavaScript's final ς).
 */
export function foldSql(expression: string, dialect: SqlDialect = ATHENA_DIALECT): string {
  let folded = dialect.nfc(expression);
  for (const [ligature, letters] of FOLD_LIGATURES)
    folded = `replace(${folded}, ${literal(ligature)}, ${literal(letters)})`;
  return `lower(translate(${folded}, ${literal(FOLD_TABLE.from)}, ${literal(FOLD_TABLE.to)}))`;
}

/** `(?:dog|dogs)`: the surface forms that fold to the term. */
function formsPattern(term: string): string {
  return `(?:${surfaceForms(term).join('|')})`;
}

/** A regex (a parameter value) matching the term as a whole word of folded text. */
export function termPattern(term: string): string {
  return `(?:^|${NOT_WORD})${formsPattern(term)}(?:$|${NOT_WORD})`;
}

/** A regex matching one whole item (label, category id) whose words are the phrase's, in order. */
export function phrasePattern(phrase: string): string {
  const sep = '\\x1f';
  const gap = `[^\\p{L}\\p{N}${sep}]`;
  const words = searchTerms(phrase).map(formsPattern);
  return `(?:^|${sep})${gap}*${words.join(`${gap}+`)}${gap}*(?:$|${sep})`;
}

function ident(name: string, what: string): string {
  if (!/^[a-z0-9_]{1,255}$/.test(name)) {
    throw new TypeError(
      `Expected a Glue name (lower-case letters, digits, _) for ${what} but received ${JSON.stringify(name)}`,
    );
  }
  return `"${name}"`;
}

/** The projection every search reads: one row per sidecar, the text folded once for the WHERE. */
function documentsSql(table: SearchTable, d: SqlDialect): string {
  const sep = `chr(${ITEM_SEPARATOR.codePointAt(0)})`;
  const categoryIds = d.transform('categories', 'c', 'c.id');
  // A string answer's own text (not true/false/numbers, which text.ts leaves out), then the raw text.
  // No "?" in any literal of this file: every "?" in the statement is a placeholder.
  const answersText = d.arrayJoin(
    d.transform(
      'map_values(answers)',
      'a',
      `concat_ws(' ', IF(regexp_like(a.value, '^(true|false|-{0,1}[0-9][0-9.eE+-]*)$') OR a.value = a.raw, NULL, a.value), a.raw)`,
    ),
    "' '",
  );
  const key = 'coalesce(source.key, source.path)';
  const name = `regexp_extract(${key}, '[^/\\\\]*$')`;
  return [
    'SELECT',
    `    ${key} AS key,`,
    // document.ts uploadedAtOf: createdAt, else (records written before it) the fast stage's time.
    '    coalesce(createdat, status.fast.updatedat) AS uploaded_at,',
    '    status.fast.state AS fast_state,',
    '    status.detailed.state AS detailed_state,',
    '    status.detailed.updatedat AS detailed_updated_at,',
    '    caption,',
    '    detaileddescription AS detailed_description,',
    '    text."full" AS text_full,',
    `    ${d.jsonText('labels')} AS labels_json,`,
    `    ${d.jsonText(categoryIds)} AS category_ids_json,`,
    `    ${d.jsonText('colours')} AS colours_json,`,
    `    ${answersText} AS answers_text,`,
    '    colours,',
    `    ${foldSql(`concat_ws(' ', caption, ${d.arrayJoin('labels', "' '")}, ${d.arrayJoin(categoryIds, "' '")}, text."full", ${name}, detaileddescription, ${answersText})`, d)} AS search_text,`,
    `    ${foldSql(d.arrayJoin('labels', sep), d)} AS label_text,`,
    `    ${foldSql(d.arrayJoin(categoryIds, sep), d)} AS category_text`,
    `  FROM ${ident(table.database, 'database')}.${ident(table.table, 'table')}`,
  ].join('\n');
}

/**
 * The query as SQL and parameters. Conditions appear in the order of the query model (terms,
 * colours, labels, categories, has-text, dates, states); the parameters follow them in order.
 */
export function compileSearch(
  query: SearchQuery,
  table: SearchTable,
  dialect: SqlDialect = ATHENA_DIALECT,
): CompiledSearch {
  const params: SqlParam[] = [];
  const varchar = (value: string, parameter: string) => {
    if (literal(value).length > MAX_EXECUTION_PARAMETER_LENGTH) {
      throw new SearchQueryError(
        parameter,
        `Expected a shorter ${parameter} for the AWS search (one value may be at most ${MAX_EXECUTION_PARAMETER_LENGTH} characters once compiled) but received ${value.length} characters`,
      );
    }
    params.push({ type: 'varchar', value });
    return '?';
  };
  const double = (value: number) => {
    params.push({ type: 'double', value });
    return '?';
  };
  // A sidecar that did not parse (ignore.malformed.json) reads as a row of NULLs: never a result.
  const where: string[] = ['d.fast_state IS NOT NULL'];
  for (const term of query.terms)
    where.push(`regexp_like(d.search_text, ${varchar(termPattern(term), 'q')})`);
  for (const colour of query.colours) {
    const share = dialect.sumWhere(
      'd.colours',
      'c',
      colour.name === undefined
        ? `c.family = ${varchar(colour.family, 'colour')}`
        : `c.family = ${varchar(colour.family, 'colour')} AND c.name = ${varchar(colour.name, 'colour')}`,
      'c.fraction',
    );
    // Present at all, and at least the minimum: a 0 minimum becomes the smallest positive double.
    where.push(`${share} >= ${double(Math.max(colour.minFraction, Number.MIN_VALUE))}`);
  }
  for (const label of query.labels)
    where.push(`regexp_like(d.label_text, ${varchar(phrasePattern(label), 'label')})`);
  for (const category of query.categories) {
    where.push(`regexp_like(d.category_text, ${varchar(phrasePattern(category), 'category')})`);
  }
  if (query.hasText !== undefined) {
    where.push(
      query.hasText ? "trim(coalesce(d.text_full, '')) <> ''" : "trim(coalesce(d.text_full, '')) = ''",
    );
  }
  if (query.uploaded.from) where.push(`d.uploaded_at >= ${varchar(query.uploaded.from, 'from')}`);
  if (query.uploaded.before) where.push(`d.uploaded_at < ${varchar(query.uploaded.before, 'to')}`);
  if (query.state.fast) where.push(`d.fast_state = ${varchar(query.state.fast, 'fast')}`);
  if (query.state.detailed) where.push(`d.detailed_state = ${varchar(query.state.detailed, 'detailed')}`);

  const byDate = query.sort === 'date';
  const offset = byDate ? query.offset : 0;
  const limit = byDate ? query.limit + 1 : MAX_RANKED_MATCHES + 1;
  assertCount(offset, 'offset');
  assertCount(limit, 'limit');
  const columns = RESULT_COLUMNS.filter((c) => c !== 'total_matches').map((c) => `d.${c}`);
  const sql = [
    `SELECT ${columns.join(', ')}, count(*) OVER () AS total_matches`,
    `FROM (\n  ${documentsSql(table, dialect)}\n) AS d`,
    `WHERE ${where.join('\n  AND ')}`,
    'ORDER BY d.uploaded_at DESC, d.key ASC',
    ...(offset > 0 ? [`OFFSET ${offset}`] : []),
    `LIMIT ${limit}`,
  ].join('\n');
  if ((sql.match(/\?/g) ?? []).length !== params.length) {
    throw new TypeError('Compiled search SQL: placeholders and parameters differ in number');
  }
  return { sql, params, offset, limit };
}

function assertCount(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new TypeError(`Expected a whole number for ${what} but received ${n}`);
}

/**
 * Athena's ExecutionParameters: each value is inserted as SQL text, so each must be one constant
 * — a string literal with its quotes doubled (Trino has no backslash escapes), or a DOUBLE in
 * exponent form. The value can therefore never end the literal and add SQL.
 */
export function executionParameters(params: readonly SqlParam[]): string[] {
  return params.map((param) => {
    if (param.type === 'double') {
      if (!Number.isFinite(param.value))
        throw new TypeError(`Expected a finite number but received ${param.value}`);
      return param.value.toExponential();
    }
    return literal(param.value);
  });
}
