import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_KEY_LAYOUT } from '#engine/pipeline/key-layout.ts';
import { type ListedObject, type ObjectHead, ObjectNotFoundError } from '#engine/ports.ts';
import type { DescriptionRecord } from '#engine/record/schema.ts';
import { encodeEmbedding } from '#engine/search/vector-codec.ts';
import { embeddingModelKey } from '#engine/search/vector-facts.ts';
import { CORPUS, KEYS } from '#test/search/cases.ts';
import { captureOutput } from '#test/support/capture-output.ts';
import { runSearchCli } from '../../../functions/cli/search-command.ts';
import { openLocalSearch, type SearchIndexEvent } from '../../../functions/local/search-indexes.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const PROVENANCE = {
  id: 'fixture/clip',
  revision: 'r1',
  architecture: 'clip',
  dtype: 'fp32',
  promptHash: '0',
};
const MODEL = embeddingModelKey(PROVENANCE);

/** A bucket in memory that counts what the indexer reads of it. */
class CountingBucket {
  readonly objects = new Map<string, string>();
  reads = 0;
  lists = 0;
  async head(key: string): Promise<ObjectHead> {
    this.reads += 1;
    if (!this.objects.has(key)) throw new ObjectNotFoundError(key);
    return { key, etag: 'e', size: 1 };
  }
  async getJson<T>(key: string) {
    this.reads += 1;
    const body = this.objects.get(key);
    return body === undefined ? undefined : { value: JSON.parse(body) as T, etag: 'e' };
  }
  async *list(prefix: string): AsyncIterable<ListedObject> {
    this.lists += 1;
    for (const key of [...this.objects.keys()].sort())
      if (key.startsWith(prefix)) yield { key, etag: 'e', size: 1 };
  }
}

const sidecarKey = (inputKey: string) => `descriptions/${inputKey.slice('images/'.length)}.json`;

function embedded(record: DescriptionRecord, values: number[]): DescriptionRecord {
  const norm = Math.hypot(...values);
  return {
    ...record,
    embedding: encodeEmbedding(Float32Array.from(values, (v) => v / norm)),
    models: { ...record.models, embedding: PROVENANCE },
  };
}

function setUp() {
  const dir = mkdtempSync(join(tmpdir(), 'local-search-'));
  dirs.push(dir);
  const bucket = new CountingBucket();
  for (const entry of CORPUS) {
    const record =
      entry.key === KEYS.redSign
        ? embedded(entry.record, [1, 0, 0])
        : entry.key === KEYS.dawn
          ? embedded(entry.record, [0, 0, 1])
          : entry.record;
    bucket.objects.set(sidecarKey(entry.key), JSON.stringify(record));
  }
  const events: SearchIndexEvent[] = [];
  const warmUpErrors: unknown[] = [];
  const open = () =>
    openLocalSearch({
      file: join(dir, 'search-index', 'index.sqlite'),
      store: bucket,
      layout: DEFAULT_KEY_LAYOUT,
      onEvent: (event) => events.push(event),
      onSkipped: (key, error) => {
        throw new Error(`skipped ${key}: ${String(error)}`);
      },
      onWarmUpFailed: (error) => warmUpErrors.push(error),
    });
  return { bucket, events, warmUpErrors, open, dir, file: join(dir, 'search-index', 'index.sqlite') };
}

const nearestKeys = async (index: Awaited<ReturnType<typeof openLocalSearch>>['index'], values: number[]) =>
  (await index.vectors.nearest(Float32Array.from(values), { model: MODEL, limit: 3 })).map((h) => h.key);

describe('the local stack’s search file at start', () => {
  it('is filled from the sidecars once; after a restart its vectors answer without reading a sidecar', async () => {
    const { bucket, events, warmUpErrors, open } = setUp();
    const first = await open();
    expect(events.map((e) => e.state)).toEqual(['rebuilding', 'rebuilt']);
    expect(await nearestKeys(first.index, [1, 0, 0])).toEqual([KEYS.redSign, KEYS.dawn]);
    // A write while running: the indexer reads that one sidecar.
    bucket.objects.set(
      sidecarKey(KEYS.cafe),
      JSON.stringify(
        embedded((CORPUS.find((e) => e.key === KEYS.cafe) as (typeof CORPUS)[number]).record, [0, 1, 0]),
      ),
    );
    await first.indexer.update(sidecarKey(KEYS.cafe));
    first.index.close();
    events.length = 0;
    bucket.reads = 0;
    bucket.lists = 0;

    const again = await open();

    expect(events).toEqual([]);
    expect(await nearestKeys(again.index, [0, 1, 0])).toEqual([
      KEYS.cafe,
      expect.any(String),
      expect.any(String),
    ]);
    expect(await nearestKeys(again.index, [1, 0.1, 0])).toEqual([KEYS.redSign, KEYS.cafe, KEYS.dawn]);
    expect({ reads: bucket.reads, lists: bucket.lists }).toEqual({ reads: 0, lists: 0 });
    // A delete while running takes the vector along, for the next start too.
    await again.indexer.remove(sidecarKey(KEYS.redSign));
    again.index.close();
    const third = await open();
    expect(await nearestKeys(third.index, [1, 0, 0])).not.toContain(KEYS.redSign);
    third.index.close();
    // Each file closed while its vectors were being packed into memory after start: no error.
    await new Promise((resolve) => setImmediate(resolve));
    expect(warmUpErrors).toEqual([]);
  });

  it('a file whose vectors do not match their model is rebuilt from the sidecars, saying why', async () => {
    const { events, open, file } = setUp();
    (await open()).index.close();
    const db = new Database(file);
    db.prepare('UPDATE vector_models SET dims = 384').run();
    db.close();
    events.length = 0;

    const again = await open();

    expect(events[0]).toEqual({
      type: 'search-index',
      state: 'rebuilding',
      reason: 'vectors-mismatch',
      detail: `a stored vector of ${MODEL} holds 3 numbers, not 384`,
      file,
    });
    expect(events.at(-1)).toMatchObject({ state: 'rebuilt' });
    expect(await nearestKeys(again.index, [1, 0, 0])).toEqual([KEYS.redSign, KEYS.dawn]);
    again.index.close();
  });
});

describe('image-describer search --data <the stack’s data directory>', () => {
  it('searches the stack’s file as it is, words and similar images, and leaves it as it was', async () => {
    const { open, dir, file } = setUp();
    const running = await open();
    const cli = async (...args: string[]) => {
      const { output, stdout, stderr } = captureOutput();
      const code = await runSearchCli([...args, '--data', dir, '--json'], output, { MODELS_DIR: dir });
      return { code, body: stdout() ? JSON.parse(stdout()) : undefined, stderr: stderr() };
    };

    // While the stack holds the file open: read-only, so the stack's clean-stop mark is untouched.
    const words = await cli('open', '24', 'hours');
    const similar = await cli('--similar', KEYS.redSign);

    expect(words.code).toBe(0);
    expect(words.body.results.map((h: { key: string }) => h.key)).toEqual([KEYS.redSign]);
    expect(similar.body).toMatchObject({ mode: 'similar', results: [{ key: KEYS.dawn }] });
    // Still marked open by the stack: a crash now is still detected at its next start.
    const peek = new Database(file, { readonly: true });
    expect(peek.prepare("SELECT value FROM meta WHERE name = 'clean'").get()).toEqual({ value: '0' });
    peek.close();
    running.index.close();
  });

  it('a directory without a usable search file is an error that says how to get one', async () => {
    const { dir } = setUp();
    const { output, stderr } = captureOutput();
    expect(await runSearchCli(['dog', '--data', dir], output, {})).toBe(2);
    expect(stderr()).toMatch(
      /there is no search index yet\. Start the stack on that data directory \(npm start -- --data /,
    );
  });
});
