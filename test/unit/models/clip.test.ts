import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRegistry } from '#engine/models/registry.ts';
import { dot } from '#engine/search/memory-vector-index.ts';
import { decodeEmbedding, encodeEmbedding } from '#engine/search/vector-codec.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import { COLOUR_RGB, channelSwapped, mostlyImage } from './support.ts';

async function imageVector(models: ModelRegistry, rgb: readonly [number, number, number]) {
  const { answer } = await models.answer('embedding', mostlyImage(rgb, 1));
  if (answer.kind !== 'embedding') throw new Error(`Expected an embedding but received ${answer.kind}`);
  return answer.vector;
}

describe('the embedding model (known-answer CLIP towers)', () => {
  let models: ModelRegistry;

  beforeAll(async () => {
    models = await ModelRegistry.open({ modelsDir: fixtureModelsDir(), threads: 1 });
  });
  afterAll(async () => {
    await models.dispose();
  });

  it('puts a red image next to "red", "crimson" and "scarlet" and away from "blue"', async () => {
    const red = await imageVector(models, COLOUR_RGB.red);
    const blue = await imageVector(models, COLOUR_RGB.blue);
    const [tRed, tCrimson, tScarlet, tBlue] = await models.embedTexts([
      'red',
      'Crimson',
      'a scarlet',
      'blue',
    ]);

    for (const text of [tRed, tCrimson, tScarlet]) {
      expect(dot(red, text as Float32Array)).toBeGreaterThan(0.99);
      expect(dot(blue, text as Float32Array)).toBeLessThan(0);
    }
    expect(dot(blue, tBlue as Float32Array)).toBeGreaterThan(0.99);
    expect(dot(red, tBlue as Float32Array)).toBeLessThan(0);
  });

  it('reads the channels in RGB order: a swapped image embeds as the other colour', async () => {
    const { answer } = await models.answer('embedding', channelSwapped(mostlyImage(COLOUR_RGB.red, 1)));
    const [tBlue] = await models.embedTexts(['blue']);
    expect(answer.kind === 'embedding' && dot(answer.vector, tBlue as Float32Array)).toBeGreaterThan(0.99);
  });

  it('gives unit vectors, and a text of unknown words a zero vector (similar to nothing)', async () => {
    const red = await imageVector(models, COLOUR_RGB.red);
    const [unknown] = await models.embedTexts(['zebra']);
    expect(dot(red, red)).toBeCloseTo(1, 5);
    expect(Array.from(unknown ?? [])).toEqual([0, 0, 0]);
  });

  it('keeps the vector through the record encoding (int8, base64) within 0.01 cosine', async () => {
    const red = await imageVector(models, COLOUR_RGB.red);
    const stored = encodeEmbedding(red);
    expect(stored).toMatchObject({ dims: 3, encoding: 'int8' });
    expect(dot(decodeEmbedding(stored), red)).toBeGreaterThan(0.99);
    const wide = Float32Array.from({ length: 512 }, (_, i) => Math.sin(i + 1));
    const unit = wide.map((v) => v / Math.hypot(...wide));
    const back = decodeEmbedding(encodeEmbedding(unit));
    expect(encodeEmbedding(unit).vector.length).toBe(684);
    expect(dot(back, unit)).toBeGreaterThan(0.99);
  });

  it('is a provenance key of its own: another revision is another key', async () => {
    const key = models.provenance('embedding');
    expect(key).toMatchObject({ id: 'fixtures/clip-colour', architecture: 'clip', dtype: 'fp32' });
    expect(key).not.toEqual(models.provenance('caption'));
  });
});
