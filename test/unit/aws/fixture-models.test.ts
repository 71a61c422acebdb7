import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { currentModels } from '#adapters/aws-runtime.ts';
import { detailedHandler, fastHandler } from '#adapters/lambda-handlers.ts';
import type { DescribeEngine } from '#engine/engine.ts';
import { readEngineSettings } from '#engine/settings.ts';
import { createEngine } from '#engine/wiring.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import { countVisionPasses } from '#test/support/vision-passes.ts';
import {
  BUCKET,
  fakeS3,
  fakeSqs,
  layout,
  quietObservability,
  s3Event,
  sqsEvent,
  sqsRecord,
} from './fakes.ts';

/**
 * The two deployed handlers on the real engine and the known-answer models (S3 and SQS faked): what
 * a user finds in the sidecar after an upload of the red test image.
 */
describe('fast function and detailed worker with the fixture models', () => {
  let passes: { readonly count: number };
  let fastEngine: DescribeEngine;
  let detailedEngine: DescribeEngine;

  beforeAll(async () => {
    passes = countVisionPasses();
    const settings = readEngineSettings({ MODELS_DIR: fixtureModelsDir(), OCR_STAGE: 'off' });
    // As at Lambda init: each function loads its stage's model.
    fastEngine = await createEngine(settings, { preload: ['fast'] });
    detailedEngine = await createEngine(settings, { preload: ['detailed'] });
  });
  afterAll(async () => {
    await fastEngine.models.dispose();
    await detailedEngine.models.dispose();
    vi.restoreAllMocks();
  });

  it('the fast sidecar has caption, objects and labels from one encoder pass; the worker adds the description from one more', async () => {
    // Prepare
    const s3 = fakeS3();
    const sqs = fakeSqs();
    const key = 'images/red.png';
    const etag = s3.put(key, await imageFixture('solidRed'), 'image/png');
    const fast = fastHandler(
      {
        engine: fastEngine,
        store: s3.store,
        queue: sqs.queue,
        layout,
        models: currentModels(fastEngine),
        bucket: BUCKET,
      },
      quietObservability(),
    );
    const worker = detailedHandler(
      { engine: detailedEngine, store: s3.store, models: currentModels(detailedEngine), bucket: BUCKET },
      quietObservability(),
    );

    // Act: the upload's event, then the job it queued
    const before = passes.count;
    await fast(s3Event([{ key, etag }]));
    const afterFast = s3.json('descriptions/red.png.json');
    const fastPasses = passes.count - before;
    const [job] = sqs.sent;
    const response = await worker(sqsEvent(sqsRecord('m1', job)));

    // Assess
    // Fast: one Florence-2 pass for caption and objects, one image-tower pass for the embedding.
    expect(fastPasses).toBe(2);
    expect(passes.count - before).toBe(3);
    expect(afterFast?.embedding).toMatchObject({ dims: 3, encoding: 'int8' });
    expect(afterFast?.caption).toBe('a red square');
    expect(afterFast?.labels).toEqual(['red square']);
    expect(afterFast?.objects?.[0]).toMatchObject({ label: 'red square' });
    expect(afterFast?.objects?.[0]?.box.width).toBeCloseTo(1, 2);
    expect(afterFast?.status.detailed.state).toBe('pending');
    expect(response).toEqual({ batchItemFailures: [] });
    const done = s3.json('descriptions/red.png.json');
    expect(done?.detailedDescription).toBe('the image shows a red square');
    expect(done?.labels).toEqual(['red square']);
    expect(done?.models.objects).toEqual(currentModels(fastEngine).objects);
    expect(done?.status).toMatchObject({ fast: { state: 'done' }, detailed: { state: 'done' } });
  });

  it('a sidecar written before embeddings gets its vector from the fast stage, and its caption is not made again', async () => {
    // Prepare: a described image whose sidecar lost its embedding (as records from before this field)
    const s3 = fakeS3();
    const sqs = fakeSqs();
    const key = 'images/red.png';
    const etag = s3.put(key, await imageFixture('solidRed'), 'image/png');
    const models = currentModels(fastEngine);
    const fast = fastHandler(
      { engine: fastEngine, store: s3.store, queue: sqs.queue, layout, models, bucket: BUCKET },
      quietObservability(),
    );
    await fast(s3Event([{ key, etag }]));
    const described = s3.json('descriptions/red.png.json');
    if (!described) throw new Error('Expected the fast sidecar');
    const { embedding: _vector, ...olderModels } = described.models;
    const { embedding: _field, ...older } = described;
    // A caption the captioner would never write: if it ran again, this would be gone.
    s3.putJson('descriptions/red.png.json', { ...older, caption: 'kept from before', models: olderModels });
    const before = passes.count;

    // Act: the backfill's (or the local restart's) fast-stage event for the stale record
    await fast(s3Event([{ key, etag }]));

    // Assess: one pass (the image tower), the vector and its provenance written, the caption kept
    const after = s3.json('descriptions/red.png.json');
    expect(passes.count - before).toBe(1);
    expect(after?.embedding).toMatchObject({ dims: 3, encoding: 'int8' });
    expect(after?.models.embedding).toEqual(models.embedding);
    expect(after?.caption).toBe('kept from before');
    expect(after?.objects).toEqual(described.objects);
  });

  it('a worker write that meets a newer fast sidecar keeps its new caption and judges the merged record again', async () => {
    // Prepare: the fast sidecar, then a newer fast write (another caption) landing while the worker runs
    const s3 = fakeS3();
    const sqs = fakeSqs();
    const key = 'images/red.png';
    const etag = s3.put(key, await imageFixture('solidRed'), 'image/png');
    const models = currentModels(fastEngine);
    await fastHandler(
      { engine: fastEngine, store: s3.store, queue: sqs.queue, layout, models, bucket: BUCKET },
      quietObservability(),
    )(s3Event([{ key, etag }]));
    const fastRecord = s3.json('descriptions/red.png.json');
    if (!fastRecord) throw new Error('Expected the fast sidecar');
    s3.before('PutObject', () =>
      s3.putJson('descriptions/red.png.json', { ...fastRecord, caption: 'a blue square' }),
    );
    const worker = detailedHandler(
      { engine: detailedEngine, store: s3.store, models: currentModels(detailedEngine), bucket: BUCKET },
      quietObservability(),
    );

    // Act
    await worker(sqsEvent(sqsRecord('m1', sqs.sent[0])));

    // Assess: the newer caption stays, and the checks cover it and the worker's description
    const merged = s3.json('descriptions/red.png.json');
    expect(merged?.caption).toBe('a blue square');
    expect(merged?.detailedDescription).toBe('the image shows a red square');
    const verdicts = merged?.checks?.filter((c) => c.kind === 'colour').map((c) => [c.field, c.verdict]);
    expect(verdicts).toEqual([
      ['caption', 'contradicted'],
      ['detailedDescription', 'consistent'],
    ]);
  });
});
