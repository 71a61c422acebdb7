import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteSearchIndex } from '#emulators/sqlite-search-index.ts';
import { TRAIN_AT, VectorShapeError } from '#emulators/sqlite-vector-index.ts';
import { parseSearchQuery } from '#engine/search/query.ts';
import { vectorOf } from '#test/bench/index-bench.ts';
import { describeVectorIndexContract, vectorEntry } from '#test/search/vector-index-contract.ts';

const MODEL = 'fixture/embed@r1:fp32';

describeVectorIndexContract('SqliteVectorIndex', async () => SqliteSearchIndex.inMemory().vectors);

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function indexFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vector-index-'));
  dirs.push(dir);
  return join(dir, 'index.sqlite');
}

const keys = (hits: ReadonlyArray<{ key: string }>) => hits.map((h) => h.key);

describe('the vector index in the search file', () => {
  it('keeps its vectors across a restart: the file opens as it is and answers at once', async () => {
    const file = indexFile();
    const first = SqliteSearchIndex.open(file).index;
    await first.vectors.upsert([vectorEntry('red.png', [1, 0, 0]), vectorEntry('blue.png', [0, 0, 1])]);
    first.markComplete();
    first.close();

    const again = SqliteSearchIndex.open(file);

    expect(again.rebuild).toBeUndefined();
    const hits = await again.index.vectors.nearest(Float32Array.of(1, 0, 0), { model: MODEL, limit: 1 });
    expect(keys(hits)).toEqual(['red.png']);
    const blue = again.index.vectors.entry('blue.png');
    expect(blue?.model).toBe(MODEL);
    expect([...(blue?.vector ?? [])].map((x) => Math.round(x * 1e5) / 1e5)).toEqual([0, 0, 1]);
    again.index.close();
  });

  it('a delete removes the vector, in the file too', async () => {
    const file = indexFile();
    const first = SqliteSearchIndex.open(file).index;
    await first.vectors.upsert([vectorEntry('red.png', [1, 0, 0]), vectorEntry('orange.png', [1, 0.5, 0])]);
    first.markComplete();
    await first.vectors.remove(['red.png']);
    first.close();

    const again = SqliteSearchIndex.open(file).index;

    const hits = await again.vectors.nearest(Float32Array.of(1, 0, 0), { model: MODEL, limit: 5 });
    expect(keys(hits)).toEqual(['orange.png']);
    expect(again.vectors.entry('red.png')).toBeUndefined();
    again.close();
  });

  it('a file whose vectors do not have their model’s length is rebuilt, saying which', async () => {
    const file = indexFile();
    const first = SqliteSearchIndex.open(file).index;
    await first.vectors.upsert([vectorEntry('red.png', [1, 0, 0])]);
    first.markComplete();
    first.close();
    // Written by other code: the model now claims 512 numbers per vector.
    const db = new Database(file);
    db.prepare('UPDATE vector_models SET dims = 512').run();
    db.close();

    const opened = SqliteSearchIndex.open(file);

    expect(opened.rebuild).toEqual({
      reason: 'vectors-mismatch',
      detail: `a stored vector of ${MODEL} holds 3 numbers, not 512`,
    });
    expect(opened.index.vectors.size).toBe(0);
    opened.index.close();
  });

  it('refuses a vector of another length than its model’s, naming both', async () => {
    const index = SqliteSearchIndex.inMemory().vectors;
    await index.upsert([vectorEntry('red.png', [1, 0, 0])]);
    await expect(index.upsert([vectorEntry('odd.png', [1, 0, 0, 0])])).rejects.toThrow(VectorShapeError);
    await expect(index.upsert([vectorEntry('odd.png', [1, 0, 0, 0])])).rejects.toThrow(
      /a vector of 3 numbers .* for odd\.png but received "?4/,
    );
    // A query of another length compares nothing.
    expect(await index.nearest(Float32Array.of(1, 0, 0, 0), { model: MODEL, limit: 5 })).toEqual([]);
  });
});

describe('the IVF lists once trained', () => {
  const DIMS = 64;
  const entryOf = (i: number, facts = {}) => ({
    ...vectorEntry(`img-${String(i).padStart(5, '0')}.png`, [1]),
    vector: vectorOf(i, DIMS),
    ...facts,
  });

  function trained() {
    const index = SqliteSearchIndex.inMemory({ lists: 16, trainAt: 500, nprobe: 4 }).vectors;
    index.write(Array.from({ length: 2000 }, (_, i) => entryOf(i)));
    return index;
  }

  it('finds the same ten neighbours as reading every list, and keeps up with writes and deletes', async () => {
    const index = trained();
    // Trained: no vector waits in the unassigned list any more (reading no list finds nothing).
    expect(index.nearestNow(vectorOf(1, DIMS), { model: MODEL, limit: 10, probe: 0 })).toEqual([]);
    for (let probe = 0; probe < 5; probe += 1) {
      const q = vectorOf(5000 + probe, DIMS);
      expect(index.nearestNow(q, { model: MODEL, limit: 10 })).toEqual(
        index.nearestNow(q, { model: MODEL, limit: 10, probe: 'all' }),
      );
    }
    const q = vectorOf(7000, DIMS);
    index.write([{ ...entryOf(0), key: 'late.png', vector: q }]);
    expect(index.nearestNow(q, { model: MODEL, limit: 1 })[0]).toMatchObject({ key: 'late.png' });
    await index.remove(['late.png']);
    expect(keys(index.nearestNow(q, { model: MODEL, limit: 10 }))).not.toContain('late.png');
  });

  it('a search beside a running stack sees what the stack writes and deletes after it', async () => {
    const file = indexFile();
    const stack = SqliteSearchIndex.open(file).index;
    stack.vectors.write(Array.from({ length: 600 }, (_, i) => entryOf(i)));
    stack.markComplete();
    const opened = SqliteSearchIndex.openReadOnly(file);
    if (!('index' in opened)) throw new Error(opened.unusable);
    const beside = opened.index.vectors;
    const q = vectorOf(9000, DIMS);
    // The first search keeps the lists it read in memory.
    expect(keys(beside.nearestNow(q, { model: MODEL, limit: 3 }))).not.toContain('late.png');

    stack.vectors.write([{ ...entryOf(0), key: 'late.png', vector: q }]);
    expect(keys(beside.nearestNow(q, { model: MODEL, limit: 3 }))[0]).toBe('late.png');
    await stack.vectors.remove(['late.png']);
    expect(keys(beside.nearestNow(q, { model: MODEL, limit: 3 }))).not.toContain('late.png');
    opened.index.close();
    stack.close();
  });

  it('a search beside a running stack keeps finding vectors after the stack trains its lists', async () => {
    const file = indexFile();
    const stack = SqliteSearchIndex.open(file).index;
    const small = (i: number) => ({ ...entryOf(i), vector: vectorOf(i, 8) });
    stack.vectors.write(Array.from({ length: 100 }, (_, i) => small(i)));
    stack.markComplete();
    const opened = SqliteSearchIndex.openReadOnly(file);
    if (!('index' in opened)) throw new Error(opened.unusable);
    const beside = opened.index.vectors;
    const q = vectorOf(5, 8);
    // Untrained: every vector waits in one list, and the reader notes that there are no centroids.
    expect(keys(beside.nearestNow(q, { model: MODEL, limit: 1 }))).toEqual([small(5).key]);

    // The stack reaches TRAIN_AT: its vectors move into the trained lists.
    stack.vectors.write(Array.from({ length: TRAIN_AT }, (_, i) => small(100 + i)));

    expect(keys(beside.nearestNow(q, { model: MODEL, limit: 1 }))).toEqual([small(5).key]);
    opened.index.close();
    stack.close();
  });

  it('answers the same after warming every list into memory, and warming stops when the file closes', async () => {
    const index = SqliteSearchIndex.inMemory({ lists: 16, trainAt: 500, nprobe: 4 });
    index.vectors.write(Array.from({ length: 2000 }, (_, i) => entryOf(i)));
    const queries = [1, 2, 3].map((i) => vectorOf(6000 + i, DIMS));
    const cold = queries.map((q) => index.vectors.nearestNow(q, { model: MODEL, limit: 10 }));
    const fresh = SqliteSearchIndex.inMemory({ lists: 16, trainAt: 500, nprobe: 4 });
    fresh.vectors.write(Array.from({ length: 2000 }, (_, i) => entryOf(i)));
    await fresh.vectors.warm();
    expect(queries.map((q) => fresh.vectors.nearestNow(q, { model: MODEL, limit: 10 }))).toEqual(cold);
    const closing = index.vectors.warm();
    index.close();
    await expect(closing).resolves.toBeUndefined();
    fresh.close();
  });

  it('a filter that few pass reads more lists until it finds them', () => {
    const index = trained();
    const far = vectorOf(33, DIMS);
    index.write([
      {
        ...entryOf(0),
        key: 'only-red.png',
        vector: far,
        facts: { ...entryOf(0).facts, colours: { red: 0.8 } },
      },
    ]);
    // A query of another cluster: its nearest lists do not hold the red image.
    const q = vectorOf(5000, DIMS);
    const red = index.nearestNow(q, { model: MODEL, limit: 5, filter: parseSearchQuery({ colour: 'red' }) });
    expect(keys(red)).toEqual(['only-red.png']);
  });
});
