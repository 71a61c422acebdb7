import type { ColourFamily } from '../record/schema.ts';
import { colourClaimWords, guardWords } from '../words.ts';

/**
 * Claim extraction for the consistency guard: plain word rules over the generated text, no model.
 * Each rule is written to miss rather than to invent a claim (a false "contradicted" costs trust).
 */

/**
 * Colour words and the palette family each claims. Modifiers (light, dark) are ignored. A Map, not
 * an object: a word of the caption such as "constructor" must not find Object's own properties.
 */
export const COLOUR_WORDS: ReadonlyMap<string, ColourFamily> = new Map(
  Object.entries({
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
  } satisfies Record<string, ColourFamily>),
);

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
  const words = colourClaimWords(lower);
  const claims: ColourClaim[] = [];
  const seen = new Set<ColourFamily>();
  words.forEach((raw, index) => {
    // "reddish", "blue-ish", "greyish" claim the colour too.
    const word = raw.replace(/-?ish$/, '').replace(/(?<=^red)d$/, '');
    const family = COLOUR_WORDS.get(word) ?? COLOUR_WORDS.get(`${word}e`);
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

interface NounEntry {
  /** Canonical label (COCO class). */
  readonly label: string;
  /** The singular ("dogs" → dog, "men" → man), so "two dogs ... a dog" is one noun, not three dogs. */
  readonly base: string;
  /** The class's own word ("person", "people", "dog"), which may name a whole group of the others. */
  readonly generic: boolean;
}

/** Listed words that are plurals already, with their singular: no further plural is made of them. */
const ALREADY_PLURAL: ReadonlyMap<string, string> = new Map([
  ['people', 'person'],
  ['men', 'man'],
  ['women', 'woman'],
  ['children', 'child'],
  ['sheep', 'sheep'],
]);

function buildNouns(groups: Record<string, string[]>): Map<string, NounEntry> {
  const nouns = new Map<string, NounEntry>();
  for (const [label, words] of Object.entries(groups)) {
    for (const word of words) {
      const base = ALREADY_PLURAL.get(word) ?? word;
      const entry = { label, base, generic: base === label };
      nouns.set(word, entry);
      if (!ALREADY_PLURAL.has(word)) nouns.set(pluralOf(word), entry);
    }
  }
  return nouns;
}

function pluralOf(word: string): string {
  if (/(s|sh|ch|x)$/.test(word)) return `${word}es`;
  if (/[^aeiou]y$/.test(word)) return `${word.slice(0, -1)}ies`;
  return `${word}s`;
}

/**
 * Object nouns the guard checks against detector labels: COCO's classes (what detectors are
 * trained to find, so an absence means something), singular → itself, plus common synonyms.
 * Classes of two words ("teddy bear", "hot dog") are looked up before their second word alone,
 * so a teddy bear never claims a bear.
 */
const OBJECT_NOUNS: ReadonlyMap<string, NounEntry> = buildNouns({
  person: ['person', 'people', 'man', 'men', 'woman', 'women', 'child', 'children', 'boy', 'girl', 'kid'],
  bicycle: ['bicycle', 'bike'],
  car: ['car'],
  motorcycle: ['motorcycle', 'motorbike'],
  airplane: ['airplane', 'aeroplane', 'plane'],
  bus: ['bus'],
  train: ['train'],
  truck: ['truck'],
  boat: ['boat'],
  'traffic light': ['traffic light'],
  'fire hydrant': ['fire hydrant'],
  'stop sign': ['stop sign'],
  'parking meter': ['parking meter'],
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
  'sports ball': ['sports ball'],
  kite: ['kite'],
  'baseball bat': ['baseball bat'],
  'baseball glove': ['baseball glove'],
  skateboard: ['skateboard'],
  surfboard: ['surfboard'],
  'tennis racket': ['tennis racket', 'tennis racquet'],
  bottle: ['bottle'],
  'wine glass': ['wine glass'],
  cup: ['cup', 'mug'],
  banana: ['banana'],
  apple: ['apple'],
  'hot dog': ['hot dog', 'hotdog'],
  pizza: ['pizza'],
  cake: ['cake'],
  chair: ['chair'],
  couch: ['couch', 'sofa'],
  'potted plant': ['potted plant'],
  bed: ['bed'],
  'dining table': ['dining table'],
  laptop: ['laptop'],
  keyboard: ['keyboard'],
  'cell phone': ['cell phone', 'cellphone', 'mobile phone'],
  book: ['book'],
  clock: ['clock'],
  vase: ['vase'],
  'hair drier': ['hair drier', 'hair dryer'],
  'teddy bear': ['teddy bear'],
});

/** The label a detector label or noun counts as ("puppies" → dog, "Man" → person), if known. */
export function canonicalObject(word: string): string | undefined {
  return OBJECT_NOUNS.get(word.toLowerCase().trim().replace(/\s+/g, ' '))?.label;
}

const COUNT_WORDS: ReadonlyMap<string, number> = new Map([
  ['one', 1],
  ['two', 2],
  ['three', 3],
  ['four', 4],
  ['five', 5],
  ['six', 6],
  ['seven', 7],
  ['eight', 8],
  ['nine', 9],
  ['ten', 10],
  ['pair', 2],
]);

/**
 * Words after which a noun is denied, not mentioned ("no dogs", "not a cat", "without a bike",
 * "none of the people", "there isn't a car": the apostrophe splits "isn" from "t").
 */
const NEGATIONS = new Set([
  'no',
  'not',
  'without',
  'none',
  'nor',
  'neither',
  'never',
  'isn',
  'aren',
  'wasn',
  'weren',
  'doesn',
  'don',
  'didn',
  'cannot',
]);
/** How many words back a negation reaches: "no dog", "not a dog", "none of the dogs", "no cats or dogs". */
const NEGATION_REACH = 3;

export interface ObjectClaim {
  /** Canonical label (COCO class). */
  readonly label: string;
  readonly noun: string;
  /**
   * The stated count ("two dogs", "3 cars"); absent for "a dog", "some dogs". When several nouns of
   * the class carry a count ("two men and a woman"), their sum, an "a" counting one.
   */
  readonly count?: number;
  /**
   * Set when the class's own word is counted next to other nouns: its count, right when it names
   * the whole group ("three people: two men and a woman" is 3 people, not 6).
   */
  readonly groupCount?: number;
  /** Set when the class is also named without a count ("two men and the woman"): more boxes prove nothing. */
  readonly openEnded?: boolean;
  readonly phrase: string;
}

interface Mention {
  readonly entry: NounEntry;
  readonly noun: string;
  /** A number word or digits before the noun. */
  readonly stated?: number;
  /** "a"/"an" before the noun: one, but only counted next to a stated count of the same class. */
  readonly single: boolean;
  readonly phrase: string;
}

/** Lower-case words, each with the number of the sentence it is in (a negation ends with it). */
function sentenceWords(text: string): Array<{ word: string; sentence: number }> {
  // A reply's leading "No," answers the question; it denies nothing that follows ("No, a dog").
  const body = text.toLowerCase().replace(/^\s*no\s*[,!]/, ' ');
  return body
    .split(/[.!?;]+(?=\s|$)/)
    .flatMap((sentence, index) => guardWords(sentence).map((word) => ({ word, sentence: index })));
}

function mentionsOf(text: string): Mention[] {
  const tokens = sentenceWords(text);
  const words = tokens.map((token) => token.word);
  const mentions: Mention[] = [];
  for (let i = 0; i < words.length; i++) {
    const two = i + 1 < words.length ? `${words[i]} ${words[i + 1]}` : undefined;
    const noun = two && OBJECT_NOUNS.has(two) ? two : (words[i] as string);
    const entry = OBJECT_NOUNS.get(noun);
    if (noun === two) i += 1;
    if (!entry) continue;
    const start = noun === two ? i - 1 : i;
    const sentence = tokens[start]?.sentence;
    const denied = tokens
      .slice(Math.max(0, start - NEGATION_REACH), start)
      .some((token) => token.sentence === sentence && NEGATIONS.has(token.word));
    if (denied) continue;
    // "a pair of shoes": the count word may sit two words back.
    const before = words[start - 1] ?? '';
    const countWord = before === 'of' ? (words[start - 2] ?? '') : before;
    const stated = /^\d+$/.test(countWord) ? Number(countWord) : COUNT_WORDS.get(countWord);
    const phrase = words.slice(Math.max(0, start - 2), i + 1).join(' ');
    mentions.push({
      entry,
      noun,
      ...(stated === undefined ? {} : { stated }),
      single: before === 'a' || before === 'an',
      phrase,
    });
  }
  return mentions;
}

/**
 * One claim per class mentioned, in the order of first mention: a count claim when some mention of
 * it states a count, else an object claim. Denied mentions ("there is no dog") claim nothing.
 */
export function objectClaims(text: string): ObjectClaim[] {
  const byLabel = new Map<string, Mention[]>();
  for (const mention of mentionsOf(text)) {
    const same = byLabel.get(mention.entry.label);
    if (same) same.push(mention);
    else byLabel.set(mention.entry.label, [mention]);
  }
  return [...byLabel].map(([label, mentions]) => {
    const first = mentions[0] as Mention;
    const stated = mentions.filter((m) => m.stated !== undefined);
    if (stated.length === 0) return { label, noun: first.noun, phrase: first.phrase };
    // Per listed noun the largest count it gets ("two dogs ... a dog" is still two dogs).
    const perNoun = new Map<string, { count: number; phrase: string; generic: boolean }>();
    const uncounted = new Set<string>();
    for (const mention of mentions) {
      const count = mention.stated ?? (mention.single ? 1 : undefined);
      if (count === undefined) {
        uncounted.add(mention.entry.base);
        continue;
      }
      const known = perNoun.get(mention.entry.base);
      if (!known || count > known.count)
        perNoun.set(mention.entry.base, { count, phrase: mention.phrase, generic: mention.entry.generic });
    }
    const counts = [...perNoun.values()];
    const count = counts.reduce((sum, c) => sum + c.count, 0);
    const group = counts.length > 1 ? counts.find((c) => c.generic) : undefined;
    const openEnded = [...uncounted].some((base) => !perNoun.has(base));
    return {
      label,
      noun: (stated[0] as Mention).noun,
      count,
      ...(group ? { groupCount: group.count } : {}),
      ...(openEnded ? { openEnded } : {}),
      phrase: counts.map((c) => c.phrase).join(' + '),
    };
  });
}
