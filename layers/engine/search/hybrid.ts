import { ModelNotFoundError } from '../errors.ts';
import type { ImageVectorIndex, VectorHit } from '../ports.ts';
import type { SearchHit, SearchResponse } from './document.ts';
import { encodeCursor, type SearchQuery, SearchQueryError } from './query.ts';

/**
 * Search by meaning on top of a keyword engine: the query text is embedded by the text tower and
 * ranked against the image vectors (cosine, with the model's relevance cut-off), the keyword
 * results are ranked as before, and the two lists are fused by reciprocal rank fusion. Filters
 * hold in both halves (the vector index applies them to its facts). `similar` lists an image's
 * nearest neighbours instead. Used alike by the CLI, the local stack and the AWS search handler.
 */

/** RRF's constant: damps the head of each list so that one list alone cannot dominate. */
export const RRF_K = 60;
/** How deep each list is read for fusion: pages past it are not offered (nextCursor stops). */
export const FUSION_DEPTH = 200;

export type SearchMode = 'hybrid' | 'keyword' | 'similar';

export interface HybridSearchResponse extends SearchResponse {
  /** What ran: both halves fused, keywords only, or nearest neighbours of `similar`. */
  readonly mode: SearchMode;
  /** Why search by meaning did not run, for the person (e.g. the embedding model is missing). */
  readonly notice?: string;
}

/** A hit from the fusion: `similarity` when the vector half found it. */
export type HybridHit = SearchHit & { readonly similarity?: number };

export interface QueryEmbedder {
  /** The model key (embeddingModelKey) the vectors it makes are compared under. */
  readonly model: string;
  /** Below this cosine an image is not listed for words (the relevance cut-off). */
  readonly minSimilarity: number;
  /** Throws ModelNotFoundError while the model is not installed. */
  embed(text: string): Promise<Float32Array>;
}

export interface HybridSearchOptions {
  readonly keyword: { search(query: SearchQuery): SearchResponse | Promise<SearchResponse> };
  readonly vectors: ImageVectorIndex;
  /** Absent when the deployment configures no embedding task. */
  readonly embedder?: QueryEmbedder;
  /**
   * Results (without score) for keys the keyword half did not return. A remote index whose facts
   * may lag the records (S3 Vectors) checks the query's filters on the current record here.
   */
  readonly hitsFor: (
    keys: readonly string[],
    query: SearchQuery,
  ) => Promise<ReadonlyMap<string, Omit<SearchHit, 'score'>>>;
  /** An image's stored vector and its model key, for `similar`; undefined when it has none. */
  readonly vectorOf: (key: string) => Promise<{ vector: Float32Array; model: string } | undefined>;
}

const NO_EMBEDDINGS_CONFIGURED =
  'Search by meaning is off: the model manifest configures no embedding task. Showing keyword matches.';

export function embeddingModelMissing(error: ModelNotFoundError): string {
  return `Search by meaning is not available yet: ${error.message}. Showing keyword matches only.`;
}

const round = (value: number) => Math.round(value * 1e6) / 1e6;

export class HybridSearch {
  /** Text vectors by query text: paging through one query embeds it once. */
  private readonly textVectors = new Map<string, Promise<Float32Array>>();

  constructor(private readonly options: HybridSearchOptions) {}

  async search(query: SearchQuery): Promise<HybridSearchResponse> {
    if (query.similar !== undefined) return this.similar(query, query.similar);
    const { embedder } = this.options;
    // Without words there is nothing to embed; date order is the keyword engine's.
    if (query.terms.length === 0 || query.sort === 'date') return this.keywordOnly(query);
    if (!embedder) return this.keywordOnly(query, NO_EMBEDDINGS_CONFIGURED);

    const depth = Math.min(FUSION_DEPTH, query.offset + query.limit);
    // The keyword half starts before the embedding (a cold text tower can take seconds), so a slow
    // keyword engine (Athena) waits beside it rather than after it.
    const keywordPending = Promise.resolve().then(() =>
      this.options.keyword.search({ ...query, offset: 0, limit: depth }),
    );
    keywordPending.catch(() => {}); // awaited below; this keeps an early failure from being unhandled
    let vector: Float32Array;
    try {
      vector = await this.embedText(embedder, query.text);
    } catch (error) {
      if (error instanceof ModelNotFoundError) return this.keywordOnly(query, embeddingModelMissing(error));
      throw error;
    }
    const [keyword, nearest] = await Promise.all([
      keywordPending,
      this.options.vectors.nearest(vector, { model: embedder.model, limit: depth, filter: query }),
    ]);
    const relevant = nearest.filter((hit) => hit.similarity >= embedder.minSimilarity);
    return this.fused(query, keyword, relevant);
  }

  private async keywordOnly(query: SearchQuery, notice?: string): Promise<HybridSearchResponse> {
    const response = await this.options.keyword.search(query);
    return { ...response, mode: 'keyword', ...(notice ? { notice } : {}) };
  }

  private embedText(embedder: QueryEmbedder, text: string): Promise<Float32Array> {
    const known = this.textVectors.get(text);
    if (known) return known;
    const pending = embedder.embed(text);
    if (this.textVectors.size >= 256) this.textVectors.clear();
    this.textVectors.set(text, pending);
    // A failed embedding (model missing) is asked again next time.
    pending.catch(() => this.textVectors.delete(text));
    return pending;
  }

  private async fused(
    query: SearchQuery,
    keyword: SearchResponse,
    nearest: readonly VectorHit[],
  ): Promise<HybridSearchResponse> {
    const scores = new Map<string, number>();
    for (const list of [keyword.results, nearest]) {
      list.forEach((hit, rank) => {
        scores.set(hit.key, (scores.get(hit.key) ?? 0) + 1 / (RRF_K + rank + 1));
      });
    }
    const similarity = new Map(nearest.map((hit) => [hit.key, hit.similarity]));
    const known = new Map<string, Omit<SearchHit, 'score'>>(keyword.results.map((hit) => [hit.key, hit]));
    const order = [...scores.entries()].sort(
      (a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0),
    );
    const end = query.offset + query.limit;
    const page = order.slice(query.offset, end);
    const missing = page.map(([key]) => key).filter((key) => !known.has(key));
    if (missing.length > 0)
      for (const [key, hit] of await this.options.hitsFor(missing, query)) known.set(key, hit);
    const results: HybridHit[] = [];
    for (const [key, score] of page) {
      const hit = known.get(key);
      // A vector whose record has gone since it was indexed: leave it out.
      if (!hit) continue;
      const sim = similarity.get(key);
      results.push({ ...hit, score: round(score), ...(sim !== undefined ? { similarity: round(sim) } : {}) });
    }
    const vectorOnly = nearest.filter((hit) => !keyword.results.some((k) => k.key === hit.key)).length;
    const total = Math.max(order.length, keyword.total + vectorOnly);
    const next = query.offset + page.length;
    const more = next < Math.min(order.length, FUSION_DEPTH);
    return {
      results,
      total,
      mode: 'hybrid',
      ...(more ? { nextCursor: encodeCursor(query, next) } : {}),
    };
  }

  private async similar(query: SearchQuery, key: string): Promise<HybridSearchResponse> {
    const stored = await this.options.vectorOf(key);
    if (!stored) {
      throw new SearchQueryError(
        'similar',
        `Expected the key of a described image with an embedding for similar but received "${key}" (unknown, or not embedded yet)`,
      );
    }
    const depth = Math.min(FUSION_DEPTH, query.offset + query.limit + 1);
    const nearest = await this.options.vectors.nearest(stored.vector, {
      model: stored.model,
      limit: depth,
      filter: query,
      excludeKey: key,
    });
    const page = nearest.slice(query.offset, query.offset + query.limit);
    const hits = await this.options.hitsFor(
      page.map((hit) => hit.key),
      query,
    );
    const results: HybridHit[] = [];
    for (const { key: k, similarity } of page) {
      const hit = hits.get(k);
      if (hit) results.push({ ...hit, score: round(similarity), similarity: round(similarity) });
    }
    const next = query.offset + page.length;
    return {
      results,
      total: nearest.length,
      mode: 'similar',
      ...(next < nearest.length ? { nextCursor: encodeCursor(query, next) } : {}),
    };
  }
}
