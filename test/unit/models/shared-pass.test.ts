import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { RgbImage } from '#engine/image/types.ts';
import { type ImageEncodings, ModelRegistry } from '#engine/models/registry.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import { countVisionPasses } from '#test/support/vision-passes.ts';
import { COLOUR_RGB, mostlyImage, type Rgb } from './support.ts';

/** `rgb` on the columns [from, to) of a white image (fractions of the width). */
function columnsImage(rgb: Rgb, from: number, to: number, width = 48, height = 40): RgbImage {
  const data = new Uint8Array(width * height * 3).fill(255);
  for (let y = 0; y < height; y++) {
    for (let x = Math.round(from * width); x < Math.round(to * width); x++)
      data.set(rgb, (y * width + x) * 3);
  }
  return { data, width, height };
}

describe('Florence-2: caption, objects and detailed description from one vision pass', () => {
  let models: ModelRegistry;
  let passes: { readonly count: number };

  beforeEach(async () => {
    passes = countVisionPasses();
    models = await ModelRegistry.open({ modelsDir: fixtureModelsDir(), threads: 1 });
  });

  afterEach(async () => {
    await models.dispose();
    vi.restoreAllMocks();
  });

  test('three tasks on one encoding: the vision encoder runs once and every answer is right', async () => {
    // Prepare: the red fixture image (top 80% red) and one encodings map for it
    const image = mostlyImage(COLOUR_RGB.red);
    const encodings: ImageEncodings = new Map();

    // Act
    const caption = await models.answer('caption', image, { encodings });
    const objects = await models.answer('objects', image, { encodings });
    const detailed = await models.answer('detailed', image, { encodings });

    // Assess
    expect(passes.count).toBe(1);
    expect(caption.answer).toEqual({ kind: 'text', text: 'a red square' });
    expect(detailed.answer).toEqual({ kind: 'text', text: 'the image shows a red square' });
    expect(objects.answer.kind).toBe('objects');
    const found = objects.answer.kind === 'objects' ? objects.answer.objects : [];
    expect(found).toHaveLength(1);
    expect(found[0]?.label).toBe('red square');
    expect(found[0]?.score).toBeUndefined();
    // The red rows cover the full width and the top three of four grid rows
    expect(found[0]?.box.x).toBeCloseTo(0, 2);
    expect(found[0]?.box.y).toBeCloseTo(0, 2);
    expect(found[0]?.box.width).toBeCloseTo(1, 2);
    expect(found[0]?.box.height).toBeCloseTo(0.75, 2);
    // Only the first task paid for the pass; each answer names its own task
    expect(objects.encodeMs).toBe(0);
    expect(detailed.encodeMs).toBe(0);
    expect(new Set([caption, objects, detailed].map((r) => r.provenance.promptHash)).size).toBe(3);
  });

  test('without a shared encodings map each task encodes the image again', async () => {
    const image = mostlyImage(COLOUR_RGB.green);

    await models.answer('caption', image);
    await models.answer('objects', image);
    await models.answer('detailed', image);

    expect(passes.count).toBe(3);
  });

  test('a red area on the left half is boxed on the left half; on the right half, on the right', async () => {
    const left = await models.answer('objects', columnsImage(COLOUR_RGB.red, 0, 0.5));
    const right = await models.answer('objects', columnsImage(COLOUR_RGB.blue, 0.5, 1));

    const [leftObject] = left.answer.kind === 'objects' ? left.answer.objects : [];
    const [rightObject] = right.answer.kind === 'objects' ? right.answer.objects : [];
    expect(leftObject?.label).toBe('red square');
    expect((leftObject?.box.x ?? 1) + (leftObject?.box.width ?? 1)).toBeLessThanOrEqual(0.5);
    expect(leftObject?.box.height).toBeCloseTo(1, 2);
    expect(rightObject?.label).toBe('blue square');
    expect(rightObject?.box.x).toBeCloseTo(0.5, 2);
    expect((rightObject?.box.x ?? 0) + (rightObject?.box.width ?? 0)).toBeCloseTo(1, 2);
  });

  test('a failed vision pass is not kept: the next task on the same map encodes again', async () => {
    const encodings: ImageEncodings = new Map();
    const broken: RgbImage = { data: new Uint8Array(5), width: 4, height: 4 };

    await expect(models.answer('caption', broken, { encodings })).rejects.toThrow('48 bytes');
    expect(encodings.has('florence2')).toBe(false);
  });
});
