import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DescribeEngine } from '#engine/engine.ts';
import { InferenceError } from '#engine/errors.ts';
import { validateRecord } from '#engine/record/record.ts';
import type { DescriptionRecord } from '#engine/record/schema.ts';
import { readEngineSettings } from '#engine/settings.ts';
import { createEngine } from '#engine/wiring.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { captureOutput } from '#test/support/capture-output.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import { runCli } from '../../../functions/cli/cli.ts';

/**
 * A re-run that cannot produce a result (models gone, a failed run) keeps the
 * last good one, marked stale with what would replace it — it never writes null over a caption.
 */
let dir: string;
/** The fixture manifest with every model folder removed: every model is "not installed". */
let emptyModelsDir: string;
let withModels: DescribeEngine;
let withoutModels: DescribeEngine;
const source = { kind: 'file' as const, path: 'red.png' };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keep-last-good-'));
  emptyModelsDir = join(dir, 'no-models');
  await mkdir(emptyModelsDir);
  await cp(join(fixtureModelsDir(), 'manifest.json'), join(emptyModelsDir, 'manifest.json'));
  withModels = await createEngine(readEngineSettings({ MODELS_DIR: fixtureModelsDir(), OCR_STAGE: 'off' }));
  withoutModels = await createEngine(readEngineSettings({ MODELS_DIR: emptyModelsDir, OCR_STAGE: 'off' }));
});
afterAll(async () => {
  await withModels.models.dispose();
  await withoutModels.models.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function finishedRed(): Promise<{ bytes: Uint8Array; record: DescriptionRecord }> {
  const bytes = await imageFixture('solidRed');
  return { bytes, record: await withModels.describe({ bytes, source }) };
}

describe('a re-run without models keeps the last good results', () => {
  it('fast stage: the caption stays, marked stale with the provenance that would replace it', async () => {
    const { bytes, record: good } = await finishedRed();

    const rerun = await withoutModels.describeFast({ bytes, source }, good);

    expect(rerun.caption).toBe('a red square');
    expect(rerun.models.caption).toEqual(good.models.caption);
    expect(rerun.status.fast.state).toBe('waiting-for-models');
    expect(rerun.stale?.caption).toMatchObject({
      reason: 'waiting-for-models',
      replacement: withoutModels.models.provenance('caption'),
    });
  });

  it('fast stage: the detailed results and their finished state are carried over untouched', async () => {
    const { bytes, record: good } = await finishedRed();
    expect(good.detailedDescription).toBeTruthy();

    const rerun = await withoutModels.describeFast({ bytes, source }, good);

    expect(rerun.detailedDescription).toBe(good.detailedDescription);
    expect(rerun.models.detailed).toEqual(good.models.detailed);
    expect(rerun.status.detailed).toEqual(good.status.detailed);
    expect(rerun.stale?.detailedDescription).toBeUndefined();
  });

  it('detailed stage after a model change: the older description stays, marked stale', async () => {
    const { bytes, record: good } = await finishedRed();
    const detailed = good.models.detailed;
    if (!detailed) throw new Error('Expected the detailed provenance');
    const older = { ...good, models: { ...good.models, detailed: { ...detailed, revision: 'older' } } };

    const rerun = await withoutModels.describeDetailed({ bytes, source }, older);

    expect(rerun.detailedDescription).toBe(good.detailedDescription);
    expect(rerun.status.detailed.state).toBe('waiting-for-models');
    expect(rerun.stale?.detailedDescription).toMatchObject({
      reason: 'waiting-for-models',
      replacement: withoutModels.models.provenance('detailed'),
    });
  });

  it('detailed stage with a current description: kept as it is and done, even without the model files', async () => {
    const { bytes, record: good } = await finishedRed();

    const rerun = await withoutModels.describeDetailed({ bytes, source }, good);

    expect(rerun.detailedDescription).toBe(good.detailedDescription);
    expect(rerun.status.detailed.state).toBe('done');
    expect(rerun.stale).toBeUndefined();
  });

  it('fast stage over a finished record: the checks of the detailed text stay, and so does createdAt', async () => {
    const { bytes, record: good } = await finishedRed();
    const fieldsChecked = (record: DescriptionRecord) => [...new Set(record.checks?.map((c) => c.field))];
    expect(fieldsChecked(good)).toContain('detailedDescription');
    const earlier = { ...good, createdAt: '2026-01-05T10:00:00.000Z' };

    const rerun = await withModels.describeFast({ bytes, source }, earlier);

    expect(fieldsChecked(rerun)).toEqual(fieldsChecked(good));
    expect(rerun.createdAt).toBe('2026-01-05T10:00:00.000Z');
  });

  it('results of other bytes are not kept: a replaced image starts afresh', async () => {
    const { record: good } = await finishedRed();
    const green = await imageFixture('solidGreen');

    const rerun = await withoutModels.describeFast({ bytes: green, source }, good);

    expect(rerun.caption).toBeUndefined();
    expect(rerun.detailedDescription).toBeUndefined();
    expect(rerun.stale).toBeUndefined();
  });

  it('once the models are back, the fresh caption replaces the kept one and the stale mark goes', async () => {
    const { bytes, record: good } = await finishedRed();
    const waiting = await withoutModels.describeFast({ bytes, source }, good);

    const refreshed = await withModels.describeFast({ bytes, source }, waiting);

    expect(refreshed.caption).toBe('a red square');
    expect(refreshed.status.fast.state).toBe('done');
    expect(refreshed.stale?.caption).toBeUndefined();
  });

  it('a failed re-run keeps the results, stale with the error code', async () => {
    const { bytes, record: good } = await finishedRed();

    const failed = withModels.failedRecordFor(
      { bytes, source },
      'fast',
      new InferenceError('model crashed'),
      good,
    );

    expect(failed.status.fast.state).toBe('failed');
    expect(failed.caption).toBe('a red square');
    expect(failed.stale?.caption).toMatchObject({
      reason: 'failed: INFERENCE_FAILED',
      replacement: withModels.models.provenance('caption'),
    });
    expect(failed.stale?.detailedDescription?.replacement).toEqual(withModels.models.provenance('detailed'));
    expect(validateRecord(failed)).toEqual(failed);
  });

  it('a successful run after a failed one clears every stale mark the failure left', async () => {
    const { bytes, record: good } = await finishedRed();
    const failed = withModels.failedRecordFor(
      { bytes, source },
      'detailed',
      new InferenceError('model crashed'),
      good,
    );
    expect(Object.keys(failed.stale ?? {})).toEqual(expect.arrayContaining(['detailedDescription']));

    const again = await withModels.describe({ bytes, source }, failed);

    expect(again.status.detailed.state).toBe('done');
    expect(again.stale).toBeUndefined();
  });
});

describe('image-describer describe --out over existing sidecars', () => {
  it('with --require-models, refuses to run without models and leaves the earlier sidecars as they were', async () => {
    const images = join(dir, 'photos');
    const out = join(dir, 'out');
    await mkdir(images);
    await writeFile(join(images, 'red.png'), await imageFixture('solidRed'));
    const first = captureOutput();
    expect(
      await runCli(['describe', images, '--out', out], { MODELS_DIR: fixtureModelsDir() }, first.output),
    ).toBe(0);

    const [name] = (await readdir(out)).filter((file) => file.endsWith('.description.json'));
    const before = await readFile(join(out, name as string), 'utf8');

    const second = captureOutput();
    const status = await runCli(
      ['describe', images, '--out', out, '--require-models', '--force'],
      { MODELS_DIR: emptyModelsDir },
      second.output,
    );

    expect(status).not.toBe(0);
    expect(second.stdout() + second.stderr()).toContain('npm run models:fetch');
    expect(await readFile(join(out, name as string), 'utf8')).toBe(before);
  });

  it('a re-run over its own sidecars keeps them valid and current', async () => {
    const images = join(dir, 'again');
    const out = join(dir, 'again-out');
    await mkdir(images);
    await writeFile(join(images, 'red.png'), await imageFixture('solidRed'));
    await runCli(
      ['describe', images, '--out', out],
      { MODELS_DIR: fixtureModelsDir() },
      captureOutput().output,
    );

    const status = await runCli(
      ['describe', images, '--out', out],
      { MODELS_DIR: fixtureModelsDir() },
      captureOutput().output,
    );

    const record = validateRecord(JSON.parse(await readFile(join(out, 'red.png.description.json'), 'utf8')));
    expect(status).toBe(0);
    expect(record.caption).toBe('a red square');
    expect(record.stale).toBeUndefined();
  });
});
