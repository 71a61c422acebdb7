import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentModels } from '#adapters/aws-runtime.ts';
import { S3ObjectStore } from '#adapters/s3-object-store.ts';
import { localS3Client } from '#emulators/local-servers.ts';
import { ModelRegistry } from '#engine/models/registry.ts';
import { parseStoredRecord } from '#engine/pipeline/staleness.ts';
import { newRecord, withStageState } from '#engine/record/record.ts';
import type { DescriptionRecord } from '#engine/record/schema.ts';
import { encodeEmbedding } from '#engine/search/vector-codec.ts';
import { readEngineSettings } from '#engine/settings.ts';
import { DEFAULT_LOCAL_OPTIONS } from '../../functions/local/options.ts';
import { startEmbeddedS3 } from '../../functions/local/servers.ts';
import { type LocalStack, type StackEvent, startLocalStack } from '../../functions/local/stack.ts';
import { imageFixture } from '../fixtures/images.ts';
import { testStackOptions } from '../support/local-stack-options.ts';

/**
 * Nothing is lost across restarts: a previous run left objects in the bucket (s3rver keeps them on
 * disk) without a sidecar, with the detailed stage pending, and finished. The next start re-queues
 * the first two — and only them.
 */
let dir: string;
let stack: LocalStack;
let store: S3ObjectStore;
const events: StackEvent[] = [];
const bucket = DEFAULT_LOCAL_OPTIONS.bucket;
const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'local-restart-'));
  const dataDir = join(dir, 'data');

  // Prepare: "the last run", straight into s3rver's directory.
  const previous = await startEmbeddedS3({ host: '127.0.0.1', port: 0, dataDir, bucket });
  const s3 = localS3Client(previous.endpoint);
  const put = (Key: string, Body: Buffer | string, ContentType: string) =>
    s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body, ContentType }));
  const registry = await ModelRegistry.open({ modelsDir: process.env.MODELS_DIR as string, threads: 1 });
  // What the stack compares a sidecar with: the manifest's tasks and the configured category list.
  const models = currentModels({ models: registry, settings: readEngineSettings() });
  const red = await imageFixture('solidRed');
  const green = await imageFixture('solidGreen');
  const blue = await imageFixture('solidBlue');
  await put('images/lost/red.png', red, 'image/png');
  await put('images/half/green.png', green, 'image/png');
  await put('images/done/blue.png', blue, 'image/png');
  const source = (key: string, bytes: Buffer) => ({
    kind: 's3' as const,
    bucket,
    key,
    etag: md5(bytes),
    size: bytes.length,
  });
  const at = new Date('2026-11-25T20:00:00Z');
  // The half-done record has a vector of the current embedding model; the finished one is from before
  // embeddings, so the scan sends it to the fast stage for its vector alone.
  const dims = 16;
  const embedding = encodeEmbedding(new Float32Array(dims).fill(1 / Math.sqrt(dims)));
  let half: DescriptionRecord = newRecord(source('images/half/green.png', green), at);
  half = {
    ...withStageState(half, 'fast', 'done', at),
    caption: 'a green square',
    embedding,
    models: { caption: models.caption, objects: models.objects, embedding: models.embedding },
  };
  let done: DescriptionRecord = newRecord(source('images/done/blue.png', blue), at);
  done = withStageState(withStageState(done, 'fast', 'done', at), 'detailed', 'done', at);
  done = {
    ...done,
    caption: 'kept from last run',
    detailedDescription: 'kept',
    objects: [],
    labels: [],
    models: {
      caption: models.caption,
      objects: models.objects,
      detailed: models.detailed,
      categories: models.categories,
    },
  };
  await put('descriptions/half/green.png.json', JSON.stringify(half), 'application/json');
  await put('descriptions/done/blue.png.json', JSON.stringify(done), 'application/json');
  s3.destroy();
  await previous.close();

  // Act: the next start on the same data directory.
  stack = await startLocalStack(testStackOptions(dataDir), { onEvent: (event) => events.push(event) });
  store = new S3ObjectStore({ bucket, client: stack.s3 });
});

afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The stored record once `ready` holds for it. */
async function storedWhen(
  key: string,
  ready: (record: DescriptionRecord) => boolean,
  what: string,
): Promise<DescriptionRecord> {
  const end = Date.now() + 30_000;
  for (;;) {
    const record = parseStoredRecord((await store.getJson(key).catch(() => undefined))?.value);
    if (record && ready(record)) return record;
    if (Date.now() > end) throw new Error(`Expected ${key} ${what}; last: ${JSON.stringify(record?.status)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const finished = (key: string) =>
  storedWhen(key, (record) => record.status.detailed.state === 'done', 'to be finished');

describe('restart of the local stack', () => {
  it('re-queues objects without a sidecar or with the detailed stage pending, keeps finished ones (adding a missing vector only)', async () => {
    // Assess: what the scan decided
    const scan = events.find((e) => e.type === 'requeued');
    expect(scan).toMatchObject({
      reason: 'start',
      summary: { scanned: 3, fast: 2, detailed: 1, waiting: 0 },
    });

    // Assess: what the user finds in the bucket
    const red = await finished('descriptions/lost/red.png.json');
    expect(red.caption).toBe('a red square');
    const green = await finished('descriptions/half/green.png.json');
    expect(green.caption).toBe('a green square');
    expect(green.detailedDescription).toBeTruthy();
    const blue = await storedWhen(
      'descriptions/done/blue.png.json',
      (r) => r.embedding !== undefined,
      'to get a vector',
    );
    expect(blue.caption).toBe('kept from last run');
    expect(blue.detailedDescription).toBe('kept');
    expect(blue.embedding?.dims).toBe(3);
  });
});
