import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { validateRecord } from '#engine/record/record.ts';
import type { DescriptionRecord } from '#engine/record/schema.ts';
import { type ImageFixtureName, imageFixture } from '#test/fixtures/images.ts';
import { renderTextImage, textImage } from '#test/fixtures/text-images.ts';
import { captureOutput } from '#test/support/capture-output.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import { countVisionPasses } from '#test/support/vision-passes.ts';
import { runCli } from '../../../functions/cli/cli.ts';

const run = promisify(execFile);

let workDir: string;
let env: Record<string, string>;

async function writeFixture(dir: string, fileName: string, fixture: ImageFixtureName): Promise<string> {
  const path = join(dir, fileName);
  await writeFile(path, await imageFixture(fixture));
  return path;
}

async function readSidecar(path: string): Promise<DescriptionRecord> {
  return validateRecord(JSON.parse(await readFile(`${path}.description.json`, 'utf8')));
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'cli-test-'));
  env = { MODELS_DIR: fixtureModelsDir() };
});

describe('image-describer describe <file>', () => {
  it('prints the caption, the colours and the image facts of one image', async () => {
    const path = await writeFixture(workDir, 'red.png', 'solidRed');
    const { output, stdout } = captureOutput();

    const status = await runCli(['describe', path], env, output);

    expect(status).toBe(0);
    expect(stdout()).toContain('caption:     a red square');
    expect(stdout()).toContain('objects:     red square');
    expect(stdout()).toMatch(/colours: +red 100%/);
    expect(stdout()).toContain('png 64×64');
    expect(existsSync(`${path}.description.json`), 'a single file is printed, not written').toBe(false);
  });

  it('prints the raw record with --json, fast stage done and the detailed stage left pending', async () => {
    const path = await writeFixture(workDir, 'blue.png', 'solidBlue');
    const { output, stdout } = captureOutput();

    const status = await runCli(['describe', path, '--json'], env, output);

    const record = validateRecord(JSON.parse(stdout()));
    expect(status).toBe(0);
    expect(record.caption).toBe('a blue square');
    expect(record.status.fast.state).toBe('done');
    expect(record.status.detailed.state).toBe('pending');
    expect(record.source).toMatchObject({ kind: 'file', path, size: (await readFile(path)).length });
    expect(record.models.caption?.id).toBe('fixtures/florence2-colour');
  });

  it('adds the detailed description in normal mode', async () => {
    const path = await writeFixture(workDir, 'green.png', 'solidGreen');
    const { output, stdout } = captureOutput();

    const status = await runCli(['describe', path, '--mode', 'normal', '--json'], env, output);

    const record = validateRecord(JSON.parse(stdout()));
    expect(status).toBe(0);
    expect(record.caption).toBe('a green square');
    expect(record.detailedDescription).toBe('the image shows a green square');
    expect(record.status.detailed.state).toBe('done');
  });

  it('--json in normal mode: caption, objects and detailed description of the red image from one encoder pass', async () => {
    const path = await writeFixture(workDir, 'red.png', 'solidRed');
    const { output, stdout } = captureOutput();
    const passes = countVisionPasses();

    try {
      const status = await runCli(['describe', path, '--mode', 'normal', '--json'], env, output);

      const record = validateRecord(JSON.parse(stdout()));
      expect(status).toBe(0);
      // One Florence-2 pass for the three tasks, one image-tower pass for the embedding.
      expect(passes.count).toBe(2);
      expect(record.caption).toBe('a red square');
      expect(record.objects).toHaveLength(1);
      expect(record.objects?.[0]).toMatchObject({ label: 'red square' });
      expect(record.objects?.[0]?.box.width).toBeCloseTo(1, 2);
      expect(record.labels).toEqual(['red square']);
      expect(record.detailedDescription).toBe('the image shows a red square');
    } finally {
      vi.restoreAllMocks();
    }
  });

  it('shows the text found in the image, in fast mode too', async () => {
    const path = join(workDir, 'bakery.png');
    await writeFile(path, (await renderTextImage(textImage('clearSans'))).png);
    const { output, stdout } = captureOutput();

    const status = await runCli(['describe', path], env, output);

    expect(status).toBe(0);
    expect(stdout()).toContain('text:        Fresh bread every morning');
  });

  it('reads no text when OCR_STAGE=off', async () => {
    const path = join(workDir, 'bakery-off.png');
    await writeFile(path, (await renderTextImage(textImage('clearSans'))).png);
    const { output, stdout } = captureOutput();

    await runCli(['describe', path, '--json'], { ...env, OCR_STAGE: 'off' }, output);

    const record = validateRecord(JSON.parse(stdout()));
    expect(record.text).toBeUndefined();
    expect(record.models.ocr).toBeUndefined();
  });

  it('describes a JPEG whose EXIF orientation rotates it, reporting the displayed size', async () => {
    const path = await writeFixture(workDir, 'rotated.jpg', 'exifRotatedJpeg');
    const { output, stdout } = captureOutput();

    await runCli(['describe', path, '--json'], env, output);

    const record = validateRecord(JSON.parse(stdout()));
    expect(record.image).toMatchObject({ width: 30, height: 60, orientation: 6 });
  });
});

describe('image-describer describe <folder>', () => {
  let folder: string;
  let status: number;
  let stderr: string;

  beforeAll(async () => {
    folder = join(workDir, 'holiday');
    await mkdir(folder);
    const files: Array<[string, ImageFixtureName]> = [
      ['red.png', 'solidRed'],
      ['cmyk.jpg', 'cmykJpeg'],
      ['deep.png', 'png16bit'],
      ['animated.gif', 'animatedGif'],
      ['drawing.svg', 'svgSelfContained'],
      ['empty.jpg', 'empty'],
      ['notes.jpg', 'textFile'],
      ['cut.jpg', 'truncatedJpeg'],
      ['bomb.png', 'pngBomb'],
      ['iphone.heic', 'heicLike'],
      ['tracking.svg', 'svgExternalHref'],
    ];
    for (const [name, fixture] of files) await writeFixture(folder, name, fixture);
    await writeFile(join(folder, 'README.txt'), 'not an image');
    const captured = captureOutput();
    status = await runCli(['describe', folder, '--mode', 'normal'], env, captured.output);
    stderr = captured.stderr();
  });

  it('writes a sidecar beside every good image with caption and detailed description', async () => {
    const red = await readSidecar(join(folder, 'red.png'));

    expect(red.caption).toBe('a red square');
    expect(red.detailedDescription).toBe('the image shows a red square');
    expect(red.status).toMatchObject({ fast: { state: 'done' }, detailed: { state: 'done' } });
  });

  it('converts a CMYK JPEG and a 16-bit PNG instead of refusing them', async () => {
    const cmyk = await readSidecar(join(folder, 'cmyk.jpg'));
    const deep = await readSidecar(join(folder, 'deep.png'));

    expect(cmyk.caption).toBe('a red square');
    expect(cmyk.image?.space).toBe('cmyk');
    expect(deep.caption).toBe('a blue square');
    expect(deep.image?.bitsPerSample).toBe(16);
  });

  it('describes the first frame of an animated GIF and says it is animated', async () => {
    const gif = await readSidecar(join(folder, 'animated.gif'));

    expect(gif.caption).toBe('a red square');
    expect(gif.image).toMatchObject({ format: 'gif', animated: true, pages: 3 });
  });

  it('renders a self-contained SVG and refuses one that references an outside URL', async () => {
    const drawing = await readSidecar(join(folder, 'drawing.svg'));
    const tracking = await readSidecar(join(folder, 'tracking.svg'));

    expect(drawing.caption).toBe('a red square');
    expect(tracking.status.fast.state).toBe('failed');
    expect(tracking.errors.fast?.code).toBe('UNSUPPORTED_FORMAT');
  });

  it.each([
    ['empty.jpg', 'EMPTY_INPUT'],
    ['notes.jpg', 'UNSUPPORTED_FORMAT'],
    ['cut.jpg', 'CORRUPT_IMAGE'],
    ['bomb.png', 'TOO_MANY_PIXELS'],
    ['iphone.heic', 'UNSUPPORTED_FORMAT'],
  ])('writes a failed sidecar with an error code for %s and goes on', async (name, code) => {
    const record = await readSidecar(join(folder, name));

    expect(record.status.fast.state).toBe('failed');
    expect(record.errors.fast?.code).toBe(code);
    expect(record.errors.fast?.message.length).toBeGreaterThan(20);
    expect(stderr).toContain(`${join(folder, name)}: ${code}`);
  });

  it('ends with a summary, skips non-image files and exits non-zero because files failed', () => {
    expect(stderr).toContain('5 described, 6 failed, 1 non-image file(s) skipped');
    expect(stderr).toContain('[11/11]');
    expect(status).toBe(1);
    expect(existsSync(join(folder, 'README.txt.description.json'))).toBe(false);
  });
});

describe('image-describer describe: options and set-up errors', () => {
  it('writes sidecars into --out, keeping the folder structure', async () => {
    const folder = join(workDir, 'out-src');
    await mkdir(join(folder, 'sub'), { recursive: true });
    await writeFixture(join(folder, 'sub'), 'gray.png', 'solidGray');
    const outDir = join(workDir, 'out-dst');
    const { output } = captureOutput();

    const status = await runCli(['describe', folder, '--recursive', '--out', outDir], env, output);

    expect(status).toBe(0);
    expect((await readSidecar(join(outDir, 'sub', 'gray.png'))).caption).toBe('a gray square');
    expect(existsSync(join(folder, 'sub', 'gray.png.description.json'))).toBe(false);
  });

  it('refuses an image over the configured pixel cap', async () => {
    const path = await writeFixture(workDir, 'photo.jpg', 'photoJpeg');
    const { output, stdout } = captureOutput();

    const status = await runCli(['describe', path, '--json'], { ...env, MAX_INPUT_PIXELS: '10000' }, output);

    expect(status).toBe(1);
    expect(validateRecord(JSON.parse(stdout())).errors.fast?.code).toBe('TOO_MANY_PIXELS');
  });

  it('reports a path that does not exist and a folder without images', async () => {
    const emptyFolder = join(workDir, 'nothing-here');
    await mkdir(emptyFolder);
    await writeFile(join(emptyFolder, 'notes.txt'), 'hello');
    const { output, stderr } = captureOutput();

    const status = await runCli(['describe', join(workDir, 'missing.jpg'), emptyFolder], env, output);

    expect(status).toBe(1);
    expect(stderr()).toContain(
      `Cannot read ${join(workDir, 'missing.jpg')}: there is no such file or folder; check the path.`,
    );
    expect(stderr()).toContain(`No images in ${emptyFolder}`);
  });

  it('with --require-models, stops before any work when the models are not installed, saying how to get them', async () => {
    const path = await writeFixture(workDir, 'red2.png', 'solidRed');
    const emptyModels = join(workDir, 'models-without-weights');
    await mkdir(emptyModels);
    await writeFile(
      join(emptyModels, 'manifest.json'),
      await readFile(join(fixtureModelsDir(), 'manifest.json'), 'utf8'),
    );
    const { output, stderr, stdout } = captureOutput();

    const status = await runCli(['describe', path, '--models', emptyModels, '--require-models'], env, output);

    expect(status).toBe(2);
    expect(stderr()).toContain('fixtures/florence2-colour');
    expect(stderr()).toContain('npm run models:fetch');
    expect(stdout()).toBe('');
  });

  it.each([
    [['describe', 'x.jpg', '--mode', 'slow'], '--mode must be fast or normal (not "slow")'],
    [['describe'], 'Name at least one image or folder to describe'],
    [['summarise', 'x.jpg'], 'There is no command "summarise": use describe, eval or search'],
    [['describe', 'x.jpg', '--colour'], 'There is no option --colour: see the options below.'],
  ])('rejects the command line %j with a usage message', async (argv, message) => {
    const { output, stderr } = captureOutput();

    const status = await runCli(argv, env, output);

    expect(status).toBe(2);
    expect(stderr()).toContain(message);
    expect(stderr()).toContain('Usage: image-describer describe');
  });

  it('runs as the installed bin, the way `npx image-describer` does', async () => {
    const path = await writeFixture(workDir, 'white.png', 'solidWhite');

    const { stdout } = await run(process.execPath, ['bin/image-describer.mjs', 'describe', path], {
      env: { ...process.env, MODELS_DIR: fixtureModelsDir() },
    });

    expect(stdout).toContain('caption:     a white square');
  });
});
