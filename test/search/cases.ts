import { validateRecord } from '#engine/record/record.ts';
import type { Colour, ColourFamily, DescriptionRecord, StageState } from '#engine/record/schema.ts';

/**
 * The contract both search engines meet: a corpus of sidecars, and queries with the keys they must
 * return, in order, or the parameter a 400 must name. The local engine runs every case
 * (test/unit/search); the Athena engine asserts its compiled SQL and parameters for the same ones.
 */

export interface CorpusEntry {
  /** The image key, as the local stack indexes it (the sidecar's source.key). */
  readonly key: string;
  /** The upload's original file name (object metadata), when it came through the upload API. */
  readonly originalName?: string;
  readonly record: DescriptionRecord;
}

export interface SearchCase {
  readonly name: string;
  readonly params: Readonly<Record<string, string | readonly string[]>>;
  /** Keys in the order returned (first page), or the parameter the SearchQueryError names. */
  readonly expect: readonly string[] | { readonly error: string };
  /** Matches over all pages, when the case checks it. */
  readonly total?: number;
  /** Runs over these entries instead of CORPUS. */
  readonly corpus?: readonly CorpusEntry[];
}

const provenance = {
  id: 'fixture/model',
  revision: 'r1',
  architecture: 'fixture',
  dtype: 'fp32',
  promptHash: '0',
};

function colour(family: ColourFamily, fraction: number, name: string, hex: string): Colour {
  return { hex, name, family, fraction };
}

interface Entry {
  key: string;
  uploadedAt: string;
  /** The record's createdAt; absent = a record written before it existed. */
  createdAt?: string;
  originalName?: string;
  fast?: StageState;
  detailed?: StageState;
  caption?: string;
  detailedDescription?: string;
  text?: string;
  colours?: Colour[];
  labels?: string[];
  categories?: string[];
  answers?: Record<string, { value?: string | number | boolean; raw: string }>;
}

/** A schema-valid v2 sidecar from the few facts a case needs. */
export function corpusEntry(e: Entry): CorpusEntry {
  const fast = e.fast ?? 'done';
  const detailed = e.detailed ?? (fast === 'failed' ? 'failed' : 'done');
  const record = validateRecord({
    schemaVersion: 2,
    source: { kind: 's3', bucket: 'bucket', key: e.key, size: 1234, contentType: 'image/jpeg' },
    ...(e.createdAt !== undefined ? { createdAt: e.createdAt } : {}),
    status: {
      fast: { state: fast, updatedAt: e.uploadedAt },
      detailed: { state: detailed, updatedAt: e.uploadedAt },
    },
    ...(e.caption !== undefined ? { caption: e.caption } : {}),
    ...(e.detailedDescription !== undefined ? { detailedDescription: e.detailedDescription } : {}),
    ...(e.colours ? { colours: e.colours } : {}),
    ...(e.text !== undefined
      ? {
          text: {
            full: e.text,
            lines: e.text
              .split('\n')
              .filter(Boolean)
              .map((text) => ({ text, confidence: 0.9, box: { x: 0.1, y: 0.1, width: 0.5, height: 0.1 } })),
          },
        }
      : {}),
    ...(e.labels ? { labels: e.labels } : {}),
    ...(e.categories
      ? { categories: e.categories.map((id) => ({ id, score: 0.8, evidence: [`caption: ${id}`] })) }
      : {}),
    ...(e.answers
      ? {
          answers: Object.fromEntries(
            Object.entries(e.answers).map(([id, a]) => [id, { ...a, model: provenance }]),
          ),
        }
      : {}),
    models: {},
    timings: {},
    errors: fast === 'failed' ? { fast: { code: 'CORRUPT_IMAGE', message: 'truncated' } } : {},
  });
  return { key: e.key, record, ...(e.originalName ? { originalName: e.originalName } : {}) };
}

export const KEYS = {
  redSign: 'images/red-sign.png',
  dawn: 'images/sky.jpg',
  dogs: 'images/dogs.jpg',
  boxes: 'images/boxes.jpg',
  cafe: 'images/cafe.jpg',
  holiday: 'images/uploads/0b9c6a52-7f0e-4c8e-9d11-2f3b4a5c6d7e',
  failed: 'images/broken.gif',
  traffic: 'images/traffic.jpg',
} as const;
const K = KEYS;

export const CORPUS: readonly CorpusEntry[] = [
  corpusEntry({
    key: K.redSign,
    uploadedAt: '2026-11-03T10:00:00.000Z',
    caption: 'a red sign with white letters',
    text: 'OPEN\n24 HOURS',
    colours: [colour('red', 0.72, 'Red Ribbon', '#e0102f'), colour('white', 0.28, 'White', '#ffffff')],
    labels: ['sign'],
  }),
  corpusEntry({
    key: K.dawn,
    uploadedAt: '2026-11-02T10:00:00.000Z',
    caption: 'a pink sky over the hills',
    // "Desired Dawn" is a colour NAME: neither "red" nor "dawn" may find this image through it.
    colours: [colour('pink', 0.6, 'Desired Dawn', '#d8d8d8'), colour('blue', 0.4, 'Blue Bell', '#3060c0')],
  }),
  corpusEntry({
    key: K.dogs,
    uploadedAt: '2026-11-01T10:00:00.000Z',
    caption: 'two dogs playing in a park',
    detailedDescription: 'Two brown dogs chase a ball across green grass.',
    // An older record's name (Grass Green) next to a name of today's vocabulary (dark brown).
    colours: [colour('green', 0.5, 'Grass Green', '#3f9b0b'), colour('brown', 0.3, 'dark brown', '#8b4513')],
    labels: ['dog', 'grass'],
    categories: ['animals'],
  }),
  corpusEntry({
    key: K.boxes,
    uploadedAt: '2026-10-30T10:00:00.000Z',
    caption: 'a stack of cardboard boxes',
    colours: [colour('brown', 0.8, 'Cardboard', '#c19a6b')],
    labels: ['box'],
    categories: ['warehouse'],
  }),
  corpusEntry({
    key: K.cafe,
    uploadedAt: '2026-11-06T10:00:00.000Z',
    caption: 'a café on the corner',
    text: 'CAFÉ',
    colours: [colour('white', 0.9, 'White', '#ffffff'), colour('red', 0.03, 'Red', '#ff0000')],
    answers: { isOpen: { value: true, raw: 'yes, it looks open' } },
  }),
  corpusEntry({
    key: K.holiday,
    originalName: 'Holiday Photo.JPG',
    uploadedAt: '2026-11-04T10:00:00.000Z',
    detailed: 'pending',
    caption: 'a beach at sunset',
    colours: [colour('orange', 0.5, 'Sunset Orange', '#fd5e53'), colour('yellow', 0.2, 'Sand', '#c2b280')],
  }),
  corpusEntry({ key: K.failed, uploadedAt: '2026-11-05T10:00:00.000Z', fast: 'failed' }),
  corpusEntry({
    key: K.traffic,
    uploadedAt: '2026-10-28T10:00:00.000Z',
    caption: 'cars waiting at traffic lights',
    text: '',
    colours: [colour('gray', 0.6, 'Concrete', '#8a8a8a'), colour('black', 0.4, 'Black', '#000000')],
    labels: ['car', 'traffic light'],
    categories: ['street-scene'],
  }),
];

/** Every key, newest first: what a search without words or filters lists. */
const BY_DATE = [K.cafe, K.failed, K.holiday, K.redSign, K.dawn, K.dogs, K.boxes, K.traffic];
const none: string[] = [];
const error = (parameter: string) => ({ error: parameter });

/**
 * Words of other scripts, and characters that Unicode's NFKD would mangle: both engines fold them
 * with the one table of text.ts (accents off Latin and Greek letters, ligatures split, ™ a
 * separator), and leave other scripts' letters as written (й is not и, が is not か, Hangul stays
 * syllables).
 */
export const SCRIPTS = {
  russian: 'images/moscow.jpg',
  greek: 'images/athens.jpg',
  korean: 'images/seoul.jpg',
  japanese: 'images/school.jpg',
  brand: 'images/cola.jpg',
  nfd: 'images/cafe-nfd.jpg',
} as const;
const S = SCRIPTS;
const SCRIPTS_CORPUS: readonly CorpusEntry[] = [
  corpusEntry({ key: S.russian, uploadedAt: '2026-11-06T10:00:00.000Z', caption: 'Новый год в Москве' }),
  corpusEntry({
    key: S.greek,
    uploadedAt: '2026-11-05T10:00:00.000Z',
    caption: 'Η Ακρόπολη, Αθήνα',
    text: 'ΟΔΟΣ ΑΘΗΝΑΣ',
  }),
  corpusEntry({ key: S.korean, uploadedAt: '2026-11-04T10:00:00.000Z', caption: '서울의 한국 음식' }),
  corpusEntry({ key: S.japanese, uploadedAt: '2026-11-03T10:00:00.000Z', caption: 'がっこう の まえ' }),
  corpusEntry({
    key: S.brand,
    uploadedAt: '2026-11-02T10:00:00.000Z',
    caption: 'a can of Brand™ cola',
    text: 'ﬁsh ﬂour',
  }),
  // Stored decomposed (NFD): e + U+0301.
  corpusEntry({ key: S.nfd, uploadedAt: '2026-11-01T10:00:00.000Z', caption: 'Cafe\u0301 noir' }),
];
/**
 * The upload date is createdAt, which a re-run keeps; the fast stage's time moves with each re-run
 * and counts only for records written before createdAt existed.
 */
export const DATES = { rerun: 'images/rerun.jpg', older: 'images/older-record.jpg' } as const;
const DATES_CORPUS: readonly CorpusEntry[] = [
  // Uploaded 1 October; its fast stage ran again on 20 November.
  corpusEntry({
    key: DATES.rerun,
    createdAt: '2026-10-01T10:00:00.000Z',
    uploadedAt: '2026-11-20T10:00:00.000Z',
    caption: 'a photo',
  }),
  // A record from before createdAt: its fast stage's time stands in.
  corpusEntry({ key: DATES.older, uploadedAt: '2026-11-10T10:00:00.000Z', caption: 'a photo' }),
];

const scripts = (name: string, q: string, expect: readonly string[]): SearchCase => ({
  name,
  params: { q },
  expect,
  corpus: SCRIPTS_CORPUS,
});

export const SEARCH_CASES: readonly SearchCase[] = [
  // Words, folded.
  { name: 'no query lists everything newest first', params: {}, expect: BY_DATE, total: 8 },
  { name: 'a blank query is no query', params: { q: '   ' }, expect: BY_DATE },
  {
    name: 'open: the sign by its text (2) before the cafe by an answer (1)',
    params: { q: 'open' },
    expect: [K.redSign, K.cafe],
  },
  {
    name: 'sort=date puts the newer cafe first',
    params: { q: 'open', sort: 'date' },
    expect: [K.cafe, K.redSign],
  },
  { name: 'OPEN 24 HOURS: every word must match', params: { q: 'OPEN 24 HOURS' }, expect: [K.redSign] },
  { name: 'plural folding: hour finds HOURS', params: { q: 'hour' }, expect: [K.redSign] },
  {
    name: 'red finds the red sign, not the colour name Desired Dawn',
    params: { q: 'red' },
    expect: [K.redSign],
  },
  { name: 'colour names are not searched', params: { q: 'dawn' }, expect: none },
  { name: 'words, not substrings: "sire" is not in "desired"', params: { q: 'sire' }, expect: none },
  { name: 'words, not substrings: "ark" is not in "park"', params: { q: 'ark' }, expect: none },
  { name: 'plural folding: dog finds dogs', params: { q: 'dog' }, expect: [K.dogs] },
  { name: 'plural folding: box finds boxes', params: { q: 'box' }, expect: [K.boxes] },
  { name: 'plural folding: boxes finds boxes', params: { q: 'BOXES' }, expect: [K.boxes] },
  { name: 'accent folding: cafe finds café', params: { q: 'cafe' }, expect: [K.cafe] },
  { name: 'accent folding: CAFÉ finds café', params: { q: 'CAFÉ' }, expect: [K.cafe] },
  scripts('Cyrillic: новый finds Новый', 'новый', [S.russian]),
  scripts('Cyrillic: й is a letter of its own, not и with a breve', 'новыи', none),
  scripts('Greek: Αθήνα finds Αθήνα', 'Αθήνα', [S.greek]),
  scripts('Greek: accents fold, αθηνα finds Αθήνα', 'αθηνα', [S.greek]),
  scripts('Greek: final sigma, οδός finds ΟΔΟΣ', 'οδός', [S.greek]),
  scripts('Korean: 한국 finds the Hangul word', '한국', [S.korean]),
  scripts('Japanese: がっこう finds がっこう', 'がっこう', [S.japanese]),
  scripts('Japanese: かっこう is another word than がっこう', 'かっこう', none),
  scripts('™ is a separator: brand finds Brand™', 'brand', [S.brand]),
  scripts('ligatures split: fish finds ﬁsh', 'fish flour', [S.brand]),
  scripts('an accent stored decomposed: café finds Cafe + U+0301', 'café', [S.nfd]),
  scripts('a decomposed accent in the query: cafe + U+0301 finds it too', 'cafe\u0301 noir', [S.nfd]),
  { name: 'stop words are dropped from the query', params: { q: 'the dogs' }, expect: [K.dogs] },
  { name: 'detailed description is searched', params: { q: 'ball' }, expect: [K.dogs] },
  { name: 'labels are searched', params: { q: 'grass' }, expect: [K.dogs] },
  { name: 'categories are searched', params: { q: 'warehouse' }, expect: [K.boxes] },
  { name: 'category ids split into words', params: { q: 'street scene' }, expect: [K.traffic] },
  { name: 'the original upload name is searched', params: { q: 'holiday photo' }, expect: [K.holiday] },
  { name: 'the file name is searched', params: { q: 'broken' }, expect: [K.failed] },
  { name: 'file name words: dogs.jpg', params: { q: 'dogs.jpg' }, expect: [K.dogs] },
  { name: 'caption, label and file name all hold the word', params: { q: 'traffic' }, expect: [K.traffic] },
  { name: 'words across fields all match', params: { q: 'brown ball grass' }, expect: [K.dogs] },
  { name: 'a word in no record finds nothing', params: { q: 'zebra' }, expect: none },

  // Filters.
  {
    name: 'colour=red needs 5% of the image: the cafe has 3%',
    params: { colour: 'red' },
    expect: [K.redSign],
  },
  {
    name: 'colourMin=0 lets any share of red through',
    params: { colour: 'red', colourMin: '0' },
    expect: [K.cafe, K.redSign],
  },
  {
    name: 'colourMin=0.8 is too much red for the sign',
    params: { colour: 'red', colourMin: '0.8' },
    expect: none,
  },
  { name: 'color and grey are accepted spellings', params: { color: 'grey' }, expect: [K.traffic] },
  { name: 'two colours: both must be there', params: { colour: 'green,brown' }, expect: [K.dogs] },
  { name: 'repeated colour parameters combine', params: { colour: ['brown', 'green'] }, expect: [K.dogs] },
  { name: 'colour and words combine', params: { q: 'open', colour: 'red' }, expect: [K.redSign] },
  {
    name: 'a light/dark colour name filters by that name',
    params: { colour: 'Dark Brown' },
    expect: [K.dogs],
  },
  { name: 'another name of the family does not match', params: { colour: 'light brown' }, expect: none },
  { name: 'label filter', params: { label: 'dog' }, expect: [K.dogs] },
  { name: 'label filter folds case and plurals', params: { label: 'Traffic Lights' }, expect: [K.traffic] },
  {
    name: 'label filter is a whole label: "traffic" is not "traffic light"',
    params: { label: 'traffic' },
    expect: none,
  },
  { name: 'category filter', params: { category: 'animals' }, expect: [K.dogs] },
  { name: 'category filter folds the id', params: { category: 'Street Scene' }, expect: [K.traffic] },
  {
    name: 'hasText=true: text found, newest first',
    params: { hasText: 'true' },
    expect: [K.cafe, K.redSign],
  },
  {
    name: 'hasText=false includes empty text',
    params: { hasText: 'false' },
    expect: [K.failed, K.holiday, K.dawn, K.dogs, K.boxes, K.traffic],
  },
  {
    name: 'date range includes both whole days',
    params: { from: '2026-11-01', to: '2026-11-03' },
    expect: [K.redSign, K.dawn, K.dogs],
  },
  {
    name: 'from a date-time',
    params: { from: '2026-11-04T10:00:00Z' },
    expect: [K.cafe, K.failed, K.holiday],
  },
  {
    name: 'to a date-time is inclusive',
    params: { to: '2026-10-30T10:00:00Z' },
    expect: [K.boxes, K.traffic],
  },
  {
    name: 'to=9998-12-31, the last day accepted, keeps everything',
    params: { to: '9998-12-31' },
    expect: BY_DATE,
    total: 8,
  },
  {
    name: 'a date-time with a zone offset',
    params: { from: '2026-11-05T12:00:00+02:00', to: '2026-11-06T12:00+02:00' },
    expect: [K.cafe, K.failed],
  },
  {
    name: 'date uploaded is createdAt: a re-run fast stage does not make an image newer',
    params: {},
    expect: [DATES.older, DATES.rerun],
    corpus: DATES_CORPUS,
  },
  {
    name: 'from filters on createdAt, not on the re-run',
    params: { from: '2026-11-15' },
    expect: none,
    corpus: DATES_CORPUS,
  },
  {
    name: 'to filters on createdAt; a record without it by its fast stage time',
    params: { from: '2026-09-30', to: '2026-10-01' },
    expect: [DATES.rerun],
    corpus: DATES_CORPUS,
  },
  { name: 'detailed stage state', params: { detailed: 'pending' }, expect: [K.holiday] },
  { name: 'fast stage state', params: { fast: 'failed' }, expect: [K.failed] },
  {
    name: 'limit keeps the first results, total counts all',
    params: { limit: '3' },
    expect: [K.cafe, K.failed, K.holiday],
    total: 8,
  },

  // Hostile input: results or a 400 naming the parameter, never an engine error.
  { name: 'a lone quote has no words', params: { q: "'" }, expect: error('q') },
  { name: 'a lone % has no words', params: { q: '%' }, expect: error('q') },
  { name: 'a lone _ has no words', params: { q: '_' }, expect: error('q') },
  { name: 'only stop words', params: { q: 'the a of' }, expect: error('q') },
  { name: 'an emoji has no words', params: { q: '🙂' }, expect: error('q') },
  { name: '% is a separator, not a wildcard', params: { q: 'op%' }, expect: none },
  { name: '_ is a separator, not a wildcard', params: { q: 'op_n' }, expect: none },
  { name: 'LIKE wildcards in the middle of words', params: { q: '%open%' }, expect: [K.redSign, K.cafe] },
  { name: 'SQL injection attempt is two words', params: { q: "red' OR '1'='1" }, expect: none },
  { name: 'SQL keywords are just words', params: { q: "'; DROP TABLE descriptions; --" }, expect: none },
  { name: 'SELECT * FROM', params: { q: 'SELECT * FROM sidecars' }, expect: none },
  { name: 'quotes around a word', params: { q: '"open"' }, expect: [K.redSign, K.cafe] },
  { name: 'backslashes and regex syntax', params: { q: '\\b(open|.*)\\' }, expect: none },
  { name: 'control characters separate words', params: { q: '\u0000red\u0007' }, expect: [K.redSign] },
  { name: 'unicode words that are not there', params: { q: '日本語 Zoë' }, expect: none },
  { name: 'a 10 KB query is too long', params: { q: 'x'.repeat(10_240) }, expect: error('q') },
  { name: 'a 10 KB query of words is too long', params: { q: 'open '.repeat(2048) }, expect: error('q') },
  {
    name: 'too many distinct words',
    params: { q: Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ') },
    expect: error('q'),
  },
  { name: 'q given twice', params: { q: ['open', 'red'] }, expect: error('q') },
  { name: 'an unknown parameter', params: { qq: 'open' }, expect: error('parameter') },
  { name: 'an unknown colour', params: { colour: "red'--" }, expect: error('colour') },
  { name: 'a colour name outside the vocabulary', params: { colour: 'navy' }, expect: error('colour') },
  { name: 'colourMin out of range', params: { colour: 'red', colourMin: '2' }, expect: error('colourMin') },
  {
    name: 'colourMin not a number',
    params: { colour: 'red', colourMin: '0.5; DROP' },
    expect: error('colourMin'),
  },
  { name: 'colourMin without a colour', params: { colourMin: '0.5' }, expect: error('colourMin') },
  { name: 'a label of punctuation only', params: { label: '%' }, expect: error('label') },
  { name: 'a label with quotes is still a phrase', params: { label: "dog'" }, expect: [K.dogs] },
  { name: 'a 10 KB label', params: { label: 'x'.repeat(10_240) }, expect: error('label') },
  { name: 'hasText not a boolean', params: { hasText: 'maybe' }, expect: error('hasText') },
  { name: 'a date that does not exist', params: { from: '2026-02-31' }, expect: error('from') },
  { name: 'a date in another format', params: { to: '03/11/2026' }, expect: error('to') },
  {
    name: 'a date-time on a day that does not exist',
    params: { from: '2026-02-31T00:00Z' },
    expect: error('from'),
  },
  { name: 'a date-time at 24:00', params: { to: '2026-11-03T24:00Z' }, expect: error('to') },
  { name: 'a date-time at minute 60', params: { from: '2026-11-03T10:60:00Z' }, expect: error('from') },
  { name: 'a date-time in month 13', params: { to: '2026-13-01T00:00:00+01:00' }, expect: error('to') },
  {
    name: 'to=9999-12-31 ends in year 10000: a 400, not an empty answer',
    params: { to: '9999-12-31' },
    expect: error('to'),
  },
  { name: 'a date-time in year 9999', params: { from: '9999-06-01T00:00Z' }, expect: error('from') },
  { name: 'to before from', params: { from: '2026-11-03', to: '2026-11-01' }, expect: error('to') },
  { name: 'an unknown stage state', params: { fast: 'finished' }, expect: error('fast') },
  { name: 'an unknown sort', params: { sort: 'random()' }, expect: error('sort') },
  { name: 'limit 0', params: { limit: '0' }, expect: error('limit') },
  { name: 'limit above the maximum', params: { limit: '1000' }, expect: error('limit') },
  { name: 'limit not a number', params: { limit: '10 OR 1=1' }, expect: error('limit') },
  {
    name: 'a cursor that was not made by a search',
    params: { cursor: "' OR 1=1 --" },
    expect: error('cursor'),
  },
  {
    name: 'a well-formed cursor of another query',
    params: { cursor: 'eyJvIjoyLCJxIjoiYWJjIn0' },
    expect: error('cursor'),
  },
];
