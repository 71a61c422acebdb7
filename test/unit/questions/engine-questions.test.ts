import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DescribeEngine } from '#engine/engine.ts';
import { checkConsistency } from '#engine/guard/check.ts';
import { needsDescription } from '#engine/pipeline/staleness.ts';
import { parseQuestionsConfig, type QuestionsConfig } from '#engine/questions/config.ts';
import { readEngineSettings } from '#engine/settings.ts';
import { createEngine } from '#engine/wiring.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import { currentModels } from '../../../layers/adapters/aws-runtime.ts';
import { COLOUR_CATEGORIES } from '../categories/fixture.ts';

const source = { kind: 'file' as const, path: 'red.png', etag: 'e1' };
const colour = {
  id: 'colour',
  prompt: 'What is the main colour?',
  type: 'one-of',
  options: ['red', 'green', 'blue'],
};
const outdoors = { id: 'outdoors', prompt: 'Is it outdoors?', type: 'yes-no' };

/** What staleness compares for the detailed stage (the fast stage's objects key is not this test's). */
const detailedKeys = (engine: DescribeEngine) => ({ ...currentModels(engine), objects: undefined });

function config(questions: unknown[]): QuestionsConfig {
  return parseQuestionsConfig({ questions, categories: COLOUR_CATEGORIES }, 'test');
}

async function engineWith(
  questions: QuestionsConfig,
  modelsDir = fixtureModelsDir(),
): Promise<DescribeEngine> {
  const settings = readEngineSettings({ MODELS_DIR: modelsDir, OCR_STAGE: 'off' }, { questions });
  return createEngine(settings);
}

describe('questions, categories and checks with the known-answer models', () => {
  let engine: DescribeEngine;
  beforeAll(async () => {
    engine = await engineWith(config([colour, outdoors]));
  });
  afterAll(() => engine?.models.dispose());

  it('the red image gets an answer, a category and checks; a wrong-typed answer fails only itself', async () => {
    // Prepare
    const bytes = await imageFixture('solidRed');

    // Act
    const record = await engine.describe({ bytes, source });

    // Assess: the SmolVLM fixture answers a colour question with the colour, anything else with a sentence.
    expect(record.status.detailed.state).toBe('done');
    expect(record.answers?.colour).toMatchObject({ value: 'red', raw: 'red' });
    expect(record.answers?.colour?.model.id).toBe('fixtures/smolvlm-colour');
    expect(record.answers?.outdoors).toMatchObject({
      raw: 'the image shows a red square',
      error: { code: 'UNPARSEABLE_ANSWER' },
    });
    expect(record.answers?.outdoors?.value).toBeUndefined();
    expect(record.categories?.map((c) => c.id)).toEqual(['red-things']);
    expect(record.models.categories?.revision).toBe('scoring-v2');
    const colourChecks = record.checks?.filter((c) => c.kind === 'colour') ?? [];
    expect(colourChecks.map((c) => [c.field, c.verdict])).toEqual([
      ['caption', 'consistent'],
      ['detailedDescription', 'consistent'],
      ['answers.colour', 'consistent'],
    ]);
    expect(record.timings.detailed).toMatchObject({
      answersMs: expect.any(Number),
      categoriesMs: expect.any(Number),
      checksMs: expect.any(Number),
    });
  });

  it('"a blue square" in place of the real caption of the red image is flagged contradicted', async () => {
    const bytes = await imageFixture('solidRed');
    const real = await engine.describeFast({ bytes, source });
    expect(real.caption).toBe('a red square');

    const checks = checkConsistency({ ...real, caption: 'a blue square' }, 'fast');

    expect(checks.find((c) => c.kind === 'colour')).toMatchObject({
      field: 'caption',
      claim: 'blue ("a blue square")',
      verdict: 'contradicted',
    });
  });

  it('editing one question re-asks only that one; staleness says so', async () => {
    const bytes = await imageFixture('solidRed');
    const first = await engine.describe({ bytes, source });
    expect(needsDescription(first, { etag: 'e1' }, detailedKeys(engine))).toBeUndefined();

    const edited = await engineWith(config([colour, { ...outdoors, prompt: 'Was this taken outside?' }]));
    try {
      expect(needsDescription(first, { etag: 'e1' }, detailedKeys(edited))).toEqual({
        stage: 'detailed',
        reason: 'answers-stale',
      });

      // A marker in the unchanged answer shows whether it was asked again (a re-ask would replace it).
      const marked = first.answers?.colour && { ...first.answers.colour, raw: 'red (kept)' };
      const previous = { ...first, answers: { ...first.answers, ...(marked ? { colour: marked } : {}) } };
      const second = await edited.describeDetailed({ bytes, source }, previous);

      expect(second.answers?.colour?.raw).toBe('red (kept)');
      expect(second.answers?.outdoors?.model.promptHash).not.toBe(first.answers?.outdoors?.model.promptHash);
      expect(needsDescription(second, { etag: 'e1' }, detailedKeys(edited))).toBeUndefined();
    } finally {
      await edited.models.dispose();
    }
  });
});

describe('questions while the VLM files are missing', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'no-vlm-'));
    await cp(fixtureModelsDir(), dir, { recursive: true });
    await rm(join(dir, 'fixtures', 'smolvlm-colour'), { recursive: true, force: true });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('each answer waits with MODEL_NOT_FOUND; the record is not failed and the rest is there', async () => {
    const engine = await engineWith(config([colour]), dir);
    try {
      const record = await engine.describe({ bytes: await imageFixture('solidRed'), source });

      expect(record.status.detailed.state).toBe('done');
      expect(record.detailedDescription).toBe('the image shows a red square');
      expect(record.answers?.colour).toMatchObject({ raw: '', error: { code: 'MODEL_NOT_FOUND' } });
      expect(record.categories?.map((c) => c.id)).toEqual(['red-things']);
      // Still stale: the next scan asks again once the files are fetched.
      expect(needsDescription(record, { etag: 'e1' }, detailedKeys(engine))).toEqual({
        stage: 'detailed',
        reason: 'answers-stale',
      });
    } finally {
      await engine.models.dispose();
    }
  });

  it('a manifest without a questions task fails at start-up when questions are configured', async () => {
    const { readFile, writeFile } = await import('node:fs/promises');
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    delete manifest.tasks.questions;
    const noTask = await mkdtemp(join(tmpdir(), 'no-task-'));
    await cp(dir, noTask, { recursive: true });
    await writeFile(join(noTask, 'manifest.json'), JSON.stringify(manifest));

    await expect(engineWith(config([colour]), noTask)).rejects.toThrow('Expected a tasks.questions entry in');
    await rm(noTask, { recursive: true, force: true });
  });
});
