import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { intakeImage } from '#engine/image/intake.ts';
import { dominantColours } from '#engine/palette/palette.ts';
import { COLOURS, imageFixture } from '#test/fixtures/images.ts';

/**
 * CMYK TIFF colours once came out shifted while CMYK JPEG was right. A CMYK TIFF
 * must come out as the colour it shows: the same sRGB as the CMYK JPEG of the same picture (both go
 * through libvips' CMYK import with the same profile), and a red palette for a red picture —
 * including the layouts sharp cannot write (CMYK with an alpha sample, 16 bits per sample).
 */
const LIMITS = { maxInputBytes: 50 * 1024 * 1024, maxInputPixels: 100_000_000, workingSize: 768 };

/**
 * A minimal uncompressed little-endian TIFF with PhotometricInterpretation 5 (separated: C, M, Y, K
 * ink amounts, 0 = no ink), optionally with an unassociated alpha sample, 8 or 16 bits per sample.
 */
function separatedTiff(size: number, inks: readonly number[], bits: 8 | 16): Buffer {
  const samples = inks.length;
  const bytes = bits / 8;
  const data = Buffer.alloc(size * size * samples * bytes);
  for (let i = 0; i < size * size * samples; i++) {
    const value = inks[i % samples] as number;
    if (bytes === 1) data[i] = value;
    else data.writeUInt16LE(value * 257, i * 2);
  }
  const bitsAt = 8;
  const tags: Array<[tag: number, type: 3 | 4, count: number, value: number]> = [
    [256, 3, 1, size], // width
    [257, 3, 1, size], // height
    [258, 3, samples, 0], // bits per sample: filled in below (an array at bitsOffset)
    [259, 3, 1, 1], // no compression
    [262, 3, 1, 5], // separated (CMYK)
    [273, 4, 1, 0], // strip offset: filled in below
    [277, 3, 1, samples],
    [278, 3, 1, size], // one strip
    [279, 4, 1, data.length],
    [284, 3, 1, 1], // chunky
    ...(samples === 5 ? [[338, 3, 1, 2] as [number, 3, number, number]] : []), // extra sample: alpha
  ];
  const ifdLength = 2 + tags.length * 12 + 4;
  const bitsOffset = bitsAt + ifdLength;
  const dataOffset = bitsOffset + samples * 2;
  const head = Buffer.alloc(dataOffset);
  head.write('II', 0, 'latin1');
  head.writeUInt16LE(42, 2);
  head.writeUInt32LE(bitsAt, 4);
  head.writeUInt16LE(tags.length, bitsAt);
  tags.forEach(([tag, type, count, value], i) => {
    const at = bitsAt + 2 + i * 12;
    head.writeUInt16LE(tag, at);
    head.writeUInt16LE(type, at + 2);
    head.writeUInt32LE(count, at + 4);
    if (tag === 258) head.writeUInt32LE(bitsOffset, at + 8);
    else if (tag === 273) head.writeUInt32LE(dataOffset, at + 8);
    else if (type === 3) head.writeUInt16LE(value, at + 8);
    else head.writeUInt32LE(value, at + 8);
  });
  for (let s = 0; s < samples; s++) head.writeUInt16LE(bits, bitsOffset + s * 2);
  return Buffer.concat([head, data]);
}

async function describeColours(bytes: Buffer) {
  const { facts, image } = await intakeImage(new Uint8Array(bytes), LIMITS);
  const centre = ((image.height >> 1) * image.width + (image.width >> 1)) * 3;
  return { facts, centre: [...image.data.subarray(centre, centre + 3)], palette: dominantColours(image) };
}

describe('CMYK TIFF colours', () => {
  it('a red CMYK TIFF made by sharp reads as red, exactly as the CMYK JPEG of the same picture', async () => {
    // Prepare
    const red = await imageFixture('solidRed');
    const tiff = await sharp(red).toColourspace('cmyk').tiff().toBuffer();
    const jpeg = await imageFixture('cmykJpeg');

    // Act
    const fromTiff = await describeColours(tiff);
    const fromJpeg = await describeColours(jpeg);

    // Assess
    expect(fromTiff.facts).toMatchObject({ format: 'tiff', space: 'cmyk' });
    expect(fromTiff.palette[0]?.family).toBe('red');
    expect(fromJpeg.palette[0]?.family).toBe('red');
    for (const [channel, value] of fromTiff.centre.entries()) {
      expect(Math.abs(value - (fromJpeg.centre[channel] as number))).toBeLessThanOrEqual(3);
    }
  });

  it.each([
    ['8-bit CMYK', [0, 255, 255, 0], 8],
    ['8-bit CMYK with an alpha sample', [0, 255, 255, 0, 255], 8],
    ['16-bit CMYK', [0, 255, 255, 0], 16],
  ] as const)('%s TIFF of magenta + yellow ink reads as red', async (_name, inks, bits) => {
    const { facts, centre, palette } = await describeColours(separatedTiff(32, inks, bits));

    expect(facts.space).toBe('cmyk');
    expect(palette.map((c) => c.family)).toEqual(['red']);
    expect(centre[0]).toBeGreaterThan(200);
    expect(centre[1]).toBeLessThan(40);
    expect(centre[2]).toBeLessThan(40);
  });

  it('ink-free CMYK is white, not black (ink amounts are not inverted)', async () => {
    const { centre } = await describeColours(separatedTiff(16, [0, 0, 0, 0], 8));

    expect(centre).toEqual([COLOURS.white.r, COLOURS.white.g, COLOURS.white.b]);
  });
});
