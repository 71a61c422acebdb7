import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteSearchIndex } from '#emulators/sqlite-search-index.ts';
import { LocalSearchIndex } from '#engine/search/local-index.ts';
import { parseSearchQuery, type SearchParams } from '#engine/search/query.ts';
import { generateRecords, QUERY_WORDS } from '#test/bench/search-bench.ts';
import { CORPUS, KEYS } from '#test/search/cases.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function indexFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'search-index-'));
  dirs.push(dir);
  return join(dir, 'search-index', 'index.sqlite');
}

const keys = (index: SqliteSearchIndex, params: SearchParams) =>
  index.search(parseSearchQuery(params)).results.map((hit) => hit.key);

describe('the search index file', () => {
  it('is created empty with a rebuild asked for, then opens as it is: no rebuild, same answers', () => {
    const file = indexFile();
    const first = SqliteSearchIndex.open(file);
    expect(first.rebuild).toEqual({ reason: 'missing' });
    for (const entry of CORPUS) first.index.upsert(entry);
    first.index.markComplete();
    const before = first.index.search(parseSearchQuery({ q: 'open 24 hours' }));
    first.index.close();

    const again = SqliteSearchIndex.open(file);

    expect(again.rebuild).toBeUndefined();
    expect(again.index.size).toBe(CORPUS.length);
    expect(again.index.search(parseSearchQuery({ q: 'open 24 hours' }))).toEqual(before);
    again.index.close();
  });

  it('a file that is not an index is moved aside and replaced by an empty one, with the reason', () => {
    const file = indexFile();
    SqliteSearchIndex.open(file).index.close();
    writeFileSync(file, 'this is not a database, just some bytes written over it'.repeat(100));

    const opened = SqliteSearchIndex.open(file);

    expect(opened.rebuild?.reason).toBe('unreadable');
    expect(opened.rebuild?.detail).toMatch(/not a database/);
    expect(existsSync(`${file}.unreadable`)).toBe(true);
    expect(opened.index.size).toBe(0);
    opened.index.upsert(CORPUS[0] as (typeof CORPUS)[number]);
    expect(keys(opened.index, { q: 'open' })).toEqual([KEYS.redSign]);
    opened.index.close();
  });

  it('a rebuild that did not finish is started again from empty', () => {
    const file = indexFile();
    const first = SqliteSearchIndex.open(file);
    for (const entry of CORPUS.slice(0, 3)) first.index.upsert(entry);
    first.index.close();

    const again = SqliteSearchIndex.open(file);

    expect(again.rebuild?.reason).toBe('incomplete');
    expect(again.index.size).toBe(0);
    again.index.close();
  });

  it('an index a crash left open is rebuilt: a sidecar event may have been lost', () => {
    const file = indexFile();
    const first = SqliteSearchIndex.open(file);
    first.index.markComplete();
    first.index.close();
    const running = SqliteSearchIndex.open(file);
    expect(running.rebuild).toBeUndefined();
    running.index.upsert(CORPUS[0] as (typeof CORPUS)[number]);
    // No close(): the process died here.

    const afterCrash = SqliteSearchIndex.open(file);

    expect(afterCrash.rebuild?.reason).toBe('unclean-stop');
    expect(afterCrash.index.size).toBe(0);
    afterCrash.index.close();
  });
});

describe('the SQLite index answers like the in-memory one', () => {
  it('on a generated corpus, for random queries: the same keys, scores, totals and cursors', () => {
    const records = generateRecords(3000);
    const memory = new LocalSearchIndex();
    const sqlite = SqliteSearchIndex.inMemory();
    for (const entry of records) memory.upsert(entry);
    sqlite.batch(() => {
      for (const entry of records) sqlite.upsert(entry);
    });
    // A later rewrite and a removal, as sidecar events do.
    for (const entry of records.slice(0, 50)) {
      const rewritten = { ...entry, record: { ...entry.record, caption: `${entry.record.caption} again` } };
      memory.upsert(rewritten);
      sqlite.upsert(rewritten);
    }
    for (const entry of records.slice(50, 80)) {
      memory.remove(entry.key);
      sqlite.remove(entry.key);
    }
    const { NOUNS, ADJECTIVES, RARE, FAMILIES } = QUERY_WORDS;
    let seed = 7;
    const next = () => {
      seed = (seed * 48_271) % 2_147_483_647;
      return seed / 2_147_483_647;
    };
    const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
    for (let i = 0; i < 300; i += 1) {
      const params: Record<string, string> = {};
      const words = [
        ...(next() < 0.7 ? [pick(NOUNS)] : []),
        ...(next() < 0.4 ? [pick(ADJECTIVES)] : []),
        ...(next() < 0.15 ? [pick(RARE)] : []),
        ...(next() < 0.1 ? ['again'] : []),
      ];
      if (words.length > 0) params.q = words.join(' ');
      if (next() < 0.3) params.colour = pick(FAMILIES);
      if (next() < 0.2) params.colourMin = pick(['0', '0.2', '0.5']);
      if (params.colourMin && !params.colour) delete params.colourMin;
      if (next() < 0.2) params.label = pick(NOUNS);
      if (next() < 0.2) params.category = pick(['animals', 'vehicles', 'food', 'signs', 'nature']);
      if (next() < 0.15) params.hasText = pick(['true', 'false']);
      if (next() < 0.15) params.from = '2025-06-01';
      if (next() < 0.15) params.to = '2025-09-30';
      if (next() < 0.1) params.detailed = pick(['done', 'pending']);
      if (next() < 0.3) params.sort = pick(['date', 'relevance']);
      params.limit = pick(['1', '5', '20', '100']);
      const first = parseSearchQuery(params);
      const expected = memory.search(first);
      expect(sqlite.search(first), JSON.stringify(params)).toEqual(expected);
      if (expected.nextCursor) {
        const second = parseSearchQuery({ ...params, cursor: expected.nextCursor });
        expect(sqlite.search(second), `${JSON.stringify(params)} page 2`).toEqual(memory.search(second));
      }
    }
  });
});

describe('words without filters, answered from the word index alone', () => {
  /** Uploads crowded into a few minutes (and some into one instant), so pages end inside a minute. */
  function crowded(count: number, at: (i: number) => string) {
    return generateRecords(count, 9).map((entry, i) => ({
      ...entry,
      record: { ...entry.record, createdAt: at(i) },
    }));
  }

  function expectSameAnswers(memory: LocalSearchIndex, sqlite: SqliteSearchIndex) {
    const { NOUNS, ADJECTIVES } = QUERY_WORDS;
    const queries = [
      'dog',
      'red',
      `${ADJECTIVES[0]} ${NOUNS[3]}`,
      `${ADJECTIVES[2]} ${NOUNS[5]} ${NOUNS[8]}`,
      `${ADJECTIVES[1]} ${NOUNS[1]} ${NOUNS[2]} ${ADJECTIVES[3]}`,
      // Five terms: past the levelled queries, scored row by row.
      `${ADJECTIVES[1]} ${NOUNS[1]} ${NOUNS[2]} ${ADJECTIVES[3]} ${NOUNS[4]}`,
    ];
    for (const q of queries) {
      for (const sort of ['relevance', 'date']) {
        for (const limit of ['1', '7', '50']) {
          let params: Record<string, string> = { q, sort, limit };
          // Every page, so each page boundary that falls inside a crowded minute is crossed.
          for (let page = 0; page < 40; page += 1) {
            const expected = memory.search(parseSearchQuery(params));
            expect(sqlite.search(parseSearchQuery(params)), JSON.stringify(params)).toEqual(expected);
            if (!expected.nextCursor) break;
            params = { ...params, cursor: expected.nextCursor };
          }
        }
      }
    }
  }

  it('orders by date and key exactly when many uploads share a minute or an instant', () => {
    // Inserted newest-key-first, so insertion order is not key order.
    const records = crowded(400, (i) =>
      i % 5 === 0
        ? '2025-03-01T10:01:00.000Z'
        : `2025-03-01T10:0${i % 3}:${String((i * 7) % 60).padStart(2, '0')}.${i % 2 ? '5' : '25'}Z`,
    ).reverse();
    const memory = new LocalSearchIndex();
    const sqlite = SqliteSearchIndex.inMemory();
    for (const entry of records) {
      memory.upsert(entry);
      sqlite.upsert(entry);
    }
    // Rewrites that move a record to another minute and back, and removals.
    for (const entry of records.slice(0, 30)) {
      const moved = { ...entry, record: { ...entry.record, createdAt: '2025-03-01T09:59:59Z' } };
      memory.upsert(moved);
      sqlite.upsert(moved);
    }
    for (const entry of records.slice(0, 10)) {
      memory.upsert(entry);
      sqlite.upsert(entry);
    }
    for (const entry of records.slice(30, 45)) {
      memory.remove(entry.key);
      sqlite.remove(entry.key);
    }
    expectSameAnswers(memory, sqlite);
    sqlite.close();
  });

  it('answers the same while a record holds an upload time that is not an ISO time, and after it is gone', () => {
    const records = crowded(200, (i) => `2025-0${1 + (i % 9)}-1${i % 10}T0${i % 10}:00:00Z`);
    const memory = new LocalSearchIndex();
    const sqlite = SqliteSearchIndex.inMemory();
    for (const entry of records) {
      memory.upsert(entry);
      sqlite.upsert(entry);
    }
    // Written by other code: the schema would refuse it, but the index must not misplace it.
    const odd = { ...(records[0] as (typeof records)[number]), key: 'odd.jpg' };
    const oddEntry = { ...odd, record: { ...odd.record, createdAt: 'yesterday' } };
    memory.upsert(oddEntry);
    sqlite.upsert(oddEntry);
    expect(keys(sqlite, { q: 'shows', sort: 'date', limit: '1' })).toEqual(['odd.jpg']);
    expectSameAnswers(memory, sqlite);
    memory.remove('odd.jpg');
    sqlite.remove('odd.jpg');
    expectSameAnswers(memory, sqlite);
    sqlite.close();
  });
});
