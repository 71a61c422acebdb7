import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ConfigError, ModelLoadError, ModelNotFoundError } from '#engine/errors.ts';
import { ModelRegistry } from '#engine/models/registry.ts';
import { COLOUR_RGB, copyFixtureModelSet, editJson, mostlyImage, textOf } from './support.ts';

const VIT = 'fixtures/vit-gpt2-colour';
const FLORENCE = 'fixtures/florence2-colour';
const SMOLVLM = 'fixtures/smolvlm-colour';

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

  test('two concurrent modelRunner() calls share one load', async () => {
    // Act
    const [first, second] = await Promise.all([
      models.modelRunner('vit-gpt2'),
      models.modelRunner('vit-gpt2'),
    ]);
    const later = await models.modelRunner('vit-gpt2');

    // Assess: one runner object = one load of the sessions
    expect(first).toBe(second);
    expect(later).toBe(first);
    expect(await textOf(first, mostlyImage(COLOUR_RGB.green))).toBe('a green square');
  });

  test('a model whose file is missing fails with MODEL_NOT_FOUND, and loads once the file appears', async () => {
    // Prepare: the decoder has not been fetched yet
    const decoder = join(dir, VIT, 'onnx/decoder_model_merged.onnx');
    await rename(decoder, `${decoder}.part`);

    // Act + Assess: a clear error naming the model, its folder and the fix
    const failure = await models.modelRunner('vit-gpt2').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ModelNotFoundError);
    expect((failure as ModelNotFoundError).code).toBe('MODEL_NOT_FOUND');
    expect((failure as Error).message).toContain(VIT);
    expect((failure as Error).message).toContain(join(dir, VIT));
    expect((failure as Error).message).toContain('onnx/decoder_model_merged.onnx');
    expect((failure as Error).message).toContain('npm run models:fetch');

    // The file arrives (models:fetch finished): the failed load was forgotten, the retry works
    await rename(`${decoder}.part`, decoder);
    const runner = await models.modelRunner('vit-gpt2');
    expect(await textOf(runner, mostlyImage(COLOUR_RGB.black))).toBe('a black square');
  });

  test('a corrupt model file fails with MODEL_LOAD_FAILED, and a repaired one loads on retry', async () => {
    const encoder = join(dir, VIT, 'onnx/encoder_model.onnx');
    const good = await readFile(encoder);
    await writeFile(encoder, 'this is not an onnx model');

    const failure = await models.modelRunner('vit-gpt2').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ModelLoadError);
    expect((failure as Error).message).toContain(`Could not load model ${VIT} (vit-gpt2,`);

    await writeFile(encoder, good);
    const runner = await models.modelRunner('vit-gpt2');
    expect(await textOf(runner, mostlyImage(COLOUR_RGB.white))).toBe('a white square');
  });

  test('missingModels() lists each absent model its tasks use, with its folder and the files its dtype needs', async () => {
    // Prepare: the Florence-2 folder lacks its decoder, and the manifest asks for q8 files of it
    await rm(join(dir, FLORENCE, 'onnx/decoder_model_merged.onnx'));
    await editJson(join(dir, 'manifest.json'), (manifest) => {
      const specs = manifest.models as Record<string, { dtype: string }>;
      specs.florence2 = { ...specs.florence2, dtype: 'q8' } as { dtype: string };
    });
    const reopened = await ModelRegistry.open({ modelsDir: dir, threads: 0 });

    // Act
    const missing = reopened.missingModels();

    // Assess: one entry for the one model that caption, objects and detailed share
    expect(missing).toEqual([
      {
        model: 'florence2',
        tasks: ['caption', 'objects', 'detailed'],
        stages: ['fast', 'detailed'],
        id: FLORENCE,
        dir: join(dir, FLORENCE),
        files: [
          'onnx/vision_encoder_quantized.onnx',
          'onnx/embed_tokens_quantized.onnx',
          'onnx/encoder_model_quantized.onnx',
          'onnx/decoder_model_merged_quantized.onnx',
        ],
      },
    ]);
    // The registry opened before the manifest edit still wants the fp32 files
    expect(models.missingModels().map((m) => m.files)).toEqual([['onnx/decoder_model_merged.onnx']]);
  });

  test('missingModels() leaves out models no configured task uses, and the questions model unless asked', async () => {
    await rm(join(dir, VIT), { recursive: true });
    await rm(join(dir, SMOLVLM), { recursive: true });

    expect(models.missingModels()).toEqual([]);
    expect(models.missingModels({ tasks: ['questions'] }).map((m) => [m.model, m.tasks])).toEqual([
      ['smolvlm', ['questions']],
    ]);
  });

  test('dispose() releases the runners; the next modelRunner() call loads a fresh one', async () => {
    const before = await models.modelRunner('florence2');

    await models.dispose();
    const after = await models.modelRunner('florence2');

    expect(after).not.toBe(before);
    expect(await textOf(after, mostlyImage(COLOUR_RGB.red))).toBe('a red square');
  });

  test('an unknown model name is a ConfigError listing the names there are', async () => {
    await expect(models.modelRunner('blip')).rejects.toThrow(ConfigError);
    await expect(models.modelRunner('blip')).rejects.toThrow(
      'Expected one of florence2, smolvlm, vit-gpt2, clip for model but received "blip"',
    );
  });

  test('the tasks that share a model share one load of it', async () => {
    const [caption, detailed] = await Promise.all([
      models.textRunner('caption'),
      models.textRunner('detailed'),
    ]);

    expect(await caption.describe(mostlyImage(COLOUR_RGB.blue))).toBe('a blue square');
    expect(await detailed.describe(mostlyImage(COLOUR_RGB.blue))).toBe('the image shows a blue square');
    expect([...models.lastLoadMs.keys()]).toEqual(['florence2']);
  });

  test('each task has its own provenance key: same model, different task → different promptHash', () => {
    const caption = models.provenance('caption');
    const detailed = models.provenance('detailed');

    expect(detailed).toMatchObject({ id: caption.id, revision: caption.revision, dtype: caption.dtype });
    expect(detailed.promptHash).not.toBe(caption.promptHash);
    expect(models.provenance('objects').promptHash).not.toBe(caption.promptHash);
    // A question's own prompt is a key of its own
    expect(models.provenance('questions', { prompt: 'Is it red?' }).promptHash).not.toBe(
      models.provenance('questions', { prompt: 'Is it blue?' }).promptHash,
    );
  });

  test('a task that is not configured is a ConfigError naming the configured ones', async () => {
    await editJson(join(dir, 'manifest.json'), (manifest) => {
      const tasks = manifest.tasks as Record<string, unknown>;
      delete tasks.objects;
    });
    const reopened = await ModelRegistry.open({ modelsDir: dir, threads: 1 });

    expect(reopened.taskSpec('objects')).toBeUndefined();
    expect(reopened.tasksOf('fast')).toEqual(['caption', 'embedding']);
    expect(() => reopened.provenance('objects')).toThrow(
      'Expected one of the configured tasks caption, detailed, questions, embedding for task but received "objects"',
    );
  });
});
