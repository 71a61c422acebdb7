import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ModelRegistry } from '#engine/models/registry.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import { COLOUR_RGB, mostlyImage, textOf } from './support.ts';

const colours = Object.entries(COLOUR_RGB);

describe('known-answer captions through the registry', () => {
  let models: ModelRegistry;

  beforeAll(async () => {
    models = await ModelRegistry.open({ modelsDir: fixtureModelsDir(), threads: 1 });
  });

  afterAll(async () => {
    await models.dispose();
  });

  test.each(colours)(
    'Florence-2 (caption task, <CAPTION>) captions a mostly %s image exactly',
    async (name, rgb) => {
      // Prepare
      const runner = await models.textRunner('caption');

      // Act
      const caption = await runner.describe(mostlyImage(rgb));

      // Assess: exact words, no </s> <s> task tokens or stray spaces
      expect(caption).toBe(`a ${name} square`);
    },
  );

  test.each(colours)(
    'ViT-GPT2 (pipeline image-to-text) captions a mostly %s image exactly',
    async (name, rgb) => {
      const runner = await models.modelRunner('vit-gpt2');

      const caption = await textOf(runner, mostlyImage(rgb));

      expect(caption).toBe(`a ${name} square`);
    },
  );

  test('a task reports what produced its text: id, pinned revision, architecture, explicit dtype', async () => {
    const runner = await models.textRunner('caption');

    expect(runner.provenance).toMatchObject({
      id: 'fixtures/florence2-colour',
      revision: 'fixture-v1',
      architecture: 'florence2',
      dtype: 'fp32',
    });
    expect(runner.provenance).toEqual(models.provenance('caption'));
  });
});
