import { type KeyLayout, sidecarKeyFor } from '../pipeline/key-layout.ts';
import { parseStoredRecord } from '../pipeline/staleness.ts';
import type { ImageVectorIndex, ObjectStore, StoredVectorReader } from '../ports.ts';
import { matchesFilters, type SearchHit, type SearchResponse, searchDocument } from './document.ts';
import { HybridSearch, type QueryEmbedder } from './hybrid.ts';
import type { SearchQuery } from './query.ts';

/** Sidecars read at once for the results only the vector half found (at most a page of them). */
const SIDECAR_READS = 8;

export interface SidecarHybridSearchOptions {
  /** The keyword engine over the sidecars (Athena in AWS). */
  readonly keyword: (query: SearchQuery) => Promise<SearchResponse>;
  /** A remote vector index that also reads stored vectors back (S3 Vectors). */
  readonly vectors: ImageVectorIndex & StoredVectorReader;
  readonly embedder?: QueryEmbedder;
  /** Where the sidecars are: results found only by meaning are read from them. */
  readonly store: Pick<ObjectStore, 'getJson'>;
  readonly layout: KeyLayout;
}

/**
 * Search by meaning where the records live in a bucket and the vectors in a remote index (the
 * deployed stack): the same HybridSearch as the CLI and the local stack (fusion, cut-off, similar),
 * with results the keyword half did not return read from their sidecars. The index's filter facts
 * may lag a sidecar (written after it, eventually consistent), so each such record is checked
 * against the query's filters again and left out when it no longer matches, or has gone.
 */
export function sidecarHybridSearch(options: SidecarHybridSearchOptions): HybridSearch {
  const { store, layout } = options;
  const hitFor = async (key: string, query: SearchQuery): Promise<Omit<SearchHit, 'score'> | undefined> => {
    const stored = await store.getJson(sidecarKeyFor(layout, key));
    const record = stored && parseStoredRecord(stored.value);
    if (!record) return undefined;
    const doc = searchDocument(record, { key });
    return matchesFilters(doc, query) ? doc.hit : undefined;
  };
  return new HybridSearch({
    keyword: { search: options.keyword },
    vectors: options.vectors,
    ...(options.embedder ? { embedder: options.embedder } : {}),
    hitsFor: async (keys, query) => {
      const out = new Map<string, Omit<SearchHit, 'score'>>();
      for (let i = 0; i < keys.length; i += SIDECAR_READS) {
        const batch = keys.slice(i, i + SIDECAR_READS);
        const hits = await Promise.all(batch.map((key) => hitFor(key, query)));
        batch.forEach((key, j) => {
          const hit = hits[j];
          if (hit) out.set(key, hit);
        });
      }
      return out;
    },
    vectorOf: (key) => options.vectors.vectorOf(key),
  });
}
