import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { CIDER_D_DEFAULTS } from '#engine/eval/cider-d.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { renderTextImage, textImage } from '#test/fixtures/text-images.ts';
import { captureOutput } from '#test/support/capture-output.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import { runCli } from '../../../functions/cli/cli.ts';
import { EVAL_DEFAULTS } from '../../../functions/cli/eval-command.ts';

const run = promisify(execFile);

let workDir: string;
let env: Record<string, string>;

const jsonl = (lines: ReadonlyArray<object | string>) =>
  lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n');

/** A labelled folder: the red, green and blue squares (and optionally the bakery sign) plus references.jsonl. */
async function labelledFolder(name: string, references: ReadonlyArray<object | string>, bakery = false) {
  const folder = join(workDir, name);
  await mkdir(folder);
  await writeFile(join(folder, 'red.png'), await imageFixture('solidRed'));
  await writeFile(join(folder, 'green.png'), await imageFixture('solidGreen'));
  await writeFile(join(folder, 'blue.png'), await imageFixture('solidBlue'));
  if (bakery)
    await writeFile(join(folder, 'bakery.png'), (await renderTextImage(textImage('clearSans'))).png);
  await writeFile(join(folder, 'references.jsonl'), jsonl(references));
  return folder;
}

async function evalJson(folder: string, extra: string[] = []) {
  const captured = captureOutput();
  const status = await runCli(['eval', folder, '--json', ...extra], env, captured.output);
  return { status, report: JSON.parse(captured.stdout()), stderr: captured.stderr() };
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'eval-test-'));
  env = { MODELS_DIR: fixtureModelsDir() };
  // One question and one category the fixture models can meet: captions say "square".
  await writeFile(
    join(workDir, 'questions.json'),
    JSON.stringify({
      questions: [{ id: 'colour', prompt: 'What is the main colour?', type: 'text' }],
      categories: [{ id: 'shapes', label: 'Shapes', keywords: ['square'] }],
    }),
  );
});

describe('image-describer eval <folder> with the fixture models', () => {
  let mixed: Awaited<ReturnType<typeof evalJson>>;
  let table: { status: number; stdout: string; stderr: string };

  beforeAll(async () => {
    const folder = await labelledFolder(
      'mixed',
      [
        {
          file: 'red.png',
          captions: ['a red square'],
          categories: ['shapes'],
          answers: { colour: 'red' },
        },
        { file: 'green.png', captions: ['a green square', 'a square that is green'] },
        // A wrong reference: the blue image is not a yellow circle.
        { file: 'blue.png', captions: ['a yellow circle'], categories: [], answers: { colour: 'purple' } },
        { file: 'bakery.png', text: 'Fresh bread every morning' },
        { file: 'missing.png', captions: ['a cat'] },
        '{"file": "broken.png", ',
        { file: 'green.png', captions: ['listed twice'] },
        { file: 'red.png ', caption: ['a typo in the field name'] },
      ],
      true,
    );
    await writeFile(join(folder, 'unlabelled.png'), await imageFixture('solidGray'));
    const questions = ['--questions', join(workDir, 'questions.json')];
    mixed = await evalJson(folder, questions);
    const captured = captureOutput();
    const status = await runCli(['eval', folder, ...questions], env, captured.output);
    table = { status, stdout: captured.stdout(), stderr: captured.stderr() };
  });

  it('prints every metric in a table and exits 0', () => {
    expect(table.status).toBe(0);
    for (const row of [
      /CIDEr-D +\d+\.\d{3} +4 images/,
      /BLEU-4 +0\.\d{3} +4 images/,
      /BLEU-1 +0\.\d{3} +4 images/,
      /OCR CER +\d+\.\d % +1 image/,
      /category accuracy +50\.0 % +2 images/,
      /answer accuracy +50\.0 % +2 answers/,
      /contradicted \/ 100 images +\d+\.\d +4 images: \d+ contradicted, \d+ consistent, \d+ unverifiable/,
      /fast\.captionMs +\d+\.\d +\d+\.\d +4/,
      /wall\.perImageMs +\d+\.\d +\d+\.\d +4/,
      /peak RSS: \d+ MB/,
    ])
      expect(table.stdout).toMatch(row);
    expect(table.stdout).toContain('caption: fixtures/florence2-colour@');
    expect(table.stderr).toContain('[5/5] missing.png');
  });

  it('scores the right caption high and the wrong reference low', () => {
    const byFile = Object.fromEntries(
      (mixed.report.metrics.perImage as Array<{ file: string; ciderD?: number; caption?: string }>).map(
        (i) => [i.file, i],
      ),
    );

    expect(byFile['red.png']?.caption).toBe('a red square');
    expect(byFile['red.png']?.ciderD).toBeGreaterThan(2);
    expect(byFile['green.png']?.ciderD).toBeGreaterThan(1);
    expect(byFile['blue.png']?.ciderD).toBeLessThan(0.5);
    expect(byFile['missing.png']?.ciderD).toBe(0);
  });

  it('reads the sign text with a low CER', () => {
    expect(mixed.report.metrics.ocrCer.value).toBeLessThan(0.05);
  });

  it('counts categories and answers: the config category matches squares, the red image is answered "red"', () => {
    // red expects shapes (caption "a red square" has the keyword), blue expects none but is a square too.
    expect(mixed.report.metrics.categoryAccuracy).toEqual({ value: 0.5, scored: 2, notProduced: 0 });
    // The fixture VLM answers a colour question with the colour: red is right, blue's "purple" wrong.
    expect(mixed.report.metrics.answerAccuracy).toEqual({ value: 0.5, scored: 2, notProduced: 0 });
    expect(mixed.report.models.answers[0]).toMatch(/^fixtures\//);
  });

  it('reports the consistency checks of the records', () => {
    const { checks } = mixed.report.metrics;

    expect(checks.images).toBe(4);
    expect(checks.contradicted + checks.consistent + checks.unverifiable).toBeGreaterThan(0);
    expect(checks.contradictedPer100Images).toBe((100 * checks.contradicted) / 4);
  });

  it('reports bad references lines by number, an unreadable image as failed, and evaluates the rest', () => {
    expect(mixed.status).toBe(0);
    expect(mixed.stderr).toMatch(/references\.jsonl line 6: not JSON/);
    expect(mixed.stderr).toContain('line 7: file green.png is already listed on line 2');
    expect(mixed.stderr).toMatch(/line 8: .*"caption"/);
    expect(mixed.report.referenceProblems.map((p: { line: number }) => p.line)).toEqual([6, 7, 8]);
    expect(mixed.report.images).toEqual({ evaluated: 5, described: 4, failed: 1 });
    expect(table.stdout).toContain('✗ missing.png: UNREADABLE_SOURCE');
    expect(mixed.stderr).toContain(
      `1 image in ${join(workDir, 'mixed')} not in the references: not evaluated`,
    );
  });

  it('says what is wrong with a bad line and does not then call its image "not in the references"', async () => {
    const folder = await labelledFolder('typo', [
      { file: 'red.png', captions: ['a red square'] },
      { file: 'green.png', captions: ['a green square'] },
      { file: 'blue.png', caption: ['a blue square'] },
    ]);

    const { status, stderr } = await evalJson(folder);

    expect(status).toBe(0);
    expect(stderr).toContain(
      'references.jsonl line 3: there is no field "caption"; did you mean "captions"?',
    );
    expect(stderr).not.toContain('not in the references');
  });

  it('gives captions equal to their references the best BLEU and says n/a where nothing is referenced', async () => {
    const folder = await labelledFolder('right', [
      { file: 'red.png', captions: ['a red square'] },
      { file: 'green.png', captions: ['A green square.'] },
      { file: 'blue.png', captions: ['a blue square'] },
    ]);
    const captured = captureOutput();

    const status = await runCli(['eval', folder, '--mode', 'fast'], env, captured.output);
    const right = await evalJson(folder, ['--mode', 'fast']);

    expect(status).toBe(0);
    expect(right.report.metrics.bleu1.value).toBeCloseTo(1, 6);
    expect(right.report.metrics.bleu4.value).toBeGreaterThan(mixed.report.metrics.bleu4.value);
    for (const metric of ['OCR CER', 'category accuracy', 'answer accuracy'])
      expect(captured.stdout()).toMatch(new RegExp(`${metric} +n/a +no references`));
    expect(captured.stdout()).not.toContain('detailed.');
  });
});

describe('image-describer eval: set-up errors', () => {
  it('refuses a folder that does not exist', async () => {
    const { output, stderr } = captureOutput();

    const status = await runCli(['eval', join(workDir, 'nowhere')], env, output);

    expect(status).toBe(2);
    expect(stderr()).toContain(`Cannot evaluate ${join(workDir, 'nowhere')}: no such folder`);
  });

  it('refuses a folder without references.jsonl, saying what to write', async () => {
    const folder = join(workDir, 'unlabelled');
    await mkdir(folder);
    const { output, stderr } = captureOutput();

    const status = await runCli(['eval', folder], env, output);

    expect(status).toBe(2);
    expect(stderr()).toContain(`no references file at ${join(folder, 'references.jsonl')}`);
    expect(stderr()).toContain('{"file":"red.png","captions":["a red square"]}');
  });

  it('refuses references without one usable line, listing the bad ones', async () => {
    const folder = await labelledFolder('all-bad', ['nope', { captions: ['no file'] }]);
    const { output, stderr } = captureOutput();

    const status = await runCli(['eval', folder], env, output);

    expect(status).toBe(2);
    expect(stderr()).toContain('line 1: not JSON');
    expect(stderr()).toContain('line 2: "file" is missing');
    expect(stderr()).toContain('has no usable line (2 bad)');
  });

  it('stops before any work when the model set is not installed', async () => {
    const folder = await labelledFolder('no-models', [{ file: 'red.png', captions: ['a red square'] }]);
    const emptyModels = join(workDir, 'models-without-weights');
    await mkdir(emptyModels);
    await writeFile(
      join(emptyModels, 'manifest.json'),
      await readFile(join(fixtureModelsDir(), 'manifest.json'), 'utf8'),
    );
    const { output, stderr, stdout } = captureOutput();

    const status = await runCli(['eval', folder, '--models', emptyModels], env, output);

    expect(status).toBe(2);
    expect(stderr()).toContain('npm run models:fetch');
    expect(stdout()).toBe('');
  });

  it('stops before any work when questions are configured and the questions model is not installed', async () => {
    // Prepare: the fixture set without its SmolVLM files
    const folder = await labelledFolder('no-vlm', [{ file: 'red.png', answers: { colour: 'red' } }]);
    const withoutVlm = join(workDir, 'models-without-vlm');
    await cp(fixtureModelsDir(), withoutVlm, { recursive: true });
    await rm(join(withoutVlm, 'fixtures', 'smolvlm-colour'), { recursive: true, force: true });
    const { output, stderr, stdout } = captureOutput();

    // Act
    const status = await runCli(
      ['eval', folder, '--models', withoutVlm, '--questions', join(workDir, 'questions.json')],
      env,
      output,
    );

    // Assess: not an "answer accuracy 0 %" from answers that never had a model
    expect(status).toBe(2);
    expect(stderr()).toMatch(/questions: fixtures\/smolvlm-colour/);
    expect(stdout()).toBe('');
  });

  it.each([
    [['eval'], 'Expected a folder to evaluate but received nothing'],
    [['eval', 'a', 'b'], 'Expected one folder for eval but received "a b"'],
    [['eval', 'a', '--mode', 'slow'], 'Expected fast or normal for --mode but received "slow"'],
  ])('rejects %j with the eval usage', async (argv, message) => {
    const { output, stderr } = captureOutput();

    const status = await runCli(argv, env, output);

    expect(status).toBe(2);
    expect(stderr()).toContain(message);
    expect(stderr()).toContain('Usage: image-describer eval <folder>');
  });

  it('shows its help through the installed bin', async () => {
    const { stdout } = await run(process.execPath, ['bin/image-describer.mjs', 'eval', '--help']);

    expect(stdout).toContain('Usage: image-describer eval <folder>');
    expect(stdout).toContain('references.jsonl');
  });
});

describe('docs/eval.md', () => {
  it('states the defaults the code uses', async () => {
    const page = await readFile('docs/eval.md', 'utf8');

    expect(page).toContain(`| \`--mode fast\\|normal\` | \`${EVAL_DEFAULTS.mode}\` |`);
    expect(page).toContain(`| \`--references <file>\` | \`<folder>/${EVAL_DEFAULTS.referencesFile}\` |`);
    expect(page).toContain(`n = 1…${CIDER_D_DEFAULTS.n}`);
    expect(page).toContain(`σ = ${CIDER_D_DEFAULTS.sigma}`);
  });
});
