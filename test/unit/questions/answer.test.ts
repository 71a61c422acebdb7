import { describe, expect, it } from 'vitest';
import { ModelNotFoundError } from '#engine/errors.ts';
import type { RgbImage } from '#engine/image/types.ts';
import { answerQuestions, type QuestionAsker, questionProvenance } from '#engine/questions/answer.ts';
import { parseQuestionsConfig, type Question } from '#engine/questions/config.ts';
import { parseAnswer, promptFor } from '#engine/questions/parse.ts';

const { questions } = parseQuestionsConfig(
  {
    questions: [
      { id: 'colour', prompt: 'What is the main colour?', type: 'one-of', options: ['red', 'green', 'blue'] },
      { id: 'outdoors', prompt: 'Is it outdoors?', type: 'yes-no' },
      { id: 'people', prompt: 'How many people are there?', type: 'number' },
      { id: 'scene', prompt: 'What is shown?', type: 'text' },
    ],
  },
  'test',
);
const [colour, outdoors, people, scene] = questions as [Question, Question, Question, Question];
const model = { id: 'vlm', revision: 'r1', architecture: 'smolvlm', dtype: 'fp32', promptHash: 'base' };
const image: RgbImage = { data: Buffer.alloc(3), width: 1, height: 1 } as RgbImage;
const now = new Date('2026-01-01T00:00:00Z');

/** An asker replying from a table by prompt, recording what it was asked. */
function tableAsker(replies: Record<string, string>) {
  const asked: string[] = [];
  const asker: QuestionAsker = {
    provenance: model,
    async ask(_image, prompt) {
      asked.push(prompt);
      return replies[prompt] ?? '';
    },
    dispose: async () => {},
  };
  return { asked, loadAsker: async () => asker };
}

describe('answer parsing', () => {
  it.each([
    [colour, 'the image shows a red square', 'red'],
    [colour, 'Blue.', 'blue'],
    [outdoors, 'Yes, it is outdoors.', true],
    [outdoors, 'no', false],
    [people, 'There are two people.', 2],
    [people, '3', 3],
    [scene, '  a red square ', 'a red square'],
  ])('reads %# as the question type', (question, raw, value) => {
    expect(parseAnswer(question, raw)).toEqual({ value });
  });

  it.each([
    [colour, 'red and blue stripes', "Expected exactly one of red, green, blue for the answer to 'colour'"],
    [colour, 'a yellow square', "Expected exactly one of red, green, blue for the answer to 'colour'"],
    [outdoors, 'the image shows a red square', "Expected yes or no for the answer to 'outdoors'"],
    [people, 'several people', "Expected a number for the answer to 'people'"],
    [scene, '...', "Expected some text for the answer to 'scene'"],
  ])('a reply of the wrong type is an error on that answer: %#', (question, raw, message) => {
    const parsed = parseAnswer(question, raw);
    expect(parsed).toMatchObject({ error: { code: 'UNPARSEABLE_ANSWER' } });
    expect('error' in parsed && parsed.error.message).toContain(message);
  });

  it('tells the model how to answer', () => {
    expect(promptFor(colour)).toBe('What is the main colour? Answer with one of: red, green, blue.');
    expect(promptFor(outdoors)).toBe('Is it outdoors? Answer yes or no.');
    expect(promptFor(scene)).toBe('What is shown?');
  });
});

describe('answerQuestions', () => {
  it('answers every question, keeping a wrong-typed reply as an error without a value', async () => {
    const { loadAsker } = tableAsker({
      [promptFor(colour)]: 'the image shows a red square',
      [promptFor(outdoors)]: 'the image shows a red square',
    });

    const { answers, asked } = await answerQuestions({
      questions: [colour, outdoors],
      model,
      loadAsker,
      image,
      now,
    });

    expect(asked).toBe(2);
    expect(answers.colour).toEqual({
      value: 'red',
      raw: 'the image shows a red square',
      model: questionProvenance(model, colour),
    });
    expect(answers.outdoors?.value).toBeUndefined();
    expect(answers.outdoors?.error?.code).toBe('UNPARSEABLE_ANSWER');
  });

  it('re-asks only the question that changed, and drops questions no longer configured', async () => {
    const first = tableAsker({ [promptFor(colour)]: 'red', [promptFor(outdoors)]: 'yes' });
    const before = await answerQuestions({
      questions: [colour, outdoors, scene],
      model,
      loadAsker: first.loadAsker,
      image,
      now,
    });
    const edited: Question = { ...outdoors, prompt: 'Was it taken outdoors?' };
    const second = tableAsker({ [promptFor(edited)]: 'no' });

    const after = await answerQuestions({
      questions: [colour, edited],
      model,
      loadAsker: second.loadAsker,
      image,
      now,
      previous: before.answers,
    });

    expect(second.asked).toEqual(['Was it taken outdoors? Answer yes or no.']);
    expect(after.answers.colour).toBe(before.answers.colour);
    expect(after.answers.outdoors?.value).toBe(false);
    expect(Object.keys(after.answers)).toEqual(['colour', 'outdoors']);
    expect(questionProvenance(model, edited).promptHash).not.toBe(
      questionProvenance(model, outdoors).promptHash,
    );
  });

  it('a new model revision re-asks everything', async () => {
    const first = tableAsker({ [promptFor(colour)]: 'red' });
    const before = await answerQuestions({
      questions: [colour],
      model,
      loadAsker: first.loadAsker,
      image,
      now,
    });
    const second = tableAsker({ [promptFor(colour)]: 'green' });

    const after = await answerQuestions({
      questions: [colour],
      model: { ...model, revision: 'r2' },
      loadAsker: second.loadAsker,
      image,
      now,
      previous: before.answers,
    });

    expect(after.answers.colour?.value).toBe('green');
  });

  it('missing model files: each answer waits with MODEL_NOT_FOUND, an earlier good answer is kept and marked stale', async () => {
    const missing = async (): Promise<QuestionAsker> => {
      throw new ModelNotFoundError('Model vlm (questions) is not in the model directory');
    };
    const good = await answerQuestions({
      questions: [colour],
      model,
      loadAsker: tableAsker({ [promptFor(colour)]: 'red' }).loadAsker,
      image,
      now,
    });

    const waiting = await answerQuestions({
      questions: [colour, outdoors],
      model: { ...model, revision: 'r2' },
      loadAsker: missing,
      image,
      now,
      previous: good.answers,
    });

    expect(waiting.answers.outdoors).toMatchObject({ raw: '', error: { code: 'MODEL_NOT_FOUND' } });
    expect(waiting.answers.colour).toBe(good.answers.colour);
    expect(waiting.stale['answers.colour']).toMatchObject({
      reason: 'waiting-for-models',
      replacement: { revision: 'r2' },
      since: now.toISOString(),
    });

    // Once the files are there, the waiting answer is asked again (same key, retryable error).
    const fetched = tableAsker({ [promptFor(outdoors)]: 'yes' });
    const later = await answerQuestions({
      questions: [outdoors],
      model: { ...model, revision: 'r2' },
      loadAsker: fetched.loadAsker,
      image,
      now,
      previous: waiting.answers,
    });
    expect(later.answers.outdoors?.value).toBe(true);
  });

  it("a new model's reply that does not parse keeps the earlier good answer, stale, and is not asked again", async () => {
    const good = await answerQuestions({
      questions: [outdoors],
      model,
      loadAsker: tableAsker({ [promptFor(outdoors)]: 'yes' }).loadAsker,
      image,
      now,
    });
    const upgraded = { ...model, revision: 'r2' };

    const rambling = tableAsker({ [promptFor(outdoors)]: 'the image shows a red square' });
    const after = await answerQuestions({
      questions: [outdoors],
      model: upgraded,
      loadAsker: rambling.loadAsker,
      image,
      now,
      previous: good.answers,
    });

    expect(after.answers.outdoors).toBe(good.answers.outdoors);
    expect(after.stale['answers.outdoors']).toMatchObject({
      reason: 'failed: UNPARSEABLE_ANSWER',
      replacement: questionProvenance(upgraded, outdoors),
    });

    // The same model would give the same reply: the next run keeps it as it is, mark and all.
    const again = tableAsker({ [promptFor(outdoors)]: 'yes' });
    const next = await answerQuestions({
      questions: [outdoors],
      model: upgraded,
      loadAsker: again.loadAsker,
      image,
      now,
      previous: after.answers,
      previousStale: after.stale,
    });
    expect(again.asked).toEqual([]);
    expect(next.answers.outdoors).toBe(good.answers.outdoors);
    expect(next.stale['answers.outdoors']).toEqual(after.stale['answers.outdoors']);
  });

  it('a question whose asking crashed is asked again on the next run', async () => {
    const crashing: QuestionAsker = {
      provenance: model,
      ask: async () => {
        throw new Error('onnxruntime ran out of memory');
      },
      dispose: async () => {},
    };
    const crashed = await answerQuestions({
      questions: [outdoors],
      model,
      loadAsker: async () => crashing,
      image,
      now,
    });
    expect(crashed.answers.outdoors?.error).toBeDefined();

    const retry = tableAsker({ [promptFor(outdoors)]: 'no' });
    const later = await answerQuestions({
      questions: [outdoors],
      model,
      loadAsker: retry.loadAsker,
      image,
      now,
      previous: crashed.answers,
    });

    expect(retry.asked).toHaveLength(1);
    expect(later.answers.outdoors?.value).toBe(false);
  });
});
