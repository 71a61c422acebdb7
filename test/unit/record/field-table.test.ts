import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DescribeEngine, DescribeInput } from '#engine/engine.ts';
import { ImageRejectedError } from '#engine/errors.ts';
import { completeDetailedDescription } from '#engine/pipeline/complete-detailed-description.ts';
import { currentModelsOf } from '#engine/pipeline/staleness.ts';
import { validateRecord, withStageState } from '#engine/record/record.ts';
import type { DescriptionRecord, ModelProvenance } from '#engine/record/schema.ts';
import { readEngineSettings } from '#engine/settings.ts';
import { createEngine } from '#engine/wiring.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import { BUCKET, fakeS3 } from '../aws/fakes.ts';

/**
 * Adding a record field is one row in the field table (record/fields.ts). Here two rows are added,
 * and nothing else: `mood`, written by the detailed stage, and `tags`, written by the fast stage,
 * each with a `models` key of its own. The real engine and the real detailed worker then keep both
 * through a re-run, a failed run and a write conflict, as they keep the caption.
 */
vi.mock('#engine/record/fields.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('#engine/record/fields.ts')>();
  const { z } = await import('zod');
  return {
    ...real,
    RESULT_FIELDS: {
      ...real.RESULT_FIELDS,
      mood: { schema: z.string(), stage: 'detailed', model: 'moodModel' },
      tags: { schema: z.array(z.string()), stage: 'fast', model: 'tagger' },
    },
  };
});

const mood = (id: string): ModelProvenance => ({
  id,
  revision: 'r1',
  architecture: 'mood-classifier',
  dtype: 'fp32',
  promptHash: '0123456789abcdef',
});

let engine: DescribeEngine;
let bytes: Uint8Array;
const source = { kind: 's3' as const, bucket: BUCKET, key: 'images/red.png', etag: 'e1' };
const input = (): DescribeInput => ({ bytes, source });

beforeAll(async () => {
  engine = await createEngine(readEngineSettings({ MODELS_DIR: fixtureModelsDir(), OCR_STAGE: 'off' }));
  bytes = await imageFixture('solidRed');
});
afterAll(() => engine.models.dispose());

/** A finished record of the red square that an earlier run gave a mood and tags. */
async function finishedWithNewFields(): Promise<DescriptionRecord> {
  const described = await engine.describe(input());
  return validateRecord({
    ...described,
    mood: 'calm',
    tags: ['red', 'square'],
    models: { ...described.models, moodModel: mood('mood/v1'), tagger: mood('tagger/v1') },
  });
}

const fieldsOf = (record: DescriptionRecord | undefined) => {
  const value = record as (DescriptionRecord & { mood?: string; tags?: string[] }) | undefined;
  return {
    mood: value?.mood,
    tags: value?.tags,
    moodModel: (value?.models as Record<string, ModelProvenance> | undefined)?.moodModel?.id,
    tagger: (value?.models as Record<string, ModelProvenance> | undefined)?.tagger?.id,
  };
};

describe('a field added to the table', () => {
  it('is part of the record schema, with its models key', async () => {
    const record = await finishedWithNewFields();

    expect(fieldsOf(record)).toEqual({
      mood: 'calm',
      tags: ['red', 'square'],
      moodModel: 'mood/v1',
      tagger: 'tagger/v1',
    });
    expect(() => validateRecord({ ...record, mood: 42 })).toThrow(/mood/);
  });

  it('survives a re-run of the other stage', async () => {
    const previous = await finishedWithNewFields();

    const fastAgain = await engine.describeFast(input(), previous);
    const detailedAgain = await engine.describeDetailed(input(), previous);

    expect(fieldsOf(fastAgain)).toMatchObject({ mood: 'calm', moodModel: 'mood/v1' });
    expect(fastAgain.stale).toBeUndefined();
    expect(fieldsOf(detailedAgain)).toMatchObject({ tags: ['red', 'square'], tagger: 'tagger/v1' });
  });

  it('survives a failed run, marked stale with the failure', async () => {
    const previous = await finishedWithNewFields();
    const error = new ImageRejectedError('CORRUPT_IMAGE', 'Expected an image but received corrupt bytes');

    const fastFailed = engine.failedRecordFor(input(), 'fast', error, previous);
    const detailedFailed = engine.failedRecordFor(input(), 'detailed', error, previous);

    expect(fieldsOf(fastFailed)).toMatchObject({ mood: 'calm', tags: ['red', 'square'] });
    expect(fastFailed.stale).toMatchObject({
      mood: { reason: 'failed: CORRUPT_IMAGE' },
      tags: { reason: 'failed: CORRUPT_IMAGE' },
    });
    expect(fieldsOf(detailedFailed)).toMatchObject({ mood: 'calm', tags: ['red', 'square'] });
    expect(detailedFailed.stale).toMatchObject({ mood: { reason: 'failed: CORRUPT_IMAGE' } });
  });

  it('survives a write conflict: the fast stage takes the newer sidecar detailed results', async () => {
    const newer = await finishedWithNewFields();
    const fast = await engine.describeFast(input());
    expect(fieldsOf(fast).mood).toBeUndefined();

    const merged = await engine.withNewerDetailedResults(fast, newer);

    expect(fieldsOf(merged)).toMatchObject({ mood: 'calm', moodModel: 'mood/v1' });
  });

  it('survives a write conflict: the detailed worker keeps its field and the other writer its own', async () => {
    // Prepare: the worker reads a sidecar with a mood; before it writes, the fast stage rewrites
    // the sidecar with new tags and no mood (it had not seen it).
    const s3 = fakeS3();
    const etag = s3.put(source.key, Buffer.from(bytes), 'image/png');
    const sidecarKey = 'descriptions/red.png.json';
    const read = await finishedWithNewFields();
    const pending = withStageState(
      { ...read, source: { ...read.source, etag } },
      'detailed',
      'pending',
      new Date(),
    );
    s3.putJson(sidecarKey, pending);
    const {
      mood: _m,
      tags: _t,
      ...withoutNew
    } = pending as DescriptionRecord & { mood?: string; tags?: string[] };
    const rewritten = {
      ...withoutNew,
      tags: ['crimson'],
      models: { ...withoutNew.models, moodModel: undefined },
    };
    s3.before('PutObject', () => s3.putJson(sidecarKey, rewritten));

    // Act
    const outcome = await completeDetailedDescription(
      { engine, store: s3.store, models: currentModelsOf(engine.models.manifest), bucket: BUCKET },
      { bucket: BUCKET, key: source.key, etag, sidecarKey },
    );

    // Assess
    expect(outcome).toMatchObject({ kind: 'done', attempts: 2 });
    expect(fieldsOf(s3.json(sidecarKey))).toMatchObject({
      mood: 'calm',
      moodModel: 'mood/v1',
      tags: ['crimson'],
    });
  });
});
