import { createHash } from 'node:crypto';
import { DescribeError, expected } from '../errors.ts';
import { COLOUR_NAMES } from '../palette/colour-names.ts';
import {
  type ColourFamily,
  colourFamilySchema,
  type StageState,
  stageStateSchema,
} from '../record/schema.ts';
import { foldPhrase, searchQueryTerms } from '../words.ts';

/**
 * The one query model both search engines run: the local MiniSearch index and Athena over the
 * sidecars in the bucket. `parseSearchQuery` turns URL or CLI parameters into a `SearchQuery` or a
 * `SearchQueryError` (a 400); the engines never see raw input.
 *
 * Semantics, the same everywhere:
 * - every query term must occur, as a whole folded word (text.ts), in at least one text field;
 * - every filter must hold (colours, labels and categories: all of those given);
 * - relevance = Σ over terms of the highest weight among the fields holding that term
 *   (SEARCH_FIELD_WEIGHTS), ties newest first, then by key; date = newest first, then by key.
 */

/** Text fields searched, with their relevance weight. Colour names are not among them, by design. */
export const SEARCH_FIELD_WEIGHTS = Object.freeze({
  caption: 3,
  labels: 3,
  categories: 2,
  text: 2,
  name: 2,
  detailedDescription: 1,
  answers: 1,
});
export type SearchField = keyof typeof SEARCH_FIELD_WEIGHTS;
export const SEARCH_FIELDS = Object.keys(SEARCH_FIELD_WEIGHTS) as SearchField[];

export const SEARCH_SORTS = ['relevance', 'date'] as const;
export type SearchSort = (typeof SEARCH_SORTS)[number];

export const SEARCH_LIMITS = Object.freeze({
  /** Results per page when `limit` is absent. */
  defaultLimit: 20,
  maxLimit: 100,
  /** Characters of `q`; a longer query is a 400, not a slow scan. */
  maxQueryLength: 1000,
  /** Distinct terms of `q` after folding. */
  maxTerms: 32,
  /** Characters of `similar` (an object key: S3 allows 1024 bytes). */
  maxKeyLength: 1024,
  /** Characters of one label, category or colour value. */
  maxValueLength: 200,
  /** Values of one repeatable parameter (label, category, colour). */
  maxValues: 10,
});

/** A colour filter with no `colourMin` needs the family to cover this share of the image. */
export const DEFAULT_COLOUR_MIN_FRACTION = 0.05;

export interface ColourFilter {
  readonly family: ColourFamily;
  /** A light or dark name of the family ("light blue"): only colours of that name count. */
  readonly name?: string;
  /** Share of the image pixels (palette `fraction`) the family must reach, 0..1. */
  readonly minFraction: number;
}

export interface SearchQuery {
  /** `q` as given, trimmed ('' when absent). */
  readonly text: string;
  /** Folded, de-duplicated terms of `q` without stop words; all must match. Empty = no text filter. */
  readonly terms: readonly string[];
  readonly colours: readonly ColourFilter[];
  /** Folded label phrases (foldPhrase); the record's labels must include each. */
  readonly labels: readonly string[];
  /** Folded category ids; the record's categories must include each. */
  readonly categories: readonly string[];
  /** true: text was found (text.full not blank); false: none was. */
  readonly hasText?: boolean;
  /** On `uploadedAt` (see uploadedAtOf): from inclusive, before exclusive, ISO 8601 UTC. */
  readonly uploaded: { readonly from?: string; readonly before?: string };
  readonly state: { readonly fast?: StageState; readonly detailed?: StageState };
  readonly sort: SearchSort;
  readonly limit: number;
  /** Results to skip: from the cursor, 0 on the first page. */
  readonly offset: number;
  /** An image key: list the images most similar to it (its embedding's nearest neighbours). */
  readonly similar?: string;
}

/** A bad search parameter: the client must change the request (HTTP 400, CLI exit 2). */
export class SearchQueryError extends DescribeError {
  readonly code = 'INVALID_REQUEST' as const;
  readonly permanent = true;
  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super(message);
  }
}

/** Parameters as URLSearchParams or as a plain object (CLI flags); a name may repeat. */
export type SearchParams = URLSearchParams | Readonly<Record<string, string | readonly string[] | undefined>>;

/** Parameter names, with the aliases accepted for them. */
const PARAMETERS = {
  q: 'q',
  colour: 'colour',
  color: 'colour',
  colourMin: 'colourMin',
  colorMin: 'colourMin',
  label: 'label',
  category: 'category',
  hasText: 'hasText',
  from: 'from',
  to: 'to',
  fast: 'fast',
  detailed: 'detailed',
  sort: 'sort',
  limit: 'limit',
  cursor: 'cursor',
  similar: 'similar',
} as const;
type Parameter = (typeof PARAMETERS)[keyof typeof PARAMETERS];
export const SEARCH_PARAMETERS = Object.keys(PARAMETERS);
const REPEATABLE = new Set<Parameter>(['colour', 'label', 'category']);

function fail(parameter: string, what: string, received: unknown): never {
  throw new SearchQueryError(parameter, expected(what, parameter, received));
}

/** Values by canonical name; unknown names and repeats of single-valued ones are errors. */
function collect(params: SearchParams): Map<Parameter, string[]> {
  const entries: Array<[string, string]> = [];
  if (params instanceof URLSearchParams) {
    for (const [name, value] of params) entries.push([name, value]);
  } else {
    for (const [name, value] of Object.entries(params)) {
      if (value === undefined) continue;
      const values: readonly unknown[] = Array.isArray(value) ? value : [value];
      for (const v of values) {
        if (typeof v !== 'string') fail(name, 'a string', v);
        entries.push([name, v]);
      }
    }
  }
  const out = new Map<Parameter, string[]>();
  for (const [name, value] of entries) {
    const canonical = Object.hasOwn(PARAMETERS, name)
      ? PARAMETERS[name as keyof typeof PARAMETERS]
      : undefined;
    if (!canonical) fail('parameter', `one of ${SEARCH_PARAMETERS.join(', ')}`, name);
    const list = out.get(canonical) ?? [];
    list.push(value);
    out.set(canonical, list);
  }
  for (const [name, values] of out) {
    if (!REPEATABLE.has(name) && values.length > 1) fail(name, 'one value', `${values.length} values`);
  }
  return out;
}

/** Repeatable values: `label=a&label=b` or `label=a,b`; blanks dropped. */
function listOf(name: Parameter, values: readonly string[] | undefined): string[] {
  const out = (values ?? [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (out.length > SEARCH_LIMITS.maxValues)
    fail(name, `at most ${SEARCH_LIMITS.maxValues} values`, `${out.length}`);
  for (const v of out) {
    if (v.length > SEARCH_LIMITS.maxValueLength)
      fail(name, `a value of at most ${SEARCH_LIMITS.maxValueLength} characters`, v);
  }
  return out;
}

function phrases(name: Parameter, values: readonly string[] | undefined): string[] {
  const out: string[] = [];
  for (const value of listOf(name, values)) {
    const phrase = foldPhrase(value);
    if (phrase === '') fail(name, 'a value with letters or digits', value);
    if (!out.includes(phrase)) out.push(phrase);
  }
  return out;
}

/** A family ("blue", "grey") or a name of the colour vocabulary ("light blue", "dark grey"). */
function colourOf(value: string): { family: ColourFamily; name?: string } {
  const words = value
    .toLowerCase()
    .trim()
    .split(/\s+/)
    .map((word) => (word === 'grey' ? 'gray' : word));
  const folded = words.join(' ');
  const family = colourFamilySchema.safeParse(folded);
  if (family.success) return { family: family.data };
  const last = colourFamilySchema.safeParse(words.at(-1));
  if (last.success && COLOUR_NAMES.includes(folded)) return { family: last.data, name: folded };
  return fail(
    'colour',
    `a colour family (${colourFamilySchema.options.join(', ')}), or one with light or dark (e.g. "light blue")`,
    value,
  );
}

function fraction(value: string | undefined): number {
  if (value === undefined) return DEFAULT_COLOUR_MIN_FRACTION;
  const n = /^\s*(?:0|1|0?\.\d+|1\.0*)\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= 0 && n <= 1)) fail('colourMin', 'a number from 0 to 1', value);
  return n;
}

function booleanOf(name: Parameter, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return fail(name, 'true or false', value);
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;
/**
 * The last year a bound may name: the exclusive end of 9999-12-31 would be year 10000, which ISO
 * strings spell "+010000-…" and which sorts before every timestamp.
 */
const MAX_YEAR = 9998;

/** 2026-02-28 is a day; 2026-02-31 and 2026-13-01 are not. */
function realDay(ymd: string): boolean {
  const at = new Date(`${ymd}T00:00:00Z`);
  return !Number.isNaN(at.getTime()) && at.toISOString().slice(0, 10) === ymd;
}

function instant(name: 'from' | 'to', value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  const what = `a date YYYY-MM-DD or an ISO 8601 date-time with a zone, in the years 0001 to ${MAX_YEAR}`;
  const dateOnly = DATE_ONLY.exec(trimmed);
  const dateTime = dateOnly ? null : DATE_TIME.exec(trimmed);
  const parts = dateOnly ?? dateTime;
  if (!parts) fail(name, what, value);
  const [
    ,
    year = '',
    month = '',
    day = '',
    hour = '0',
    minute = '0',
    second = '0',
    zoneHour = '0',
    zoneMinute = '0',
  ] = parts;
  // Each field in its range, and the day in its month: 2026-02-31 and T24:00 are not rolled over.
  const y = Number(year);
  const ymd = `${year}-${month}-${day}`;
  const fieldsValid =
    y >= 1 &&
    y <= MAX_YEAR &&
    realDay(ymd) &&
    Number(hour) <= 23 &&
    Number(minute) <= 59 &&
    Number(second) <= 59 &&
    Number(zoneHour) <= 23 &&
    Number(zoneMinute) <= 59;
  if (!fieldsValid) fail(name, what, value);
  const at = new Date(dateOnly ? `${trimmed}T00:00:00Z` : trimmed);
  if (Number.isNaN(at.getTime())) fail(name, what, value);
  if (name === 'to') {
    // An exclusive bound: the day after a date, the next millisecond after a date-time.
    const end = dateOnly ? at.getTime() + 86_400_000 : at.getTime() + 1;
    return new Date(end).toISOString();
  }
  return at.toISOString();
}

function stageState(name: 'fast' | 'detailed', value: string | undefined): StageState | undefined {
  if (value === undefined) return undefined;
  const parsed = stageStateSchema.safeParse(value);
  if (!parsed.success) fail(name, `a stage state (${stageStateSchema.options.join(', ')})`, value);
  return parsed.data;
}

function limitOf(value: string | undefined): number {
  if (value === undefined) return SEARCH_LIMITS.defaultLimit;
  const n = /^\s*\d{1,6}\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= 1 && n <= SEARCH_LIMITS.maxLimit))
    fail('limit', `a whole number from 1 to ${SEARCH_LIMITS.maxLimit}`, value);
  return n;
}

/** What a cursor is bound to: the query without its page, so a cursor cannot jump to another query. */
function fingerprint(query: Omit<SearchQuery, 'offset' | 'limit'>): string {
  // The page size may change between pages; the words and filters may not.
  const { text: _text, limit: _limit, offset: _offset, ...meaning } = query as SearchQuery;
  return createHash('sha256').update(JSON.stringify(meaning)).digest('base64url').slice(0, 12);
}

/** The opaque cursor of the page after `offset`: base64url JSON, bound to the query. */
export function encodeCursor(query: SearchQuery, offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset, q: fingerprint(query) }), 'utf8').toString('base64url');
}

function decodeCursor(value: string | undefined, query: Omit<SearchQuery, 'offset' | 'limit'>): number {
  if (value === undefined || value === '') return 0;
  const what = 'a cursor from the nextCursor of this same search';
  if (value.length > 200 || !/^[A-Za-z0-9_-]+$/.test(value)) fail('cursor', what, value);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    fail('cursor', what, value);
  }
  const { o, q } = (parsed ?? {}) as { o?: unknown; q?: unknown };
  if (typeof o !== 'number' || !Number.isInteger(o) || o < 0 || o > 1_000_000_000)
    fail('cursor', what, value);
  if (q !== fingerprint(query)) fail('cursor', `${what} (it belongs to another query)`, value);
  return o;
}

/**
 * URL or CLI parameters → a validated query. Throws SearchQueryError naming the parameter for
 * anything it cannot use; an absent or blank `q` with no filters lists everything, newest first.
 */
export function parseSearchQuery(params: SearchParams): SearchQuery {
  const values = collect(params);
  const one = (name: Parameter) => values.get(name)?.[0];

  const text = (one('q') ?? '').trim();
  if (text.length > SEARCH_LIMITS.maxQueryLength) {
    fail('q', `a query of at most ${SEARCH_LIMITS.maxQueryLength} characters`, `${text.length} characters`);
  }
  const terms = searchQueryTerms(text);
  if (text !== '' && terms.length === 0) {
    fail('q', 'words to search for (letters or digits, not only words like "the")', text);
  }
  if (terms.length > SEARCH_LIMITS.maxTerms) {
    fail('q', `at most ${SEARCH_LIMITS.maxTerms} distinct words`, `${terms.length} words`);
  }

  const minFraction = fraction(one('colourMin'));
  const colours: Array<{ family: ColourFamily; name?: string }> = [];
  for (const value of listOf('colour', values.get('colour'))) {
    const colour = colourOf(value);
    if (!colours.some((c) => c.family === colour.family && c.name === colour.name)) colours.push(colour);
  }
  if (colours.length === 0 && one('colourMin') !== undefined) {
    fail('colourMin', 'a colour to apply it to (colour=...)', one('colourMin'));
  }

  const from = instant('from', one('from'));
  const before = instant('to', one('to'));
  if (from && before && from >= before) fail('to', `a time after from (${from})`, one('to'));

  const sortValue = one('sort');
  if (sortValue !== undefined && !(SEARCH_SORTS as readonly string[]).includes(sortValue)) {
    fail('sort', `one of ${SEARCH_SORTS.join(', ')}`, sortValue);
  }
  // Without words there is nothing to rank by, so relevance would be an arbitrary order.
  const sort: SearchSort =
    (sortValue as SearchSort | undefined) ??
    (terms.length > 0 || one('similar') !== undefined ? 'relevance' : 'date');

  const similar = one('similar')?.trim();
  if (similar !== undefined) {
    if (similar === '' || similar.length > SEARCH_LIMITS.maxKeyLength)
      fail('similar', `an image key of 1 to ${SEARCH_LIMITS.maxKeyLength} characters`, one('similar'));
    if (text !== '') fail('similar', 'either words (q) or an image to match (similar), not both', similar);
    if (sortValue === 'date') fail('sort', 'relevance (similar images are listed nearest first)', sortValue);
  }

  const unpaged: Omit<SearchQuery, 'offset' | 'limit'> = {
    ...(similar !== undefined ? { similar } : {}),
    text,
    terms,
    colours: colours.map((colour) => ({ ...colour, minFraction })),
    labels: phrases('label', values.get('label')),
    categories: phrases('category', values.get('category')),
    ...(one('hasText') !== undefined ? { hasText: booleanOf('hasText', one('hasText')) } : {}),
    uploaded: { ...(from ? { from } : {}), ...(before ? { before } : {}) },
    state: {
      ...(one('fast') !== undefined ? { fast: stageState('fast', one('fast')) } : {}),
      ...(one('detailed') !== undefined ? { detailed: stageState('detailed', one('detailed')) } : {}),
    },
    sort,
  };
  return Object.freeze({
    ...unpaged,
    limit: limitOf(one('limit')),
    offset: decodeCursor(one('cursor'), unpaged),
  });
}
