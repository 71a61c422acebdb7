import {
  expandRect,
  forEachComponent,
  insideQuad,
  intersectionArea,
  minAreaRect,
  type Point,
  polygonArea,
  type Quad,
  rectCorners,
} from './geometry.ts';

/**
 * PaddleOCR's DBPostProcess defaults for PP-OCRv4 (tools/infer/utility.py), except the unclip
 * ratio: at 1.5 the crops are tight and the recogniser drops the spaces between English words;
 * 2.0 keeps them (measured on the evaluation set, see test/bench/ocr-bench.ts).
 */
export interface DbOptions {
  /** Pixels above this probability are text. */
  readonly threshold: number;
  /** Mean probability inside a box below which the box is dropped. */
  readonly boxThreshold: number;
  /** How far a shrunk text kernel is grown back: distance = area × ratio / perimeter. */
  readonly unclipRatio: number;
  /** Boxes whose short side is below this (map pixels) are dropped. */
  readonly minSize: number;
  readonly maxCandidates: number;
}

export const DB_DEFAULTS: DbOptions = {
  threshold: 0.3,
  boxThreshold: 0.6,
  unclipRatio: 2,
  minSize: 3,
  maxCandidates: 1000,
};

export interface DetectedBox {
  /** Corners in source image pixels, clockwise from top-left. */
  readonly quad: Quad;
  /** Mean text probability inside the box before expansion. */
  readonly score: number;
}

/** Mean of the probability map over the pixels inside `quad` (box_score_fast). */
function boxScore(prob: Float32Array, width: number, height: number, quad: Quad): number {
  const xs = quad.map((p) => p.x);
  const ys = quad.map((p) => p.y);
  const clamp = (v: number, max: number) => Math.min(Math.max(v, 0), max);
  const xMin = clamp(Math.floor(Math.min(...xs)), width - 1);
  const xMax = clamp(Math.ceil(Math.max(...xs)), width - 1);
  const yMin = clamp(Math.floor(Math.min(...ys)), height - 1);
  const yMax = clamp(Math.ceil(Math.max(...ys)), height - 1);
  let sum = 0;
  let count = 0;
  for (let y = yMin; y <= yMax; y++) {
    for (let x = xMin; x <= xMax; x++) {
      if (!insideQuad(quad, { x, y })) continue;
      sum += prob[y * width + x] as number;
      count++;
    }
  }
  return count === 0 ? 0 : sum / count;
}

/**
 * Probability map → text boxes in source pixels: threshold, 8-connected components, minimum-area
 * rectangle per component, box score, unclip expansion, scale back to the source size.
 */
export function boxesFromProbabilityMap(
  prob: Float32Array,
  mapWidth: number,
  mapHeight: number,
  sourceWidth: number,
  sourceHeight: number,
  options: DbOptions = DB_DEFAULTS,
): DetectedBox[] {
  const mask = new Uint8Array(prob.length);
  for (let i = 0; i < prob.length; i++) mask[i] = (prob[i] as number) > options.threshold ? 1 : 0;
  const scaleX = sourceWidth / mapWidth;
  const scaleY = sourceHeight / mapHeight;
  const boxes: DetectedBox[] = [];
  forEachComponent(mask, mapWidth, mapHeight, options.maxCandidates, (points) => {
    const rect = minAreaRect(points);
    if (Math.min(rect.width, rect.height) < options.minSize) return;
    const score = boxScore(prob, mapWidth, mapHeight, rectCorners(rect));
    if (score < options.boxThreshold) return;
    const area = rect.width * rect.height;
    const perimeter = 2 * (rect.width + rect.height);
    const grown = expandRect(rect, (area * options.unclipRatio) / perimeter);
    if (Math.min(grown.width, grown.height) < options.minSize + 2) return;
    const toSource = (p: Point): Point => ({
      x: Math.min(Math.max(Math.round(p.x * scaleX), 0), sourceWidth),
      y: Math.min(Math.max(Math.round(p.y * scaleY), 0), sourceHeight),
    });
    const quad = rectCorners(grown).map(toSource) as unknown as Quad;
    // filter_tag_det_res: boxes three pixels or thinner in the source carry no readable text.
    const w = Math.hypot(quad[1].x - quad[0].x, quad[1].y - quad[0].y);
    const h = Math.hypot(quad[3].x - quad[0].x, quad[3].y - quad[0].y);
    if (w <= 3 || h <= 3) return;
    boxes.push({ quad, score });
  });
  return boxes;
}

function boundsOverlap(a: Quad, b: Quad): boolean {
  const xs = (q: Quad) => q.map((p) => p.x);
  const ys = (q: Quad) => q.map((p) => p.y);
  return (
    Math.min(...xs(a)) < Math.max(...xs(b)) &&
    Math.min(...xs(b)) < Math.max(...xs(a)) &&
    Math.min(...ys(a)) < Math.max(...ys(b)) &&
    Math.min(...ys(b)) < Math.max(...ys(a))
  );
}

/**
 * Boxes that mostly cover each other are one line found twice (large or stencilled letters whose
 * text kernel splits into strips; each strip, grown back, covers the whole line and would be read
 * as a second copy of it). Pairs sharing at least `minShare` of the smaller box's area become the
 * minimum-area rectangle around both. Neighbouring lines overlap far less (their grown boxes
 * share a thin band), so they stay apart.
 */
export function mergeOverlappingBoxes(boxes: readonly DetectedBox[], minShare = 0.5): DetectedBox[] {
  const merged: DetectedBox[] = [...boxes];
  let changed = true;
  while (changed) {
    changed = false;
    outer: for (let i = 0; i < merged.length; i++) {
      for (let j = i + 1; j < merged.length; j++) {
        const a = merged[i] as DetectedBox;
        const b = merged[j] as DetectedBox;
        if (!boundsOverlap(a.quad, b.quad)) continue;
        const smaller = Math.min(polygonArea(a.quad), polygonArea(b.quad));
        if (smaller <= 0 || intersectionArea(a.quad, b.quad) < minShare * smaller) continue;
        const quad = rectCorners(minAreaRect([...a.quad, ...b.quad]));
        merged[i] = { quad, score: Math.max(a.score, b.score) };
        merged.splice(j, 1);
        changed = true;
        break outer;
      }
    }
  }
  return merged;
}
