import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_QUESTIONS_FILE, loadQuestionsFile } from '#engine/questions/config.ts';
import { ENV, readEngineSettings } from '#engine/settings.ts';
import { captureOutput } from '#test/support/capture-output.ts';
import { runCli } from '../../../functions/cli/cli.ts';
import { readLocalOptions } from '../../../functions/local/options.ts';
import { MAX_QUESTIONS_CONFIG_BYTES, questionsConfigFromContext } from '../../../infra/config.ts';

const context = (values: Record<string, unknown>) => ({ tryGetContext: (key: string) => values[key] });

async function file(content: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'questions-startup-'));
  const path = join(dir, 'questions.json');
  await writeFile(path, JSON.stringify(content));
  return path;
}

describe('questions config at start-up', () => {
  it('the engine settings carry it, and a bad QUESTIONS_CONFIG fails when the settings are read', () => {
    const inline = JSON.stringify({ questions: [{ id: 'colour', prompt: 'Colour?', type: 'text' }] });
    expect(readEngineSettings({ [ENV.QUESTIONS_CONFIG]: inline }).questions?.questions[0]?.id).toBe('colour');
    expect(readEngineSettings({}).questions).toEqual(loadQuestionsFile(DEFAULT_QUESTIONS_FILE));

    expect(() =>
      readEngineSettings({
        [ENV.QUESTIONS_CONFIG]: '{"questions":[{"id":"a","prompt":"?","type":"maybe"}]}',
      }),
    ).toThrow('questions[0].type in QUESTIONS_CONFIG: expected one of "text", "yes-no", "one-of", "number"');
  });

  it('cdk synth validates the context file and passes it to both functions as compact JSON', async () => {
    const good = await file({ questions: [{ id: 'colour', prompt: 'Colour?', type: 'text' }] });
    expect(JSON.parse(questionsConfigFromContext(context({ questions: good })))).toEqual({
      questions: [{ id: 'colour', prompt: 'Colour?', type: 'text' }],
      categories: [],
    });
    // Without the context key: the repo's default file.
    expect(JSON.parse(questionsConfigFromContext(context({})))).toEqual(
      loadQuestionsFile(DEFAULT_QUESTIONS_FILE),
    );

    const duplicate = await file({
      questions: [
        { id: 'colour', prompt: 'Colour?', type: 'text' },
        { id: 'colour', prompt: 'Again?', type: 'text' },
      ],
    });
    expect(() => questionsConfigFromContext(context({ questions: duplicate }))).toThrow(
      `questions[1].id in ${duplicate}: duplicate id 'colour'`,
    );
  });

  it('refuses at synth a config too big for the Lambda environment', async () => {
    const categories = Array.from({ length: 60 }, (_, i) => ({
      id: `c${i}`,
      label: `Category number ${i}`,
      keywords: ['a keyword'],
    }));
    const big = await file({ categories });

    expect(() => questionsConfigFromContext(context({ questions: big }))).toThrow(
      `a questions config of at most ${MAX_QUESTIONS_CONFIG_BYTES} bytes`,
    );
  });

  it('npm start --questions <file> is read at start: a bad file stops the start naming the field', async () => {
    const good = await file({ categories: [{ id: 'red-things', label: 'Red things' }] });
    const options = readLocalOptions(['--questions', good], {});
    expect(options !== 'help' && options.questionsFile).toBe(good);

    const empty = await file({ questions: [{ id: 'a', prompt: '', type: 'text' }] });
    expect(() => readLocalOptions(['--questions', empty], {})).toThrow(
      `questions[0].prompt in ${empty}: must not be empty`,
    );
  });

  it('image-describer describe --questions <file>: a bad file exits 2 before any image, naming the field', async () => {
    const bad = await file({ questions: [{ id: 'kind', prompt: 'What is it?', type: 'free text' }] });
    const { output, stderr } = captureOutput();

    const status = await runCli(['describe', 'no-such-image.png', '--questions', bad], {}, output);

    expect(status).toBe(2);
    expect(stderr()).toContain(
      `INVALID_CONFIG: questions[0].type in ${bad}: expected one of "text", "yes-no"`,
    );
  });
});
