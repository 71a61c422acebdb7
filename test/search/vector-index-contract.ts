import { describe, expect, it } from 'vitest';
import type { ImageVectorEntry, ImageVectorIndex, VectorFacts } from '#engine/ports.ts';
import { parseSearchQuery } from '#engine/search/query.ts';

/**
 * The contract every ImageVectorIndex meets (in memory, persistent, S3 Vectors behind mocks):
 * call `describeVectorIndexContract` with a factory of empty indexes.
 */

const MODEL = 'fixture/embed@r1:fp32';

function unit(values: number[]): Float32Array {
  const norm = Math.hypot(...values);
  return Float32Array.from(values, (v) => v / norm);
}

function facts(overrides: Partial<VectorFacts> = {}): VectorFacts {
  return {
    uploadedAt: '2026-03-01T10:00:00.000Z',
    colours: {},
    labels: [],
    categories: [],
    hasText: false,
    fast: 'done',
    detailed: 'done',
    ...overrides,
  };
}

export function vectorEntry(
  key: string,
  values: number[],
  more: Partial<ImageVectorEntry> = {},
): ImageVectorEntry {
  return { key, vector: unit(values), model: MODEL, facts: facts(), ...more };
}

function filterOf(params: Record<string, string>) {
  return parseSearchQuery(params);
}

export function describeVectorIndexContract(name: string, make: () => Promise<ImageVectorIndex>): void {
  describe(`${name}: the ImageVectorIndex contract`, () => {
    it('returns the nearest entries best first, with cosine similarity', async () => {
      const index = await make();
      await index.upsert([
        vectorEntry('red.png', [1, 0, 0]),
        vectorEntry('orange.png', [1, 0.5, 0]),
        vectorEntry('blue.png', [0, 0, 1]),
      ]);
      const hits = await index.nearest(unit([1, 0, 0]), { model: MODEL, limit: 2 });
      expect(hits.map((h) => h.key)).toEqual(['red.png', 'orange.png']);
      expect(hits[0]?.similarity).toBeCloseTo(1, 5);
      expect(hits[1]?.similarity).toBeCloseTo(1 / Math.hypot(1, 0.5), 5);
    });

    it('replaces an entry written again under its key, and forgets removed keys', async () => {
      const index = await make();
      await index.upsert([vectorEntry('a.png', [1, 0, 0]), vectorEntry('b.png', [0, 1, 0])]);
      await index.upsert([vectorEntry('a.png', [0, 0, 1])]);
      await index.remove(['b.png', 'never-there.png']);
      const hits = await index.nearest(unit([1, 0, 0]), { model: MODEL, limit: 10 });
      expect(hits.map((h) => h.key)).toEqual(['a.png']);
      expect(hits[0]?.similarity).toBeCloseTo(0, 5);
    });

    it('never compares vectors of another model', async () => {
      const index = await make();
      await index.upsert([
        vectorEntry('old.png', [1, 0, 0], { model: 'fixture/embed@r0:fp32' }),
        vectorEntry('new.png', [0, 1, 0]),
      ]);
      const hits = await index.nearest(unit([1, 0, 0]), { model: MODEL, limit: 10 });
      expect(hits.map((h) => h.key)).toEqual(['new.png']);
    });

    it('applies the search filters and leaves out the excluded key', async () => {
      const index = await make();
      await index.upsert([
        vectorEntry('red-sign.png', [1, 0, 0], {
          facts: facts({ colours: { red: 0.6 }, categories: ['sign'], hasText: true }),
        }),
        vectorEntry('pale-red.png', [1, 0.1, 0], { facts: facts({ colours: { red: 0.02 } }) }),
        vectorEntry('old-red.png', [1, 0.2, 0], {
          facts: facts({ colours: { red: 0.9 }, uploadedAt: '2025-01-01T00:00:00.000Z' }),
        }),
      ]);
      const q = unit([1, 0, 0]);
      const red = await index.nearest(q, { model: MODEL, limit: 10, filter: filterOf({ colour: 'red' }) });
      expect(red.map((h) => h.key)).toEqual(['red-sign.png', 'old-red.png']);
      const recent = await index.nearest(q, {
        model: MODEL,
        limit: 10,
        filter: filterOf({ colour: 'red', from: '2026-01-01' }),
      });
      expect(recent.map((h) => h.key)).toEqual(['red-sign.png']);
      const signs = await index.nearest(q, {
        model: MODEL,
        limit: 10,
        filter: filterOf({ category: 'sign', hasText: 'true' }),
      });
      expect(signs.map((h) => h.key)).toEqual(['red-sign.png']);
      const others = await index.nearest(q, { model: MODEL, limit: 10, excludeKey: 'red-sign.png' });
      expect(others.map((h) => h.key)).toEqual(['pale-red.png', 'old-red.png']);
    });
  });
}
