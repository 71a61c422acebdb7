import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ConfigError, ImageRejectedError } from '#engine/errors.ts';
import { intakeImage, MAX_SIDE } from '#engine/image/intake.ts';
import type { RgbImage } from '#engine/image/types.ts';
import { blackPng, COLOURS, type ImageFixtureName, imageFixture, type Rgb } from '#test/fixtures/images.ts';

const LIMITS = { maxInputBytes: 50 * 1024 * 1024, maxInputPixels: 100_000_000, workingSize: 1024 };

function pixel(image: RgbImage, x: number, y: number): Rgb {
  const offset = (y * image.width + x) * 3;
  return {
    r: image.data[offset] as number,
    g: image.data[offset + 1] as number,
    b: image.data[offset + 2] as number,
  };
}

/** Lossy codecs (JPEG, AVIF, CMYK round trips) move pure colours by a few levels. */
function expectNear(actual: Rgb, wanted: Rgb, tolerance = 6): void {
  expect(Math.abs(actual.r - wanted.r), `r of ${JSON.stringify(actual)}`).toBeLessThanOrEqual(tolerance);
  expect(Math.abs(actual.g - wanted.g), `g of ${JSON.stringify(actual)}`).toBeLessThanOrEqual(tolerance);
  expect(Math.abs(actual.b - wanted.b), `b of ${JSON.stringify(actual)}`).toBeLessThanOrEqual(tolerance);
}

async function rejectionOf(promise: Promise<unknown>): Promise<ImageRejectedError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ImageRejectedError);
  return error as ImageRejectedError;
}

describe('intakeImage: accepted formats, detected from content', () => {
  it.each<[ImageFixtureName, string, Rgb]>([
    ['solidRed', 'png', COLOURS.red],
    ['solidRedJpeg', 'jpeg', COLOURS.red],
    ['webp', 'webp', COLOURS.blue],
    ['avif', 'avif', COLOURS.green],
    ['animatedGif', 'gif', COLOURS.red],
    ['multiPageTiff', 'tiff', COLOURS.green],
    ['svgSelfContained', 'svg', COLOURS.red],
  ])('%s is read as %s with its colour intact', async (name, format, colour) => {
    // Prepare
    const bytes = await imageFixture(name);

    // Act
    const { facts, image } = await intakeImage(bytes, LIMITS);

    // Assess
    expect(facts.format).toBe(format);
    expect(image.data).toHaveLength(image.width * image.height * 3);
    expectNear(pixel(image, image.width >> 1, image.height >> 1), colour);
  });

  it('converts a CMYK JPEG to sRGB 8-bit and says the source was CMYK', async () => {
    const { facts, image } = await intakeImage(await imageFixture('cmykJpeg'), LIMITS);

    expect(facts).toMatchObject({ format: 'jpeg', space: 'cmyk', bitsPerSample: 8, width: 32, height: 32 });
    expect(image.data).toHaveLength(32 * 32 * 3);
    // Pure red is outside typical CMYK gamuts: it comes back a slightly deeper red.
    const centre = pixel(image, 16, 16);
    expect(centre.r).toBeGreaterThan(200);
    expect(centre.g).toBeLessThan(30);
    expect(centre.b).toBeLessThan(30);
  });

  it('converts a 16-bit PNG to 8-bit and says the source had 16 bits per sample', async () => {
    const { facts, image } = await intakeImage(await imageFixture('png16bit'), LIMITS);

    expect(facts).toMatchObject({ format: 'png', space: 'rgb16', bitsPerSample: 16 });
    expect(image.data).toBeInstanceOf(Uint8Array);
    expect(image.data).toHaveLength(32 * 32 * 3);
    expect(pixel(image, 5, 5)).toEqual(COLOURS.blue);
  });

  it('describes the first frame of an animated GIF and records that it is animated', async () => {
    const { facts, image } = await intakeImage(await imageFixture('animatedGif'), LIMITS);

    expect(facts).toMatchObject({ format: 'gif', pages: 3, animated: true, width: 32, height: 32 });
    expect([image.width, image.height]).toEqual([32, 32]);
    expect(pixel(image, 0, 0)).toEqual(COLOURS.red);
    expect(pixel(image, 31, 31)).toEqual(COLOURS.red);
  });

  it('describes the first frame of an animated WebP and records that it is animated', async () => {
    const { facts, image } = await intakeImage(await imageFixture('animatedWebp'), LIMITS);

    expect(facts).toMatchObject({ format: 'webp', pages: 3, animated: true, width: 32, height: 32 });
    expect(pixel(image, 16, 16)).toEqual(COLOURS.red);
  });

  it('describes the first page of a multi-page TIFF, which is not an animation', async () => {
    const { facts, image } = await intakeImage(await imageFixture('multiPageTiff'), LIMITS);

    expect(facts).toMatchObject({ format: 'tiff', pages: 2, animated: false });
    expectNear(pixel(image, 3, 3), COLOURS.green, 2);
  });

  it('applies EXIF orientation 6: sides swapped, the stored top-left block lands top-right', async () => {
    const { facts, image } = await intakeImage(await imageFixture('exifRotatedJpeg'), LIMITS);

    expect(facts).toMatchObject({ orientation: 6, width: 30, height: 60 });
    expect([image.width, image.height]).toEqual([30, 60]);
    expectNear(pixel(image, 29, 0), COLOURS.red, 12);
    expectNear(pixel(image, 0, 0), COLOURS.blue, 12);
    expectNear(pixel(image, 29, 59), COLOURS.blue, 12);
  });

  it('reports orientation 1 when the image has no EXIF orientation', async () => {
    const { facts } = await intakeImage(await imageFixture('photoJpeg'), LIMITS);

    expect(facts).toMatchObject({
      orientation: 1,
      hasAlpha: false,
      pages: 1,
      animated: false,
      space: 'srgb',
    });
  });

  it('flattens transparency onto white', async () => {
    const { facts, image } = await intakeImage(await imageFixture('alphaPng'), LIMITS);

    expect(facts.hasAlpha).toBe(true);
    expect(pixel(image, 2, 2)).toEqual(COLOURS.red);
    expect(pixel(image, 30, 2)).toEqual(COLOURS.white);
  });
});

describe('intakeImage: working size', () => {
  it('shrinks a large image so its longest side is the working size, keeping the original size in the facts', async () => {
    const { facts, image } = await intakeImage(await imageFixture('largeJpeg'), {
      ...LIMITS,
      workingSize: 512,
    });

    expect([facts.width, facts.height]).toEqual([2400, 1600]);
    expect(image.width).toBe(512);
    expect(image.height).toBe(341);
    expect(image.data).toHaveLength(512 * 341 * 3);
  });

  it('never enlarges a raster image smaller than the working size', async () => {
    const { image } = await intakeImage(await imageFixture('photoJpeg'), LIMITS);

    expect([image.width, image.height]).toEqual([640, 480]);
  });
});

describe('intakeImage: bad input gives a code and a message the user can act on', () => {
  it('refuses empty input', async () => {
    const error = await rejectionOf(intakeImage(await imageFixture('empty'), LIMITS));

    expect(error.code).toBe('EMPTY_INPUT');
    expect(error.message).toBe('The image is empty (0 bytes): choose the image file itself and try again.');
  });

  it('refuses input over the byte cap before decoding, naming the cap', async () => {
    const bytes = await imageFixture('photoJpeg');

    const error = await rejectionOf(intakeImage(bytes, { ...LIMITS, maxInputBytes: 10_000 }));

    expect(error.code).toBe('INPUT_TOO_LARGE');
    expect(error.message).toMatch(
      /^The file is \d+ KB, over the limit of 9\.8 KB: make it smaller \(for example, export it at a lower resolution or quality\) and try again\.$/,
    );
    expect(error.detail).toBe(
      `Expected an image of at most 10000 bytes for the input but received "${bytes.length} bytes" (MAX_INPUT_BYTES)`,
    );
  });

  it.each<[ImageFixtureName, RegExp]>([
    ['textFile', /the file is plain text; send the image itself/],
    ['pdf', /the file is a PDF document; export the page as PNG or JPEG/],
    ['heicLike', /the file is HEIC\/HEIF \(the iPhone photo format\); convert it to JPEG/],
  ])('refuses %s as an unsupported format, saying what it is', async (name, message) => {
    const error = await rejectionOf(intakeImage(await imageFixture(name), LIMITS));

    expect(error.code).toBe('UNSUPPORTED_FORMAT');
    expect(error.message).toMatch(message);
    expect(error.message).toContain('Accepted: JPEG, PNG, WebP, GIF, TIFF, AVIF and self-contained SVG.');
  });

  it('names unrecognised binary data by its first bytes', async () => {
    const error = await rejectionOf(intakeImage(Buffer.from([1, 2, 3, 4, 0, 0, 250, 251, 9]), LIMITS));

    expect(error.code).toBe('UNSUPPORTED_FORMAT');
    expect(error.message).toContain('unrecognised binary data (starting 01 02 03 04 00 00 fa fb)');
  });

  it('refuses a truncated JPEG as corrupt instead of describing half an image', async () => {
    const error = await rejectionOf(intakeImage(await imageFixture('truncatedJpeg'), LIMITS));

    expect(error.code).toBe('CORRUPT_IMAGE');
    expect(error.message).toBe(
      'The jpeg image is damaged or truncated and cannot be decoded: re-export it, or upload the original file again.',
    );
    expect(error.detail).toMatch(/\S/);
  });

  it('refuses a JPEG whose scan data is damaged instead of describing the grey libjpeg fills in', async () => {
    const error = await rejectionOf(intakeImage(await imageFixture('corruptScanJpeg'), LIMITS));

    expect(error.code).toBe('CORRUPT_IMAGE');
    expect(error.message).toBe(
      'The jpeg image is damaged or truncated and cannot be decoded: re-export it, or upload the original file again.',
    );
    expect(error.detail).toBe('VipsJpeg: Corrupt JPEG data: bad Huffman code');
  });

  it('describes a JPEG with stray bytes between its segments: libjpeg warns, the picture is whole', async () => {
    const { facts, image } = await intakeImage(await imageFixture('redJpegStrayBytes'), LIMITS);

    expect(facts.format).toBe('jpeg');
    expectNear(pixel(image, 32, 32), COLOURS.red);
  });

  it('describes a JPEG whose Adobe segment names an unknown colour transform: a warning, the picture is whole', async () => {
    const jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: COLOURS.red } })
      .jpeg()
      .toBuffer();
    // APP14 "Adobe": version 100, no flags, transform code 7 (libjpeg knows 0-2 and warns)
    const adobe = Buffer.from([
      0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0, 0, 0, 0, 7,
    ]);
    const bytes = Buffer.concat([jpeg.subarray(0, 2), adobe, jpeg.subarray(2)]);
    await expect(sharp(bytes, { failOn: 'warning' }).raw().toBuffer()).rejects.toThrow(/Adobe/);

    const { facts, image } = await intakeImage(bytes, LIMITS);

    expect(facts.format).toBe('jpeg');
    expectNear(pixel(image, 32, 32), COLOURS.red);
  });

  it('refuses a truncated PNG as corrupt', async () => {
    const whole = await imageFixture('gradient');

    const error = await rejectionOf(intakeImage(whole.subarray(0, whole.length >> 1), LIMITS));

    expect(error.code).toBe('CORRUPT_IMAGE');
    expect(error.message).toMatch(/^The png image is damaged or truncated/);
  });

  it('refuses JPEG magic bytes followed by garbage as corrupt', async () => {
    const bytes = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(200, 0x42)]);

    const error = await rejectionOf(intakeImage(bytes, LIMITS));

    expect(error.code).toBe('CORRUPT_IMAGE');
  });

  it('refuses a PNG declaring 100000 x 100000 pixels from its header alone', async () => {
    const before = process.memoryUsage().rss;

    const error = await rejectionOf(intakeImage(await imageFixture('pngBomb'), LIMITS));

    expect(error.code).toBe('TOO_MANY_PIXELS');
    expect(error.message).toBe(
      'The image is 100000 × 100000 pixels (10,000 megapixels), over the limit of 100 megapixels: scale it down and try again.',
    );
    expect(error.detail).toBe(
      'Expected an image of at most 100,000,000 pixels for the input but received "100000 x 100000 = 10,000,000,000 pixels" (MAX_INPUT_PIXELS)',
    );
    // Nothing was decoded: 30 GB of pixels were never allocated.
    expect(process.memoryUsage().rss - before).toBeLessThan(256 * 1024 * 1024);
  });

  it('counts the pixels when the megapixels would read the same as the limit (10001 x 10000)', async () => {
    const error = await rejectionOf(intakeImage(await imageFixture('pngJustOver100Megapixels'), LIMITS));

    expect(error.code).toBe('TOO_MANY_PIXELS');
    expect(error.message).toBe(
      'The image is 10001 × 10000 pixels (100,010,000 pixels), over the limit of 100,000,000 pixels: scale it down and try again.',
    );
  });

  it('refuses a valid 1 x 100,000,000 PNG for its side, naming the limit, not as damaged', async () => {
    const error = await rejectionOf(intakeImage(await imageFixture('pngOneColumn100Megapixels'), LIMITS));

    expect(error.code).toBe('UNUSUAL_DIMENSIONS');
    expect(error.message).toBe(
      'The image is 1 × 100,000,000 pixels, longer than the limit of 100,000 pixels on a side: crop it or cut it into parts and try again.',
    );
    expect(error.detail).toBe(
      'Expected an image of at most 100,000 pixels on each side for the input but received "1 x 100000000"',
    );
  });

  it('describes a long strip up to the side limit (1 x 100,000: one column of black)', async () => {
    const { facts, image } = await intakeImage(blackPng(1, MAX_SIDE), LIMITS);

    expect([facts.width, facts.height]).toEqual([1, MAX_SIDE]);
    expect(image.height).toBe(LIMITS.workingSize);
    expect(pixel(image, 0, 0)).toEqual(COLOURS.black);
  });

  it('refuses an ordinary image over a lower pixel cap', async () => {
    const error = await rejectionOf(
      intakeImage(await imageFixture('photoJpeg'), { ...LIMITS, maxInputPixels: 100_000 }),
    );

    expect(error.code).toBe('TOO_MANY_PIXELS');
    expect(error.message).toBe(
      'The image is 640 × 480 pixels (0.3 megapixels), over the limit of 0.1 megapixels: scale it down and try again.',
    );
    expect(error.detail).toContain('"640 x 480 = 307,200 pixels"');
  });

  it('treats bad limits as a configuration error, not as bad input', async () => {
    const bytes = await imageFixture('solidRed');

    await expect(intakeImage(bytes, { ...LIMITS, workingSize: 0 })).rejects.toThrow(ConfigError);
    await expect(intakeImage(bytes, { ...LIMITS, workingSize: 0 })).rejects.toThrow(
      'Expected a positive integer for workingSize but received number 0',
    );
  });
});
