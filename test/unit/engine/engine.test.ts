import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DescribeEngine } from '#engine/engine.ts';
import { ImageRejectedError } from '#engine/errors.ts';
import { readEngineSettings } from '#engine/settings.ts';
import { createEngine } from '#engine/wiring.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { renderTextImage, textImage } from '#test/fixtures/text-images.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';

const source = { kind: 'file' as const, path: 'red-blue.png' };

describe('DescribeEngine with the known-answer models', () => {
  let engine: DescribeEngine;

  beforeAll(async () => {
    engine = await createEngine(readEngineSettings({ MODELS_DIR: fixtureModelsDir(), OCR_STAGE: 'off' }));
  });
  afterAll(() => engine.models.dispose());

  it('fast stage: image facts, colours and caption, detailed stage left pending', async () => {
    const bytes = await imageFixture('redBlue7030');

    const record = await engine.describeFast({ bytes, source });

    expect(record.caption).toBe('a red square');
    expect(record.image).toMatchObject({ format: 'png', width: 100, height: 100 });
    expect(record.colours?.map((c) => [c.family, Math.round(c.fraction * 10) / 10])).toEqual([
      ['red', 0.7],
      ['blue', 0.3],
    ]);
    expect(record.status.fast.state).toBe('done');
    expect(record.status.detailed.state).toBe('pending');
    expect(record.source).toMatchObject({
      size: bytes.length,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(record.models.caption).toMatchObject({ id: 'fixtures/florence2-colour', revision: 'fixture-v1' });
    expect(record.timings.fast?.totalMs).toBeGreaterThan(0);
  });

  it('detailed stage adds its description to the record the fast stage wrote, keeping the caption', async () => {
    const bytes = await imageFixture('solidBlack');
    const fast = await engine.describeFast({ bytes, source });

    const record = await engine.describeDetailed({ bytes, source }, fast);

    expect(record.caption).toBe('a black square');
    expect(record.detailedDescription).toBe('the image shows a black square');
    expect(record.status.detailed.state).toBe('done');
    expect(record.models.detailed?.id).toBe('fixtures/florence2-colour');
    expect(record.status.fast).toEqual(fast.status.fast);
  });

  it('throws a named, permanent error for bytes that are not an image', async () => {
    const bytes = await imageFixture('textFile');

    const attempt = engine.describeFast({ bytes, source });

    await expect(attempt).rejects.toBeInstanceOf(ImageRejectedError);
    await expect(attempt).rejects.toMatchObject({ code: 'UNSUPPORTED_FORMAT', permanent: true });
  });
});

describe('DescribeEngine working size', () => {
  it.each([
    ['detailed', 'fast', 768],
    ['detailed', 'detailed', 1024],
    ['fast', 'fast', 1024],
    ['fast', 'detailed', 768],
    ['off', 'fast', 768],
  ] as const)('with OCR_STAGE=%s the %s stage decodes to %i px', async (ocrStage, stage, size) => {
    const engine = await createEngine(
      readEngineSettings({ MODELS_DIR: fixtureModelsDir(), OCR_STAGE: ocrStage }),
    );

    expect(engine.workingSizeFor(stage)).toBe(size);
    await engine.models.dispose();
  });

  it('never enlarges past a smaller configured working size', async () => {
    const engine = await createEngine(
      readEngineSettings({ MODELS_DIR: fixtureModelsDir(), OCR_STAGE: 'off', WORKING_SIZE: '512' }),
    );

    expect(engine.workingSizeFor('fast')).toBe(512);
    await engine.models.dispose();
  });
});

describe('DescribeEngine without downloaded models', () => {
  let engine: DescribeEngine;
  let modelsDir: string;

  beforeAll(async () => {
    modelsDir = await mkdtemp(join(tmpdir(), 'no-models-'));
    await cp(join(fixtureModelsDir(), 'manifest.json'), join(modelsDir, 'manifest.json'));
    engine = await createEngine(readEngineSettings({ MODELS_DIR: modelsDir, OCR_STAGE: 'off' }));
  });
  afterAll(async () => {
    await engine.models.dispose();
    await rm(modelsDir, { recursive: true, force: true });
  });

  it('still gives colours and facts, and marks the caption as waiting for models', async () => {
    const record = await engine.describeFast({ bytes: await imageFixture('solidGreen'), source });

    expect(record.status.fast.state).toBe('waiting-for-models');
    expect(record.caption).toBeUndefined();
    expect(record.colours?.[0]?.family).toBe('green');
    expect(record.errors.fast?.code).toBe('MODEL_NOT_FOUND');
    expect(record.errors.fast?.message).toContain('npm run models:fetch');
  });

  it('reads the text in the detailed stage even while its model is missing', async () => {
    const withOcr = await createEngine(readEngineSettings({ MODELS_DIR: modelsDir, OCR_STAGE: 'detailed' }));
    const bytes = (await renderTextImage(textImage('clearSans'))).png;
    const fast = await withOcr.describeFast({ bytes, source });

    const record = await withOcr.describeDetailed({ bytes, source }, fast);

    expect(record.status.detailed.state).toBe('waiting-for-models');
    expect(record.text?.full).toBe('Fresh bread every morning');
    expect(record.detailedDescription).toBeUndefined();
    await withOcr.models.dispose();
  });

  it('describes fully once the models appear, without restarting', async () => {
    await cp(join(fixtureModelsDir(), 'fixtures'), join(modelsDir, 'fixtures'), { recursive: true });

    const record = await engine.describeFast({ bytes: await imageFixture('solidGreen'), source });

    expect(record.status.fast.state).toBe('done');
    expect(record.caption).toBe('a green square');
    expect(record.errors.fast).toBeUndefined();
  });
});
