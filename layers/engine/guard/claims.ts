import type { ColourFamily } from '../record/schema.ts';

/**
 * Claim extraction for the consistency guard: plain word rules over the generated text, no model.
 * Each rule is written to miss rather than to invent a claim (a false "contradicted" costs trust).
 */

/** Colour words and the palette family each claims. Modifiers (light, dark) are ignored. */
export const COLOUR_WORDS: Readonly<Record<string, ColourFamily>> = {
  red: 'red',
  crimson: 'red',
  scarlet: 'red',
  maroon: 'red',
  orange: 'orange',
  yellow: 'yellow',
  golden: 'yellow',
  green: 'green',
  olive: 'green',
  blue: 'blue',
  navy: 'blue',
  turquoise: 'blue',
  teal: 'blue',
  purple: 'purple',
  violet: 'purple',
  lilac: 'purple',
  pink: 'pink',
  magenta: 'pink',
  brown: 'brown',
  tan: 'brown',
  beige: 'brown',
  black: 'black',
  white: 'white',
  gray: 'gray',
  grey: 'gray',
  silver: 'gray',
};

/**
 * Phrases where a colour word names no colour in the picture ("black and white photo" is a
 * style, "orange juice" a fruit, "red carpet" an idiom...). Checked on the words around it.
 */
const NOT_A_COLOUR = [
  /\bblack and white\b/,
  /\bblack-and-white\b/,
  /\bwhite ?board\b/,
  /\borange (juice|tree|slice|peel)s?\b/,
  /\boranges\b/,
  /\bred carpet\b/,
  /\bwhite house\b/,
  /\bgreen ?house\b/,
];

export interface ColourClaim {
  readonly word: string;
  readonly family: ColourFamily;
  /** The sentence fragment the word came from, for the check's `claim`. */
  readonly phrase: string;
}

/** Up to three words each side: enough for "a bright red car" without the whole sentence. */
function around(words: readonly string[], index: number): string {
  return words.slice(Math.max(0, index - 2), index + 3).join(' ');
}

export function colourClaims(text: string): ColourClaim[] {
  let lower = text.toLowerCase();
  for (const pattern of NOT_A_COLOUR) lower = lower.replace(new RegExp(pattern, 'g'), ' ');
  const words = lower.split(/[^a-z'-]+/).filter(Boolean);
  const claims: ColourClaim[] = [];
  const seen = new Set<ColourFamily>();
  words.forEach((raw, index) => {
    // "reddish", "blue-ish", "greyish" claim the colour too.
    const word = raw.replace(/-?ish$/, '').replace(/(?<=^red)d$/, '');
    const family = COLOUR_WORDS[word] ?? COLOUR_WORDS[`${word}e`];
    if (!family || seen.has(family)) return;
    seen.add(family);
    claims.push({ word, family, phrase: around(words, index) });
  });
  return claims;
}

export interface TextClaim {
  /** The text the generated sentence says is written in the image. */
  readonly quoted: string;
  readonly phrase: string;
}

/** "a sign that says STOP", "the text reads Open", "with the words Hello World", "labeled Exit". */
const SAYS =
  /\b(?:says|saying|reads|reading|read|written|labell?ed|titled|the words?|the text|spells?(?: out)?)\s*[:,-]?\s*(?:"([^"]+)"|“([^”]+)”|'([^']+)'|‘([^’]+)’|([A-Z0-9][\w!?&-]*(?:\s+[A-Z0-9][\w!?&-]*){0,5}))/g;
/** Any quoted run of 1-60 characters ("quotes" in the caption), straight or curly. */
const QUOTED = /"([^"]{1,60})"|“([^”]{1,60})”/g;

/**
 * Text the caption claims is in the image: quoted text, and text after "says/reads/written/the
 * words". Unquoted text after such a verb is only taken while it is capitalised (a caption's
 * "says hello" is ambiguous, "says STOP" or "says Open Late" is not).
 */
export function textClaims(text: string): TextClaim[] {
  const claims = new Map<string, TextClaim>();
  const add = (quoted: string | undefined, phrase: string) => {
    const value = quoted?.trim().replace(/[.,;:]+$/, '');
    if (!value) return;
    const key = value.toLowerCase();
    if (!claims.has(key)) claims.set(key, { quoted: value, phrase: phrase.trim() });
  };
  for (const match of text.matchAll(SAYS)) {
    add(
      match.slice(1).find((group) => group !== undefined),
      match[0],
    );
  }
  for (const match of text.matchAll(QUOTED)) add(match[1] ?? match[2], match[0]);
  return [...claims.values()];
}

/**
 * Object nouns the guard checks against detector labels: COCO's 80 classes (what detectors are
 * trained to find, so an absence means something), singular → itself, plus common synonyms.
 */
const OBJECT_NOUNS: Readonly<Record<string, string>> = buildNouns({
  person: [
    'person',
    'people',
    'man',
    'men',
    'woman',
    'women',
    'child',
    'children',
    'boy',
    'girl',
    'kid',
    'kids',
  ],
  bicycle: ['bicycle', 'bike'],
  car: ['car'],
  motorcycle: ['motorcycle', 'motorbike'],
  airplane: ['airplane', 'aeroplane', 'plane'],
  bus: ['bus'],
  train: ['train'],
  truck: ['truck'],
  boat: ['boat'],
  'traffic light': ['traffic light'],
  'stop sign': ['stop sign'],
  bench: ['bench'],
  bird: ['bird'],
  cat: ['cat', 'kitten'],
  dog: ['dog', 'puppy'],
  horse: ['horse'],
  sheep: ['sheep'],
  cow: ['cow'],
  elephant: ['elephant'],
  bear: ['bear'],
  zebra: ['zebra'],
  giraffe: ['giraffe'],
  backpack: ['backpack'],
  umbrella: ['umbrella'],
  handbag: ['handbag'],
  suitcase: ['suitcase'],
  frisbee: ['frisbee'],
  kite: ['kite'],
  skateboard: ['skateboard'],
  surfboard: ['surfboard'],
  bottle: ['bottle'],
  cup: ['cup', 'mug'],
  banana: ['banana'],
  apple: ['apple'],
  pizza: ['pizza'],
  cake: ['cake'],
  chair: ['chair'],
  couch: ['couch', 'sofa'],
  bed: ['bed'],
  laptop: ['laptop'],
  keyboard: ['keyboard'],
  book: ['book'],
  clock: ['clock'],
  vase: ['vase'],
});

function buildNouns(groups: Record<string, string[]>): Record<string, string> {
  const nouns: Record<string, string> = {};
  for (const [label, words] of Object.entries(groups)) {
    for (const word of words) {
      nouns[word] = label;
      if (!/(s|men|ren|people|sheep)$/.test(word)) nouns[pluralOf(word)] = label;
    }
  }
  return nouns;
}

function pluralOf(word: string): string {
  if (/(s|sh|ch|x)$/.test(word)) return `${word}es`;
  if (/[^aeiou]y$/.test(word)) return `${word.slice(0, -1)}ies`;
  return `${word}s`;
}

/** The label a detector label or noun counts as ("puppies" → dog, "Man" → person), if known. */
export function canonicalObject(word: string): string | undefined {
  return OBJECT_NOUNS[word.toLowerCase().trim()];
}

const COUNT_WORDS: Readonly<Record<string, number>> = {
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  pair: 2,
};

export interface ObjectClaim {
  /** Canonical label (COCO class). */
  readonly label: string;
  readonly noun: string;
  /** A stated count ("two dogs", "3 cars"); absent for "a dog", "some dogs". */
  readonly count?: number;
  readonly phrase: string;
}

export function objectClaims(text: string): ObjectClaim[] {
  const words = text
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  const claims: ObjectClaim[] = [];
  const counted = new Set<string>();
  for (let i = 0; i < words.length; i++) {
    const two = i + 1 < words.length ? `${words[i]} ${words[i + 1]}` : undefined;
    const noun = two && OBJECT_NOUNS[two] ? two : (words[i] as string);
    const label = OBJECT_NOUNS[noun];
    if (!label) continue;
    // "a pair of shoes": the count word may sit two words back.
    const before = words[i - 1] ?? '';
    const before2 = words[i - 2] ?? '';
    const countWord = /^\d+$/.test(before) || COUNT_WORDS[before] ? before : before === 'of' ? before2 : '';
    const count = /^\d+$/.test(countWord) ? Number(countWord) : COUNT_WORDS[countWord];
    const phrase = words.slice(Math.max(0, i - 2), i + (noun === two ? 2 : 1)).join(' ');
    if (count !== undefined && !counted.has(label)) {
      counted.add(label);
      claims.push({ label, noun, count, phrase });
    } else if (!claims.some((c) => c.label === label)) {
      claims.push({ label, noun, phrase });
    }
    if (noun === two) i += 1;
  }
  return claims;
}
