import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAthenaSearch, type SqlRow, type SqlRunner } from '#engine/search/athena-engine.ts';
import { foldSql, type SqlDialect } from '#engine/search/athena-sql.ts';
import { LocalSearchIndex } from '#engine/search/local-index.ts';
import { encodeCursor, parseSearchQuery, SearchQueryError } from '#engine/search/query.ts';
import { foldText } from '#engine/search/text.ts';
import { descriptionTableColumns } from '../../infra/glue-columns.ts';
import { CORPUS, type CorpusEntry, SEARCH_CASES } from '../search/cases.ts';

/**
 * The compiled Athena SQL, run for real on an embedded engine (DuckDB) over the shared case
 * corpus written as one-line sidecars, through the same engine code the Lambda runs
 * (createAthenaSearch: compile → run → rank → page). What differs from Athena, on purpose and
 * only here:
 * - five spellings (SqlDialect below): Trino's normalize(x, NFC) is DuckDB's nfc_normalize, and: Trino's transform / reduce / array_join / json_format have
 *   other names in DuckDB, and DuckDB macros cannot take lambdas, so they cannot be shimmed;
 * - `regexp_like` is a one-line macro over DuckDB's `regexp_matches` (RE2; Trino uses Joni —
 *   the patterns use only \p{L}, \p{N}, \x1f, groups and alternation, which both read alike);
 * - the table is a DuckDB view over read_json with the Glue columns (generated from the record
 *   schema) in the record's own key case; the OpenX SerDe folds key case instead.
 * Parameters are bound by DuckDB, not rendered as ExecutionParameters text (that rendering is
 * unit-tested in test/unit/search/athena-sql.test.ts).
 */
const DUCKDB_DIALECT: SqlDialect = {
  transform: (list, x, body) => `list_transform(${list}, ${x} -> ${body})`,
  sumWhere: (list, x, cond, value) => `list_sum(list_transform(${list}, ${x} -> IF(${cond}, ${value}, 0e0)))`,
  arrayJoin: (list, separator) => `array_to_string(${list}, ${separator})`,
  jsonText: (value) => `CAST(CAST(${value} AS JSON) AS VARCHAR)`,
  nfc: (value) => `nfc_normalize(${value})`,
};

/** Cases whose answer cannot be the same in AWS, and why. */
const ATHENA_DIFFERS: Record<string, string> = {
  'the original upload name is searched':
    'the original file name is object metadata of the upload; Athena reads only the sidecar, which has no name',
};

/** Hive type → DuckDB type (struct<a:T> → STRUCT("a" T), array<T> → T[], map<string,T> → MAP). */
function duckType(hive: string): string {
  let i = 0;
  const parse = (): string => {
    const word = /^[a-z]+/.exec(hive.slice(i))?.[0] ?? '';
    i += word.length;
    if (word === 'struct') {
      i += 1; // <
      const fields: string[] = [];
      while (hive[i] !== '>') {
        const name = /^[A-Za-z0-9_]+/.exec(hive.slice(i))?.[0] ?? '';
        i += name.length + 1; // name:
        fields.push(`"${name}" ${parse()}`);
        if (hive[i] === ',') i += 1;
      }
      i += 1;
      return `STRUCT(${fields.join(', ')})`;
    }
    if (word === 'array') {
      i += 1;
      const item = parse();
      i += 1;
      return `${item}[]`;
    }
    if (word === 'map') {
      i += 1;
      const key = parse();
      i += 1; // ,
      const value = parse();
      i += 1;
      return `MAP(${key}, ${value})`;
    }
    return { string: 'VARCHAR', bigint: 'BIGINT', double: 'DOUBLE', boolean: 'BOOLEAN' }[word] ?? word;
  };
  return parse();
}

class DuckDbRunner implements SqlRunner {
  readonly statements: string[] = [];
  constructor(private readonly connection: DuckDBConnection) {}
  async run(statement: { sql: string; params: ReadonlyArray<{ value: string | number }> }) {
    this.statements.push(statement.sql);
    const reader = await this.connection.runAndReadAll(
      statement.sql,
      statement.params.map((p) => p.value),
    );
    const rows = reader.getRowObjectsJson().map((row) => {
      const out: Record<string, string> = {};
      for (const [name, value] of Object.entries(row)) if (value !== null) out[name] = String(value);
      return out as SqlRow;
    });
    return { rows };
  }
}

let dir: string;
let instance: DuckDBInstance;
let connection: DuckDBConnection;

/** Writes the corpus as sidecars (one JSON document per line, as S3ObjectStore does) and a view over them. */
async function tableOver(corpus: readonly CorpusEntry[], schema: string): Promise<void> {
  const root = join(dir, schema);
  // A case's own corpus replaces the previous case's, files and all.
  rmSync(root, { recursive: true, force: true });
  corpus.forEach((entry, i) => {
    const file = join(root, i % 2 === 0 ? 'uploads' : '', `${i}.json`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(entry.record)}\n`);
  });
  // A stray object under the prefix: the SerDe (ignore.malformed.json) reads it as a row of NULLs.
  writeFileSync(join(root, 'not-a-sidecar.json'), 'this is not json\n');
  const columns = descriptionTableColumns(undefined, { keepCase: true })
    .map((c) => `"${c.name}": '${duckType(c.type)}'`)
    .join(', ');
  await connection.run(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await connection.run(
    `CREATE OR REPLACE VIEW ${schema}.descriptions AS SELECT * FROM read_json('${root}/**/*.json', format = 'newline_delimited', ignore_errors = true, columns = {${columns}})`,
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'athena-sql-'));
  instance = await DuckDBInstance.create(':memory:');
  connection = await instance.connect();
  await connection.run('CREATE MACRO regexp_like(s, p) AS regexp_matches(s, p)');
  await tableOver(CORPUS, 'test_search');
});

afterAll(() => {
  connection?.closeSync();
  instance?.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

describe('the compiled search SQL on an embedded engine, over the shared cases', () => {
  const runnable = SEARCH_CASES.filter((c) => !('error' in c.expect));
  it.each(runnable.map((c) => [c.name, c] as const))('%s', async (name, c) => {
    if (c.corpus) await tableOver(c.corpus, 'case_search');
    const runner = new DuckDbRunner(connection);
    const search = createAthenaSearch({
      runner,
      table: { database: c.corpus ? 'case_search' : 'test_search', table: 'descriptions' },
      dialect: DUCKDB_DIALECT,
    });
    const response = await search(parseSearchQuery(c.params));
    const keys = response.results.map((r) => r.key);
    if (ATHENA_DIFFERS[name]) {
      expect(keys).not.toEqual(c.expect);
      return;
    }
    expect(keys).toEqual(c.expect);
    if (c.total !== undefined) expect(response.total).toBe(c.total);
  });

  it('folds every character as text.ts does: one folding for both engines', async () => {
    // Every BMP code point alone (no surrogates), plus words whose folding depends on context.
    const texts: string[] = [];
    // Letters new in Unicode 16 (2024): the embedded engine's case tables do not have them yet.
    const newer = (cp: number) => cp === 0x1c89 || (cp >= 0xa7cb && cp <= 0xa7dc);
    for (let cp = 1; cp <= 0xffff; cp++) {
      if ((cp < 0xd800 || cp > 0xdfff) && !newer(cp)) texts.push(String.fromCodePoint(cp));
    }
    texts.push('ΟΔΟΣ ΑΘΗΝΑΣ', 'Cafe\u0301', 'ﬁsh ﬂour', 'Brand™', '서울 한국', 'がっこう', 'Новый', "don't");
    const reader = await connection.runAndReadAll(
      `SELECT t, ${foldSql('t', DUCKDB_DIALECT)} AS f FROM (SELECT unnest(from_json(?::JSON, '["VARCHAR"]')) AS t)`,
      [JSON.stringify(texts)],
    );
    const differ = reader
      .getRowObjectsJson()
      .filter((row) => foldText(String(row.t)) !== String(row.f))
      .map(
        (row) =>
          `${String(row.t)} (U+${String(row.t).codePointAt(0)?.toString(16)}): ${foldText(String(row.t))} ≠ ${String(row.f)}`,
      );
    expect(differ).toEqual([]);
  });

  it('pages by cursor: the second page continues the first, for both sorts', async () => {
    const search = createAthenaSearch({
      runner: new DuckDbRunner(connection),
      table: { database: 'test_search', table: 'descriptions' },
      dialect: DUCKDB_DIALECT,
    });
    // Any red at all: the sign (72%) and the cafe (3%).
    const params = { colour: 'red', colourMin: '0', limit: '1' };
    for (const sort of ['date', 'relevance']) {
      const first = await search(parseSearchQuery({ ...params, sort }));
      expect(first.total).toBe(2);
      expect(first.nextCursor).toBeDefined();
      const second = await search(parseSearchQuery({ ...params, sort, cursor: first.nextCursor ?? '' }));
      expect([...first.results, ...second.results].map((r) => r.key)).toEqual([
        'images/cafe.jpg',
        'images/red-sign.png',
      ]);
      expect(second.nextCursor).toBeUndefined();
    }
  });

  it('counts total on a date page past the end, as the local engine does', async () => {
    const search = createAthenaSearch({
      runner: new DuckDbRunner(connection),
      table: { database: 'test_search', table: 'descriptions' },
      dialect: DUCKDB_DIALECT,
    });
    const params = { colour: 'red', colourMin: '0', sort: 'date', limit: '1' };
    const past = parseSearchQuery({ ...params, cursor: encodeCursor(parseSearchQuery(params), 5) });
    const response = await search(past);
    expect(response).toEqual({ results: [], total: 2 });
    const local = new LocalSearchIndex();
    for (const entry of CORPUS) local.upsert(entry);
    expect(local.search(past)).toEqual(response);
    // No matches at all, past the end: 0 either way.
    const none = { q: 'zebra', sort: 'date' };
    const noneResponse = await search(
      parseSearchQuery({ ...none, cursor: encodeCursor(parseSearchQuery(none), 3) }),
    );
    expect(noneResponse).toEqual({ results: [], total: 0 });
  });

  it('returns the same JSON shape as the local engine: the record fields a result shows', async () => {
    const search = createAthenaSearch({
      runner: new DuckDbRunner(connection),
      table: { database: 'test_search', table: 'descriptions' },
      dialect: DUCKDB_DIALECT,
    });
    const { results } = await search(parseSearchQuery({ q: 'open 24 hours' }));
    const [hit] = results;
    expect(hit).toMatchObject({
      key: 'images/red-sign.png',
      name: 'red-sign.png',
      uploadedAt: '2026-11-03T10:00:00.000Z',
      status: { fast: 'done', detailed: 'done' },
      caption: 'a red sign with white letters',
      text: 'OPEN\n24 HOURS',
      labels: ['sign'],
      categories: [],
    });
    expect(hit?.colours).toEqual([
      { hex: '#e0102f', name: 'Red Ribbon', family: 'red', fraction: 0.72 },
      { hex: '#ffffff', name: 'White', family: 'white', fraction: 0.28 },
    ]);
    // open (text, 2) + 24 (text, 2) + hour (text, 2)
    expect(hit?.score).toBe(6);
  });

  it('hostile queries are parameters: the engine answers, never a SQL error', async () => {
    const search = createAthenaSearch({
      runner: new DuckDbRunner(connection),
      table: { database: 'test_search', table: 'descriptions' },
      dialect: DUCKDB_DIALECT,
    });
    const hostile = [
      "red' OR '1'='1",
      "'); DROP TABLE descriptions; --",
      '\\x1f(?:.*)',
      'ünïcödé 日本語 🙂 open',
      "o'pen",
      '100% _match_',
    ];
    for (const q of hostile) {
      let response: Awaited<ReturnType<typeof search>> | undefined;
      try {
        response = await search(parseSearchQuery({ q }));
      } catch (error) {
        expect(error).toBeInstanceOf(SearchQueryError);
        continue;
      }
      expect(Array.isArray(response.results)).toBe(true);
    }
    const label = await search(parseSearchQuery({ label: "traffic light'; --" }));
    expect(label.results.map((r) => r.key)).toEqual(['images/traffic.jpg']);
  });
});
