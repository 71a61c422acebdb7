import sharp, { type Metadata, type SharpOptions } from 'sharp';
import { ConfigError, expected, ImageRejectedError } from '../errors.ts';
import { tooLargeSentence, tooManyPixelsSentence } from '../user-messages.ts';
import { type AcceptedFormat, sniffFormat } from './sniff.ts';
import { svgExternalReference } from './svg-policy.ts';
import type { ImageFacts, IntakeResult } from './types.ts';

export interface IntakeLimits {
  /** Refuse inputs larger than this before decoding anything. */
  readonly maxInputBytes: number;
  /** Refuse images declaring more pixels than this (decompression bombs), before decoding. */
  readonly maxInputPixels: number;
  /** Longest side of the returned pixels; smaller images are not enlarged (except SVG, see below). */
  readonly workingSize: number;
}

/**
 * `error` rejects truncated and undecodable data (a truncated JPEG fails). JPEG pixels are decoded
 * with `warning` instead: libjpeg only warns about damaged scan data ("bad Huffman code") and fills
 * the rest with grey, which would be described as a grey picture. Any other warning (stray bytes,
 * an unknown Adobe transform code, an odd progression) leaves the picture whole, so those get a
 * second decode at `error`: only `DAMAGED_SCAN_WARNINGS` reject.
 */
const FAIL_ON = 'error' as const;

/** libjpeg's warnings that the entropy-coded picture data itself is damaged or cut short. */
const DAMAGED_SCAN_WARNINGS = [
  /bad Huffman code/i,
  /bad arithmetic code/i,
  /premature end of data segment/i,
  /found marker 0x[0-9a-f]+ instead of RST/i,
  /premature end of JPEG file/i,
];

/**
 * The longest side accepted. libvips cannot resize an image with a side near 100 million pixels
 * (its coordinates end there), and a strip that long becomes one column of pixels for the models;
 * no camera, scanner or stitched panorama comes near this.
 */
export const MAX_SIDE = 100_000;

/** SVGs are rendered at their declared size, or larger (up to this DPI) to reach the working size. */
const MAX_SVG_DENSITY = 72 * 16;

const BITS_BY_DEPTH: Record<string, number> = {
  uchar: 8,
  char: 8,
  ushort: 16,
  short: 16,
  uint: 32,
  int: 32,
  float: 32,
  complex: 64,
  double: 64,
  dpcomplex: 128,
};

const ANIMATABLE: ReadonlySet<AcceptedFormat> = new Set(['gif', 'webp', 'avif']);

/**
 * Untrusted bytes in, pixels for the models out.
 *
 * 1. Refuse empty input and input over the byte cap, before any decoding.
 * 2. Detect the format from the bytes; only JPEG, PNG, WebP, GIF, TIFF, AVIF and self-contained
 *    SVG go on (HEIC and everything else are refused with what was detected and what to do).
 * 3. Read the header once (sharp metadata): refuse images declaring more than the pixel cap, so a
 *    100000 x 100000 PNG is refused without allocating anything.
 * 4. One sharp pipeline: first page/frame, EXIF auto-orient, resize inside the working size
 *    (JPEG shrink-on-load: a 12 MP JPEG is decoded at 1/2, 1/4 or 1/8 scale), alpha flattened on
 *    white, sRGB (CMYK and 16-bit converted), 8-bit, 3 channels.
 */
export async function intakeImage(bytes: Uint8Array, limits: IntakeLimits): Promise<IntakeResult> {
  checkLimits(limits);
  if (bytes.length === 0) {
    throw new ImageRejectedError(
      'EMPTY_INPUT',
      'The image is empty (0 bytes): choose the image file itself and try again.',
      { detail: 'Expected at least 1 byte for the input but received 0 bytes' },
    );
  }
  if (bytes.length > limits.maxInputBytes) {
    throw new ImageRejectedError('INPUT_TOO_LARGE', tooLargeSentence(bytes.length, limits.maxInputBytes), {
      detail: `${expected(`an image of at most ${formatBytes(limits.maxInputBytes)}`, 'the input', `${formatBytes(bytes.length)}`)} (MAX_INPUT_BYTES)`,
    });
  }

  const sniffed = sniffFormat(bytes);
  if (!sniffed.accepted) {
    throw new ImageRejectedError(
      'UNSUPPORTED_FORMAT',
      `Unsupported image format: the file is ${sniffed.detected}; ${sniffed.advice}. Accepted: JPEG, PNG, WebP, GIF, TIFF, AVIF and self-contained SVG.`,
    );
  }
  const format = sniffed.format;
  if (format === 'svg') {
    const reason = svgExternalReference(
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'),
    );
    if (reason) {
      throw new ImageRejectedError(
        'UNSUPPORTED_FORMAT',
        `Unsupported SVG: ${reason}. Only self-contained SVGs are rendered (references must be #fragments or data: URIs); embed the resources or export the drawing as PNG.`,
      );
    }
  }

  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const base: SharpOptions = { failOn: FAIL_ON, limitInputPixels: limits.maxInputPixels, pages: 1, page: 0 };
  // Header only; the pixel cap is checked just below so the message can say what was declared.
  const metadata = await sharp(input, { ...base, limitInputPixels: false })
    .metadata()
    .catch((error: unknown) => {
      throw rejection(error, format);
    });
  checkDecoderAgrees(metadata, format);

  const declared = metadata.width * metadata.height;
  if (!(declared > 0) || declared > limits.maxInputPixels) {
    throw tooManyPixels(metadata.width, metadata.height, limits.maxInputPixels);
  }
  if (Math.max(metadata.width, metadata.height) > MAX_SIDE) {
    throw unusualDimensions(metadata.width, metadata.height);
  }

  const options: SharpOptions = { ...base, autoOrient: true };
  if (format === 'svg') options.density = svgDensity(metadata, limits);
  const decode = (failOn: SharpOptions['failOn']) =>
    sharp(input, { ...options, failOn })
      .resize({
        width: limits.workingSize,
        height: limits.workingSize,
        fit: 'inside',
        withoutEnlargement: true,
      })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });

  const { data, info } = await decode(format === 'jpeg' ? 'warning' : FAIL_ON)
    .catch((error: unknown) => {
      if (format === 'jpeg' && !damagedScanData(error)) return decode(FAIL_ON);
      throw error;
    })
    .catch((error: unknown) => {
      throw rejection(error, format);
    });
  if (info.channels !== 3) {
    throw new ImageRejectedError(
      'CORRUPT_IMAGE',
      `The ${format} image uses an unusual colour layout that cannot be converted: re-export it as an RGB JPEG or PNG and try again.`,
      { detail: `Expected 3 colour channels after conversion to sRGB but received ${info.channels}` },
    );
  }

  return {
    facts: factsOf(metadata, format),
    image: {
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
    },
  };
}

function factsOf(metadata: Metadata, format: AcceptedFormat): ImageFacts {
  const pages = metadata.pages ?? 1;
  return {
    format,
    width: metadata.autoOrient.width,
    height: metadata.autoOrient.height,
    orientation: metadata.orientation ?? 1,
    hasAlpha: metadata.hasAlpha,
    pages,
    animated: pages > 1 && ANIMATABLE.has(format),
    space: metadata.space,
    bitsPerSample: BITS_BY_DEPTH[metadata.depth] ?? 8,
  };
}

/** The decoder must see the same format we allowed (libvips sniffs too; this is belt and braces). */
function checkDecoderAgrees(metadata: Metadata, format: AcceptedFormat): void {
  const decoderFormat =
    metadata.format === 'heif' && metadata.compression === 'av1' ? 'avif' : metadata.format;
  if (decoderFormat === 'heif') {
    throw new ImageRejectedError(
      'UNSUPPORTED_FORMAT',
      'Unsupported image format: the file is HEIC/HEIF (HEVC-compressed); convert it to JPEG first.',
    );
  }
  if (decoderFormat !== format) {
    throw new ImageRejectedError(
      'UNSUPPORTED_FORMAT',
      `Unsupported image format: the file starts like ${format} but decodes as ${String(metadata.format)}; re-export it as JPEG or PNG.`,
    );
  }
}

/** Render small SVGs at a higher DPI (vector art enlarges losslessly) so models get enough pixels. */
function svgDensity(metadata: Metadata, limits: IntakeLimits): number {
  const longest = Math.max(metadata.width, metadata.height);
  const byWorkingSize = (72 * limits.workingSize) / longest;
  const byPixelCap = 72 * Math.sqrt(limits.maxInputPixels / (metadata.width * metadata.height));
  return Math.max(72, Math.min(byWorkingSize, byPixelCap, MAX_SVG_DENSITY));
}

function tooManyPixels(width: number, height: number, limit: number): ImageRejectedError {
  const declared = `${width} x ${height} = ${formatCount(width * height)} pixels`;
  return new ImageRejectedError('TOO_MANY_PIXELS', tooManyPixelsSentence(width, height, limit), {
    detail: `${expected(`an image of at most ${formatCount(limit)} pixels`, 'the input', declared)} (MAX_INPUT_PIXELS)`,
  });
}

function unusualDimensions(width: number, height: number): ImageRejectedError {
  return new ImageRejectedError(
    'UNUSUAL_DIMENSIONS',
    `The image is ${formatCount(width)} × ${formatCount(height)} pixels, longer than the limit of ${formatCount(MAX_SIDE)} pixels on a side: crop it or cut it into parts and try again.`,
    {
      detail: expected(
        `an image of at most ${formatCount(MAX_SIDE)} pixels on each side`,
        'the input',
        `${width} x ${height}`,
      ),
    },
  );
}

/** True when sharp's failure names damage in the picture data (not only bytes around it). */
function damagedScanData(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return DAMAGED_SCAN_WARNINGS.some((rule) => rule.test(message));
}

/** Map sharp/libvips failures to our codes; the original error stays as `cause`. */
function rejection(error: unknown, format: AcceptedFormat): ImageRejectedError {
  const message = error instanceof Error ? error.message : String(error);
  const firstLine = message.split('\n')[0]?.trim() ?? message;
  if (/exceeds pixel limit/i.test(message)) {
    return new ImageRejectedError(
      'TOO_MANY_PIXELS',
      `The ${format} image has more pixels than allowed: scale it down and try again.`,
      { cause: error, detail: `${firstLine} (MAX_INPUT_PIXELS)` },
    );
  }
  if (/unsupported image format/i.test(message)) {
    return new ImageRejectedError(
      'UNSUPPORTED_FORMAT',
      `Unsupported image format: the ${format} decoder does not recognise the file; re-export it as JPEG or PNG.`,
      { cause: error },
    );
  }
  return new ImageRejectedError(
    'CORRUPT_IMAGE',
    `The ${format} image is damaged or truncated and cannot be decoded: re-export it, or upload the original file again.`,
    { cause: error, detail: firstLine },
  );
}

function checkLimits(limits: IntakeLimits): void {
  for (const name of ['maxInputBytes', 'maxInputPixels', 'workingSize'] as const) {
    const value = limits[name];
    if (!Number.isInteger(value) || value < 1)
      throw new ConfigError(expected('a positive integer', name, value));
  }
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.round((bytes / 1024 / 1024) * 10) / 10} MB (${bytes} bytes)`;
  return `${bytes} bytes`;
}

const formatCount = (count: number) => count.toLocaleString('en-US');
