import type { Point, Quad } from './geometry.ts';

/** How the text runs in the image; decided from the detected boxes and the angle classifier. */
export type TextOrientation = 'upright' | 'rotated-90' | 'rotated-180' | 'rotated-270';

export interface Piece {
  readonly quad: Quad;
  readonly text: string;
  readonly confidence: number;
}

export interface OrderedLine {
  readonly text: string;
  readonly confidence: number;
  /** Axis-aligned bounds in source pixels. */
  readonly left: number;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
}

interface Framed {
  readonly piece: Piece;
  // Bounds in the upright frame, where text runs left to right and lines go down.
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

/** Map a source point into the frame in which the text reads upright. */
function toUpright(p: Point, orientation: TextOrientation, width: number, height: number): Point {
  switch (orientation) {
    case 'upright':
      return p;
    // Content turned 90° clockwise: the first line is the rightmost column, read downwards.
    case 'rotated-90':
      return { x: p.y, y: width - p.x };
    case 'rotated-180':
      return { x: width - p.x, y: height - p.y };
    // Content turned 90° counter-clockwise: the first line is the leftmost column, read upwards.
    case 'rotated-270':
      return { x: height - p.y, y: p.x };
  }
}

/** The middle value (the upper one of an even count); 0 for none. */
export const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : (sorted[sorted.length >> 1] as number);
};

/** Columns of prose have long lines on both sides of the gutter; a receipt's prices do not. */
const COLUMN_MIN_LINE_HEIGHTS = 8;
/** The narrowest gutter, in line heights, between two columns. */
const GUTTER_LINE_HEIGHTS = 0.5;

/**
 * Split at a vertical gutter when the pieces on each side read as a column of prose: no piece
 * crosses the gutter, each side holds at least two pieces and its median piece is at least
 * COLUMN_MIN_LINE_HEIGHTS line heights long. A table's short cells (a receipt's prices, a form's
 * values) fail the length test, so their rows stay rows.
 */
function splitColumns(items: readonly Framed[]): [Framed[], Framed[]] | undefined {
  const lineHeight = median(items.map((i) => i.y1 - i.y0));
  const byX = [...items].sort((a, b) => a.x0 - b.x0);
  const gaps: { at: number; width: number }[] = [];
  let reach = (byX[0] as Framed).x1;
  for (const item of byX.slice(1)) {
    if (item.x0 - reach >= GUTTER_LINE_HEIGHTS * lineHeight) gaps.push({ at: reach, width: item.x0 - reach });
    reach = Math.max(reach, item.x1);
  }
  const proseLike = (side: readonly Framed[]) =>
    side.length >= 2 && median(side.map((i) => i.x1 - i.x0)) >= COLUMN_MIN_LINE_HEIGHTS * lineHeight;
  for (const gap of gaps.sort((a, b) => b.width - a.width)) {
    const left = items.filter((i) => i.x1 <= gap.at);
    const right = items.filter((i) => i.x1 > gap.at);
    if (proseLike(left) && proseLike(right)) return [left, right];
  }
  return undefined;
}

/** The pieces above the first horizontal gap that spans the whole group, and the rest. */
function splitTopBand(items: readonly Framed[]): [Framed[], Framed[]] {
  const byY = [...items].sort((a, b) => a.y0 - b.y0);
  let reach = (byY[0] as Framed).y1;
  for (let i = 1; i < byY.length; i++) {
    const item = byY[i] as Framed;
    if (item.y0 > reach) return [byY.slice(0, i), byY.slice(i)];
    reach = Math.max(reach, item.y1);
  }
  return [byY, []];
}

/**
 * Blocks in reading order (a recursive XY cut): columns left to right, each read to its end before
 * the next; within a column, bands separated by a horizontal gap top to bottom. A heading that
 * spans two columns is a band of its own above them.
 */
function readingBlocks(items: readonly Framed[]): Framed[][] {
  if (items.length < 2) return [[...items]];
  const columns = splitColumns(items);
  if (columns) return columns.flatMap(readingBlocks);
  const [top, rest] = splitTopBand(items);
  if (rest.length === 0) return [top];
  return [...readingBlocks(top), ...readingBlocks(rest)];
}

/**
 * Reading order: blocks from readingBlocks; inside a block, PaddleOCR's sorted_boxes (top to
 * bottom, then left to right when tops are close), then pieces on the same line joined with a
 * space when the gap between them is small. `lineGap` is the largest gap, in line heights, still
 * treated as one line (a wider gap is a separate field and stays a separate line).
 */
export function orderLines(
  pieces: readonly Piece[],
  orientation: TextOrientation,
  width: number,
  height: number,
  lineGap = 1.5,
): OrderedLine[] {
  const framed: Framed[] = pieces.map((piece) => {
    const pts = piece.quad.map((p) => toUpright(p, orientation, width, height));
    const xs = pts.map((p) => p.x);
    const ys = pts.map((p) => p.y);
    return { piece, x0: Math.min(...xs), y0: Math.min(...ys), x1: Math.max(...xs), y1: Math.max(...ys) };
  });
  return readingBlocks(framed).flatMap((block) => linesOf(block, lineGap));
}

/** Pieces of one block as lines, top to bottom. */
function linesOf(block: readonly Framed[], lineGap: number): OrderedLine[] {
  const framed = [...block].sort((a, b) => a.y0 - b.y0 || a.x0 - b.x0);

  // Group into lines: a piece joins the current line when it overlaps it vertically by half the
  // smaller height.
  const lines: Framed[][] = [];
  for (const item of framed) {
    const line = lines.find((candidate) => {
      const top = Math.min(...candidate.map((c) => c.y0));
      const bottom = Math.max(...candidate.map((c) => c.y1));
      const overlap = Math.min(bottom, item.y1) - Math.max(top, item.y0);
      const smaller = Math.min(bottom - top, item.y1 - item.y0);
      return smaller > 0 && overlap >= smaller / 2;
    });
    if (line) line.push(item);
    else lines.push([item]);
  }

  const ordered: OrderedLine[] = [];
  for (const line of lines) {
    line.sort((a, b) => a.x0 - b.x0);
    // Split a line where the horizontal gap exceeds lineGap × line height.
    let run: Framed[] = [];
    const flush = () => {
      if (run.length === 0) return;
      const chars = run.reduce((n, r) => n + Math.max(1, [...r.piece.text].length), 0);
      const confidence =
        run.reduce((s, r) => s + r.piece.confidence * Math.max(1, [...r.piece.text].length), 0) / chars;
      const src = run.flatMap((r) => r.piece.quad);
      ordered.push({
        text: run.map((r) => r.piece.text).join(' '),
        confidence,
        left: Math.min(...src.map((p) => p.x)),
        top: Math.min(...src.map((p) => p.y)),
        right: Math.max(...src.map((p) => p.x)),
        bottom: Math.max(...src.map((p) => p.y)),
      });
      run = [];
    };
    for (const item of line) {
      const last = run.at(-1);
      if (last) {
        const lineHeight = Math.max(last.y1 - last.y0, item.y1 - item.y0);
        if (item.x0 - last.x1 > lineGap * lineHeight) flush();
      }
      run.push(item);
    }
    flush();
  }
  // Lines were created in order of their first (top-most) piece; keep that, top to bottom.
  return ordered;
}
