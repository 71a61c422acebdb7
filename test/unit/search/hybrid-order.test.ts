import { describe, expect, it } from 'vitest';
import { HybridSearch } from '#engine/search/hybrid.ts';
import { MemoryVectorIndex, parseSearchQuery } from '#engine/search/index.ts';

describe('hybrid search', () => {
  it('starts the keyword half before the query is embedded, so a slow keyword engine waits beside a cold text tower', async () => {
    const events: string[] = [];
    let finishEmbedding: (vector: Float32Array) => void = () => {};
    const search = new HybridSearch({
      keyword: {
        search: async () => {
          events.push('keyword started');
          return { results: [], total: 0 };
        },
      },
      vectors: new MemoryVectorIndex(),
      embedder: {
        model: 'clip',
        minSimilarity: 0.2,
        embed: () => {
          events.push('embedding started');
          return new Promise((resolve) => {
            finishEmbedding = resolve;
          });
        },
      },
      hitsFor: async () => new Map(),
      vectorOf: async () => undefined,
    });

    const answer = search.search(parseSearchQuery({ q: 'red sign' }));
    await new Promise((resolve) => setImmediate(resolve));
    events.push('embedding finished');
    finishEmbedding(new Float32Array([1, 0, 0]));
    const response = await answer;

    expect(events).toEqual(['embedding started', 'keyword started', 'embedding finished']);
    expect(response.results).toEqual([]);
  });
});
