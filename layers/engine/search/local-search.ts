import { HybridSearch, type QueryEmbedder } from './hybrid.ts';
import type { SearchIndex } from './local-index.ts';
import type { MemoryVectorIndex } from './memory-vector-index.ts';

/**
 * Hybrid search over in-process indexes (the CLI's folder, the local stack's bucket): keywords from
 * the LocalSearchIndex, vectors from the MemoryVectorIndex, results and stored vectors by key.
 */
export function localHybridSearch(
  index: SearchIndex,
  vectors: MemoryVectorIndex,
  embedder: QueryEmbedder | undefined,
): HybridSearch {
  return new HybridSearch({
    keyword: index,
    vectors,
    ...(embedder ? { embedder } : {}),
    hitsFor: async (keys) => index.hitsOf(keys),
    vectorOf: async (key) => vectors.entry(key),
  });
}
