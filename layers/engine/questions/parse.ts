import { expected } from '../errors.ts';
import type { AnswerValue } from '../record/schema.ts';
import { answerWords } from '../words.ts';
import type { Question } from './config.ts';

/** Code of an answer whose text does not parse as the question's type (final for that provenance). */
export const UNPARSEABLE_ANSWER = 'UNPARSEABLE_ANSWER';

export type ParsedAnswer =
  | { readonly value: AnswerValue }
  | { readonly error: { readonly code: string; readonly message: string } };

/**
 * The prompt the VLM gets: the question as written plus how to answer, because a small VLM answers
 * a bare "Is it red?" with a sentence. The parser below still accepts sentences.
 */
export function promptFor(question: Question): string {
  const prompt = question.prompt.trim();
  switch (question.type) {
    case 'yes-no':
      return `${prompt} Answer yes or no.`;
    case 'one-of':
      return `${prompt} Answer with one of: ${(question.options ?? []).join(', ')}.`;
    case 'number':
      return `${prompt} Answer with a number.`;
    case 'text':
      return prompt;
  }
}

/** Spelled-out numbers. A Map: an answer word such as "constructor" must not find Object's properties. */
const NUMBER_WORDS: ReadonlyMap<string, number> = new Map(
  [
    'zero',
    'one',
    'two',
    'three',
    'four',
    'five',
    'six',
    'seven',
    'eight',
    'nine',
    'ten',
    'eleven',
    'twelve',
    'thirteen',
    'fourteen',
    'fifteen',
    'sixteen',
    'seventeen',
    'eighteen',
    'nineteen',
    'twenty',
  ]
    .map((word, value): [string, number] => [word, value])
    .concat([
      ['none', 0],
      ['single', 1],
    ]),
);
/** Words that are a number only as the whole answer ("No." is 0, "a photo of two cats" is 2). */
const WHOLE_ANSWER_NUMBERS: ReadonlyMap<string, number> = new Map([
  ['no', 0],
  ['a', 1],
]);

/**
 * The options the reply names, an option inside a longer one not counted there ("light blue"
 * names light blue, not blue too; "light blue and blue" names both).
 */
function mentionedOptions(words: string, options: readonly string[]): string[] {
  let rest = ` ${words} `;
  const mentioned: string[] = [];
  const longestFirst = [...options].sort((a, b) => answerWords(b).length - answerWords(a).length);
  for (const option of longestFirst) {
    const needle = answerWords(option);
    if (needle === '' || !rest.includes(` ${needle} `)) continue;
    mentioned.push(option);
    rest = rest.split(` ${needle} `).join(' | ');
  }
  return mentioned;
}

/**
 * A number in digits: signed ("-3", "−3"), with thousands separators ("2,000") or decimals ("3.5").
 * Not a sign after a letter or digit: "covid-19" is 19 and "2-3" starts with 2.
 */
const NUMERAL = /(?<![\p{L}\p{N}])[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\p{L}\p{N}])|[\p{L}\p{M}]+/gu;

function firstNumber(raw: string): number | undefined {
  const whole = WHOLE_ANSWER_NUMBERS.get(answerWords(raw));
  if (whole !== undefined) return whole;
  for (const [token] of raw.toLowerCase().matchAll(NUMERAL)) {
    const spelled = NUMBER_WORDS.get(token);
    if (spelled !== undefined) return spelled;
    if (/\d/.test(token)) return Number(token.replace(/,/g, '').replace('−', '-'));
  }
  return undefined;
}

function wrongType(question: Question, what: string, raw: string): ParsedAnswer {
  return {
    error: { code: UNPARSEABLE_ANSWER, message: expected(what, `the answer to '${question.id}'`, raw) },
  };
}

/**
 * The model's text as a value of the question's type, or a per-question error (the record is never
 * failed for it). Sentences are accepted: "Yes, it is." is yes; "The image shows a red square" is
 * `red` for a one-of question with options red/green/blue; "There are two dogs" is 2.
 */
export function parseAnswer(question: Question, raw: string): ParsedAnswer {
  const words = answerWords(raw);
  switch (question.type) {
    case 'text':
      return words === '' ? wrongType(question, 'some text', raw) : { value: raw.trim() };
    case 'yes-no': {
      const found = new Set(
        words
          .split(' ')
          .filter((w) => w === 'yes' || w === 'no')
          .map((w) => w === 'yes'),
      );
      return found.size === 1 ? { value: [...found][0] as boolean } : wrongType(question, 'yes or no', raw);
    }
    case 'one-of': {
      const options = question.options ?? [];
      // An option with no letters or digits ("…", an emoji) would equal any such reply: never matched.
      const exact = options.find((option) => words !== '' && answerWords(option) === words);
      if (exact !== undefined) return { value: exact };
      const mentioned = mentionedOptions(words, options);
      return mentioned.length === 1
        ? { value: mentioned[0] as string }
        : wrongType(question, `exactly one of ${options.join(', ')}`, raw);
    }
    case 'number': {
      const value = firstNumber(raw);
      // A run of 400 digits is Infinity, which no record may hold.
      return value !== undefined && Number.isFinite(value) ? { value } : wrongType(question, 'a number', raw);
    }
  }
}
