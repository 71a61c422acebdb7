import MiniSearch from 'minisearch';
import type { DescriptionRecord } from '../record/schema.ts';
import {
  compareHits,
  type FilterFacts,
  hitOf,
  matchesFilters,
  relevance,
  type SearchHit,
  type SearchResponse,
  searchDocument,
} from './document.ts';
import { encodeCursor, SEARCH_FIELDS, type SearchField, type SearchQuery } from './query.ts';
import { tokenize } from './text.ts';

export interface IndexEntry {
  /** The image key results are named by. */
  readonly key: string;
  readonly record: DescriptionRecord;
  /** The upload's original file name, when the store keeps one. */
  readonly originalName?: string;
}

/**
 * The local search engine: MiniSearch as the inverted index over the text fields (tokenised by
 * the shared `tokenize`, exact terms only: no prefix or fuzzy matching, which would be substring
 * search by another name), and a map of each document's filter facts and result. Ranking and
 * filters come from document.ts, so results match the Athena engine case for case.
 */
export class LocalSearchIndex {
  private readonly mini = new MiniSearch<{ id: string } & Record<SearchField, string>>({
    fields: SEARCH_FIELDS,
    storeFields: [],
    tokenize,
    // tokenize already folded every term; MiniSearch's default would lower-case it again.
    processTerm: (term) => term,
    searchOptions: { prefix: false, fuzzy: false, combineWith: 'AND' },
  });
  private readonly facts = new Map<string, FilterFacts>();

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
  }

  remove(key: string): void {
    if (this.mini.has(key)) this.mini.discard(key);
    this.facts.delete(key);
  }

  search(query: SearchQuery): SearchResponse {
    const matches: SearchHit[] = [];
    if (query.terms.length === 0) {
      for (const doc of this.facts.values()) if (matchesFilters(doc, query)) matches.push(hitOf(doc, 0));
    } else {
      const found = this.mini.search(query.terms.join(' '), {
        // The terms are folded already; split them as given.
        tokenize: (text) => text.split(' '),
        processTerm: (term) => term,
        filter: (result) => {
          const doc = this.facts.get(result.id as string);
          return doc !== undefined && matchesFilters(doc, query);
        },
      });
      for (const result of found) {
        const doc = this.facts.get(result.id as string);
        if (!doc) continue;
        const fieldsByTerm = new Map(
          Object.entries(result.match).map(([term, fields]) => [term, fields as SearchField[]]),
        );
        matches.push(hitOf(doc, relevance(fieldsByTerm)));
      }
    }
    matches.sort(compareHits(query.sort));
    const page = matches.slice(query.offset, query.offset + query.limit);
    const next = query.offset + page.length;
    return {
      results: page,
      total: matches.length,
      ...(next < matches.length ? { nextCursor: encodeCursor(query, next) } : {}),
    };
  }
}
