import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DescribeEngine } from '#engine/engine.ts';
import type { DescriptionRecord } from '#engine/record/schema.ts';
import { readEngineSettings } from '#engine/settings.ts';
import { createEngine } from '#engine/wiring.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import { countVisionPasses } from '#test/support/vision-passes.ts';

/**
 * The fast stage re-run for a missing vector (`keepCurrent`, the `embedding-stale` path of the fast
 * use case): the results whose model is current stay as they are, text read in the fast stage
 * included; only the image tower runs.
 */
describe('describeFast with keepCurrent', () => {
  let engine: DescribeEngine;
  let passes: { readonly count: number };
  const source = { kind: 's3' as const, bucket: 'b', key: 'images/red.png', etag: 'e1' };

  beforeAll(async () => {
    passes = countVisionPasses();
    engine = await createEngine(readEngineSettings({ MODELS_DIR: fixtureModelsDir(), OCR_STAGE: 'fast' }));
  });
  afterAll(async () => {
    await engine.models.dispose();
    vi.restoreAllMocks();
  });

  it('adds the embedding and keeps caption, objects and fast-stage text (no captioner, no OCR)', async () => {
    // Prepare: a record from before embeddings, whose text OCR could not read from a red square
    const bytes = await imageFixture('solidRed');
    const described = await engine.describeFast({ bytes, source });
    const { embedding: _vector, ...rest } = described;
    const { embedding: _model, ...models } = rest.models;
    const old: DescriptionRecord = {
      ...rest,
      caption: 'kept caption',
      text: { full: 'KEPT TEXT', lines: [] },
      models,
    };
    const before = passes.count;

    // Act
    const record = await engine.describeFast({ bytes, source }, old, { keepCurrent: true });

    // Assess: one vision pass (CLIP's image tower), the rest as it was
    expect(passes.count - before).toBe(1);
    expect(record.embedding).toEqual(described.embedding);
    expect(record.caption).toBe('kept caption');
    expect(record.objects).toEqual(described.objects);
    expect(record.text?.full).toBe('KEPT TEXT');
    expect(record.status.fast.state).toBe('done');
    expect(record.stale).toBeUndefined();
  });

  it('without keepCurrent the same record is described afresh', async () => {
    const bytes = await imageFixture('solidRed');
    const described = await engine.describeFast({ bytes, source });
    const old: DescriptionRecord = {
      ...described,
      caption: 'kept caption',
      text: { full: 'KEPT TEXT', lines: [] },
    };

    const record = await engine.describeFast({ bytes, source }, old);

    expect(record.caption).toBe('a red square');
    expect(record.text?.full).not.toBe('KEPT TEXT');
  });
});
