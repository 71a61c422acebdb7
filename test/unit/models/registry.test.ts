import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ConfigError, ModelLoadError, ModelNotFoundError } from '#engine/errors.ts';
import { ModelRegistry } from '#engine/models/registry.ts';
import { COLOUR_RGB, copyFixtureModelSet, editJson, mostlyImage } from './support.ts';

const VIT = 'fixtures/vit-gpt2-colour';

describe('ModelRegistry', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let models: ModelRegistry;

  beforeEach(async () => {
    ({ dir, cleanup } = await copyFixtureModelSet());
    models = await ModelRegistry.open({ modelsDir: dir, threads: 1 });
  });

  afterEach(async () => {
    await models.dispose();
    await cleanup();
  });

  test('two concurrent runner() calls share one load', async () => {
    // Act
    const [first, second] = await Promise.all([models.runner('vit-gpt2'), models.runner('vit-gpt2')]);
    const later = await models.runner('vit-gpt2');

    // Assess: one runner object = one load of the sessions
    expect(first).toBe(second);
    expect(later).toBe(first);
    expect(await first.describe(mostlyImage(COLOUR_RGB.green))).toBe('a green square');
  });

  test('a model whose file is missing fails with MODEL_NOT_FOUND, and loads once the file appears', async () => {
    // Prepare: the decoder has not been fetched yet
    const decoder = join(dir, VIT, 'onnx/decoder_model_merged.onnx');
    await rename(decoder, `${decoder}.part`);

    // Act + Assess: a clear error naming the model, its folder and the fix
    const failure = await models.runner('vit-gpt2').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ModelNotFoundError);
    expect((failure as ModelNotFoundError).code).toBe('MODEL_NOT_FOUND');
    expect((failure as Error).message).toContain(VIT);
    expect((failure as Error).message).toContain(join(dir, VIT));
    expect((failure as Error).message).toContain('onnx/decoder_model_merged.onnx');
    expect((failure as Error).message).toContain('npm run models:fetch');

    // The file arrives (models:fetch finished): the failed load was forgotten, the retry works
    await rename(`${decoder}.part`, decoder);
    const runner = await models.runner('vit-gpt2');
    expect(await runner.describe(mostlyImage(COLOUR_RGB.black))).toBe('a black square');
  });

  test('a corrupt model file fails with MODEL_LOAD_FAILED, and a repaired one loads on retry', async () => {
    const encoder = join(dir, VIT, 'onnx/encoder_model.onnx');
    const good = await readFile(encoder);
    await writeFile(encoder, 'this is not an onnx model');

    const failure = await models.runner('vit-gpt2').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ModelLoadError);
    expect((failure as Error).message).toContain(`Could not load model ${VIT} (vit-gpt2`);

    await writeFile(encoder, good);
    const runner = await models.runner('vit-gpt2');
    expect(await runner.describe(mostlyImage(COLOUR_RGB.white))).toBe('a white square');
  });

  test('missingModels() lists each absent model with its folder and the files its dtype needs', async () => {
    // Prepare: no vit-gpt2 folder at all, and the manifest asks for q8 files of it
    await rm(join(dir, VIT), { recursive: true });
    await editJson(join(dir, 'manifest.json'), (manifest) => {
      const extra = manifest.extra as Record<string, { dtype: string }>;
      extra['vit-gpt2'] = { ...extra['vit-gpt2'], dtype: 'q8' } as { dtype: string };
    });
    const reopened = await ModelRegistry.open({ modelsDir: dir, threads: 0 });

    // Act
    const missing = reopened.missingModels();

    // Assess
    expect(missing).toEqual([
      {
        mode: 'vit-gpt2',
        id: VIT,
        dir: join(dir, VIT),
        files: [
          'config.json',
          'onnx/encoder_model_quantized.onnx',
          'onnx/decoder_model_merged_quantized.onnx',
        ],
      },
    ]);
    // The registry opened before the manifest edit still wants the fp32 files
    expect(models.missingModels()).toEqual([
      {
        mode: 'vit-gpt2',
        id: VIT,
        dir: join(dir, VIT),
        files: ['config.json', 'onnx/encoder_model.onnx', 'onnx/decoder_model_merged.onnx'],
      },
    ]);
  });

  test('dispose() releases the runners; the next runner() call loads a fresh one', async () => {
    const before = await models.runner('fast');

    await models.dispose();
    const after = await models.runner('fast');

    expect(after).not.toBe(before);
    expect(await after.describe(mostlyImage(COLOUR_RGB.red))).toBe('a red square');
  });

  test('an unknown model name is a ConfigError listing the names there are', async () => {
    await expect(models.runner('blip')).rejects.toThrow(ConfigError);
    await expect(models.runner('blip')).rejects.toThrow(
      'Expected one of fast, normal, vit-gpt2 for model but received "blip"',
    );
  });

  test('florence2 answers each text task of the manifest without task or special tokens', async () => {
    // Prepare: the same tiny Florence-2 under the three text tasks
    await editJson(join(dir, 'manifest.json'), (manifest) => {
      const fast = (manifest.modes as Record<string, Record<string, unknown>>).fast;
      manifest.extra = {
        ...(manifest.extra as object),
        detailed: { ...fast, task: '<DETAILED_CAPTION>' },
        'more-detailed': { ...fast, task: '<MORE_DETAILED_CAPTION>' },
      };
    });
    const reopened = await ModelRegistry.open({ modelsDir: dir, threads: 1 });

    try {
      const captions = await Promise.all(
        ['fast', 'detailed', 'more-detailed'].map(async (mode) =>
          (await reopened.runner(mode)).describe(mostlyImage(COLOUR_RGB.blue)),
        ),
      );
      expect(captions).toEqual(['a blue square', 'a blue square', 'a blue square']);
      expect(reopened.provenance('detailed').promptHash).not.toBe(reopened.provenance('fast').promptHash);
    } finally {
      await reopened.dispose();
    }
  });

  test('a florence2 task without a text answer is refused at load time', async () => {
    await editJson(join(dir, 'manifest.json'), (manifest) => {
      const fast = (manifest.modes as Record<string, Record<string, unknown>>).fast;
      manifest.extra = { boxes: { ...fast, task: '<OD>' } };
    });
    const reopened = await ModelRegistry.open({ modelsDir: dir, threads: 1 });

    await expect(reopened.runner('boxes')).rejects.toThrow(
      'Expected one of <CAPTION>, <DETAILED_CAPTION>, <MORE_DETAILED_CAPTION> for the task of fixtures/florence2-colour but received "<OD>"',
    );
  });
});
