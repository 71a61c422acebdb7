import { beforeEach, describe, expect, it } from 'vitest';
import { backfill } from '#engine/pipeline/backfill.ts';
import type { ObjectToDescribe } from '#engine/ports.ts';
import { newRecord, withStageState } from '#engine/record/record.ts';
import type { DescriptionRecord } from '#engine/record/schema.ts';
import { formatSummary } from '../../../functions/cli/backfill.ts';
import { BUCKET, fakeS3, fakeSqs, layout, MODELS, NOW } from './fakes.ts';

let s3: ReturnType<typeof fakeS3>;
let sqs: ReturnType<typeof fakeSqs>;
let triggered: ObjectToDescribe[];

beforeEach(() => {
  s3 = fakeS3();
  sqs = fakeSqs();
  triggered = [];
});

const deps = () => ({
  store: s3.store,
  layout,
  models: MODELS,
  bucket: BUCKET,
  queue: sqs.queue,
  fast: { trigger: async (object: ObjectToDescribe) => void triggered.push(object) },
});

/** A sidecar for `key` at `etag`; `done` = both stages completed with the current models. */
function sidecarFor(
  key: string,
  etag: string,
  shape: 'done' | 'detailed-pending' | 'failed',
): DescriptionRecord {
  let record = newRecord({ kind: 's3', bucket: BUCKET, key, etag, size: 3 }, NOW);
  record = withStageState(
    { ...record, caption: 'a red square', models: { caption: MODELS.caption } },
    'fast',
    'done',
    NOW,
  );
  if (shape === 'done') {
    record = withStageState(
      { ...record, models: { ...record.models, detailed: MODELS.detailed } },
      'detailed',
      'done',
      NOW,
    );
  }
  if (shape === 'failed')
    record = withStageState(withStageState(record, 'fast', 'failed', NOW), 'detailed', 'failed', NOW);
  return record;
}

/** One bucket with every case the backfill tells apart. */
function seedBucket() {
  const put = (name: string) => ({ key: `images/${name}`, etag: s3.put(`images/${name}`, name) });
  const upToDate = put('up-to-date.png');
  s3.putJson('descriptions/up-to-date.png.json', sidecarFor(upToDate.key, upToDate.etag, 'done'));
  put('no-sidecar.png');
  const replaced = put('replaced.png');
  s3.putJson('descriptions/replaced.png.json', sidecarFor(replaced.key, 'etag-before-reupload', 'done'));
  const oldCaption = put('old-caption.png');
  const stale = sidecarFor(oldCaption.key, oldCaption.etag, 'done');
  s3.putJson('descriptions/old-caption.png.json', {
    ...stale,
    models: { ...stale.models, caption: { ...MODELS.caption, revision: 'r0' } },
  });
  const pending = put('detailed-pending.png');
  s3.putJson(
    'descriptions/detailed-pending.png.json',
    sidecarFor(pending.key, pending.etag, 'detailed-pending'),
  );
  const oldDetailed = put('old-detailed.png');
  const done = sidecarFor(oldDetailed.key, oldDetailed.etag, 'done');
  s3.putJson('descriptions/old-detailed.png.json', {
    ...done,
    models: { ...done.models, detailed: { ...MODELS.detailed, promptHash: 'ffffffffffffffff' } },
  });
  const failed = put('failed.png');
  s3.putJson('descriptions/failed.png.json', sidecarFor(failed.key, failed.etag, 'failed'));
  put('junk-sidecar.png');
  s3.putJson('descriptions/junk-sidecar.png.json', { hello: 'not a record' });
  s3.put('images/folder/', ''); // a console "folder" marker, not an image
  s3.put('elsewhere/not-an-input.png', 'x');
}

describe('backfill', () => {
  it('sends stale captions to the fast stage and stale detailed stages to the queue, nothing else', async () => {
    // Prepare
    seedBucket();
    // Act
    const summary = await backfill(deps());
    // Assess
    expect(triggered.map((object) => object.key).sort()).toEqual([
      'images/junk-sidecar.png',
      'images/no-sidecar.png',
      'images/old-caption.png',
      'images/replaced.png',
    ]);
    expect(triggered.find((object) => object.key === 'images/no-sidecar.png')).toEqual({
      bucket: BUCKET,
      key: 'images/no-sidecar.png',
      etag: s3.objects.get('images/no-sidecar.png')?.etag,
      size: 'no-sidecar.png'.length,
    });
    expect(sqs.sent.map((job) => job.key).sort()).toEqual([
      'images/detailed-pending.png',
      'images/old-detailed.png',
    ]);
    expect(sqs.sent.find((job) => job.key === 'images/old-detailed.png')?.sidecarKey).toBe(
      'descriptions/old-detailed.png.json',
    );
    expect(summary).toEqual({
      scanned: 8,
      upToDate: 2,
      queued: 6,
      dryRun: false,
      fast: { missing: 1, 'object-changed': 1, 'caption-model-changed': 1, 'unreadable-record': 1 },
      detailed: { 'detailed-incomplete': 1, 'detailed-model-changed': 1 },
    });
  });

  it('reads no sidecar that the listing shows is missing', async () => {
    s3.put('images/a.png', 'a');
    s3.put('images/b.png', 'b');

    await backfill(deps());

    expect(s3.commands('GetObject')).toHaveLength(0);
    expect(triggered).toHaveLength(2);
  });

  it('with --dry-run counts the same and sends nothing', async () => {
    seedBucket();

    const summary = await backfill(deps(), { dryRun: true });

    expect(triggered).toHaveLength(0);
    expect(sqs.sent).toHaveLength(0);
    expect(summary).toMatchObject({ scanned: 8, upToDate: 2, queued: 6, dryRun: true });
    expect(formatSummary(summary, 's3://photos-bucket/images/')).toBe(
      [
        'Scanned 8 objects under s3://photos-bucket/images/: 2 up to date, would queue 6 (dry run: nothing sent)',
        '  fast stage: 4 (unreadable-record 1, missing 1, caption-model-changed 1, object-changed 1)',
        '  detailed queue: 2 (detailed-incomplete 1, detailed-model-changed 1)',
        '',
      ].join('\n'),
    );
  });

  it('reports progress as it goes', async () => {
    seedBucket();
    const seen: Array<{ scanned: number; queued: number }> = [];

    await backfill(deps(), { dryRun: true, onProgress: (progress) => seen.push(progress) });

    expect(seen.at(-1)).toEqual({ scanned: 8, queued: 6 });
  });
});
