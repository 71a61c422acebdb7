import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ModelRegistry } from '#engine/models/registry.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import { COLOUR_RGB, channelSwapped, copyFixtureModelSet, editJson, mostlyImage, textOf } from './support.ts';

/**
 * The fixtures pick the nearest colour in *normalised* pixel space (ImageNet mean/std after /255), so
 * a broken preprocessing step changes the caption in a way we can predict — i.e. these tests would
 * catch a runner that skipped or reordered a step.
 */
const runners = [
  ['Florence-2', 'florence2', 'fixtures/florence2-colour'],
  ['ViT-GPT2', 'vit-gpt2', 'fixtures/vit-gpt2-colour'],
] as const;

describe.each(runners)('%s preprocessing is load-bearing', (_label, mode, id) => {
  let intact: ModelRegistry;
  let noRescale: ModelRegistry;
  let noNormalise: ModelRegistry;
  const cleanups: Array<() => Promise<void>> = [];

  /** A private model set whose preprocessor_config.json has one step switched off. */
  async function registryWith(step: 'do_rescale' | 'do_normalize'): Promise<ModelRegistry> {
    const { dir, cleanup } = await copyFixtureModelSet();
    cleanups.push(cleanup);
    await editJson(join(dir, id, 'preprocessor_config.json'), (config) => {
      config[step] = false;
    });
    return ModelRegistry.open({ modelsDir: dir, threads: 1 });
  }

  beforeAll(async () => {
    intact = await ModelRegistry.open({ modelsDir: fixtureModelsDir(), threads: 1 });
    noRescale = await registryWith('do_rescale');
    noNormalise = await registryWith('do_normalize');
  });

  afterAll(async () => {
    await Promise.all([intact, noRescale, noNormalise].map((models) => models?.dispose()));
    await Promise.all(cleanups.map((cleanup) => cleanup()));
  });

  test('channels fed in BGR order: red reads as blue and blue as red, green unchanged', async () => {
    const runner = await intact.modelRunner(mode);

    const captions = await Promise.all(
      [COLOUR_RGB.red, COLOUR_RGB.blue, COLOUR_RGB.green].map((rgb) =>
        textOf(runner, channelSwapped(mostlyImage(rgb))),
      ),
    );

    expect(captions).toEqual(['a blue square', 'a red square', 'a green square']);
  });

  test('rescale skipped: gray reads as white (pixels 0-255 instead of 0-1), black still black', async () => {
    const runner = await noRescale.modelRunner(mode);

    const gray = await textOf(runner, mostlyImage(COLOUR_RGB.gray, 1));
    const black = await textOf(runner, mostlyImage(COLOUR_RGB.black, 1));

    expect(gray).toBe('a white square');
    expect(black).toBe('a black square');
  });

  test('normalise skipped: every colour reads as gray (all pixels land near the middle)', async () => {
    const runner = await noNormalise.modelRunner(mode);

    const captions = await Promise.all(
      [COLOUR_RGB.red, COLOUR_RGB.white, COLOUR_RGB.black].map((rgb) => textOf(runner, mostlyImage(rgb, 1))),
    );

    expect(captions).toEqual(['a gray square', 'a gray square', 'a gray square']);
  });
});
