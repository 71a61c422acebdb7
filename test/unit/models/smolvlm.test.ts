import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import type { RgbImage } from '#engine/image/types.ts';
import type { ModelSpec } from '#engine/models/manifest.ts';
import { ModelRegistry } from '#engine/models/registry.ts';
import { loadSmolVlmRunner } from '#engine/models/runners/smolvlm.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import { COLOUR_RGB, copyFixtureModelSet, editJson, mostlyImage, textOf } from './support.ts';

// transformers.js loads onnxruntime-node through require(): spy on that very class to see the feeds.
const ort = createRequire(import.meta.url)('onnxruntime-node') as typeof Ort;
/** The session class itself (typed as a factory in onnxruntime-common's declarations). */
const sessionClass = ort.InferenceSession as unknown as { prototype: Ort.InferenceSession };

/** The number of frames each vision-encoder pass received (pixel_values is [batch, frames, 3, H, W]). */
function watchEncoderFrames(): number[] {
  const frames: number[] = [];
  const original = sessionClass.prototype.run;
  vi.spyOn(sessionClass.prototype, 'run').mockImplementation(function (
    this: Ort.InferenceSession,
    ...args: Parameters<Ort.InferenceSession['run']>
  ) {
    const pixels = (args[0] as Record<string, Ort.Tensor>).pixel_values;
    if (pixels) frames.push(pixels.dims[1] ?? 0);
    return original.apply(this, args);
  } as Ort.InferenceSession['run']);
  return frames;
}

const PROMPT = 'Describe this image in detail.';

describe('SmolVLM runner on the known-answer fixture (the questions model)', () => {
  let models: ModelRegistry;

  /** The questions task with one prompt, as the questions feature asks it. */
  async function ask(image: RgbImage, prompt = PROMPT): Promise<string> {
    const { answer } = await models.answer('questions', image, { prompt });
    if (answer.kind !== 'text') throw new Error(`Expected text but received ${answer.kind}`);
    return answer.text;
  }

  beforeAll(async () => {
    models = await ModelRegistry.open({ modelsDir: fixtureModelsDir(), threads: 1 });
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  afterAll(async () => {
    await models.dispose();
  });

  test.each(Object.entries(COLOUR_RGB))(
    'describes a mostly %s image in exactly one sentence',
    async (name, rgb) => {
      // Act
      const description = await ask(mostlyImage(rgb));

      // Assess: the model's own sentence, distinct from the fast caption "a <colour> square"
      expect(description).toBe(`the image shows a ${name} square`);
    },
  );

  test('the answer carries no prompt, chat turn or special token', async () => {
    const description = await ask(mostlyImage(COLOUR_RGB.blue));

    expect(description).toBe('the image shows a blue square');
    expect(description).not.toMatch(/Describe|User|Assistant|<|>|\n/);
  });

  test('records what produced it: the SmolVLM fixture, its revision, dtype and a hash of the prompt', async () => {
    const result = await models.answer('questions', mostlyImage(COLOUR_RGB.blue), { prompt: PROMPT });

    expect(result.provenance).toEqual(models.provenance('questions', { prompt: PROMPT }));
    expect(result.provenance).toMatchObject({
      id: 'fixtures/smolvlm-colour',
      revision: 'fixture-v1',
      architecture: 'smolvlm',
      dtype: 'fp32',
    });
  });

  test('image splitting is off by default: one encoder pass on one frame, even for a large image', async () => {
    // Prepare: the fixture's processor asks for splitting, as the real SmolVLM's does
    await models.modelRunner('smolvlm');
    const frames = watchEncoderFrames();

    // Act
    const description = await ask(mostlyImage(COLOUR_RGB.green, 0.8, [255, 255, 255], 200, 150));

    // Assess
    expect(frames).toEqual([1]);
    expect(description).toBe('the image shows a green square');
  });

  test('imageSplitting: true in the manifest runs the tiles too, and the answer stays right', async () => {
    // Prepare
    const spec: ModelSpec = { ...models.localSpec('smolvlm'), imageSplitting: true };
    const runner = await loadSmolVlmRunner('smolvlm', spec, { modelsDir: fixtureModelsDir(), threads: 1 });
    const frames = watchEncoderFrames();

    try {
      // Act
      const description = await textOf(runner, mostlyImage(COLOUR_RGB.red, 0.8, [255, 255, 255], 200, 150));

      // Assess: 2x2 tiles of 32 px plus the whole image, in one pass
      expect(frames).toEqual([5]);
      expect(description).toBe('the image shows a red square');
    } finally {
      await runner.dispose();
    }
  });

  test.each(Object.entries(COLOUR_RGB))(
    'answers a question about the colour of a mostly %s image with the colour alone',
    async (name, rgb) => {
      // Act: the prompt has to reach the decoder, which answers differently when it holds "colour"
      const british = await ask(mostlyImage(rgb), 'What is the main colour? Answer with one of: red, blue.');
      const american = await ask(mostlyImage(rgb), 'What color is it?');

      // Assess
      expect(british).toBe(name);
      expect(american).toBe(name);
    },
  );

  test('another prompt is used as given, never echoed, and is a provenance key of its own', async () => {
    const other = 'What colour is the square in the image?';

    const description = await ask(mostlyImage(COLOUR_RGB.gray), other);

    expect(description).toBe('gray');
    expect(models.provenance('questions', { prompt: other }).promptHash).not.toBe(
      models.provenance('questions', { prompt: PROMPT }).promptHash,
    );
  });

  test("a tokenizer_config.json without a chat template falls back to SmolVLM-Instruct's own", async () => {
    // Prepare: as in a model folder whose template lives only in chat_template.json
    const copy = await copyFixtureModelSet();
    const spec = models.localSpec('smolvlm');
    await editJson(join(copy.dir, spec.id, 'tokenizer_config.json'), (config) => {
      delete config.chat_template;
    });
    const runner = await loadSmolVlmRunner('smolvlm', spec, { modelsDir: copy.dir, threads: 1 });

    try {
      // Act
      const description = await textOf(runner, mostlyImage(COLOUR_RGB.white));

      // Assess
      expect(description).toBe('the image shows a white square');
    } finally {
      await runner.dispose();
      await copy.cleanup();
    }
  });

  test('an empty prompt is a configuration error naming the model', async () => {
    const runner = await models.modelRunner('smolvlm');

    await expect(
      textOf(runner, mostlyImage(COLOUR_RGB.red), { prompt: '   ', generation: {} }),
    ).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      message: expect.stringContaining('fixtures/smolvlm-colour'),
    });
  });
});
