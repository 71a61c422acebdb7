import { describe, expect, it } from 'vitest';
import {
  compileSearch,
  executionParameters,
  foldSql,
  MAX_EXECUTION_PARAMETER_LENGTH,
  MAX_RANKED_MATCHES,
} from '#engine/search/athena-sql.ts';
import { encodeCursor, parseSearchQuery, SearchQueryError } from '#engine/search/query.ts';
import { SEARCH_CASES } from '../../search/cases.ts';

const TABLE = { database: 'test_search', table: 'descriptions' };
const compile = (params: Record<string, string | readonly string[]>) =>
  compileSearch(parseSearchQuery(params), TABLE);

// The conditions, as the SQL spells them (every value a ?).
const TERM = 'regexp_like(d.search_text, ?)';
const COLOUR = 'reduce(d.colours, 0e0, (s, c) -> s + IF(c.family = ?, c.fraction, 0e0), s -> s) >= ?';
const NAMED_COLOUR =
  'reduce(d.colours, 0e0, (s, c) -> s + IF(c.family = ? AND c.name = ?, c.fraction, 0e0), s -> s) >= ?';
const LABEL = 'regexp_like(d.label_text, ?)';
const CATEGORY = 'regexp_like(d.category_text, ?)';
const HAS_TEXT = "trim(coalesce(d.text_full, '')) <> ''";
const NO_TEXT = "trim(coalesce(d.text_full, '')) = ''";
const FROM = 'd.uploaded_at >= ?';
const BEFORE = 'd.uploaded_at < ?';
const FAST = 'd.fast_state = ?';
const DETAILED = 'd.detailed_state = ?';

// The parameters, as Athena receives them (string literals, exponent-form doubles).
/** A word in any of its surface forms, delimited by non-letters/digits. */
const W = (...forms: string[]) => `'(?:^|[^\\p{L}\\p{N}])(?:${forms.join('|')})(?:$|[^\\p{L}\\p{N}])'`;
/** A whole list item (label, category id) made of these words, each in any of its forms. */
const P = (...words: string[][]) => {
  const gap = '[^\\p{L}\\p{N}\\x1f]';
  return `'(?:^|\\x1f)${gap}*${words.map((f) => `(?:${f.join('|')})`).join(`${gap}+`)}${gap}*(?:$|\\x1f)'`;
};
const S = (value: string) => `'${value}'`;

interface Expected {
  readonly where: readonly string[];
  readonly params: readonly string[];
  /** date: OFFSET/LIMIT is the page (+1 to see whether there is more); relevance: the ranked matches. */
  readonly limit?: number;
}
const DATE_PAGE = 21;
const RANKED = MAX_RANKED_MATCHES + 1;

/** Every shared case that is not a 400, with the SQL conditions and parameters it must compile to. */
const EXPECTED: Record<string, Expected> = {
  'no query lists everything newest first': { where: [], params: [], limit: DATE_PAGE },
  'a blank query is no query': { where: [], params: [], limit: DATE_PAGE },
  'open: the sign by its text (2) before the cafe by an answer (1)': {
    where: [TERM],
    params: [W('open', 'opens')],
  },
  'sort=date puts the newer cafe first': { where: [TERM], params: [W('open', 'opens')], limit: DATE_PAGE },
  'OPEN 24 HOURS: every word must match': {
    where: [TERM, TERM, TERM],
    params: [W('open', 'opens'), W('24'), W('hour', 'hours')],
  },
  'plural folding: hour finds HOURS': { where: [TERM], params: [W('hour', 'hours')] },
  'red finds the red sign, not the colour name Desired Dawn': { where: [TERM], params: [W('red', 'reds')] },
  'colour names are not searched': { where: [TERM], params: [W('dawn', 'dawns')] },
  'words, not substrings: "sire" is not in "desired"': { where: [TERM], params: [W('sire', 'sires')] },
  'words, not substrings: "ark" is not in "park"': { where: [TERM], params: [W('ark', 'arks')] },
  'plural folding: dog finds dogs': { where: [TERM], params: [W('dog', 'dogs')] },
  'plural folding: box finds boxes': { where: [TERM], params: [W('box', 'boxs', 'boxes')] },
  'plural folding: boxes finds boxes': { where: [TERM], params: [W('box', 'boxs', 'boxes')] },
  'accent folding: cafe finds café': { where: [TERM], params: [W('cafe', 'cafes')] },
  'accent folding: CAFÉ finds café': { where: [TERM], params: [W('cafe', 'cafes')] },
  'Cyrillic: новый finds Новый': { where: [TERM], params: [W('новый', 'новыйs')] },
  'Cyrillic: й is a letter of its own, not и with a breve': { where: [TERM], params: [W('новыи', 'новыиs')] },
  'Greek: Αθήνα finds Αθήνα': { where: [TERM], params: [W('αθηνα', 'αθηναs')] },
  'Greek: accents fold, αθηνα finds Αθήνα': { where: [TERM], params: [W('αθηνα', 'αθηναs')] },
  'Greek: final sigma, οδός finds ΟΔΟΣ': { where: [TERM], params: [W('οδοσ', 'οδοσs')] },
  'Korean: 한국 finds the Hangul word': { where: [TERM], params: [W('한국')] },
  'Japanese: がっこう finds がっこう': { where: [TERM], params: [W('がっこう', 'がっこうs')] },
  'Japanese: かっこう is another word than がっこう': { where: [TERM], params: [W('かっこう', 'かっこうs')] },
  '™ is a separator: brand finds Brand™': { where: [TERM], params: [W('brand', 'brands')] },
  'ligatures split: fish finds ﬁsh': {
    where: [TERM, TERM],
    params: [W('fish', 'fishs', 'fishes'), W('flour', 'flours')],
  },
  'an accent stored decomposed: café finds Cafe + U+0301': { where: [TERM], params: [W('cafe', 'cafes')] },
  'a decomposed accent in the query: cafe + U+0301 finds it too': {
    where: [TERM, TERM],
    params: [W('cafe', 'cafes'), W('noir', 'noirs')],
  },
  'stop words are dropped from the query': { where: [TERM], params: [W('dog', 'dogs')] },
  'detailed description is searched': { where: [TERM], params: [W('ball', 'balls')] },
  'labels are searched': { where: [TERM], params: [W('grass', 'grasses')] },
  'categories are searched': { where: [TERM], params: [W('warehouse', 'warehouses')] },
  'category ids split into words': {
    where: [TERM, TERM],
    params: [W('street', 'streets'), W('scene', 'scenes')],
  },
  'the original upload name is searched': {
    where: [TERM, TERM],
    params: [W('holiday', 'holidays', 'holidaies'), W('photo', 'photos')],
  },
  'the file name is searched': { where: [TERM], params: [W('broken', 'brokens')] },
  'file name words: dogs.jpg': { where: [TERM, TERM], params: [W('dog', 'dogs'), W('jpg', 'jpgs')] },
  'caption, label and file name all hold the word': { where: [TERM], params: [W('traffic', 'traffics')] },
  'words across fields all match': {
    where: [TERM, TERM, TERM],
    params: [W('brown', 'browns'), W('ball', 'balls'), W('grass', 'grasses')],
  },
  'a word in no record finds nothing': { where: [TERM], params: [W('zebra', 'zebras')] },
  'colour=red needs 5% of the image: the cafe has 3%': {
    where: [COLOUR],
    params: [S('red'), '5e-2'],
    limit: DATE_PAGE,
  },
  // A 0 minimum still needs the family present: the smallest positive double.
  'colourMin=0 lets any share of red through': {
    where: [COLOUR],
    params: [S('red'), '5e-324'],
    limit: DATE_PAGE,
  },
  'colourMin=0.8 is too much red for the sign': {
    where: [COLOUR],
    params: [S('red'), '8e-1'],
    limit: DATE_PAGE,
  },
  'color and grey are accepted spellings': { where: [COLOUR], params: [S('gray'), '5e-2'], limit: DATE_PAGE },
  'two colours: both must be there': {
    where: [COLOUR, COLOUR],
    params: [S('green'), '5e-2', S('brown'), '5e-2'],
    limit: DATE_PAGE,
  },
  'repeated colour parameters combine': {
    where: [COLOUR, COLOUR],
    params: [S('brown'), '5e-2', S('green'), '5e-2'],
    limit: DATE_PAGE,
  },
  'colour and words combine': { where: [TERM, COLOUR], params: [W('open', 'opens'), S('red'), '5e-2'] },
  'a light/dark colour name filters by that name': {
    where: [NAMED_COLOUR],
    params: [S('brown'), S('dark brown'), '5e-2'],
    limit: DATE_PAGE,
  },
  'another name of the family does not match': {
    where: [NAMED_COLOUR],
    params: [S('brown'), S('light brown'), '5e-2'],
    limit: DATE_PAGE,
  },
  'label filter': { where: [LABEL], params: [P(['dog', 'dogs'])], limit: DATE_PAGE },
  'label filter folds case and plurals': {
    where: [LABEL],
    params: [P(['traffic', 'traffics'], ['light', 'lights'])],
    limit: DATE_PAGE,
  },
  'label filter is a whole label: "traffic" is not "traffic light"': {
    where: [LABEL],
    params: [P(['traffic', 'traffics'])],
    limit: DATE_PAGE,
  },
  'category filter': { where: [CATEGORY], params: [P(['animal', 'animals'])], limit: DATE_PAGE },
  'category filter folds the id': {
    where: [CATEGORY],
    params: [P(['street', 'streets'], ['scene', 'scenes'])],
    limit: DATE_PAGE,
  },
  'hasText=true: text found, newest first': { where: [HAS_TEXT], params: [], limit: DATE_PAGE },
  'hasText=false includes empty text': { where: [NO_TEXT], params: [], limit: DATE_PAGE },
  'date range includes both whole days': {
    where: [FROM, BEFORE],
    params: [S('2026-11-01T00:00:00.000Z'), S('2026-11-04T00:00:00.000Z')],
    limit: DATE_PAGE,
  },
  'from a date-time': { where: [FROM], params: [S('2026-11-04T10:00:00.000Z')], limit: DATE_PAGE },
  'to a date-time is inclusive': {
    where: [BEFORE],
    params: [S('2026-10-30T10:00:00.001Z')],
    limit: DATE_PAGE,
  },
  'to=9998-12-31, the last day accepted, keeps everything': {
    where: [BEFORE],
    params: [S('9999-01-01T00:00:00.000Z')],
    limit: DATE_PAGE,
  },
  'a date-time with a zone offset': {
    where: [FROM, BEFORE],
    params: [S('2026-11-05T10:00:00.000Z'), S('2026-11-06T10:00:00.001Z')],
    limit: DATE_PAGE,
  },
  'date uploaded is createdAt: a re-run fast stage does not make an image newer': {
    where: [],
    params: [],
    limit: DATE_PAGE,
  },
  'from filters on createdAt, not on the re-run': {
    where: [FROM],
    params: [S('2026-11-15T00:00:00.000Z')],
    limit: DATE_PAGE,
  },
  'to filters on createdAt; a record without it by its fast stage time': {
    where: [FROM, BEFORE],
    params: [S('2026-09-30T00:00:00.000Z'), S('2026-10-02T00:00:00.000Z')],
    limit: DATE_PAGE,
  },
  'detailed stage state': { where: [DETAILED], params: [S('pending')], limit: DATE_PAGE },
  'fast stage state': { where: [FAST], params: [S('failed')], limit: DATE_PAGE },
  'limit keeps the first results, total counts all': { where: [], params: [], limit: 4 },
  '% is a separator, not a wildcard': { where: [TERM], params: [W('op')] },
  '_ is a separator, not a wildcard': { where: [TERM, TERM], params: [W('op'), W('n')] },
  'LIKE wildcards in the middle of words': { where: [TERM], params: [W('open', 'opens')] },
  'SQL injection attempt is two words': { where: [TERM, TERM], params: [W('red', 'reds'), W('1')] },
  'SQL keywords are just words': {
    where: [TERM, TERM, TERM],
    params: [W('drop', 'drops'), W('table', 'tables'), W('description', 'descriptions')],
  },
  'SELECT * FROM': {
    where: [TERM, TERM, TERM],
    params: [W('select', 'selects'), W('from', 'froms'), W('sidecar', 'sidecars')],
  },
  'quotes around a word': { where: [TERM], params: [W('open', 'opens')] },
  'backslashes and regex syntax': { where: [TERM, TERM], params: [W('b'), W('open', 'opens')] },
  'control characters separate words': { where: [TERM], params: [W('red', 'reds')] },
  'unicode words that are not there': {
    where: [TERM, TERM],
    params: [W('日本語', '日本語s'), W('zoe', 'zoes')],
  },
  'a label with quotes is still a phrase': { where: [LABEL], params: [P(['dog', 'dogs'])], limit: DATE_PAGE },
};

/** The WHERE conditions after the one every query has (malformed sidecars read as NULL rows). */
function conditionsOf(sql: string): string[] {
  const where = /\nWHERE (.*)\nORDER BY/s.exec(sql)?.[1] ?? '';
  const [base, ...rest] = where.split('\n  AND ');
  expect(base).toBe('d.fast_state IS NOT NULL');
  return rest;
}

describe('every shared case compiles to its SQL conditions and parameters', () => {
  it.each(SEARCH_CASES.map((c) => [c.name, c] as const))('%s', (name, c) => {
    if ('error' in c.expect) {
      // A 400 from the parser: nothing is compiled.
      expect(() => compile(c.params)).toThrow(SearchQueryError);
      try {
        compile(c.params);
      } catch (error) {
        expect((error as SearchQueryError).parameter).toBe(c.expect.error);
      }
      return;
    }
    const expected = EXPECTED[name];
    if (!expected) throw new Error(`No expected SQL for the shared case "${name}": add it to EXPECTED`);
    const compiled = compile(c.params);
    expect(conditionsOf(compiled.sql)).toEqual(expected.where);
    expect(executionParameters(compiled.params)).toEqual(expected.params);
    expect(compiled.sql.match(/\?/g)?.length ?? 0).toBe(compiled.params.length);
    expect(compiled.sql).toMatch(
      new RegExp(`ORDER BY d\\.uploaded_at DESC, d\\.key ASC\\nLIMIT ${expected.limit ?? RANKED}$`),
    );
  });
});

describe('the statement', () => {
  it('reads the configured table, folds case and accents, and counts every match', () => {
    const { sql } = compile({ q: 'open' });
    expect(sql).toContain('FROM "test_search"."descriptions"');
    expect(sql).toContain('count(*) OVER () AS total_matches');
    expect(sql).toContain('text."full" AS text_full');
    expect(sql).toMatch(/^SELECT d\.key, d\.uploaded_at, /);
  });

  it('pages a date search with OFFSET from the cursor, and a relevance search in the engine', () => {
    const first = compileSearch(parseSearchQuery({ colour: 'red', limit: '2' }), TABLE);
    expect(first.sql).toMatch(/\nLIMIT 3$/);
    const query = parseSearchQuery({ colour: 'red', limit: '2' });
    const second = compileSearch(
      parseSearchQuery({ colour: 'red', limit: '2', cursor: encodeCursor(query, 2) }),
      TABLE,
    );
    expect(second.sql).toMatch(/\nOFFSET 2\nLIMIT 3$/);
    const ranked = compileSearch(
      parseSearchQuery({
        q: 'open',
        limit: '2',
        cursor: encodeCursor(parseSearchQuery({ q: 'open', limit: '2' }), 2),
      }),
      TABLE,
    );
    expect(ranked.sql).not.toContain('OFFSET');
    expect(ranked.offset).toBe(0);
  });

  it("folds with text.ts's table: NFC, ligatures, translate, lower", () => {
    const sql = foldSql('x');
    expect(sql.startsWith('lower(translate(replace(')).toBe(true);
    expect(sql).toContain('normalize(x, NFC)');
    const [, from = '', to = ''] = /, '((?:[^']|'')*)', '((?:[^']|'')*)'\)\)$/.exec(sql) ?? [];
    const fromChars = [...from.replaceAll("''", "'")];
    const toChars = [...to.replaceAll("''", "'")];
    const mapped = (ch: string) => {
      const i = fromChars.indexOf(ch);
      return i < 0 ? ch : (toChars[i] ?? '');
    };
    expect(['É', 'é', 'ü', 'Ñ', 'ç', 'ø', 'ẞ', 'Ａ', '１', 'ή', 'ς'].map(mapped)).toEqual([
      'E',
      'e',
      'u',
      'N',
      'c',
      'ø',
      'ẞ',
      'A',
      '1',
      'η',
      'σ',
    ]);
    // Other scripts' letters stay: й is not и, が is not か, Hangul is not split into jamo.
    expect(['й', 'が', '한', '™'].map(mapped)).toEqual(['й', 'が', '한', '™']);
    expect(["'", '\u2019', '\u02bc'].map(mapped)).toEqual(['', '', '']);
  });
});

describe('hostile input is a parameter, never SQL text', () => {
  const HOSTILE = [
    "red' OR '1'='1",
    "'; DROP TABLE descriptions; --",
    "it''s ''quoted''",
    '100% _match_ %%',
    'SELECT * FROM information_schema.tables UNION SELECT 1',
    '\\x27 \\u0027 \\\\',
    'ünïcödé 日本語 Zoë',
    `${'long'.repeat(16)} ${'y'.repeat(64)}`,
  ];

  it.each(HOSTILE)('%s: the SQL is the same as for plain words; the values are quoted literals', (q) => {
    const hostile = compile({ q });
    const terms = parseSearchQuery({ q }).terms;
    const plain = compile({ q: terms.map((_, i) => `word${String.fromCharCode(97 + i)}`).join(' ') });
    expect(hostile.sql).toBe(plain.sql);
    for (const param of executionParameters(hostile.params)) {
      // One literal: starts and ends with a quote, and every quote inside is doubled.
      expect(param).toMatch(/^'(?:[^']|'')*'$/);
      expect(param.length).toBeLessThanOrEqual(MAX_EXECUTION_PARAMETER_LENGTH);
    }
  });

  it('quotes in a label are doubled inside its literal', () => {
    const [value] = compileSearch(parseSearchQuery({ label: "dog's toy" }), TABLE).params;
    // "dog's" folds to "dogs" → dog (text.ts joins apostrophes), so no quote reaches the pattern…
    expect(executionParameters([value ?? { type: 'varchar', value: '' }])[0]).not.toContain("'s");
    // …and a raw quote, were one there, is doubled.
    expect(executionParameters([{ type: 'varchar', value: "a'b" }])).toEqual(["'a''b'"]);
    expect(executionParameters([{ type: 'varchar', value: '' }])).toEqual(["''"]);
  });

  it('a value too long for one ExecutionParameter is a 400 naming the parameter', () => {
    const words = Array.from({ length: 100 }, () => 'a').join(' ');
    expect(() => compile({ label: words })).toThrow(SearchQueryError);
    try {
      compile({ label: words });
    } catch (error) {
      expect((error as SearchQueryError).parameter).toBe('label');
      expect((error as Error).message).toMatch(/at most 1024 characters/);
    }
  });

  it('10 KB, empty and SQL-looking parameters never reach the compiler', () => {
    const cases: Array<Record<string, string>> = [
      { q: 'x'.repeat(10_240) },
      { q: "'" },
      { colour: "red'); --" },
      { limit: '1; DROP' },
      { sort: 'date; DROP' },
    ];
    for (const params of cases) {
      expect(() => compile(params)).toThrow(SearchQueryError);
    }
    expect(compile({ q: '' }).params).toEqual([]);
  });

  it('refuses a table name that is not a Glue name (deploy configuration, never request input)', () => {
    expect(() => compileSearch(parseSearchQuery({}), { database: 'x"; DROP', table: 't' })).toThrow(
      /Glue name/,
    );
  });
});
