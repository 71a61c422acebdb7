/**
 * Search: the shared query model, the Athena engine, the local keyword and vector indexes and
 * their hybrid fusion. The query embedder loads transformers.js (CLIP's text tower), so it is
 * imported by its own path (see layers/engine/index.ts for the rule).
 */

export { foldPhrase } from '../words.ts';
export { type AthenaSearchSettings, createAthenaSearch, readAthenaSearchSettings } from './athena-engine.ts';
export type { SearchHit } from './document.ts';
export type { HybridHit, HybridSearch, HybridSearchResponse, QueryEmbedder } from './hybrid.ts';
export { LocalSearchIndex } from './local-index.ts';
export { localHybridSearch } from './local-search.ts';
export { MemoryVectorIndex } from './memory-vector-index.ts';
export {
  DEFAULT_COLOUR_MIN_FRACTION,
  parseSearchQuery,
  SEARCH_LIMITS,
  type SearchQuery,
  SearchQueryError,
} from './query.ts';
export { sidecarHybridSearch } from './sidecar-hybrid.ts';
export { ORIGINAL_NAME_METADATA, type RebuildSummary, SidecarIndexer } from './sidecar-index.ts';
export { vectorEntryOf } from './vector-facts.ts';

export const IMPORTED_ON_THEIR_OWN: readonly string[] = ['query-embedder.ts'];
