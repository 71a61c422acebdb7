import { expected } from '../errors.ts';
import type { AnswerValue } from '../record/schema.ts';
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

const NUMBER_WORDS: Readonly<Record<string, number>> = {
  zero: 0,
  no: 0,
  none: 0,
  one: 1,
  a: 1,
  single: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  eleven: 11,
  twelve: 12,
  thirteen: 13,
  fourteen: 14,
  fifteen: 15,
  sixteen: 16,
  seventeen: 17,
  eighteen: 18,
  nineteen: 19,
  twenty: 20,
};

/** Lower case, letters and digits only, single spaces: what matching compares. */
export function normaliseWords(text: string): string {
  return text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9.]+/g, ' ')
    .replace(/\.(?!\d)/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

function containsPhrase(haystack: string, phrase: string): boolean {
  const needle = normaliseWords(phrase);
  return needle !== '' && ` ${haystack} `.includes(` ${needle} `);
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
  const words = normaliseWords(raw);
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
      const exact = options.find((option) => normaliseWords(option) === words);
      if (exact !== undefined) return { value: exact };
      const mentioned = options.filter((option) => containsPhrase(words, option));
      return mentioned.length === 1
        ? { value: mentioned[0] as string }
        : wrongType(question, `exactly one of ${options.join(', ')}`, raw);
    }
    case 'number': {
      for (const word of words.split(' ')) {
        if (/^\d+(\.\d+)?$/.test(word)) return { value: Number(word) };
        const spelled = NUMBER_WORDS[word];
        // "a"/"no" count only as a whole answer, not inside a sentence ("a photo of two cats").
        if (spelled !== undefined && (!['a', 'no'].includes(word) || words === word)) {
          return { value: spelled };
        }
      }
      return wrongType(question, 'a number', raw);
    }
  }
}
