import { beforeEach, describe, expect, it } from 'vitest';
import { detailedHandler } from '#adapters/lambda-handlers.ts';
import type { DetailedStageDependencies } from '#engine/pipeline/complete-detailed-description.ts';
import { newRecord, withStageState } from '#engine/record/record.ts';
import type { DescriptionRecord } from '#engine/record/schema.ts';
import { BUCKET, fakeEngine, fakeS3, MODELS, NOW, quietObservability, sqsEvent, sqsRecord } from './fakes.ts';

let s3: ReturnType<typeof fakeS3>;
let engine: ReturnType<typeof fakeEngine>;
let handler: ReturnType<typeof detailedHandler>;

beforeEach(() => {
  s3 = fakeS3();
  engine = fakeEngine();
  const deps: DetailedStageDependencies = { engine, store: s3.store, models: MODELS, bucket: BUCKET };
  handler = detailedHandler(deps, quietObservability());
});

/** The sidecar the fast stage wrote: caption done, detailed pending. */
function fastRecord(key: string, etag: string, changes: Partial<DescriptionRecord> = {}): DescriptionRecord {
  const record = newRecord({ kind: 's3', bucket: BUCKET, key, etag, size: 3 }, NOW);
  return {
    ...withStageState(
      { ...record, caption: 'a red square', models: { caption: MODELS.caption } },
      'fast',
      'done',
      NOW,
    ),
    ...changes,
  };
}

/** An uploaded object, its fast sidecar and the job the fast stage sent. */
function uploaded(key: string, word: string) {
  const etag = s3.put(key, word, 'image/png');
  const sidecarKey = `descriptions/${key.slice('images/'.length)}.json`;
  const sidecarEtag = s3.putJson(sidecarKey, fastRecord(key, etag));
  return { etag, sidecarKey, sidecarEtag, job: { bucket: BUCKET, key, etag, sidecarKey } };
}

describe('describe-detailed handler', () => {
  it('merges the detailed description into the sidecar with If-Match on its ETag and sets detailed = done', async () => {
    // Prepare
    const { job, sidecarKey, sidecarEtag } = uploaded('images/cat.png', 'red');
    // Act
    const response = await handler(sqsEvent(sqsRecord('m1', job)));
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    const sidecar = s3.json(sidecarKey);
    expect(sidecar?.caption).toBe('a red square');
    expect(sidecar?.detailedDescription).toBe('a red square on a plain background');
    expect(sidecar?.status.detailed.state).toBe('done');
    expect(sidecar?.models.detailed).toEqual(MODELS.detailed);
    const getImage = s3.commands('GetObject').find((call) => call.Key === 'images/cat.png');
    expect(getImage).toMatchObject({ IfMatch: `"${job.etag}"` });
    expect(s3.commands('PutObject')[0]).toMatchObject({ IfMatch: `"${sidecarEtag}"` });
  });

  it('on a CAS conflict re-reads the sidecar, keeps the concurrent change and retries', async () => {
    const { job, sidecarKey } = uploaded('images/cat.png', 'red');
    // Between our read and our write, another writer touches the sidecar for the same object.
    s3.before('PutObject', () =>
      s3.putJson(sidecarKey, fastRecord(job.key, job.etag, { caption: 'a red square, re-captioned' })),
    );

    const response = await handler(sqsEvent(sqsRecord('m1', job)));

    expect(response.batchItemFailures).toEqual([]);
    const sidecar = s3.json(sidecarKey);
    expect(sidecar?.caption).toBe('a red square, re-captioned');
    expect(sidecar?.detailedDescription).toBe('a red square on a plain background');
    expect(sidecar?.status.detailed.state).toBe('done');
    expect(s3.commands('PutObject')).toHaveLength(2);
    expect(engine.calls.detailed).toBe(1);
  });

  it('drops the job when the conflicting sidecar now describes a newer upload', async () => {
    const { job, sidecarKey } = uploaded('images/cat.png', 'red');
    const newer = fastRecord(job.key, 'etag-of-newer-upload', { caption: 'a blue square' });
    s3.before('PutObject', () => s3.putJson(sidecarKey, newer));

    const response = await handler(sqsEvent(sqsRecord('m1', job)));

    expect(response.batchItemFailures).toEqual([]);
    expect(s3.json(sidecarKey)).toEqual(newer);
  });

  it('drops the job when the object was replaced (GetObject If-Match answers 412)', async () => {
    const { job, sidecarKey } = uploaded('images/cat.png', 'red');
    s3.put('images/cat.png', 'blue');

    const response = await handler(sqsEvent(sqsRecord('m1', job)));

    expect(response.batchItemFailures).toEqual([]);
    expect(engine.calls.detailed).toBe(0);
    expect(s3.json(sidecarKey)?.status.detailed.state).toBe('pending');
  });

  it('drops a duplicate delivery: detailed already done by the current model', async () => {
    const { job } = uploaded('images/cat.png', 'red');
    await handler(sqsEvent(sqsRecord('m1', job)));
    const putsAfterFirst = s3.commands('PutObject').length;

    const response = await handler(sqsEvent(sqsRecord('m1-again', job)));

    expect(response.batchItemFailures).toEqual([]);
    expect(engine.calls.detailed).toBe(1);
    expect(s3.commands('PutObject')).toHaveLength(putsAfterFirst);
  });

  it('records a permanent failure as detailed = failed in the sidecar and deletes the message', async () => {
    const { job, sidecarKey } = uploaded('images/odd.png', 'corrupt');

    const response = await handler(sqsEvent(sqsRecord('m1', job)));

    expect(response.batchItemFailures).toEqual([]);
    const sidecar = s3.json(sidecarKey);
    expect(sidecar?.status.fast.state).toBe('done');
    expect(sidecar?.caption).toBe('a red square');
    expect(sidecar?.status.detailed.state).toBe('failed');
    expect(sidecar?.errors.detailed).toEqual({
      code: 'CORRUPT_IMAGE',
      message: 'Expected an image but received corrupt bytes',
    });
  });

  it('reports exactly the failed message of a batch of three (partial batch response)', async () => {
    const a = uploaded('images/a.png', 'red');
    const c = uploaded('images/c.png', 'green');

    const response = await handler(
      sqsEvent(
        sqsRecord('ok-1', a.job),
        sqsRecord('poison', '{"bucket": "photos-bucket", "ke'),
        sqsRecord('ok-2', c.job),
      ),
    );

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'poison' }] });
    expect(s3.json(a.sidecarKey)?.status.detailed.state).toBe('done');
    expect(s3.json(c.sidecarKey)?.detailedDescription).toBe('a green square on a plain background');
  });

  it('reports a transient error for retry and leaves the sidecar pending', async () => {
    const { job, sidecarKey } = uploaded('images/cat.png', 'flaky');

    const response = await handler(sqsEvent(sqsRecord('m1', job)));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
    expect(s3.json(sidecarKey)?.status.detailed.state).toBe('pending');
  });

  it('reports a message that is valid JSON but not a job (it ends in the DLQ for inspection)', async () => {
    const response = await handler(sqsEvent(sqsRecord('m1', { bucket: BUCKET, key: 'images/cat.png' })));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
    expect(s3.commands('GetObject')).toHaveLength(0);
  });

  it('drops the job when the fast stage failed or the sidecar is gone', async () => {
    const gone = { bucket: BUCKET, key: 'images/x.png', etag: 'e1', sidecarKey: 'descriptions/x.png.json' };
    const failedEtag = s3.put('images/y.png', 'red');
    const failed = withStageState(fastRecord('images/y.png', failedEtag), 'fast', 'failed', NOW);
    s3.putJson('descriptions/y.png.json', failed);
    const failedJob = {
      bucket: BUCKET,
      key: 'images/y.png',
      etag: failedEtag,
      sidecarKey: 'descriptions/y.png.json',
    };

    const response = await handler(sqsEvent(sqsRecord('m1', gone), sqsRecord('m2', failedJob)));

    expect(response.batchItemFailures).toEqual([]);
    expect(engine.calls.detailed).toBe(0);
    expect(s3.commands('PutObject')).toHaveLength(0);
  });
});
