import { expected } from '../errors.ts';
import type { RgbImage } from '../image/types.ts';
import type { Colour } from '../record/schema.ts';
import { colourFamily, colourName } from './colour-names.ts';
import { type Oklab, oklabToSrgb, srgbToOklab } from './oklab.ts';

/** Samples per side: at most 48 x 48 = 2304 pixels, read at cell centres (no blending of edges). */
const GRID = 48;
/** Boxes produced by median cut before refinement and merging. */
const INITIAL_CLUSTERS = 16;
const KMEANS_ITERATIONS = 8;
/** Oklab distance below which two clusters are one colour (about 2-3 just-noticeable differences). */
const MERGE_DISTANCE = 0.06;
/** Clusters smaller than this share of the image are folded into their nearest neighbour. */
const MIN_FRACTION = 0.01;
const DEFAULT_MAX_COLOURS = 6;

export interface PaletteOptions {
  /** At most this many colours (1-16); default 6. */
  readonly maxColours?: number;
}

interface Cluster {
  l: number;
  a: number;
  b: number;
  count: number;
}

/**
 * The dominant colours of an image, from its pixels alone; deterministic (no random start).
 *
 * 1. Sample a fixed grid of at most 48 x 48 pixels and convert them to Oklab (perceptual).
 * 2. Median cut into up to 16 boxes, then refine the box means with k-means.
 * 3. Merge clusters closer than a few just-noticeable differences.
 * 4. Keep clusters of at least 1% (and at most `maxColours`); every sample is then counted for its
 *    nearest kept colour, so fractions are shares of the whole image and sum to 1.
 * 5. Give each colour its basic family and a name: the family, light or dark (colour-names.ts).
 */
export function dominantColours(image: RgbImage, options: PaletteOptions = {}): Colour[] {
  const maxColours = options.maxColours ?? DEFAULT_MAX_COLOURS;
  if (!Number.isInteger(maxColours) || maxColours < 1 || maxColours > INITIAL_CLUSTERS) {
    throw new RangeError(expected(`an integer from 1 to ${INITIAL_CLUSTERS}`, 'maxColours', maxColours));
  }
  const { width, height, data } = image;
  if (!(width > 0 && height > 0) || data.length !== width * height * 3) {
    throw new RangeError(
      expected(`${width} x ${height} x 3 bytes of RGB`, 'image.data', `${data.length} bytes`),
    );
  }

  const samples = sample(image);
  let clusters = medianCut(samples, INITIAL_CLUSTERS);
  clusters = kMeans(samples, clusters, KMEANS_ITERATIONS);
  clusters = mergeClose(clusters, MERGE_DISTANCE);

  const total = samples.count;
  const kept = clusters
    .filter((cluster) => cluster.count / total >= MIN_FRACTION)
    .sort(byCountThenLightness)
    .slice(0, maxColours);
  const counts = assignCounts(samples, kept);

  const colours = kept.map((cluster, i): Colour => {
    const [r, g, b] = oklabToSrgb(cluster);
    return {
      hex: `#${((1 << 24) | (r << 16) | (g << 8) | b).toString(16).slice(1)}`,
      name: colourName(cluster),
      family: colourFamily(cluster),
      fraction: Math.round(((counts[i] as number) / total) * 10_000) / 10_000,
    };
  });
  return mergeSameName(colours).sort((x, y) => y.fraction - x.fraction || x.hex.localeCompare(y.hex));
}

interface Samples {
  readonly l: Float64Array;
  readonly a: Float64Array;
  readonly b: Float64Array;
  readonly count: number;
}

function sample({ width, height, data }: RgbImage): Samples {
  const columns = Math.min(GRID, width);
  const rows = Math.min(GRID, height);
  const count = columns * rows;
  const l = new Float64Array(count);
  const a = new Float64Array(count);
  const b = new Float64Array(count);
  const cache = new Map<number, Oklab>();
  let n = 0;
  for (let row = 0; row < rows; row++) {
    const y = Math.floor(((row + 0.5) * height) / rows);
    for (let column = 0; column < columns; column++) {
      const x = Math.floor(((column + 0.5) * width) / columns);
      const offset = (y * width + x) * 3;
      const key =
        ((data[offset] as number) << 16) | ((data[offset + 1] as number) << 8) | (data[offset + 2] as number);
      let lab = cache.get(key);
      if (!lab) {
        lab = srgbToOklab(key >> 16, (key >> 8) & 0xff, key & 0xff);
        cache.set(key, lab);
      }
      l[n] = lab.l;
      a[n] = lab.a;
      b[n] = lab.b;
      n++;
    }
  }
  return { l, a, b, count };
}

interface Box {
  readonly members: Int32Array;
  readonly axis: number;
  readonly range: number;
}

function boxOf(samples: Samples, members: Int32Array): Box {
  const axes = [samples.l, samples.a, samples.b];
  let axis = 0;
  let range = 0;
  for (let k = 0; k < 3; k++) {
    const values = axes[k] as Float64Array;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < members.length; i++) {
      const value = values[members[i] as number] as number;
      if (value < min) min = value;
      if (value > max) max = value;
    }
    if (max - min > range) {
      range = max - min;
      axis = k;
    }
  }
  return { members, axis, range };
}

/** Median cut: split the box with the largest spread along its widest axis, at the median. */
function medianCut(samples: Samples, target: number): Cluster[] {
  const axes = [samples.l, samples.a, samples.b];
  const boxes: Box[] = [
    boxOf(
      samples,
      Int32Array.from({ length: samples.count }, (_, i) => i),
    ),
  ];
  while (boxes.length < target) {
    let widest = 0;
    for (let i = 1; i < boxes.length; i++)
      if ((boxes[i] as Box).range > (boxes[widest] as Box).range) widest = i;
    const box = boxes[widest] as Box;
    if (box.range < 1e-6 || box.members.length < 2) break;
    const values = axes[box.axis] as Float64Array;
    const split = box.members.slice();
    const half = split.length >> 1;
    selectLowest(split, half, values);
    boxes.splice(widest, 1, boxOf(samples, split.subarray(0, half)), boxOf(samples, split.subarray(half)));
  }
  return boxes.map(({ members }) => {
    const cluster = { l: 0, a: 0, b: 0, count: members.length };
    for (let n = 0; n < members.length; n++) {
      const i = members[n] as number;
      cluster.l += samples.l[i] as number;
      cluster.a += samples.a[i] as number;
      cluster.b += samples.b[i] as number;
    }
    cluster.l /= members.length;
    cluster.a /= members.length;
    cluster.b /= members.length;
    return cluster;
  });
}

/**
 * Reorders `members` so that its first `count` entries are the ones with the lowest values, ties
 * broken by index (the same halves a full sort gives, on every run), in linear time: the cut runs
 * 15 times per palette and a comparator sort was most of its cost.
 */
function selectLowest(members: Int32Array, count: number, values: Float64Array): void {
  const before = (p: number, q: number) => {
    const vp = values[p] as number;
    const vq = values[q] as number;
    return vp < vq || (vp === vq && p < q);
  };
  const swap = (i: number, j: number) => {
    const t = members[i] as number;
    members[i] = members[j] as number;
    members[j] = t;
  };
  let lo = 0;
  let hi = members.length - 1;
  while (hi > lo) {
    // Median of three as the pivot, moved to hi.
    const mid = (lo + hi) >> 1;
    if (before(members[mid] as number, members[lo] as number)) swap(mid, lo);
    if (before(members[hi] as number, members[lo] as number)) swap(hi, lo);
    if (before(members[mid] as number, members[hi] as number)) swap(mid, hi);
    const pivot = members[hi] as number;
    let store = lo;
    for (let i = lo; i < hi; i++) {
      if (before(members[i] as number, pivot)) swap(i, store++);
    }
    swap(store, hi);
    if (store === count) return;
    if (store < count) lo = store + 1;
    else hi = store - 1;
  }
}

/** Index of the nearest centre; centres are packed [l, a, b, l, a, b, ...]. */
function nearestCentre(l: number, a: number, b: number, centres: Float64Array): number {
  let best = 0;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (let k = 0; k < centres.length; k += 3) {
    const dl = l - (centres[k] as number);
    const da = a - (centres[k + 1] as number);
    const db = b - (centres[k + 2] as number);
    const distance = dl * dl + da * da + db * db;
    if (distance < bestDistance) {
      bestDistance = distance;
      best = k;
    }
  }
  return best / 3;
}

const packCentres = (clusters: readonly Cluster[]) =>
  Float64Array.from(clusters.flatMap(({ l, a, b }) => [l, a, b]));

function kMeans(samples: Samples, start: Cluster[], iterations: number): Cluster[] {
  const { l: L, a: A, b: B } = samples;
  let clusters = start;
  let previous = new Int32Array(samples.count).fill(-1);
  for (let iteration = 0; iteration < iterations; iteration++) {
    const centres = packCentres(clusters);
    const sums = new Float64Array(clusters.length * 4);
    const assignment = new Int32Array(samples.count);
    let changed = false;
    for (let i = 0; i < samples.count; i++) {
      const k = nearestCentre(L[i] as number, A[i] as number, B[i] as number, centres);
      assignment[i] = k;
      if (previous[i] !== k) changed = true;
      const at = k * 4;
      sums[at] = (sums[at] as number) + (L[i] as number);
      sums[at + 1] = (sums[at + 1] as number) + (A[i] as number);
      sums[at + 2] = (sums[at + 2] as number) + (B[i] as number);
      sums[at + 3] = (sums[at + 3] as number) + 1;
    }
    const next: Cluster[] = [];
    for (let k = 0; k < clusters.length; k++) {
      const count = sums[k * 4 + 3] as number;
      if (count > 0)
        next.push({
          l: (sums[k * 4] as number) / count,
          a: (sums[k * 4 + 1] as number) / count,
          b: (sums[k * 4 + 2] as number) / count,
          count,
        });
    }
    // Dropping an empty cluster renumbers the others: compare assignments only when none was dropped.
    previous = next.length === clusters.length ? assignment : previous.fill(-1);
    clusters = next;
    if (!changed) break;
  }
  return clusters;
}

const distance = (p: Cluster, q: Cluster) => Math.hypot(p.l - q.l, p.a - q.a, p.b - q.b);

/** Repeatedly merge the closest pair (count-weighted mean) until no pair is closer than `limit`. */
function mergeClose(start: Cluster[], limit: number): Cluster[] {
  const clusters = start.map((cluster) => ({ ...cluster }));
  for (;;) {
    let pair: [number, number] | undefined;
    let closest = limit;
    for (let i = 0; i < clusters.length; i++)
      for (let j = i + 1; j < clusters.length; j++) {
        const d = distance(clusters[i] as Cluster, clusters[j] as Cluster);
        if (d < closest) {
          closest = d;
          pair = [i, j];
        }
      }
    if (!pair) return clusters;
    const p = clusters[pair[0]] as Cluster;
    const q = clusters[pair[1]] as Cluster;
    const count = p.count + q.count;
    clusters[pair[0]] = {
      l: (p.l * p.count + q.l * q.count) / count,
      a: (p.a * p.count + q.a * q.count) / count,
      b: (p.b * p.count + q.b * q.count) / count,
      count,
    };
    clusters.splice(pair[1], 1);
  }
}

function assignCounts(samples: Samples, clusters: readonly Cluster[]): number[] {
  const counts = clusters.map(() => 0);
  const centres = packCentres(clusters);
  const { l, a, b } = samples;
  for (let i = 0; i < samples.count; i++) {
    (counts[nearestCentre(l[i] as number, a[i] as number, b[i] as number, centres)] as number)++;
  }
  return counts;
}

const byCountThenLightness = (p: Cluster, q: Cluster) =>
  q.count - p.count || p.l - q.l || p.a - q.a || p.b - q.b;

/** Two colours with the same name read as a duplicate: keep the larger's hex, add the fractions. */
function mergeSameName(colours: Colour[]): Colour[] {
  const byName = new Map<string, Colour>();
  for (const colour of colours) {
    const seen = byName.get(colour.name);
    byName.set(
      colour.name,
      seen ? { ...seen, fraction: Math.round((seen.fraction + colour.fraction) * 10_000) / 10_000 } : colour,
    );
  }
  return [...byName.values()];
}
