/**
 * The one text normalisation both search engines share: a query word matches a record word when
 * both fold to the same term. Tokens are runs of letters and digits (Unicode), case-folded,
 * accent-folded (NFKD, combining marks dropped) and plural-folded by a few English rules. No
 * substrings: "red" is a term of "a red sign" but not of "Desired Dawn" or "reds" → "red" is.
 */

/** Letters and digits; anything else (space, punctuation, quotes, %, _) separates words. */
const WORD = /[\p{L}\p{N}]+/gu;
/** Apostrophes inside a word join it ("don't" → "dont") instead of splitting off a lone "t". */
const APOSTROPHES = /['\u2019\u02bc]/g;
const COMBINING_MARKS = /\p{M}+/gu;

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

/** Case and accent folding of a whole string ("Café OPEN" → "cafe open"). */
export function foldText(text: string): string {
  return text.normalize('NFKD').replace(COMBINING_MARKS, '').toLowerCase();
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

/** Every term of a text, in order, repeats kept: what the index stores for a field. */
export function tokenize(text: string): string[] {
  const folded = foldText(text).replace(APOSTROPHES, '');
  const terms: string[] = [];
  for (const match of folded.matchAll(WORD)) {
    const word = match[0];
    if (word.length > MAX_TERM_LENGTH) continue;
    terms.push(foldPlural(word));
  }
  return terms;
}

/** The terms of a query: tokenised, stop words dropped, each term once, in first-seen order. */
export function queryTerms(text: string): string[] {
  return [...new Set(tokenize(text).filter((term) => !STOP_WORDS.has(term)))];
}

/** A label or category compared as a whole phrase: "Traffic Lights" and "traffic light" are equal. */
export function foldPhrase(text: string): string {
  return tokenize(text).join(' ');
}

/**
 * The surface words that fold to a term (dog → dog, dogs; box → box, boxes; berry → berry,
 * berries). An engine that cannot run `tokenize` over its stored text (SQL over raw JSON) matches
 * a term by looking for any of these as a whole word in the case- and accent-folded text.
 */
export function surfaceForms(term: string): string[] {
  const candidates = [term, `${term}s`, `${term}es`];
  if (term.endsWith('y')) candidates.push(`${term.slice(0, -1)}ies`);
  return candidates.filter((word) => foldPlural(word) === term);
}
