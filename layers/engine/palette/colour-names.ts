import { type ColourFamily, colourFamilySchema } from '../record/schema.ts';
import { type Oklab, oklch } from './oklab.ts';

/**
 * OKLCH lightness below which a colour of the family is "dark" and above which it is "light";
 * black and white take no modifier, yellow is never "light" (pure yellow is already L 0.97). Set
 * against the CSS named colours: maroon and navy are dark, salmon, sky blue and tan light, pure
 * red, blue, green and #808080 plain.
 */
const MODIFIER_LIGHTNESS: Readonly<Record<ColourFamily, readonly [dark: number, light: number] | undefined>> =
  {
    black: undefined,
    white: undefined,
    gray: [0.48, 0.78],
    red: [0.45, 0.7],
    orange: [0.65, 0.88],
    yellow: [0.8, Number.POSITIVE_INFINITY],
    green: [0.48, 0.78],
    blue: [0.38, 0.72],
    purple: [0.38, 0.72],
    pink: [0.6, 0.9],
    brown: [0.45, 0.75],
  };

/**
 * Every name a colour can get: the basic colour terms people search with (the families) and
 * their light and dark forms. "gray 58% (light gray, dark gray)" reads at a glance; names from a
 * list of thousands ("Coconut Agony" for a white) did not, and could not be searched.
 */
export const COLOUR_NAMES: readonly string[] = Object.freeze(
  colourFamilySchema.options.flatMap((family) => {
    const band = MODIFIER_LIGHTNESS[family];
    if (!band) return [family];
    return [`dark ${family}`, family, ...(Number.isFinite(band[1]) ? [`light ${family}`] : [])];
  }),
);

/** "dark red", "gray", "light blue": the family with a light/dark modifier; it never contradicts the family. */
export function colourName(colour: Oklab): string {
  const family = colourFamily(colour);
  const band = MODIFIER_LIGHTNESS[family];
  if (!band) return family;
  const { l } = oklch(colour);
  if (l < band[0]) return `dark ${family}`;
  if (l > band[1]) return `light ${family}`;
  return family;
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
