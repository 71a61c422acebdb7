import { colornames } from 'color-name-list/bestof';
import type { ColourFamily } from '../record/schema.ts';
import { type Oklab, oklch, srgbToOklab } from './oklab.ts';

/**
 * Colour names from the `color-name-list` package's curated "bestof" list (about 4,600 names with
 * hand-picked hex values; the full list has 30,000, many of them jokes). Nearest name by Euclidean
 * distance in Oklab; the list is converted once, on first use.
 */
interface NameTable {
  readonly names: readonly string[];
  readonly lab: Float64Array;
}

let table: NameTable | undefined;

function nameTable(): NameTable {
  if (table) return table;
  const lab = new Float64Array(colornames.length * 3);
  colornames.forEach(({ hex }, i) => {
    const value = Number.parseInt(hex.slice(1), 16);
    const { l, a, b } = srgbToOklab((value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff);
    lab[i * 3] = l;
    lab[i * 3 + 1] = a;
    lab[i * 3 + 2] = b;
  });
  table = { names: colornames.map(({ name }) => name), lab };
  return table;
}

export function nearestColourName({ l, a, b }: Oklab): string {
  const { names, lab } = nameTable();
  let best = 0;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (let i = 0; i < names.length; i++) {
    const dl = (lab[i * 3] as number) - l;
    const da = (lab[i * 3 + 1] as number) - a;
    const db = (lab[i * 3 + 2] as number) - b;
    const distance = dl * dl + da * da + db * db;
    if (distance < bestDistance) {
      bestDistance = distance;
      best = i;
    }
  }
  return names[best] as string;
}

/**
 * Basic colour family from lightness (L 0-1), chroma (C) and hue (h, degrees) in OKLCH. Thresholds
 * were set against the CSS named colours (red, maroon, crimson, orange, coral, gold, olive, saddle
 * brown, sienna, rosy brown, teal, navy, indigo, purple, hot pink, pink, silver, slate gray...).
 */
export function colourFamily(colour: Oklab): ColourFamily {
  const { l, c, h } = oklch(colour);
  if (l < 0.22) return 'black';
  if (c < 0.04 || (l > 0.95 && c < 0.06)) {
    if (l < 0.3) return 'black';
    if (l > 0.9) return 'white';
    return 'gray';
  }
  // Warm hues that are dark or greyish read as brown (saddle brown, sienna, chocolate, tan).
  if (h >= 38 && h < 100 && (l < 0.65 || c < 0.08) && l < 0.85) return 'brown';
  // Greyish reds (rosy brown, taupe) too.
  if (h >= 15 && h < 38 && c < 0.08 && l < 0.85) return 'brown';
  if (h >= 340 || h < 10) return l >= 0.5 ? 'pink' : 'red';
  if (h < 38) return l > 0.8 && c < 0.12 ? 'pink' : 'red';
  if (h < 80) return 'orange';
  if (h < 118) return l < 0.65 ? 'green' : 'yellow';
  if (h < 190) return 'green';
  if (h < 290) return 'blue';
  return l > 0.8 ? 'pink' : 'purple';
}
