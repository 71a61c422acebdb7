import { beforeEach, describe, expect, it } from 'vitest';
import { fastHandler } from '#adapters/lambda-handlers.ts';
import type { FastStageDependencies } from '#engine/pipeline/describe-uploaded-object.ts';
import { newRecord, sha256Hex, withStageState } from '#engine/record/record.ts';
import type { DescriptionRecord } from '#engine/record/schema.ts';
import {
  BUCKET,
  encodeEventKey,
  fakeEngine,
  fakeS3,
  fakeSqs,
  layout,
  MODELS,
  NOW,
  quietObservability,
  s3Event,
} from './fakes.ts';

let s3: ReturnType<typeof fakeS3>;
let sqs: ReturnType<typeof fakeSqs>;
let engine: ReturnType<typeof fakeEngine>;
let handler: ReturnType<typeof fastHandler>;

function wire(options: { maxInputBytes?: number } = {}) {
  engine = fakeEngine(options);
  const deps: FastStageDependencies = {
    engine,
    store: s3.store,
    queue: sqs.queue,
    layout,
    models: MODELS,
    bucket: BUCKET,
  };
  handler = fastHandler(deps, quietObservability());
}

beforeEach(() => {
  s3 = fakeS3();
  sqs = fakeSqs();
  wire();
});

/** A sidecar as an earlier delivery of the fast stage would have left it. */
function storedRecord(
  key: string,
  etag: string,
  changes: Partial<DescriptionRecord> = {},
): DescriptionRecord {
  let record = newRecord({ kind: 's3', bucket: BUCKET, key, etag, size: 3 }, NOW);
  record = withStageState(
    { ...record, caption: 'a red square', models: { caption: MODELS.caption } },
    'fast',
    'done',
    NOW,
  );
  return { ...record, ...changes };
}

/** A sidecar both stages completed with the current models. */
function describedRecord(key: string, etag: string): DescriptionRecord {
  const record = storedRecord(key, etag, {
    detailedDescription: 'a red square on a plain background',
    models: { caption: MODELS.caption, detailed: MODELS.detailed },
  });
  return withStageState(record, 'detailed', 'done', NOW);
}

describe('describe-fast handler', () => {
  it('writes the sidecar with the caption and detailed pending, then sends the detailed job', async () => {
    // Prepare
    const etag = s3.put('images/2026/cat.jpg', 'red', 'image/jpeg');
    // Act
    await handler(s3Event([{ key: 'images/2026/cat.jpg', etag }]));
    // Assess
    const sidecar = s3.json('descriptions/2026/cat.jpg.json');
    expect(sidecar?.caption).toBe('a red square');
    expect(sidecar?.status.fast.state).toBe('done');
    expect(sidecar?.status.detailed.state).toBe('pending');
    expect(sidecar?.source).toMatchObject({ kind: 's3', bucket: BUCKET, key: 'images/2026/cat.jpg', etag });
    expect(s3.commands('PutObject')[0]).toMatchObject({ IfNoneMatch: '*' });
    expect(sqs.sent).toEqual([
      { bucket: BUCKET, key: 'images/2026/cat.jpg', etag, sidecarKey: 'descriptions/2026/cat.jpg.json' },
    ]);
  });

  it('decodes event keys: + is a space, then percent-decoding', async () => {
    const key = 'images/my photo(1).jpg';
    const etag = s3.put(key, 'blue');
    expect(encodeEventKey(key)).toBe('images/my+photo%281%29.jpg');

    await handler(s3Event([{ key: 'images/my+photo%281%29.jpg', etag }]));

    expect(s3.json('descriptions/my photo(1).jpg.json')?.caption).toBe('a blue square');
    expect(sqs.sent[0]?.key).toBe(key);
  });

  it('keeps a literal + that S3 encoded as %2B', async () => {
    const etag = s3.put('images/a+b.jpg', 'green');

    await handler(s3Event([{ key: 'images/a%2Bb.jpg', etag }]));

    expect(s3.json('descriptions/a+b.jpg.json')?.caption).toBe('a green square');
  });

  it('ignores the s3:TestEvent sent when the notification is configured', async () => {
    await handler({ Service: 'Amazon S3', Event: 's3:TestEvent', Time: NOW.toISOString(), Bucket: BUCKET });

    expect(s3.mock.calls()).toHaveLength(0);
    expect(sqs.sent).toHaveLength(0);
  });

  it('ignores keys outside the input prefix, so a sidecar can never trigger a description', async () => {
    s3.putJson('descriptions/cat.jpg.json', storedRecord('images/cat.jpg', 'e1'));

    await handler(
      s3Event([
        { key: 'descriptions/cat.jpg.json', etag: 'x' },
        { key: 'other/cat.jpg', etag: 'y' },
      ]),
    );

    expect(s3.mock.calls()).toHaveLength(0);
    expect(sqs.sent).toHaveLength(0);
  });

  it('does nothing on a duplicate event: same ETag, same caption model, detailed done', async () => {
    const etag = s3.put('images/cat.jpg', 'red');
    s3.putJson('descriptions/cat.jpg.json', describedRecord('images/cat.jpg', etag));

    await handler(s3Event([{ key: 'images/cat.jpg', etag }]));

    expect(engine.calls.fast).toBe(0);
    expect(s3.commands('GetObject')).toEqual([expect.objectContaining({ Key: 'descriptions/cat.jpg.json' })]);
    expect(s3.commands('PutObject')).toHaveLength(0);
    expect(sqs.sent).toHaveLength(0);
  });

  it('re-sends the job on a duplicate while detailed is pending (heals a send lost before a retry)', async () => {
    const etag = s3.put('images/cat.jpg', 'red');
    s3.putJson('descriptions/cat.jpg.json', storedRecord('images/cat.jpg', etag));

    await handler(s3Event([{ key: 'images/cat.jpg', etag }]));

    expect(engine.calls.fast).toBe(0);
    expect(s3.commands('PutObject')).toHaveLength(0);
    expect(sqs.sent).toEqual([
      { bucket: BUCKET, key: 'images/cat.jpg', etag, sidecarKey: 'descriptions/cat.jpg.json' },
    ]);
  });

  it('re-describes when the caption model changed, replacing the sidecar with If-Match on its ETag', async () => {
    const etag = s3.put('images/cat.jpg', 'red');
    const old = storedRecord('images/cat.jpg', etag, {
      caption: 'an old caption',
      models: { caption: { ...MODELS.caption, revision: 'r0' } },
    });
    const oldSidecarEtag = s3.putJson('descriptions/cat.jpg.json', old);

    await handler(s3Event([{ key: 'images/cat.jpg', etag }]));

    expect(s3.json('descriptions/cat.jpg.json')?.caption).toBe('a red square');
    expect(s3.commands('PutObject')[0]).toMatchObject({ IfMatch: `"${oldSidecarEtag}"` });
    expect(sqs.sent).toHaveLength(1);
  });

  it('skips an event whose ETag is no longer the stored object (HEAD shows a newer upload)', async () => {
    s3.put('images/cat.jpg', 'blue');

    await handler(s3Event([{ key: 'images/cat.jpg', etag: 'etag-of-an-older-upload' }]));

    expect(engine.calls.fast).toBe(0);
    expect(s3.commands('PutObject')).toHaveLength(0);
    expect(sqs.sent).toHaveLength(0);
  });

  it('skips when the object is replaced between HEAD and GET: GetObject If-Match answers 412', async () => {
    const etag = s3.put('images/cat.jpg', 'red');
    s3.before('GetObject', () => {}); // the sidecar read
    s3.before('GetObject', () => s3.put('images/cat.jpg', 'blue'));

    await handler(s3Event([{ key: 'images/cat.jpg', etag }]));

    const getImage = s3.commands('GetObject').find((call) => call.Key === 'images/cat.jpg');
    expect(getImage).toMatchObject({ IfMatch: `"${etag}"` });
    expect(engine.calls.fast).toBe(0);
    expect(s3.objects.has('descriptions/cat.jpg.json')).toBe(false);
    expect(sqs.sent).toHaveLength(0);
  });

  it('never overwrites a sidecar a concurrent delivery wrote first (If-None-Match: * fails)', async () => {
    const etag = s3.put('images/cat.jpg', 'red');
    const winner = describedRecord('images/cat.jpg', etag);
    s3.before('PutObject', () => s3.putJson('descriptions/cat.jpg.json', winner));

    await handler(s3Event([{ key: 'images/cat.jpg', etag }]));

    expect(s3.json('descriptions/cat.jpg.json')?.status.detailed.state).toBe('done');
    expect(sqs.sent).toHaveLength(0);
  });

  it('a re-description that loses the write race to the worker keeps the description the worker wrote', async () => {
    // Prepare: a stale sidecar (older caption model), and the worker finishing it just before our write
    const etag = s3.put('images/cat.jpg', 'red');
    const old = storedRecord('images/cat.jpg', etag, {
      models: { caption: { ...MODELS.caption, revision: 'r0' } },
    });
    s3.putJson('descriptions/cat.jpg.json', old);
    const finishedByWorker = withStageState(
      {
        ...old,
        source: { ...old.source, sha256: sha256Hex(Buffer.from('red')) },
        detailedDescription: 'a red square on a plain background',
        models: { ...old.models, detailed: MODELS.detailed },
      },
      'detailed',
      'done',
      NOW,
    );
    s3.before('PutObject', () => s3.putJson('descriptions/cat.jpg.json', finishedByWorker));

    // Act
    await handler(s3Event([{ key: 'images/cat.jpg', etag }]));

    // Assess: the new caption and the worker's description, not one or the other
    const sidecar = s3.json('descriptions/cat.jpg.json');
    expect(sidecar?.models.caption).toEqual(MODELS.caption);
    expect(sidecar?.detailedDescription).toBe('a red square on a plain background');
    expect(sidecar?.status.detailed.state).toBe('done');
  });

  it('an oversize object that was described before keeps its results in the failed sidecar', async () => {
    wire({ maxInputBytes: 10 });
    const etag = s3.put('images/huge.tif', 'x'.repeat(11), 'image/tiff');
    s3.putJson('descriptions/huge.tif.json', {
      ...describedRecord('images/huge.tif', etag),
      models: { caption: { ...MODELS.caption, revision: 'r0' }, detailed: MODELS.detailed },
    });

    await handler(s3Event([{ key: 'images/huge.tif', etag, size: 11 }]));

    const sidecar = s3.json('descriptions/huge.tif.json');
    expect(sidecar?.status.fast.state).toBe('failed');
    expect(sidecar?.errors.fast?.code).toBe('INPUT_TOO_LARGE');
    expect(sidecar?.caption).toBe('a red square');
    expect(sidecar?.detailedDescription).toBe('a red square on a plain background');
  });

  it('writes a failed sidecar INPUT_TOO_LARGE for an oversize object without downloading it', async () => {
    wire({ maxInputBytes: 10 });
    const etag = s3.put('images/huge.tif', 'x'.repeat(11), 'image/tiff');

    await handler(s3Event([{ key: 'images/huge.tif', etag, size: 11 }]));

    const sidecar = s3.json('descriptions/huge.tif.json');
    expect(sidecar?.status).toMatchObject({ fast: { state: 'failed' }, detailed: { state: 'failed' } });
    expect(sidecar?.errors.fast).toEqual({
      code: 'INPUT_TOO_LARGE',
      message:
        'The file is 11 bytes, over the limit of 10 bytes: make it smaller (for example, export it at a lower resolution or quality) and try again.',
      detail: 'Expected at most 10 bytes for images/huge.tif but received 11 bytes (MAX_INPUT_BYTES)',
    });
    expect(sidecar?.source.size).toBe(11);
    expect(s3.commands('GetObject').map((call) => call.Key)).toEqual(['descriptions/huge.tif.json']);
    expect(sqs.sent).toHaveLength(0);
  });

  it('writes a failed sidecar for an undecodable image and sends no job', async () => {
    const etag = s3.put('images/broken.jpg', 'corrupt');

    await handler(s3Event([{ key: 'images/broken.jpg', etag }]));

    const sidecar = s3.json('descriptions/broken.jpg.json');
    expect(sidecar?.status.fast.state).toBe('failed');
    expect(sidecar?.errors.fast?.code).toBe('CORRUPT_IMAGE');
    expect(sidecar?.caption).toBeUndefined();
    expect(sqs.sent).toHaveLength(0);
  });

  it('a duplicate event for a failed image does nothing (the failure is final for these bytes)', async () => {
    const etag = s3.put('images/broken.jpg', 'corrupt');
    await handler(s3Event([{ key: 'images/broken.jpg', etag }]));
    const putsAfterFirst = s3.commands('PutObject').length;

    await handler(s3Event([{ key: 'images/broken.jpg', etag }]));

    expect(engine.calls.fast).toBe(1);
    expect(s3.commands('PutObject')).toHaveLength(putsAfterFirst);
  });

  it('throws on a transient error so Lambda retries the invoke, and writes nothing', async () => {
    const etag = s3.put('images/cat.jpg', 'flaky');

    await expect(handler(s3Event([{ key: 'images/cat.jpg', etag }]))).rejects.toMatchObject({
      code: 'MODEL_LOAD_FAILED',
    });

    expect(s3.objects.has('descriptions/cat.jpg.json')).toBe(false);
    expect(sqs.sent).toHaveLength(0);
  });

  it('describes the other records of an event before throwing for the one that failed', async () => {
    const flaky = s3.put('images/a.jpg', 'flaky');
    const red = s3.put('images/b.jpg', 'red');

    await expect(
      handler(
        s3Event([
          { key: 'images/a.jpg', etag: flaky },
          { key: 'images/b.jpg', etag: red },
        ]),
      ),
    ).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED' });

    expect(s3.json('descriptions/b.jpg.json')?.caption).toBe('a red square');
  });

  it('skips an object deleted before the event was handled', async () => {
    await handler(s3Event([{ key: 'images/gone.jpg', etag: 'e1' }]));

    expect(s3.commands('PutObject')).toHaveLength(0);
    expect(sqs.sent).toHaveLength(0);
  });
});
