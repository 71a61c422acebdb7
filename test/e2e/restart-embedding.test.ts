import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '#adapters/s3-object-store.ts';
import { localS3Client } from '#emulators/local-servers.ts';
import { parseStoredRecord } from '#engine/pipeline/staleness.ts';
import type { DescriptionRecord } from '#engine/record/schema.ts';
import { readEngineSettings } from '#engine/settings.ts';
import { createEngine } from '#engine/wiring.ts';
import { DEFAULT_LOCAL_OPTIONS } from '../../functions/local/options.ts';
import { startEmbeddedS3 } from '../../functions/local/servers.ts';
import { type LocalStack, type StackEvent, startLocalStack } from '../../functions/local/stack.ts';
import { imageFixture } from '../fixtures/images.ts';
import { testStackOptions } from '../support/local-stack-options.ts';
import { partialModelSet } from '../support/partial-model-set.ts';

/**
 * Records finished before image embeddings existed get their vector at the next start, and only
 * that: the stack starts with the same manifest but only the embedding model installed, so a
 * caption or objects run would leave the fast stage waiting for models with the caption marked
 * stale. One record is as the pipeline wrote it; the other lacks `source.sha256` (optional in the
 * schema), which made the fast stage treat it as other bytes and caption it again.
 */
let dir: string;
let stack: LocalStack;
let store: S3ObjectStore;
let models: { dir: string; cleanup: () => Promise<void> };
const events: StackEvent[] = [];
const before = new Map<string, DescriptionRecord>();
const bucket = DEFAULT_LOCAL_OPTIONS.bucket;

/** A finished record as it was before embeddings: no vector, no embedding provenance. */
function withoutEmbedding(record: DescriptionRecord): DescriptionRecord {
  const { embedding: _vector, ...rest } = record;
  const { embedding: _model, ...otherModels } = rest.models;
  return { ...rest, models: otherModels };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'restart-embedding-'));
  const dataDir = join(dir, 'data');
  models = await partialModelSet({ only: ['clip-colour'] });

  // Prepare: the last run finished both images with every fixture model.
  const engine = await createEngine(readEngineSettings({ MODELS_DIR: process.env.MODELS_DIR }));
  const previous = await startEmbeddedS3({ host: '127.0.0.1', port: 0, dataDir, bucket });
  const s3 = localS3Client(previous.endpoint);
  for (const [name, fixture, keepHash] of [
    ['red', 'solidRed', true],
    ['blue', 'solidBlue', false],
  ] as const) {
    const bytes = await imageFixture(fixture);
    const key = `images/${name}.png`;
    const etag = createHash('md5').update(bytes).digest('hex');
    let record = withoutEmbedding(
      await engine.describe({ bytes, source: { kind: 's3', bucket, key, etag } }),
    );
    expect(record.status.detailed.state).toBe('done');
    if (!keepHash) {
      const { sha256: _hash, ...source } = record.source;
      record = { ...record, source };
    }
    before.set(name, record);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentType: 'image/png' }));
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `descriptions/${name}.png.json`,
        Body: JSON.stringify(record),
        ContentType: 'application/json',
      }),
    );
  }
  await engine.models.dispose();
  s3.destroy();
  await previous.close();

  // Act: the next start, with only the embedding model installed.
  stack = await startLocalStack(testStackOptions(dataDir, { modelsDir: models.dir }), {
    onEvent: (event) => events.push(event),
  });
  store = new S3ObjectStore({ bucket, client: stack.s3 });
});

afterAll(async () => {
  await stack?.stop();
  await models?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

async function embedded(key: string): Promise<DescriptionRecord> {
  const end = Date.now() + 30_000;
  for (;;) {
    const record = parseStoredRecord((await store.getJson(key).catch(() => undefined))?.value);
    if (record?.embedding) return record;
    if (Date.now() > end)
      throw new Error(`Expected ${key} to get an embedding; last: ${JSON.stringify(record)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('restart of the local stack over records from before embeddings', () => {
  it('adds the vector and keeps caption, objects and text without running their models', async () => {
    // Assess: both records went back to the fast stage, for their vector
    expect(events.find((e) => e.type === 'requeued')).toMatchObject({
      reason: 'start',
      summary: { scanned: 2, fast: 2, detailed: 0 },
    });

    for (const name of ['red', 'blue']) {
      const was = before.get(name) as DescriptionRecord;
      const now = await embedded(`descriptions/${name}.png.json`);
      expect(now.embedding?.dims).toBe(3);
      expect(now.models.embedding?.id).toBe('fixtures/clip-colour');
      // The captioner is not installed: had it been asked, the stage would be waiting and the
      // caption marked stale.
      expect(now.status.fast.state).toBe('done');
      expect(now.stale).toBeUndefined();
      expect(now.caption).toBe(was.caption);
      expect(now.objects).toEqual(was.objects);
      expect(now.text).toEqual(was.text);
      expect(now.detailedDescription).toBe(was.detailedDescription);
      expect(now.status.detailed.state).toBe('done');
      expect(now.models.caption).toEqual(was.models.caption);
    }
  });
});
