import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '#engine/errors.ts';
import {
  DEFAULT_QUESTIONS_FILE,
  EMPTY_QUESTIONS_CONFIG,
  loadQuestionsFile,
  parseQuestionsConfig,
  readQuestionsConfig,
} from '#engine/questions/config.ts';
import { checkCategoryPromptsModel } from '#engine/questions/stage.ts';

const colour = { id: 'colour', prompt: 'What is the main colour?', type: 'one-of', options: ['red', 'blue'] };

describe('questions config', () => {
  it('reads questions and categories, with empty lists by default', () => {
    const config = parseQuestionsConfig(
      { questions: [colour], categories: [{ id: 'red-things', label: 'Red things' }] },
      'test',
    );
    expect(config.questions[0]?.options).toEqual(['red', 'blue']);
    expect(config.categories[0]?.label).toBe('Red things');
    expect(parseQuestionsConfig({}, 'test')).toEqual({ questions: [], categories: [] });
    expect(Object.isFrozen(config.questions[0])).toBe(true);
  });

  it.each([
    [
      'an unknown answer type',
      { questions: [{ id: 'a', prompt: 'Colour?', type: 'colour' }] },
      'questions[0].type in cfg.json: expected one of "text", "yes-no", "one-of", "number" but received "colour"',
    ],
    [
      'a duplicate id',
      { questions: [colour, { id: 'colour', prompt: 'Again?', type: 'text' }] },
      "questions[1].id in cfg.json: duplicate id 'colour'",
    ],
    [
      'an empty prompt',
      { questions: [{ id: 'a', prompt: '  ', type: 'text' }] },
      'questions[0].prompt in cfg.json: must not be empty',
    ],
    [
      'an unknown field',
      { questions: [{ id: 'a', prompt: 'Colour?', type: 'text', answer: 'red' }] },
      "questions[0] in cfg.json: unknown field(s) 'answer'",
    ],
    [
      'a one-of question without options',
      { questions: [{ id: 'a', prompt: 'Colour?', type: 'one-of' }] },
      'questions[0].options in cfg.json: a one-of question needs options',
    ],
    [
      'options on a yes-no question',
      { questions: [{ id: 'a', prompt: 'Red?', type: 'yes-no', options: ['y', 'n'] }] },
      'questions[0].options in cfg.json: only one-of questions take options',
    ],
    [
      'a duplicate category id',
      {
        categories: [
          { id: 'x', label: 'X' },
          { id: 'x', label: 'Y' },
        ],
      },
      "categories[1].id in cfg.json: duplicate id 'x'",
    ],
    [
      'a category without a label',
      { categories: [{ id: 'x' }] },
      'categories[0].label in cfg.json: expected a string but received nothing',
    ],
    [
      'an empty category prompt',
      { categories: [{ id: 'x', label: 'X', prompts: ['a photo of a beach', ' '] }] },
      'categories[0].prompts[1] in cfg.json: must not be empty',
    ],
    [
      'a prompt cut-off without prompts',
      { categories: [{ id: 'x', label: 'X', minSimilarity: 0.3 }] },
      'categories[0].minSimilarity in cfg.json: minSimilarity needs prompts',
    ],
    [
      'an unknown top-level key',
      { question: [] },
      "the questions config in cfg.json: unknown field(s) 'question'",
    ],
  ])('refuses %s, naming the field', (_what, raw, message) => {
    expect(() => parseQuestionsConfig(raw, 'cfg.json')).toThrow(ConfigError);
    expect(() => parseQuestionsConfig(raw, 'cfg.json')).toThrow(message);
  });

  it('reads QUESTIONS_CONFIG as inline JSON or as a path, and the repo default when unset', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'questions-'));
    const file = join(dir, 'q.json');
    await writeFile(file, JSON.stringify({ questions: [colour] }));

    expect(readQuestionsConfig(file).questions.map((q) => q.id)).toEqual(['colour']);
    expect(readQuestionsConfig(JSON.stringify({ questions: [colour] })).questions).toHaveLength(1);
    expect(readQuestionsConfig(undefined)).toEqual(loadQuestionsFile(DEFAULT_QUESTIONS_FILE));
    expect(() => readQuestionsConfig('{"questions": [{"id": "a"}]}')).toThrow(
      'questions[0].prompt in QUESTIONS_CONFIG',
    );
    expect(() => readQuestionsConfig('{not json')).toThrow('Expected JSON in QUESTIONS_CONFIG');
    expect(() => readQuestionsConfig(join(dir, 'absent.json'))).toThrow(
      `Expected a questions file at ${join(dir, 'absent.json')} but it cannot be read (ENOENT)`,
    );
  });

  it('ships a default that asks nothing, so the one-model install needs no VLM', () => {
    expect(loadQuestionsFile(DEFAULT_QUESTIONS_FILE).questions).toEqual([]);
  });
});

describe('category prompts at start-up', () => {
  const withPrompts = parseQuestionsConfig(
    { categories: [{ id: 'beach', label: 'Beach', prompts: ['a photo of a beach'] }] },
    'cfg.json',
  );

  it('need an embedding task in the manifest, named in the error', () => {
    const noEmbedding = { taskSpec: () => undefined, modelsDir: '/models' };
    expect(() => checkCategoryPromptsModel(noEmbedding, withPrompts)).toThrow(ConfigError);
    expect(() => checkCategoryPromptsModel(noEmbedding, withPrompts)).toThrow(
      "a tasks.embedding entry in /models/manifest.json (a model with a text tower) for the prompts of categories 'beach'",
    );
  });

  it('start with an embedding task, or without prompts', () => {
    const embedding = {
      taskSpec: () => ({ model: 'clip', stage: 'fast' as const, generation: {} }),
      modelsDir: '/m',
    };
    expect(() => checkCategoryPromptsModel(embedding, withPrompts)).not.toThrow();
    expect(() =>
      checkCategoryPromptsModel({ taskSpec: () => undefined, modelsDir: '/m' }, EMPTY_QUESTIONS_CONFIG),
    ).not.toThrow();
  });
});
