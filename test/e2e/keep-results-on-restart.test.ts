import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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
import { type LocalStack, startLocalStack } from '../../functions/local/stack.ts';
import { imageFixture } from '../fixtures/images.ts';
import { testStackOptions } from '../support/local-stack-options.ts';

/**
 * A re-run that cannot produce a result keeps the last good one, as a user meets it: images finished with one model set, then the stack starts
 * with another whose models are not installed (here: the same manifest at new revisions, no files).
 * The re-queued images must keep their caption and description, marked stale, instead of going
 * back to "waiting for models" with nothing.
 */
let dir: string;
let stack: LocalStack;
let store: S3ObjectStore;
let finishedBefore: DescriptionRecord;
const bucket = DEFAULT_LOCAL_OPTIONS.bucket;
const key = 'images/red.png';
const sidecarKey = 'descriptions/red.png.json';

/** Every `revision` in the manifest bumped: each model "changed", none of them installed. */
function bumpRevisions(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(bumpRevisions);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, k === 'revision' ? `${v}-next` : bumpRevisions(v)]),
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keep-on-restart-'));
  const dataDir = join(dir, 'data');
  const nextModels = join(dir, 'next-models');
  await mkdir(nextModels);
  const fixtureManifest = JSON.parse(
    await readFile(join(process.env.MODELS_DIR as string, 'manifest.json'), 'utf8'),
  );
  await writeFile(join(nextModels, 'manifest.json'), JSON.stringify(bumpRevisions(fixtureManifest)));

  // Prepare: the last run finished the red image with the fixture models.
  const red = await imageFixture('solidRed');
  const etag = createHash('md5').update(red).digest('hex');
  const engine = await createEngine(
    readEngineSettings({ MODELS_DIR: process.env.MODELS_DIR, OCR_STAGE: 'off' }),
  );
  finishedBefore = await engine.describe({ bytes: red, source: { kind: 's3', bucket, key, etag } });
  await engine.models.dispose();
  expect(finishedBefore.status.detailed.state).toBe('done');

  const previous = await startEmbeddedS3({ host: '127.0.0.1', port: 0, dataDir, bucket });
  const s3 = localS3Client(previous.endpoint);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: red, ContentType: 'image/png' }));
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: sidecarKey,
      Body: JSON.stringify(finishedBefore),
      ContentType: 'application/json',
    }),
  );
  s3.destroy();
  await previous.close();

  // Act: start again with the other model set.
  stack = await startLocalStack(testStackOptions(dataDir, { modelsDir: nextModels }));
  store = new S3ObjectStore({ bucket, client: stack.s3 });
});

afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function waitForBothStagesToWait(): Promise<DescriptionRecord> {
  const end = Date.now() + 30_000;
  for (;;) {
    const record = parseStoredRecord((await store.getJson(sidecarKey).catch(() => undefined))?.value);
    const { fast, detailed } = record?.status ?? {};
    if (record && fast?.state === 'waiting-for-models' && detailed?.state === 'waiting-for-models')
      return record;
    if (Date.now() > end) throw new Error(`Expected both stages to wait; last: ${JSON.stringify(record)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('restart with a model set that is not installed', () => {
  it('keeps the finished caption and description, marked stale with the models that would replace them', async () => {
    const record = await waitForBothStagesToWait();

    expect(record.caption).toBe(finishedBefore.caption);
    expect(record.detailedDescription).toBe(finishedBefore.detailedDescription);
    expect(record.stale?.caption).toMatchObject({
      reason: 'waiting-for-models',
      replacement: { revision: expect.stringMatching(/-next$/) },
    });
    expect(record.stale?.detailedDescription?.reason).toBe('waiting-for-models');
    expect(record.models.caption).toEqual(finishedBefore.models.caption);
  });

  it('the page still lists the image with its caption', async () => {
    await waitForBothStagesToWait();

    const { records: listed } = (await (await fetch(`${stack.webUrl}/records`)).json()) as {
      records: Array<{ key: string; record?: DescriptionRecord }>;
    };

    expect(listed.find((item) => item.key === key)?.record?.caption).toBe(finishedBefore.caption);
  });
});
