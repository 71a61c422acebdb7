import type { ImageVectorEntry, ImageVectorIndex } from '../ports.ts';
import { HybridSearch, type QueryEmbedder } from './hybrid.ts';
import type { SearchIndex } from './local-index.ts';

/**
 * Hybrid search over in-process indexes (the CLI's folder, the local stack's bucket): keywords from
 * the LocalSearchIndex or the SQLite file, vectors from the MemoryVectorIndex or the file's
 * SqliteVectorIndex, results and stored vectors by key.
 */
export function localHybridSearch(
  index: SearchIndex,
  vectors: ImageVectorIndex & { entry(key: string): ImageVectorEntry | undefined },
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
