import { describe, expect, it } from 'vitest';
import { SqliteSearchIndex } from '#emulators/sqlite-search-index.ts';
import { LocalSearchIndex, type SearchIndex } from '#engine/search/local-index.ts';
import { parseSearchQuery, SearchQueryError } from '#engine/search/query.ts';
import { CORPUS, type CorpusEntry, corpusEntry, KEYS, SEARCH_CASES } from '#test/search/cases.ts';

/** Both local engines: MiniSearch in memory (the CLI) and the SQLite file (the local stack). */
const ENGINES: ReadonlyArray<[string, () => SearchIndex]> = [
  ['in memory', () => new LocalSearchIndex()],
  ['SQLite', () => SqliteSearchIndex.inMemory()],
];

describe.each(ENGINES)('local search engine (%s)', (_name, newIndex) => {
  function indexOf(corpus: readonly CorpusEntry[]): SearchIndex {
    const index = newIndex();
    for (const entry of corpus) index.upsert(entry);
    return index;
  }

  const shared = indexOf(CORPUS);

  describe('the shared cases', () => {
    for (const c of SEARCH_CASES) {
      it(c.name, () => {
        const index = c.corpus ? indexOf(c.corpus) : shared;
        if (Array.isArray(c.expect)) {
          const response = index.search(parseSearchQuery(c.params));
          expect(response.results.map((hit) => hit.key)).toEqual(c.expect);
          if (c.total !== undefined) expect(response.total).toBe(c.total);
        } else {
          const error = (() => {
            try {
              index.search(parseSearchQuery(c.params));
            } catch (caught) {
              return caught;
            }
            return undefined;
          })();
          expect(error).toBeInstanceOf(SearchQueryError);
          expect((error as SearchQueryError).parameter).toBe((c.expect as { error: string }).error);
          expect((error as SearchQueryError).code).toBe('INVALID_REQUEST');
        }
      });
    }
  });

  describe('paging, updates, results', () => {
    it('pages through every match with the cursor, without repeats', () => {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page += 1) {
        const response = shared.search(parseSearchQuery({ limit: '3', ...(cursor ? { cursor } : {}) }));
        seen.push(...response.results.map((hit) => hit.key));
        cursor = response.nextCursor;
        if (!cursor) break;
      }
      expect(seen).toEqual(shared.search(parseSearchQuery({ limit: '100' })).results.map((hit) => hit.key));
      expect(seen).toHaveLength(CORPUS.length);
    });

    it('refuses a cursor taken from another query', () => {
      const { nextCursor } = shared.search(parseSearchQuery({ limit: '1' }));
      expect(nextCursor).toBeDefined();
      expect(() => parseSearchQuery({ q: 'open', limit: '1', cursor: nextCursor ?? '' })).toThrow(
        /another query/,
      );
    });

    it('a rewritten sidecar replaces the old words; a removed one is gone', () => {
      const index = indexOf(CORPUS);
      index.upsert(
        corpusEntry({ key: KEYS.boxes, uploadedAt: '2026-10-30T10:00:00.000Z', caption: 'a sleeping cat' }),
      );
      expect(index.search(parseSearchQuery({ q: 'cardboard' })).results).toEqual([]);
      expect(index.search(parseSearchQuery({ q: 'cat' })).results.map((hit) => hit.key)).toEqual([
        KEYS.boxes,
      ]);
      index.remove(KEYS.boxes);
      expect(index.search(parseSearchQuery({ q: 'cat' })).results).toEqual([]);
      expect(index.size).toBe(CORPUS.length - 1);
    });

    it('a record added after a search is listed by the next one, in date order', () => {
      const index = newIndex();
      expect(index.search(parseSearchQuery({})).results).toEqual([]);
      for (const entry of CORPUS) index.upsert(entry);
      expect(index.search(parseSearchQuery({ limit: '2' })).results.map((hit) => hit.key)).toEqual([
        KEYS.cafe,
        KEYS.failed,
      ]);
      index.upsert(
        corpusEntry({ key: KEYS.boxes, uploadedAt: '2026-12-01T00:00:00.000Z', caption: 'boxes' }),
      );
      expect(index.search(parseSearchQuery({ limit: '1' })).results.map((hit) => hit.key)).toEqual([
        KEYS.boxes,
      ]);
    });

    it('a result carries the summary a page shows', () => {
      const [hit] = shared.search(parseSearchQuery({ q: 'open 24 hours' })).results;
      expect(hit).toMatchObject({
        key: KEYS.redSign,
        name: 'red-sign.png',
        caption: 'a red sign with white letters',
        text: 'OPEN\n24 HOURS',
        labels: ['sign'],
        status: { fast: 'done', detailed: 'done' },
        uploadedAt: '2026-11-03T10:00:00.000Z',
      });
      // open (text, 2) + 24 (text, 2) + hour (text, 2).
      expect(hit?.score).toBe(6);
      expect(hit?.colours.map((c) => c.family)).toEqual(['red', 'white']);
    });

    it('names an upload by its original file name', () => {
      const [hit] = shared.search(parseSearchQuery({ q: 'holiday' })).results;
      expect(hit?.name).toBe('Holiday Photo.JPG');
    });
  });
});
