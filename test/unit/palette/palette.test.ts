import { describe, expect, it } from 'vitest';
import { intakeImage } from '#engine/image/intake.ts';
import type { RgbImage } from '#engine/image/types.ts';
import { COLOUR_NAMES, colourFamily, colourName } from '#engine/palette/colour-names.ts';
import { srgbToOklab } from '#engine/palette/oklab.ts';
import { dominantColours } from '#engine/palette/palette.ts';
import type { Colour } from '#engine/record/schema.ts';
import { colourSchema } from '#engine/record/schema.ts';
import { type ImageFixtureName, imageFixture, photoLikeRaw } from '#test/fixtures/images.ts';

const LIMITS = { maxInputBytes: 50 * 1024 * 1024, maxInputPixels: 100_000_000, workingSize: 1024 };

async function paletteOf(name: ImageFixtureName): Promise<Colour[]> {
  const { image } = await intakeImage(await imageFixture(name), LIMITS);
  return dominantColours(image);
}

const sumOf = (colours: readonly Colour[]) => colours.reduce((sum, colour) => sum + colour.fraction, 0);

describe('dominantColours', () => {
  it('finds 70% red and 30% blue, named by their families', async () => {
    const colours = await paletteOf('redBlue7030');

    expect(colours).toHaveLength(2);
    expect(colours[0]).toMatchObject({ hex: '#ff0000', name: 'red', family: 'red' });
    expect(colours[1]).toMatchObject({ hex: '#0000ff', name: 'blue', family: 'blue' });
    expect(colours[0]?.fraction).toBeCloseTo(0.7, 1);
    expect(colours[1]?.fraction).toBeCloseTo(0.3, 1);
    expect(sumOf(colours)).toBeCloseTo(1, 3);
  });

  it.each<[ImageFixtureName, Colour]>([
    ['solidWhite', { hex: '#ffffff', name: 'white', family: 'white', fraction: 1 }],
    ['solidBlack', { hex: '#000000', name: 'black', family: 'black', fraction: 1 }],
    ['solidGray', { hex: '#808080', name: 'gray', family: 'gray', fraction: 1 }],
    ['solidGreen', { hex: '#00ff00', name: 'light green', family: 'green', fraction: 1 }],
  ])('gives a single colour for %s', async (name, colour) => {
    expect(await paletteOf(name)).toEqual([colour]);
  });

  it('gives the same palette on every run for a photo-like gradient with noise', async () => {
    const { image } = await intakeImage(await imageFixture('gradient'), LIMITS);

    const first = dominantColours(image);
    const second = dominantColours({ ...image, data: image.data.slice() });

    expect(second).toEqual(first);
    expect(first.length).toBeGreaterThan(2);
    expect(first.length).toBeLessThanOrEqual(6);
    expect(sumOf(first)).toBeCloseTo(1, 3);
    for (const colour of first) expect(colourSchema.parse(colour)).toEqual(colour);
    // Sorted by share, largest first; every listed colour covers at least 1% of the image.
    const fractions = first.map((colour) => colour.fraction);
    expect(fractions).toEqual([...fractions].sort((x, y) => y - x));
    expect(Math.min(...fractions)).toBeGreaterThanOrEqual(0.01);
    // Never the same name twice.
    expect(new Set(first.map((colour) => colour.name)).size).toBe(first.length);
  });

  it('sees the sky and the sun of the photo-like image: a blue and a yellow', () => {
    const raw = photoLikeRaw(320, 240, 11);
    const image: RgbImage = { data: new Uint8Array(raw.data), width: raw.width, height: raw.height };

    const families = dominantColours(image).map((colour) => colour.family);

    expect(families).toContain('blue');
    expect(families).toContain('yellow');
  });

  it('folds specks under 1% into their nearest colour so fractions still sum to 1', () => {
    // 100 x 100 white with a 5 x 5 black speck (0.25%).
    const data = new Uint8Array(100 * 100 * 3).fill(255);
    for (let y = 0; y < 5; y++) data.fill(0, y * 300, y * 300 + 15);

    const colours = dominantColours({ data, width: 100, height: 100 });

    expect(colours).toEqual([{ hex: '#ffffff', name: 'white', family: 'white', fraction: 1 }]);
  });

  it('handles a single pixel and a one-pixel-high strip', () => {
    const strip = new Uint8Array(3000 * 3);
    strip.fill(255, 0, 1500 * 3);

    expect(dominantColours({ data: new Uint8Array([0, 0, 255]), width: 1, height: 1 })).toEqual([
      { hex: '#0000ff', name: 'blue', family: 'blue', fraction: 1 },
    ]);
    expect(dominantColours({ data: strip, width: 3000, height: 1 })).toEqual([
      { hex: '#000000', name: 'black', family: 'black', fraction: 0.5 },
      { hex: '#ffffff', name: 'white', family: 'white', fraction: 0.5 },
    ]);
  });

  it('respects maxColours and still accounts for every pixel', async () => {
    const { image } = await intakeImage(await imageFixture('gradient'), LIMITS);

    const colours = dominantColours(image, { maxColours: 2 });

    expect(colours).toHaveLength(2);
    expect(sumOf(colours)).toBeCloseTo(1, 3);
  });

  it('rejects a bad maxColours and pixel data of the wrong length', () => {
    const image: RgbImage = { data: new Uint8Array(12), width: 2, height: 2 };

    expect(() => dominantColours(image, { maxColours: 0 })).toThrow(
      'Expected an integer from 1 to 16 for maxColours but received number 0',
    );
    expect(() => dominantColours({ ...image, data: new Uint8Array(5) })).toThrow(
      'Expected 2 x 2 x 3 bytes of RGB for image.data but received "5 bytes"',
    );
  });
});

describe('colour names and families', () => {
  const lab = (hex: string) => {
    const value = Number.parseInt(hex.slice(1), 16);
    return srgbToOklab(value >> 16, (value >> 8) & 0xff, value & 0xff);
  };

  it.each([
    ['#ff0000', 'red'],
    ['#800000', 'red'],
    ['#ffa500', 'orange'],
    ['#ffd700', 'yellow'],
    ['#008000', 'green'],
    ['#000080', 'blue'],
    ['#87ceeb', 'blue'],
    ['#800080', 'purple'],
    ['#ffc0cb', 'pink'],
    ['#ff69b4', 'pink'],
    ['#8b4513', 'brown'],
    ['#d2691e', 'brown'],
    ['#bc8f8f', 'brown'],
    ['#111111', 'black'],
    ['#fffff0', 'white'],
    ['#c0c0c0', 'gray'],
    ['#708090', 'gray'],
  ])('%s is in the %s family', (hex, family) => {
    expect(colourFamily(lab(hex))).toBe(family);
  });

  it.each([
    ['#800000', 'dark red'],
    ['#ff0000', 'red'],
    ['#fa8072', 'light red'],
    ['#000080', 'dark blue'],
    ['#0000ff', 'blue'],
    ['#87ceeb', 'light blue'],
    ['#404040', 'dark gray'],
    ['#808080', 'gray'],
    ['#c0c0c0', 'light gray'],
    ['#d2b48c', 'light brown'],
    ['#ffff00', 'yellow'],
    ['#ffffff', 'white'],
  ])('%s is called %s', (hex, name) => {
    expect(colourName(lab(hex))).toBe(name);
  });

  it('names every colour with a word people search for: its family, light or dark', () => {
    expect(COLOUR_NAMES.length).toBeLessThanOrEqual(33);
    for (const name of COLOUR_NAMES) expect(name).toMatch(/^(?:(?:light|dark) )?[a-z]+$/);
    for (const hex of ['#123456', '#abcdef', '#d8d7d9', '#8b4513', '#ff69b4', '#4b0082']) {
      const name = colourName(lab(hex));
      expect(COLOUR_NAMES).toContain(name);
      expect(name.endsWith(colourFamily(lab(hex)))).toBe(true);
    }
  });
});
