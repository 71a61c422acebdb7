import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { currentModels } from '#adapters/aws-runtime.ts';
import { categorise, SOURCE_WEIGHTS } from '#engine/categories/categorise.ts';
import type { DescribeEngine } from '#engine/engine.ts';
import { completeDetailedDescription } from '#engine/pipeline/complete-detailed-description.ts';
import { needsDescription } from '#engine/pipeline/staleness.ts';
import type { ObjectStore, StoredJson } from '#engine/ports.ts';
import type { Category } from '#engine/questions/config.ts';
import type { DescriptionRecord } from '#engine/record/schema.ts';
import { readEngineSettings } from '#engine/settings.ts';
import { createEngine } from '#engine/wiring.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import { partialModelSet } from '#test/support/partial-model-set.ts';
import { countVisionPasses } from '#test/support/vision-passes.ts';

/**
 * Zero-shot categories with the known-answer CLIP (models/fixtures/clip.ts): "crimson" and "scarlet"
 * sit at cosine 1 from the red image and -1/3 from the blue one, and no caption says either word.
 */
const engineFor = (categories: Category[], modelsDir = fixtureModelsDir()) =>
  createEngine(
    readEngineSettings({
      MODELS_DIR: modelsDir,
      OCR_STAGE: 'off',
      QUESTIONS_CONFIG: JSON.stringify({ categories }),
    }),
  );

const redThings = (prompts: string[]): Category => ({ id: 'red-things', label: 'Red things', prompts });
/** A label and no keywords that any record holds: only a prompt can match it. */
const promptOnly: Category = { id: 'picked', label: 'Picked', prompts: ['scarlet'] };

/** The red image's evidence for "Red things" from its words and colours alone. */
let keywordEvidence: () => string[] = () => [];

const evidenceOf = (record: DescriptionRecord, id: string) =>
  record.categories?.find((category) => category.id === id)?.evidence;

describe('zero-shot categories', () => {
  let engine: DescribeEngine;
  let red: DescriptionRecord;
  let blue: DescriptionRecord;
  const describeImage = async (fixture: 'solidRed' | 'solidBlue') =>
    engine.describe({
      bytes: await imageFixture(fixture),
      source: { kind: 's3', bucket: 'b', key: `images/${fixture}.png`, etag: fixture },
    });

  beforeAll(async () => {
    engine = await engineFor([redThings(['crimson']), promptOnly]);
    red = await describeImage('solidRed');
    keywordEvidence = () => categorise(red, [redThings([])])[0]?.evidence ?? [];
    blue = await describeImage('solidBlue');
  });
  afterAll(async () => {
    await engine.models.dispose();
    vi.restoreAllMocks();
  });

  it('a prompt scored against the image embedding matches the red image and not the blue', () => {
    expect(evidenceOf(red, 'red-things')).toContain('prompts: crimson (cosine 1.000)');
    expect(red.categories?.find((c) => c.id === 'picked')).toEqual({
      id: 'picked',
      score: 0.6,
      evidence: ['prompts: scarlet (cosine 1.000)'],
    });
    expect(blue.categories?.map((c) => c.id)).toEqual([]);
  });

  it('combines with keyword evidence as one more source of the noisy OR', () => {
    const match = red.categories?.find((c) => c.id === 'red-things');
    const [byKeywords] = categorise(red, [redThings([])]);
    expect(byKeywords?.evidence).toContain('caption: red');
    expect(match?.evidence).toEqual([...(byKeywords?.evidence ?? []), 'prompts: crimson (cosine 1.000)']);
    const expected = 1 - (1 - (byKeywords?.score ?? 0)) * (1 - SOURCE_WEIGHTS.prompts);
    expect(match?.score).toBeCloseTo(expected, 2);
  });

  describe('a changed category list re-scores stored records without any image model', () => {
    let onlyEmbedding: { dir: string; cleanup: () => Promise<void> };
    let next: DescribeEngine;
    let passes: { readonly count: number };

    beforeAll(async () => {
      // The same manifest with only CLIP installed: a caption or objects run could not happen.
      onlyEmbedding = await partialModelSet({ only: ['clip-colour'] });
      next = await engineFor([redThings(['blue']), promptOnly], onlyEmbedding.dir);
      passes = countVisionPasses();
    });
    afterAll(async () => {
      await next.models.dispose();
      await onlyEmbedding.cleanup();
    });

    it('the stored records are stale for categories only, and re-scoring runs no vision pass', async () => {
      const current = currentModels(next);
      expect(needsDescription(red, { etag: 'solidRed' }, current)).toEqual({
        stage: 'detailed',
        reason: 'categories-changed',
      });
      const before = passes.count;

      const [redNow, blueNow] = [await next.judgedAgain(red), await next.judgedAgain(blue)];

      expect(passes.count - before).toBe(0);
      expect(evidenceOf(blueNow, 'red-things')).toEqual(['prompts: blue (cosine 1.000)']);
      expect(evidenceOf(redNow, 'red-things')).toEqual(keywordEvidence());
      expect(redNow.caption).toBe(red.caption);
      expect(redNow.embedding).toEqual(red.embedding);
      expect(redNow.stale).toBeUndefined();
      expect(needsDescription(blueNow, { etag: 'solidBlue' }, current)).toBeUndefined();
    });

    it('the detailed worker (backfill and restart send it the job) re-scores without reading the image', async () => {
      const written = new Map<string, unknown>();
      const store: ObjectStore = {
        head: () => Promise.reject(new Error('no HEAD expected')),
        get: () => Promise.reject(new Error('the image must not be read')),
        getJson: async <T>(key: string) =>
          (key === 'descriptions/blue.png.json' ? { value: blue, etag: 's1' } : undefined) as
            | StoredJson<T>
            | undefined,
        putJson: async (key, value) => {
          written.set(key, value);
          return { etag: 's2' };
        },
        putBytes: () => Promise.reject(new Error('no bytes expected')),
        list: () => {
          throw new Error('no listing expected');
        },
      };
      const job = {
        bucket: 'b',
        key: 'images/solidBlue.png',
        etag: 'solidBlue',
        sidecarKey: 'descriptions/blue.png.json',
      };

      const outcome = await completeDetailedDescription(
        { engine: next, store, models: currentModels(next), bucket: 'b' },
        job,
      );

      expect(outcome.kind).toBe('done');
      const stored = written.get('descriptions/blue.png.json') as DescriptionRecord;
      expect(evidenceOf(stored, 'red-things')).toEqual(['prompts: blue (cosine 1.000)']);
      expect(stored.detailedDescription).toBe(blue.detailedDescription);
    });
  });

  it('while the embedding model is missing, keyword evidence still counts and the categories wait', async () => {
    const noModels = await partialModelSet({ only: [] });
    const waiting = await engineFor([redThings(['blue'])], noModels.dir);
    try {
      const record = await waiting.judgedAgain(red);

      expect(evidenceOf(record, 'red-things')).toEqual(keywordEvidence());
      expect(record.stale?.categories?.reason).toBe('waiting-for-models');
      // Staleness asks for the re-score again once the model is there.
      expect(needsDescription(record, { etag: 'solidRed' }, currentModels(waiting))?.reason).toBe(
        'categories-changed',
      );
    } finally {
      await waiting.models.dispose();
      await noModels.cleanup();
    }
  });

  it('a process without the text tower (a worker whose extra slot holds the questions model) keeps the prompt matches already scored', async () => {
    const noModels = await partialModelSet({ only: [] });
    const worker = await engineFor([redThings(['crimson']), promptOnly], noModels.dir);
    try {
      const record = await worker.judgedAgain(red);

      expect(evidenceOf(record, 'picked')).toEqual(['prompts: scarlet (cosine 1.000)']);
      expect(evidenceOf(record, 'red-things')).toEqual(evidenceOf(red, 'red-things'));
      expect(record.stale?.categories).toBeUndefined();
      // Nothing to re-score, so backfill does not send it round again.
      expect(needsDescription(record, { etag: 'solidRed' }, currentModels(worker))).toBeUndefined();
    } finally {
      await worker.models.dispose();
      await noModels.cleanup();
    }
  });
});
