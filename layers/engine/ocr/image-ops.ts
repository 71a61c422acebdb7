import type { RgbImage } from '../image/types.ts';
import { distance, type Quad, rectToQuadHomography } from './geometry.ts';

interface Kernel {
  readonly from: Int32Array;
  readonly count: Int32Array;
  /** count[i] normalised weights per output index, packed. */
  readonly weights: Float32Array;
  readonly offsets: Int32Array;
}

/** Triangle-filter taps per output index, widened when shrinking (anti-aliased), computed once per axis. */
function kernel(srcLen: number, dstLen: number): Kernel {
  const scale = srcLen / dstLen;
  const support = Math.max(1, scale);
  const from = new Int32Array(dstLen);
  const count = new Int32Array(dstLen);
  const offsets = new Int32Array(dstLen);
  const all: number[] = [];
  for (let i = 0; i < dstLen; i++) {
    const center = (i + 0.5) * scale - 0.5;
    const lo = Math.max(0, Math.floor(center - support));
    const hi = Math.min(srcLen - 1, Math.ceil(center + support));
    const taps: number[] = [];
    let total = 0;
    for (let j = lo; j <= hi; j++) {
      const w = Math.max(0, 1 - Math.abs(j - center) / support);
      taps.push(w);
      total += w;
    }
    if (total === 0) {
      taps.fill(0);
      taps[Math.min(Math.max(Math.round(center) - lo, 0), taps.length - 1)] = 1;
      total = 1;
    }
    from[i] = lo;
    count[i] = taps.length;
    offsets[i] = all.length;
    for (const w of taps) all.push(w / total);
  }
  return { from, count, weights: Float32Array.from(all), offsets };
}

/** Resize RGB pixels to width × height (separable triangle filter). */
export function resizeRgb(image: RgbImage, width: number, height: number): RgbImage {
  if (image.width === width && image.height === height) return image;
  const src = image.data;
  const srcWidth = image.width;
  const kx = kernel(srcWidth, width);
  const ky = kernel(image.height, height);
  // Horizontal pass: image.height rows of `width` pixels.
  const horizontal = new Float32Array(width * image.height * 3);
  for (let y = 0; y < image.height; y++) {
    const rowIn = y * srcWidth * 3;
    const rowOut = y * width * 3;
    for (let x = 0; x < width; x++) {
      const lo = kx.from[x] as number;
      const n = kx.count[x] as number;
      const off = kx.offsets[x] as number;
      let r = 0;
      let g = 0;
      let b = 0;
      for (let t = 0; t < n; t++) {
        const w = kx.weights[off + t] as number;
        const s = rowIn + (lo + t) * 3;
        r += w * (src[s] as number);
        g += w * (src[s + 1] as number);
        b += w * (src[s + 2] as number);
      }
      const o = rowOut + x * 3;
      horizontal[o] = r;
      horizontal[o + 1] = g;
      horizontal[o + 2] = b;
    }
  }
  // Vertical pass straight into bytes.
  const data = new Uint8Array(width * height * 3);
  const rowLen = width * 3;
  for (let y = 0; y < height; y++) {
    const lo = ky.from[y] as number;
    const n = ky.count[y] as number;
    const off = ky.offsets[y] as number;
    const rowOut = y * rowLen;
    for (let i = 0; i < rowLen; i++) {
      let v = 0;
      for (let t = 0; t < n; t++)
        v += (ky.weights[off + t] as number) * (horizontal[(lo + t) * rowLen + i] as number);
      data[rowOut + i] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
    }
  }
  return { data, width, height };
}

/**
 * Perspective crop of `quad` into an upright rectangle (get_rotate_crop_image): width is the longer
 * of the top and bottom edges, height the longer of the side edges; bilinear, borders replicated.
 */
export function cropQuad(image: RgbImage, quad: Quad): RgbImage {
  const width = Math.max(1, Math.round(Math.max(distance(quad[0], quad[1]), distance(quad[3], quad[2]))));
  const height = Math.max(1, Math.round(Math.max(distance(quad[0], quad[3]), distance(quad[1], quad[2]))));
  const [h11, h12, h13, h21, h22, h23, h31, h32, h33] = rectToQuadHomography(width, height, quad) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const data = new Uint8Array(width * height * 3);
  const src = image.data;
  const maxX = image.width - 1;
  const maxY = image.height - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Sample at pixel centres (+0.5) and convert back to pixel-index coordinates (-0.5).
      const u = x + 0.5;
      const v = y + 0.5;
      const w = h31 * u + h32 * v + h33;
      const sx = Math.min(Math.max((h11 * u + h12 * v + h13) / w - 0.5, 0), maxX);
      const sy = Math.min(Math.max((h21 * u + h22 * v + h23) / w - 0.5, 0), maxY);
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const x1 = Math.min(x0 + 1, maxX);
      const y1 = Math.min(y0 + 1, maxY);
      const fx = sx - x0;
      const fy = sy - y0;
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) {
        const top =
          (src[(y0 * image.width + x0) * 3 + c] as number) * (1 - fx) +
          (src[(y0 * image.width + x1) * 3 + c] as number) * fx;
        const bottom =
          (src[(y1 * image.width + x0) * 3 + c] as number) * (1 - fx) +
          (src[(y1 * image.width + x1) * 3 + c] as number) * fx;
        data[o + c] = Math.round(top * (1 - fy) + bottom * fy);
      }
    }
  }
  return { data, width, height };
}

/** Rotate by 90° counter-clockwise (numpy's rot90): a top-to-bottom text column becomes a line. */
export function rotate90CounterClockwise(image: RgbImage): RgbImage {
  const { width, height } = image;
  const data = new Uint8Array(image.data.length);
  // Output is height wide and width tall; output (x', y') comes from source (width-1-y', x').
  for (let y = 0; y < width; y++) {
    for (let x = 0; x < height; x++) {
      const s = (x * width + (width - 1 - y)) * 3;
      const d = (y * height + x) * 3;
      data[d] = image.data[s] as number;
      data[d + 1] = image.data[s + 1] as number;
      data[d + 2] = image.data[s + 2] as number;
    }
  }
  return { data, width: height, height: width };
}

export function rotate180(image: RgbImage): RgbImage {
  const pixels = image.width * image.height;
  const data = new Uint8Array(image.data.length);
  for (let i = 0; i < pixels; i++) {
    const s = i * 3;
    const d = (pixels - 1 - i) * 3;
    data[d] = image.data[s] as number;
    data[d + 1] = image.data[s + 1] as number;
    data[d + 2] = image.data[s + 2] as number;
  }
  return { data, width: image.width, height: image.height };
}

/**
 * Pack images of equal height into one NCHW float tensor, BGR channel order (PaddleOCR reads with
 * OpenCV and its models were trained on BGR), value = (v / 255 − mean) / std, right-padded with 0.
 */
export function packBatch(
  images: readonly RgbImage[],
  height: number,
  width: number,
  mean: readonly [number, number, number],
  std: readonly [number, number, number],
): Float32Array {
  const plane = height * width;
  const out = new Float32Array(images.length * 3 * plane);
  // One table per output channel: the same arithmetic as per pixel, done 256 times instead of millions.
  const tables = [0, 1, 2].map((c) => {
    const table = new Float64Array(256);
    for (let v = 0; v < 256; v++) table[v] = (v / 255 - (mean[c] as number)) / (std[c] as number);
    return table;
  }) as [Float64Array, Float64Array, Float64Array];
  for (let n = 0; n < images.length; n++) {
    const image = images[n] as RgbImage;
    const src = image.data;
    const base = n * 3 * plane;
    const w = Math.min(image.width, width);
    for (let y = 0; y < Math.min(image.height, height); y++) {
      const row = y * image.width * 3;
      const b = base + y * width;
      const g = b + plane;
      const r = g + plane;
      for (let x = 0; x < w; x++) {
        // Output channel order is BGR: channel 0 = source blue.
        const s = row + x * 3;
        out[b + x] = tables[0][src[s + 2] as number] as number;
        out[g + x] = tables[1][src[s + 1] as number] as number;
        out[r + x] = tables[2][src[s] as number] as number;
      }
    }
  }
  return out;
}
