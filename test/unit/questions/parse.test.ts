import { describe, expect, it } from 'vitest';
import { parseQuestionsConfig, type Question } from '#engine/questions/config.ts';
import { parseAnswer } from '#engine/questions/parse.ts';
import { answerValueSchema } from '#engine/record/schema.ts';

const question = (fields: Omit<Question, 'id' | 'prompt'>): Question =>
  parseQuestionsConfig({ questions: [{ id: 'q', prompt: 'What?', ...fields }] }, 'test')
    .questions[0] as Question;

const count = question({ type: 'number' });
const text = question({ type: 'text' });

/** The parsed value, after checking the record schema would store it. */
function parsedValue(q: Question, raw: string) {
  const parsed = parseAnswer(q, raw);
  if ('value' in parsed) expect(answerValueSchema.safeParse(parsed.value).success).toBe(true);
  return parsed;
}

describe('answer parsing: words that are names of Object properties', () => {
  it.each(['The constructor built it', 'toString', '__proto__ of it', 'hasOwnProperty valueOf'])(
    'a number answer "%s" is unparseable, not a function',
    (raw) => {
      expect(parsedValue(count, raw)).toMatchObject({ error: { code: 'UNPARSEABLE_ANSWER' } });
    },
  );

  it('"none" and "a single" still count anywhere; "a" and "no" only as the whole answer', () => {
    expect(parsedValue(count, 'None of them')).toEqual({ value: 0 });
    expect(parsedValue(count, 'a single dog')).toEqual({ value: 1 });
    expect(parsedValue(count, 'No.')).toEqual({ value: 0 });
    expect(parsedValue(count, 'a photo of two cats')).toEqual({ value: 2 });
  });
});

describe('answer parsing: numbers in digits', () => {
  it.each([
    ['2,000 people', 2000],
    ['about 1,250,000 stars', 1250000],
    ['-3', -3],
    ['It is −3 degrees', -3],
    ['3.5', 3.5],
    ['There are 3.', 3],
    ['covid-19 signs', 19],
    ['1, 2 or 3', 1],
  ])('"%s" is %d', (raw, value) => {
    expect(parsedValue(count, raw)).toEqual({ value });
  });

  it('a run of digits too long for a number is unparseable, not Infinity', () => {
    const parsed = parsedValue(count, `${'9'.repeat(400)} people`);
    expect(parsed).toMatchObject({ error: { code: 'UNPARSEABLE_ANSWER' } });
    expect('error' in parsed && parsed.error.message).toContain("Expected a number for the answer to 'q'");
  });
});

describe('answer parsing: text in any script', () => {
  it.each(['Кошка', '红色', 'قطة', 'नमस्ते', 'ねこ'])('a text answer "%s" is text', (raw) => {
    expect(parsedValue(text, raw)).toEqual({ value: raw });
  });

  it('one-of options in other scripts match only themselves', () => {
    const colour = question({ type: 'one-of', options: ['红', '绿'] });
    expect(parsedValue(colour, '...')).toMatchObject({ error: { code: 'UNPARSEABLE_ANSWER' } });
    expect(parsedValue(colour, '绿')).toEqual({ value: '绿' });
    const cyrillic = question({ type: 'one-of', options: ['красный', 'зелёный'] });
    expect(parsedValue(cyrillic, 'Это зелёный квадрат.')).toEqual({ value: 'зелёный' });
  });

  it('an option with no letters or digits never matches', () => {
    const thumbs = question({ type: 'one-of', options: ['👍', '👎'] });
    expect(parsedValue(thumbs, '...')).toMatchObject({ error: { code: 'UNPARSEABLE_ANSWER' } });
    expect(parsedValue(thumbs, '👍')).toMatchObject({ error: { code: 'UNPARSEABLE_ANSWER' } });
  });
});

describe('answer parsing: options inside longer options', () => {
  const shade = question({ type: 'one-of', options: ['blue', 'light blue', 'dark blue'] });

  it.each([
    ['It is light blue', 'light blue'],
    ['Light blue.', 'light blue'],
    ['a dark blue car', 'dark blue'],
    ['plain blue', 'blue'],
  ])('"%s" is %s', (raw, value) => {
    expect(parsedValue(shade, raw)).toEqual({ value });
  });

  it('naming the short option on its own as well is still two options', () => {
    expect(parsedValue(shade, 'light blue and blue stripes')).toMatchObject({
      error: { code: 'UNPARSEABLE_ANSWER' },
    });
  });
});
