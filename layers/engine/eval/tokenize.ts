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

export function tokenizeCaption(text: string): string[] {
  const lowered = text
    .toLowerCase()
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    // PTB splits a clitic from the word before it.
    .replace(/([\p{L}])n't(?![\p{L}\p{N}])/gu, "$1 n't")
    .replace(/([\p{L}\p{N}])'(s|re|ve|ll|d|m)(?![\p{L}\p{N}])/gu, "$1 '$2");
  return (lowered.match(TOKEN) ?? []).filter((token) => !DROPPED.has(token));
}
