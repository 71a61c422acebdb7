import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DescribeEngine } from '#engine/engine.ts';
import { readEngineSettings } from '#engine/settings.ts';
import { createEngine } from '#engine/wiring.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import { countVisionPasses } from '#test/support/vision-passes.ts';

/** A white 64x64 PNG with a red block on its left half. */
const redOnTheLeft = () =>
  sharp({ create: { width: 64, height: 64, channels: 3, background: '#ffffff' } })
    .composite([
      {
        input: { create: { width: 32, height: 64, channels: 3, background: '#ff0000' } },
        left: 0,
        top: 0,
      },
    ])
    .png()
    .toBuffer();

const source = { kind: 'file' as const, path: 'red.png' };

describe('the engine answers caption, objects and detailed description from one vision pass', () => {
  let engine: DescribeEngine;
  let passes: { readonly count: number };

  beforeAll(async () => {
    passes = countVisionPasses();
    engine = await createEngine(readEngineSettings({ MODELS_DIR: fixtureModelsDir(), OCR_STAGE: 'off' }));
  });
  afterAll(async () => {
    await engine.models.dispose();
    vi.restoreAllMocks();
  });

  it('describe() (the CLI): every answer right, the vision encoder ran once', async () => {
    const before = passes.count;

    const record = await engine.describe({ bytes: await imageFixture('solidRed'), source });

    // One Florence-2 pass for caption, objects and description; one image-tower pass for the embedding.
    expect(passes.count - before).toBe(2);
    expect(record.embedding?.dims).toBe(3);
    expect(record.caption).toBe('a red square');
    expect(record.detailedDescription).toBe('the image shows a red square');
    expect(record.objects).toEqual([
      {
        label: 'red square',
        box: {
          x: expect.closeTo(0, 2),
          y: expect.closeTo(0, 2),
          width: expect.closeTo(1, 2),
          height: expect.closeTo(1, 2),
        },
      },
    ]);
    expect(record.labels).toEqual(['red square']);
    expect(record.models.objects).toEqual(engine.models.provenance('objects'));
    expect(record.models.caption).toEqual(engine.models.provenance('caption'));
    expect(record.models.detailed).toEqual(engine.models.provenance('detailed'));
    expect(record.status).toMatchObject({ fast: { state: 'done' }, detailed: { state: 'done' } });
  });

  it('the fast stage by itself (the S3-triggered function): caption and objects from one pass', async () => {
    const before = passes.count;

    const record = await engine.describeFast({ bytes: await redOnTheLeft(), source });

    // Florence-2 once for caption and objects, and the embedding's image tower once.
    expect(passes.count - before).toBe(2);
    expect(record.labels).toEqual(['red square']);
    const [object] = record.objects ?? [];
    expect((object?.box.x ?? 1) + (object?.box.width ?? 1)).toBeLessThanOrEqual(0.5);
    expect(object?.box.height).toBeCloseTo(1, 2);
  });

  it('the detailed stage by itself (the worker) encodes once for its description', async () => {
    const bytes = await imageFixture('solidBlue');
    const fast = await engine.describeFast({ bytes, source });
    const before = passes.count;

    const record = await engine.describeDetailed({ bytes, source }, fast);

    expect(passes.count - before).toBe(1);
    expect(record.detailedDescription).toBe('the image shows a blue square');
    expect(record.labels).toEqual(['blue square']);
  });
});

describe('objects while the model is missing', () => {
  let dir: string;
  let withModels: DescribeEngine;
  let withoutModels: DescribeEngine;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'objects-last-good-'));
    await mkdir(join(dir, 'empty'));
    await cp(join(fixtureModelsDir(), 'manifest.json'), join(dir, 'empty', 'manifest.json'));
    withModels = await createEngine(readEngineSettings({ MODELS_DIR: fixtureModelsDir(), OCR_STAGE: 'off' }));
    withoutModels = await createEngine(
      readEngineSettings({ MODELS_DIR: join(dir, 'empty'), OCR_STAGE: 'off' }),
    );
  });
  afterEach(() => vi.restoreAllMocks());
  afterAll(async () => {
    await withModels.models.dispose();
    await withoutModels.models.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('a re-run keeps the last objects and labels, marked stale with the objects provenance', async () => {
    const bytes = await imageFixture('solidRed');
    const good = await withModels.describeFast({ bytes, source });

    const rerun = await withoutModels.describeFast({ bytes, source }, good);

    expect(rerun.status.fast.state).toBe('waiting-for-models');
    expect(rerun.objects).toEqual(good.objects);
    expect(rerun.labels).toEqual(['red square']);
    expect(rerun.models.objects).toEqual(good.models.objects);
    expect(rerun.stale?.objects).toMatchObject({
      reason: 'waiting-for-models',
      replacement: withoutModels.models.provenance('objects'),
    });
    expect(rerun.stale?.labels?.reason).toBe('waiting-for-models');
  });
});
