import { describe, expect, it } from 'vitest';
import { SqliteSearchIndex } from '#emulators/sqlite-search-index.ts';
import { DEFAULT_KEY_LAYOUT } from '#engine/pipeline/key-layout.ts';
import { type ListedObject, type ObjectHead, ObjectNotFoundError, type ObjectStore } from '#engine/ports.ts';
import { LocalSearchIndex, type SearchIndex } from '#engine/search/local-index.ts';
import { parseSearchQuery } from '#engine/search/query.ts';
import { SidecarIndexer } from '#engine/search/sidecar-index.ts';
import { CORPUS, corpusEntry } from '#test/search/cases.ts';

/** A bucket in memory with object metadata: just what the indexer reads. */
class Bucket implements Pick<ObjectStore, 'head' | 'getJson' | 'list'> {
  readonly objects = new Map<string, { body: string; metadata?: Record<string, string> }>();
  async head(key: string): Promise<ObjectHead> {
    const object = this.objects.get(key);
    if (!object) throw new ObjectNotFoundError(key);
    return {
      key,
      etag: 'e',
      size: object.body.length,
      ...(object.metadata ? { metadata: object.metadata } : {}),
    };
  }
  async getJson<T>(key: string) {
    const object = this.objects.get(key);
    return object ? { value: JSON.parse(object.body) as T, etag: 'e' } : undefined;
  }
  async *list(prefix: string): AsyncIterable<ListedObject> {
    for (const key of [...this.objects.keys()].sort()) {
      if (key.startsWith(prefix)) yield { key, etag: 'e', size: 1 };
    }
  }
}

/**
 * Holds reads of the bucket (the first `count`, of `only` when given) after they took the content
 * and before they return it, until `release`: a slow store read.
 */
function slowReads(bucket: Bucket, count = Number.POSITIVE_INFINITY, only?: string) {
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let started = () => {};
  const startedPromise = new Promise<void>((resolve) => {
    started = resolve;
  });
  let held = 0;
  const getJson = bucket.getJson.bind(bucket);
  bucket.getJson = async <T>(key: string) => {
    const value = await getJson<T>(key);
    if ((only === undefined || key === only) && held < count) {
      held += 1;
      started();
      await released;
    }
    return value;
  };
  return { release: () => release(), started: startedPromise };
}

const sidecarKey = (inputKey: string) => `descriptions/${inputKey.slice('images/'.length)}.json`;

/** The in-memory index (CLI) and the SQLite file (local stack) keep the same promises. */
describe.each([
  ['in memory', (): SearchIndex => new LocalSearchIndex()],
  ['SQLite', (): SearchIndex => SqliteSearchIndex.inMemory()],
])('SidecarIndexer on the %s index', (_name, newIndex) => {
  function setUp() {
    const bucket = new Bucket();
    for (const entry of CORPUS) {
      bucket.objects.set(sidecarKey(entry.key), { body: JSON.stringify(entry.record) });
      // The upload API stores the original name percent-encoded.
      bucket.objects.set(entry.key, {
        body: 'image',
        ...(entry.originalName
          ? { metadata: { 'original-filename': encodeURIComponent(entry.originalName) } }
          : {}),
      });
    }
    bucket.objects.set('descriptions/half-written.png.json', { body: '{"schemaVersion":2}' });
    const index = newIndex();
    const skipped: string[] = [];
    const indexer = new SidecarIndexer({
      store: bucket as unknown as ObjectStore,
      layout: DEFAULT_KEY_LAYOUT,
      index,
      onSkipped: (key) => skipped.push(key),
    });
    return { bucket, index, indexer, skipped };
  }

  const keys = (index: SearchIndex, params: Record<string, string>) =>
    index.search(parseSearchQuery(params)).results.map((hit) => hit.key);

  describe('keeps the index in step', () => {
    it('rebuilds the index from the sidecar prefix, skipping what is not a record without an error (the fast stage replaces it and says so once)', async () => {
      const { index, indexer, skipped } = setUp();

      const summary = await indexer.rebuild();

      expect(summary).toMatchObject({ indexed: CORPUS.length, skipped: 1 });
      expect(skipped).toEqual([]);
      expect(index.size).toBe(CORPUS.length);
      expect(keys(index, { q: 'open 24 hours' })).toEqual(['images/red-sign.png']);
    });

    it('names an upload by its decoded original file name', async () => {
      const { index, indexer } = setUp();
      await indexer.rebuild();
      const [hit] = index.search(parseSearchQuery({ q: 'holiday' })).results;
      expect(hit?.name).toBe('Holiday Photo.JPG');
    });

    it('re-reads a rewritten sidecar and drops a removed one', async () => {
      const { bucket, index, indexer } = setUp();
      await indexer.rebuild();
      const rewritten = corpusEntry({
        key: 'images/dogs.jpg',
        uploadedAt: '2026-11-01T10:00:00.000Z',
        caption: 'a cat asleep',
      });
      bucket.objects.set(sidecarKey('images/dogs.jpg'), { body: JSON.stringify(rewritten.record) });

      expect(await indexer.update(sidecarKey('images/dogs.jpg'))).toBe(true);
      expect(keys(index, { q: 'cat' })).toEqual(['images/dogs.jpg']);
      expect(keys(index, { q: 'ball' })).toEqual([]);

      indexer.remove(sidecarKey('images/dogs.jpg'));
      expect(keys(index, { q: 'cat' })).toEqual([]);
    });

    it('a remove while a read is in flight is not undone by that read', async () => {
      const { bucket, index, indexer } = setUp();
      const key = sidecarKey('images/dogs.jpg');
      const gate = slowReads(bucket);
      const update = indexer.update(key);
      // The read has the old content in hand; the object is then deleted and its event arrives.
      bucket.objects.delete(key);
      const removed = indexer.remove(key);
      gate.release();
      await Promise.all([update, removed]);
      expect(index.has('images/dogs.jpg')).toBe(false);
    });

    it('two quick rewrites: the later one is what stays indexed, whatever read finished first', async () => {
      const { bucket, index, indexer } = setUp();
      const key = sidecarKey('images/dogs.jpg');
      const version = (caption: string) =>
        JSON.stringify(
          corpusEntry({ key: 'images/dogs.jpg', uploadedAt: '2026-11-01T10:00:00.000Z', caption }).record,
        );
      bucket.objects.set(key, { body: version('a cat asleep') });
      const gate = slowReads(bucket, 1);
      const first = indexer.update(key);
      bucket.objects.set(key, { body: version('a horse running') });
      const second = indexer.update(key);
      // The second read may not start before the first ends: had it, it would finish first.
      await new Promise((resolve) => setTimeout(resolve, 5));
      gate.release();
      await Promise.all([first, second]);
      expect(keys(index, { q: 'horse' })).toEqual(['images/dogs.jpg']);
      expect(keys(index, { q: 'cat' })).toEqual([]);
    });

    it('a remove during a rebuild is not re-added by the rebuild', async () => {
      const { bucket, index, indexer } = setUp();
      const key = sidecarKey('images/dogs.jpg');
      const gate = slowReads(bucket, Number.POSITIVE_INFINITY, key);
      const rebuilt = indexer.rebuild();
      await gate.started;
      bucket.objects.delete(key);
      const removed = indexer.remove(key);
      gate.release();
      await Promise.all([rebuilt, removed]);
      expect(index.has('images/dogs.jpg')).toBe(false);
      expect(index.has('images/red-sign.png')).toBe(true);
    });

    it('ignores keys that are not sidecars', async () => {
      const { index, indexer } = setUp();
      expect(await indexer.update('images/dogs.jpg')).toBe(false);
      expect(index.size).toBe(0);
    });
  });
});
