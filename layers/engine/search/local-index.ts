import MiniSearch from 'minisearch';
import type { DescriptionRecord } from '../record/schema.ts';
import { searchTerms } from '../words.ts';
import {
  type FilterFacts,
  hasFilters,
  hitOf,
  matchesFilters,
  newestFirst,
  relevance,
  type SearchHit,
  type SearchResponse,
  searchDocument,
} from './document.ts';
import { encodeCursor, SEARCH_FIELDS, type SearchField, type SearchQuery } from './query.ts';

export interface IndexEntry {
  /** The image key results are named by. */
  readonly key: string;
  readonly record: DescriptionRecord;
  /** The upload's original file name, when the store keeps one. */
  readonly originalName?: string;
}

/**
 * What the local stack and the CLI search: the in-memory LocalSearchIndex below, or the persistent
 * SQLite index (layers/emulators/sqlite-search-index.ts). Both answer the shared query model the
 * same way; `upsert` replaces the record indexed under the key.
 */
export interface SearchIndex {
  readonly size: number;
  has(key: string): boolean;
  upsert(entry: IndexEntry): void;
  remove(key: string): void;
  search(query: SearchQuery): SearchResponse;
  /** The results (without a score) of these image keys, for neighbours and fused lists. */
  hitsOf(keys: readonly string[]): Map<string, Omit<SearchHit, 'score'>>;
}

/**
 * The local search engine: MiniSearch as the inverted index over the text fields (tokenised by
 * the shared `searchTerms`, exact terms only: no prefix or fuzzy matching, which would be substring
 * search by another name), and a map of each document's filter facts and result. Ranking and
 * filters come from document.ts, so results match the Athena engine case for case.
 */
export class LocalSearchIndex implements SearchIndex {
  private readonly mini = new MiniSearch<{ id: string } & Record<SearchField, string>>({
    fields: SEARCH_FIELDS,
    storeFields: [],
    tokenize: searchTerms,
    // searchTerms already folded every term; MiniSearch's default would lower-case it again.
    processTerm: (term) => term,
    searchOptions: { prefix: false, fuzzy: false, combineWith: 'AND' },
  });
  private readonly facts = new Map<string, FilterFacts>();
  /** Every document newest first, then by key (compareHits' tie order); rebuilt after a change. */
  private byDate: FilterFacts[] | undefined;
  private rank = new Map<string, number>();

  get size(): number {
    return this.facts.size;
  }

  has(key: string): boolean {
    return this.facts.has(key);
  }

  /** Add a record, or replace the one indexed under its key (a sidecar rewritten by a later stage). */
  upsert(entry: IndexEntry): void {
    const doc = searchDocument(entry.record, {
      key: entry.key,
      ...(entry.originalName ? { originalName: entry.originalName } : {}),
    });
    // discard is O(1) and vacuums in the background: cheaper than remove, which re-tokenises.
    if (this.mini.has(entry.key)) this.mini.discard(entry.key);
    this.mini.add({ id: entry.key, ...doc.fields });
    this.facts.set(entry.key, {
      hit: doc.hit,
      labelPhrases: doc.labelPhrases,
      categoryPhrases: doc.categoryPhrases,
    });
    this.byDate = undefined;
  }

  /** The results (without score) of these keys, for the ones indexed. */
  hitsOf(keys: readonly string[]): Map<string, Omit<SearchHit, 'score'>> {
    const out = new Map<string, Omit<SearchHit, 'score'>>();
    for (const key of keys) {
      const doc = this.facts.get(key);
      if (doc) out.set(key, doc.hit);
    }
    return out;
  }

  remove(key: string): void {
    if (this.mini.has(key)) this.mini.discard(key);
    if (this.facts.delete(key)) this.byDate = undefined;
  }

  /**
   * The date order, sorted once per change rather than per query: a query then filters in this
   * order (no sort at all for date order) or sorts its matches by score and this rank (numbers).
   */
  private dateOrder(): FilterFacts[] {
    if (!this.byDate) {
      const sorted = [...this.facts.values()].sort((a, b) => newestFirst(a.hit, b.hit));
      this.rank = new Map(sorted.map((doc, i) => [doc.hit.key, i]));
      this.byDate = sorted;
    }
    return this.byDate;
  }

  search(query: SearchQuery): SearchResponse {
    const order = this.dateOrder();
    const end = query.offset + query.limit;
    const page: SearchHit[] = [];
    let total = 0;
    if (query.terms.length === 0) {
      // Without words every order is date order: filter in it, keep the page, count the rest.
      for (const doc of order) {
        if (!matchesFilters(doc, query)) continue;
        if (total >= query.offset && total < end) page.push(hitOf(doc, 0));
        total += 1;
      }
    } else {
      const filtered = hasFilters(query);
      const found = this.mini.search(query.terms.join(' '), {
        // The terms are folded already; split them as given.
        tokenize: (text) => text.split(' '),
        processTerm: (term) => term,
        ...(filtered
          ? {
              filter: (result: { id: unknown }) => {
                const doc = this.facts.get(result.id as string);
                return doc !== undefined && matchesFilters(doc, query);
              },
            }
          : {}),
      });
      const scored: Array<{ doc: FilterFacts; score: number; rank: number }> = [];
      for (const result of found) {
        const doc = this.facts.get(result.id as string);
        if (!doc) continue;
        const score = relevance(result.match as Record<string, SearchField[]>);
        scored.push({ doc, score, rank: this.rank.get(doc.hit.key) ?? 0 });
      }
      // compareHits' order, on numbers: score (relevance sort), then the date order's rank.
      const byScore = query.sort === 'relevance';
      scored.sort((a, b) => (byScore ? b.score - a.score : 0) || a.rank - b.rank);
      total = scored.length;
      for (const s of scored.slice(query.offset, end)) page.push(hitOf(s.doc, s.score));
    }
    const next = query.offset + page.length;
    return {
      results: page,
      total,
      ...(next < total ? { nextCursor: encodeCursor(query, next) } : {}),
    };
  }
}
