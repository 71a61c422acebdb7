/**
 * The one text normalisation both search engines share: a query word matches a record word when
 * both fold to the same term. Terms (searchTerms in ../words.ts) are runs of letters and digits
 * (Unicode), case-folded, accent-folded (FOLD_TABLE: Latin and Greek letters with accents,
 * full-width forms, ligatures) and plural-folded by a few English rules. No substrings: "red" is a term of "a red sign" but not of
 * "Desired Dawn" or "reds" → "red" is.
 *
 * The folding is a character table, not Unicode's NFKD, because the Athena engine must apply the
 * very same folding in SQL (athena-sql.ts: `normalize(NFC)`, `replace` per ligature, `translate`,
 * `lower`). Letters of other scripts are left as they are: NFKD would split Hangul syllables into
 * jamo, turn が into か and й into и (different words), and ™ into "tm".
 */

/** Apostrophes inside a word join it ("don't" → "dont") instead of splitting off a lone "t". */
const APOSTROPHES = "'\u2019\u02bc";

/**
 * Character → its folded form, applied after NFC, before lower-casing: every letter or digit of
 * the ranges below whose compatibility decomposition is one base letter or digit plus marks (é →
 * e, ǖ → u, ή → η, Ａ → A), final sigma → σ, apostrophes deleted (searchTerms joins "don't"
 * into "dont"). `from` and `to` are `translate` strings: `from` longer, the extra characters deleted.
 * Generated from Unicode's decompositions, so it cannot drift from them.
 */
export const FOLD_TABLE: { readonly from: string; readonly to: string } = (() => {
  let from = '';
  let to = '';
  const ranges: Array<[number, number]> = [
    [0x00c0, 0x024f], // Latin-1 Supplement letters, Latin Extended-A and -B
    [0x0370, 0x03ff], // Greek
    [0x1e00, 0x1eff], // Latin Extended Additional
    [0x1f00, 0x1fff], // Greek Extended
    [0xff10, 0xff5a], // full-width digits and Latin letters
  ];
  for (const [start, end] of ranges) {
    for (let cp = start; cp <= end; cp++) {
      const ch = String.fromCodePoint(cp);
      const base = ch.normalize('NFKD').replace(/\p{M}+/gu, '');
      if (base.length === 1 && base !== ch && /[\p{L}\p{N}]/u.test(base) && /[\p{L}\p{N}]/u.test(ch)) {
        from += ch;
        // ϲ (lunate sigma) decomposes to final ς, which folds to σ (below).
        to += base === '\u03c2' ? '\u03c3' : base;
      }
    }
  }
  return { from: `${from}\u03c2${APOSTROPHES}`, to: `${to}\u03c3` };
})();

/** Typographic ligatures (ﬁ → fi): more than one letter each, so `replace`d rather than translated. */
export const FOLD_LIGATURES: ReadonlyArray<readonly [string, string]> = (() => {
  const out: Array<[string, string]> = [];
  for (let cp = 0xfb00; cp <= 0xfb06; cp++) {
    const ch = String.fromCodePoint(cp);
    out.push([ch, ch.normalize('NFKD')]);
  }
  return out;
})();

const FOLD_MAP = new Map([...FOLD_TABLE.from].map((ch, i) => [ch, FOLD_TABLE.to[i] ?? '']));
const FOLD_CHARS = new RegExp(`[${[...FOLD_MAP.keys()].join('')}]`, 'gu');
const LIGATURE_CHARS = /[\ufb00-\ufb06]/gu;
const LIGATURE_MAP = new Map(FOLD_LIGATURES);

/** Longest term kept: a 10 KB "word" is noise, and the index should not hold it. */
export const MAX_TERM_LENGTH = 64;

/**
 * Words too common to narrow a search; dropped from queries (a caption "a red square" is found by
 * "the red square"). They stay in the text, so nothing is lost by indexing them.
 */
export const STOP_WORDS: ReadonlySet<string> = new Set([
  'a',
  'an',
  'and',
  'are',
  'at',
  'by',
  'for',
  'in',
  'is',
  'it',
  'of',
  'on',
  'or',
  'the',
  'to',
  'with',
]);

/**
 * Case and accent folding of a whole string ("Café OPEN" → "cafe open", "Ἀθῆναι" → "αθηναι"),
 * apostrophes deleted: NFC (an accent stored decomposed folds as a precomposed one), ligatures,
 * FOLD_TABLE, then lower case. SQL's `lower` maps Σ to σ everywhere, JavaScript's to ς at a word's
 * end: the table's ς → σ applies once more after lower-casing, so both give σ.
 */
export function foldText(text: string): string {
  return text
    .normalize('NFC')
    .replace(LIGATURE_CHARS, (ch) => LIGATURE_MAP.get(ch) ?? ch)
    .replace(FOLD_CHARS, (ch) => FOLD_MAP.get(ch) ?? ch)
    .toLowerCase()
    .replaceAll('\u03c2', '\u03c3');
}

/**
 * Simple English plural folding of one folded word: boxes → box, dogs → dog, berries → berry,
 * glasses → glass. Short words (bus, gas, is) and words ending in ss/us/is are left alone; a word
 * with a digit is a code, not a plural. Both sides fold the same way, so an imperfect stem
 * (buses → buse) still matches itself.
 */
export function foldPlural(word: string): string {
  if (word.length <= 3 || /\d/.test(word)) return word;
  if (word.endsWith('ies') && word.length > 4) return `${word.slice(0, -3)}y`;
  if (/(?:x|ch|sh|ss|zz)es$/.test(word)) return word.slice(0, -2);
  if (word.endsWith('s') && !/(?:ss|us|is)$/.test(word)) return word.slice(0, -1);
  return word;
}

/**
 * The surface words that fold to a term (dog → dog, dogs; box → box, boxes; berry → berry,
 * berries). An engine that cannot run `searchTerms` over its stored text (SQL over raw JSON) matches
 * a term by looking for any of these as a whole word in the case- and accent-folded text.
 */
export function surfaceForms(term: string): string[] {
  const candidates = [term, `${term}s`, `${term}es`];
  if (term.endsWith('y')) candidates.push(`${term.slice(0, -1)}ies`);
  return candidates.filter((word) => foldPlural(word) === term);
}
