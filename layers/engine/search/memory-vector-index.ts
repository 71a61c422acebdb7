import type { ImageVectorEntry, ImageVectorIndex, NearestOptions, VectorHit } from '../ports.ts';
import { matchesVectorFilters } from './vector-facts.ts';

/**
 * ImageVectorIndex by brute force in memory: every query scores every entry of its model. Enough
 * for a CLI folder and the local stack's first thousands of images (a 512-d dot product per image);
 * a persistent index implements the same port for larger collections.
 */
export class MemoryVectorIndex implements ImageVectorIndex {
  private readonly entries = new Map<string, ImageVectorEntry>();

  get size(): number {
    return this.entries.size;
  }

  /** The stored entry of a key (similar images start from it). */
  entry(key: string): ImageVectorEntry | undefined {
    return this.entries.get(key);
  }

  async upsert(entries: readonly ImageVectorEntry[]): Promise<void> {
    for (const entry of entries) this.entries.set(entry.key, entry);
  }

  async remove(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.entries.delete(key);
  }

  async nearest(query: Float32Array, options: NearestOptions): Promise<VectorHit[]> {
    const hits: VectorHit[] = [];
    for (const entry of this.entries.values()) {
      if (entry.model !== options.model || entry.vector.length !== query.length) continue;
      if (entry.key === options.excludeKey) continue;
      if (options.filter && !matchesVectorFilters(entry.facts, options.filter)) continue;
      hits.push({ key: entry.key, similarity: dot(entry.vector, query) });
    }
    hits.sort((a, b) => b.similarity - a.similarity || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return hits.slice(0, options.limit);
  }
}

export function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i += 1) sum += (a[i] ?? 0) * (b[i] ?? 0);
  return sum;
}
