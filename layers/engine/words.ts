import { foldPlural, foldText, MAX_TERM_LENGTH, STOP_WORDS } from './search/text.ts';

/**
 * Word splitting, one helper per meaning. Each splits text into runs of word characters
 * (`wordRuns`, the shared core) after its own folding; what counts as a word character, and what
 * is folded first, differ on purpose:
 * - search (searchTerms, searchQueryTerms, foldPhrase): the fold table both search engines apply
 *   (search/text.ts, mirrored in Athena SQL) and English plural folding, so "Boxes" finds "box";
 *   apostrophes join ("don't" → dont); a decimal point separates ("3.5" → 3, 5).
 * - answers and categories (answerWords, categoryWords): Latin accents dropped, combining marks
 *   of other scripts kept as part of the word, no plural folding, since an answer is compared
 *   with an option as written; answers keep a decimal point inside a number ("3.5").
 * - guard (guardWords, colourClaimWords): ASCII only, since the guard's vocabularies are English
 *   words; a colour claim keeps hyphens and apostrophes ("blue-ish", "red-brown" stay whole).
 * - eval (captionTokensForScoring): close to the PTB tokenizer COCO's scorers run, so the scores
 *   compare with published ones: clitics split off ("dog's" → dog 's), punctuation dropped.
 */

/** The shared core: the runs of `word` (a global pattern) in `text`, in order. */
export function wordRuns(text: string, word: RegExp): string[] {
  return text.match(word) ?? [];
}

/** Letters and digits; anything else (space, punctuation, quotes, %, _) separates words. */
const LETTERS_AND_DIGITS = /[\p{L}\p{N}]+/gu;

/** Every search term of a text, in order, repeats kept: what a search index stores for a field. */
export function searchTerms(text: string): string[] {
  return wordRuns(foldText(text), LETTERS_AND_DIGITS)
    .filter((word) => word.length <= MAX_TERM_LENGTH)
    .map(foldPlural);
}

/** The terms of a search query: stop words dropped, each term once, in first-seen order. */
export function searchQueryTerms(text: string): string[] {
  return [...new Set(searchTerms(text).filter((term) => !STOP_WORDS.has(term)))];
}

/** A label or category compared as a whole phrase: "Traffic Lights" and "traffic light" are equal. */
export function foldPhrase(text: string): string {
  return searchTerms(text).join(' ');
}

/**
 * Lower case with Latin accents dropped ("café" is "cafe"); other combining marks stay, since in
 * Devanagari or Japanese kana they are part of the letter.
 */
const foldLatinAccents = (text: string) =>
  text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '');

/** Letters of any script with their marks, and digits. */
const LETTERS_MARKS_AND_DIGITS = /[\p{L}\p{M}\p{N}]+/gu;
/** As above, and a point followed by a digit ("3.5", ".5"). */
const WITH_DECIMAL_POINTS = /(?:[\p{L}\p{M}\p{N}]|\.(?=\d))+/gu;

/** A category's label or keyword, or a record text it is looked for in: words joined by single spaces. */
export function categoryWords(text: string): string {
  return wordRuns(foldLatinAccents(text), LETTERS_MARKS_AND_DIGITS).join(' ');
}

/** A reply or an option as answer matching compares them: as categoryWords, decimal points kept. */
export function answerWords(text: string): string {
  return wordRuns(foldLatinAccents(text), WITH_DECIMAL_POINTS).join(' ');
}

/** Lower-case ASCII words and numbers: what the guard looks object nouns and counts up in. */
export function guardWords(text: string): string[] {
  return wordRuns(text.toLowerCase(), /[a-z0-9]+/g);
}

/** Lower-case ASCII words with their hyphens and apostrophes: what the guard reads colour claims in. */
export function colourClaimWords(text: string): string[] {
  return wordRuns(text.toLowerCase(), /[a-z'-]+/g);
}

/**
 * Caption tokeniser close to pycocoevalcap's: it runs Stanford's PTBTokenizer (`-lowerCase`) and
 * then drops the punctuation tokens in its PUNCTUATIONS list. Java is not needed here, so this is
 * an approximation of PTB's rules that matter for captions:
 *
 * - lower-case; clitics split off as PTB does ("dog's" → dog 's, "don't" → do n't);
 * - punctuation separated and dropped (. , ; : ! ? - -- ... quotes brackets);
 * - hyphenated words ("black-and-white") and numbers ("3.5", "1,000") stay one token.
 *
 * Known differences from PTB: abbreviations keep no trailing period ("e.g." → e.g, PTB: e.g.),
 * square brackets are dropped (PTB writes -lsb-/-rsb- and keeps them), "cannot"/"gonna" are not
 * split, and PTB's handling of rare symbols is not reproduced. Scores on ordinary captions match;
 * captions full of abbreviations may differ slightly from a pycocoevalcap run.
 */
/** pycocoevalcap/tokenizer/ptbtokenizer.py PUNCTUATIONS, plus the raw characters PTB maps onto them. */
const DROPPED = new Set([
  "''",
  "'",
  '``',
  '`',
  '-lrb-',
  '-rrb-',
  '-lcb-',
  '-rcb-',
  '.',
  '?',
  '!',
  ',',
  ':',
  '-',
  '--',
  '...',
  ';',
  '"',
  '(',
  ')',
  '{',
  '}',
  '[',
  ']',
]);

const TOKEN = new RegExp(
  [
    "n't(?![\\p{L}\\p{N}])",
    "'(?:s|re|ve|ll|d|m)(?![\\p{L}\\p{N}])",
    '\\p{N}+(?:[.,]\\p{N}+)+',
    '[\\p{L}\\p{N}]+(?:[-.][\\p{L}\\p{N}]+)*',
    '\\.\\.\\.',
    '--',
    '``',
    "''",
    '\\S',
  ].join('|'),
  'gu',
);

export function captionTokensForScoring(text: string): string[] {
  const lowered = text
    .toLowerCase()
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    // PTB splits a clitic from the word before it.
    .replace(/([\p{L}])n't(?![\p{L}\p{N}])/gu, "$1 n't")
    .replace(/([\p{L}\p{N}])'(s|re|ve|ll|d|m)(?![\p{L}\p{N}])/gu, "$1 '$2");
  return wordRuns(lowered, TOKEN).filter((token) => !DROPPED.has(token));
}
