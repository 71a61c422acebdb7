/** Plane geometry for DB post-processing: components, hulls, minimum-area rectangles, homographies. */

export interface Point {
  readonly x: number;
  readonly y: number;
}

/** Four corners: top-left, top-right, bottom-right, bottom-left (clockwise in image coordinates). */
export type Quad = readonly [Point, Point, Point, Point];

/**
 * 8-connected components of `mask` (non-zero = foreground). For each component the callback gets
 * the leftmost and rightmost pixel of every row it covers: their convex hull is the hull of the
 * whole component, which is all the minimum-area rectangle needs.
 * Stops after `maxComponents` (PaddleOCR's max_candidates).
 */
export function forEachComponent(
  mask: Uint8Array,
  width: number,
  height: number,
  maxComponents: number,
  visit: (rowExtremes: Point[], pixelCount: number) => void,
): void {
  const seen = new Uint8Array(mask.length);
  const stack = new Int32Array(mask.length);
  const rowMin = new Int32Array(height);
  const rowMax = new Int32Array(height).fill(-1);
  rowMin.fill(width);
  let found = 0;
  for (let start = 0; start < mask.length && found < maxComponents; start++) {
    if (!mask[start] || seen[start]) continue;
    found++;
    let top = height;
    let bottom = -1;
    let count = 0;
    let sp = 0;
    stack[sp++] = start;
    seen[start] = 1;
    while (sp > 0) {
      const index = stack[--sp] as number;
      const y = (index / width) | 0;
      const x = index - y * width;
      count++;
      if (y < top) top = y;
      if (y > bottom) bottom = y;
      if (x < (rowMin[y] as number)) rowMin[y] = x;
      if (x > (rowMax[y] as number)) rowMax[y] = x;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const next = ny * width + nx;
          if (mask[next] && !seen[next]) {
            seen[next] = 1;
            stack[sp++] = next;
          }
        }
      }
    }
    const extremes: Point[] = [];
    for (let r = top; r <= bottom; r++) {
      const min = rowMin[r] as number;
      const max = rowMax[r] as number;
      rowMin[r] = width;
      rowMax[r] = -1;
      if (max < 0) continue;
      extremes.push({ x: min, y: r });
      if (max !== min) extremes.push({ x: max, y: r });
    }
    visit(extremes, count);
  }
}

const cross = (o: Point, a: Point, b: Point) => (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);

/** Andrew's monotone chain; collinear points dropped. */
export function convexHull(points: readonly Point[]): Point[] {
  const sorted = [...points].sort((a, b) => a.x - b.x || a.y - b.y);
  if (sorted.length <= 2) return sorted;
  const lower: Point[] = [];
  for (const p of sorted) {
    while (lower.length >= 2 && cross(lower.at(-2) as Point, lower.at(-1) as Point, p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = sorted.length - 1; i >= 0; i--) {
    const p = sorted[i] as Point;
    while (upper.length >= 2 && cross(upper.at(-2) as Point, upper.at(-1) as Point, p) <= 0) upper.pop();
    upper.push(p);
  }
  lower.pop();
  upper.pop();
  return lower.concat(upper);
}

export interface RotatedRect {
  readonly center: Point;
  /** Unit vector along the first side; the second side is perpendicular. */
  readonly axis: Point;
  readonly width: number;
  readonly height: number;
}

/** Minimum-area enclosing rectangle (rotating calipers over the hull edges), like cv2.minAreaRect. */
export function minAreaRect(points: readonly Point[]): RotatedRect {
  const hull = convexHull(points);
  if (hull.length === 0) return { center: { x: 0, y: 0 }, axis: { x: 1, y: 0 }, width: 0, height: 0 };
  if (hull.length === 1) return { center: hull[0] as Point, axis: { x: 1, y: 0 }, width: 0, height: 0 };
  let best: RotatedRect | undefined;
  let bestArea = Number.POSITIVE_INFINITY;
  for (let i = 0; i < hull.length; i++) {
    const a = hull[i] as Point;
    const b = hull[(i + 1) % hull.length] as Point;
    const length = Math.hypot(b.x - a.x, b.y - a.y);
    if (length === 0) continue;
    const ux = (b.x - a.x) / length;
    const uy = (b.y - a.y) / length;
    let minU = Number.POSITIVE_INFINITY;
    let maxU = Number.NEGATIVE_INFINITY;
    let minV = Number.POSITIVE_INFINITY;
    let maxV = Number.NEGATIVE_INFINITY;
    for (const p of hull) {
      const u = p.x * ux + p.y * uy;
      const v = -p.x * uy + p.y * ux;
      if (u < minU) minU = u;
      if (u > maxU) maxU = u;
      if (v < minV) minV = v;
      if (v > maxV) maxV = v;
    }
    const area = (maxU - minU) * (maxV - minV);
    if (area < bestArea) {
      bestArea = area;
      const cu = (minU + maxU) / 2;
      const cv = (minV + maxV) / 2;
      best = {
        center: { x: cu * ux - cv * uy, y: cu * uy + cv * ux },
        axis: { x: ux, y: uy },
        width: maxU - minU,
        height: maxV - minV,
      };
    }
  }
  return best as RotatedRect;
}

/** The rectangle grown by `distance` on every side (what a rounded polygon offset's min-area box is). */
export function expandRect(rect: RotatedRect, distance: number): RotatedRect {
  return { ...rect, width: rect.width + 2 * distance, height: rect.height + 2 * distance };
}

/**
 * Corners ordered as PaddleOCR's get_mini_boxes: sorted by x, the left pair split by y into
 * top-left / bottom-left and the right pair into top-right / bottom-right.
 */
export function rectCorners(rect: RotatedRect): Quad {
  const { center, axis } = rect;
  const hw = rect.width / 2;
  const hh = rect.height / 2;
  const ux = axis.x;
  const uy = axis.y;
  const corners = [
    { x: center.x - ux * hw + uy * hh, y: center.y - uy * hw - ux * hh },
    { x: center.x + ux * hw + uy * hh, y: center.y + uy * hw - ux * hh },
    { x: center.x + ux * hw - uy * hh, y: center.y + uy * hw + ux * hh },
    { x: center.x - ux * hw - uy * hh, y: center.y - uy * hw + ux * hh },
  ].sort((a, b) => a.x - b.x);
  const [l1, l2, r1, r2] = corners as [Point, Point, Point, Point];
  const [topLeft, bottomLeft] = l1.y <= l2.y ? [l1, l2] : [l2, l1];
  const [topRight, bottomRight] = r1.y <= r2.y ? [r1, r2] : [r2, r1];
  return [topLeft, topRight, bottomRight, bottomLeft];
}

/** Whether p lies inside (or on) the convex quad. */
export function insideQuad(quad: Quad, p: Point): boolean {
  let sign = 0;
  for (let i = 0; i < 4; i++) {
    const c = cross(quad[i] as Point, quad[(i + 1) % 4] as Point, p);
    if (c === 0) continue;
    const s = c > 0 ? 1 : -1;
    if (sign === 0) sign = s;
    else if (s !== sign) return false;
  }
  return true;
}

export const distance = (a: Point, b: Point) => Math.hypot(a.x - b.x, a.y - b.y);

/**
 * Homography taking the rectangle (0,0)-(w,0)-(w,h)-(0,h) onto `quad` (the inverse map a
 * perspective crop samples with). Returns the 3×3 matrix row-major with h33 = 1.
 */
export function rectToQuadHomography(width: number, height: number, quad: Quad): number[] {
  const src: Point[] = [
    { x: 0, y: 0 },
    { x: width, y: 0 },
    { x: width, y: height },
    { x: 0, y: height },
  ];
  // Solve the 8×8 linear system A·h = b by Gaussian elimination.
  const a: number[][] = [];
  for (let i = 0; i < 4; i++) {
    const s = src[i] as Point;
    const d = quad[i] as Point;
    a.push([s.x, s.y, 1, 0, 0, 0, -s.x * d.x, -s.y * d.x, d.x]);
    a.push([0, 0, 0, s.x, s.y, 1, -s.x * d.y, -s.y * d.y, d.y]);
  }
  for (let col = 0; col < 8; col++) {
    let pivot = col;
    for (let r = col + 1; r < 8; r++)
      if (Math.abs((a[r] as number[])[col] as number) > Math.abs((a[pivot] as number[])[col] as number))
        pivot = r;
    [a[col], a[pivot]] = [a[pivot] as number[], a[col] as number[]];
    const row = a[col] as number[];
    const p = row[col] as number;
    if (Math.abs(p) < 1e-12) return [1, 0, (quad[0] as Point).x, 0, 1, (quad[0] as Point).y, 0, 0, 1];
    for (let c = col; c < 9; c++) row[c] = (row[c] as number) / p;
    for (let r = 0; r < 8; r++) {
      if (r === col) continue;
      const other = a[r] as number[];
      const f = other[col] as number;
      if (f === 0) continue;
      for (let c = col; c < 9; c++) other[c] = (other[c] as number) - f * (row[c] as number);
    }
  }
  return [...a.map((row) => row[8] as number), 1];
}

/** Area of a simple polygon (shoelace formula), whatever its winding. */
export function polygonArea(points: readonly Point[]): number {
  let twice = 0;
  for (let i = 0; i < points.length; i++) {
    const a = points[i] as Point;
    const b = points[(i + 1) % points.length] as Point;
    twice += a.x * b.y - b.x * a.y;
  }
  return Math.abs(twice) / 2;
}

/** Area shared by two convex quads (Sutherland–Hodgman: clip one by each edge of the other). */
export function intersectionArea(a: Quad, b: Quad): number {
  // Clip against b's edges with b taken counter-clockwise in the maths sense (area sign > 0).
  const clockwise = cross(b[0], b[1], b[2]) < 0;
  const edges = clockwise ? [...b].reverse() : [...b];
  let polygon: Point[] = [...a];
  for (let i = 0; i < edges.length && polygon.length > 0; i++) {
    const from = edges[i] as Point;
    const to = edges[(i + 1) % edges.length] as Point;
    const inside = (p: Point) => cross(from, to, p) >= 0;
    const input = polygon;
    polygon = [];
    for (let j = 0; j < input.length; j++) {
      const current = input[j] as Point;
      const previous = input[(j + input.length - 1) % input.length] as Point;
      if (inside(current) !== inside(previous)) {
        // Where the segment previous→current crosses the clipping line.
        const d1 = cross(from, to, previous);
        const d2 = cross(from, to, current);
        const t = d1 / (d1 - d2);
        polygon.push({
          x: previous.x + t * (current.x - previous.x),
          y: previous.y + t * (current.y - previous.y),
        });
      }
      if (inside(current)) polygon.push(current);
    }
  }
  return polygon.length < 3 ? 0 : polygonArea(polygon);
}
