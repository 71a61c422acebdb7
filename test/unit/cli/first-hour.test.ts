import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { validateRecord } from '#engine/record/record.ts';
import type { DescriptionRecord } from '#engine/record/schema.ts';
import { type ImageFixtureName, imageFixture } from '#test/fixtures/images.ts';
import { captureOutput } from '#test/support/capture-output.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import { runCli } from '../../../functions/cli/cli.ts';

/** What a new user meets first: no models yet, re-runs on a folder, empty folders, typos. */
let workDir: string;
let env: Record<string, string>;
/** A model set whose manifest names the fixture models but holds none of their files. */
let emptyModels: string;

async function writeFixture(dir: string, fileName: string, fixture: ImageFixtureName): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, fileName);
  await writeFile(path, await imageFixture(fixture));
  return path;
}

async function describeCli(...argv: string[]) {
  const { output, stdout, stderr } = captureOutput();
  const status = await runCli(['describe', ...argv], env, output);
  return { status, stdout: stdout(), stderr: stderr() };
}

async function readSidecar(path: string): Promise<DescriptionRecord> {
  return validateRecord(JSON.parse(await readFile(`${path}.description.json`, 'utf8')));
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'cli-first-hour-'));
  env = { MODELS_DIR: fixtureModelsDir() };
  emptyModels = join(workDir, 'models-not-fetched');
  await mkdir(emptyModels);
  await writeFile(
    join(emptyModels, 'manifest.json'),
    await readFile(join(fixtureModelsDir(), 'manifest.json'), 'utf8'),
  );
});

describe('describe before the models are fetched', () => {
  it('prints colours and image facts, says in one line what is missing, and exits 0', async () => {
    const path = await writeFixture(workDir, 'red.png', 'solidRed');

    const { status, stdout, stderr } = await describeCli(path, '--models', emptyModels);

    expect(status).toBe(0);
    expect(stdout).toContain('png 64×64');
    expect(stdout).toMatch(/colours: +red 100%/);
    expect(stdout).toContain('caption:     (waiting for models: run npm run models:fetch)');
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(
      /^No caption, objects and embedding yet: fixtures\/florence2-colour, fixtures\/clip-colour not installed in /,
    );
    expect(stderr).toContain('npm run models:fetch');
    expect(stderr).toContain('--require-models');
  });

  it('--require-models keeps the strict behaviour for scripts: exit 2 before any work', async () => {
    const path = await writeFixture(workDir, 'red.png', 'solidRed');

    const { status, stdout, stderr } = await describeCli(path, '--models', emptyModels, '--require-models');

    expect(status).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('Models are not installed');
  });
});

describe('describe a folder again', () => {
  let folder: string;

  beforeAll(async () => {
    folder = join(workDir, 'again');
    await writeFixture(folder, 'red.png', 'solidRed');
    await writeFixture(folder, 'blue.png', 'solidBlue');
    const first = await describeCli(folder);
    expect(first.stderr).toContain('2 described, 0 failed');
  });

  it('skips images whose sidecar is up to date, and says so', async () => {
    const before = await readSidecar(join(folder, 'red.png'));

    const { status, stderr } = await describeCli(folder);

    expect(status).toBe(0);
    expect(stderr).toContain('0 described, 0 failed, 2 unchanged (--force describes them again)');
    expect(await readSidecar(join(folder, 'red.png'))).toEqual(before);
  });

  it('describes an image again when its bytes changed, and everything with --force', async () => {
    await writeFixture(folder, 'blue.png', 'solidGreen');

    const changed = await describeCli(folder);
    const forced = await describeCli(folder, '--force');

    expect(changed.stderr).toContain('1 described, 0 failed, 1 unchanged');
    expect((await readSidecar(join(folder, 'blue.png'))).caption).toBe('a green square');
    expect(forced.stderr).toContain('2 described, 0 failed\n');
  });

  it('adds the detailed description when the folder is described again in normal mode', async () => {
    const { stderr } = await describeCli(folder, '--mode', 'normal');

    expect(stderr).toContain('2 described, 0 failed');
    expect((await readSidecar(join(folder, 'red.png'))).detailedDescription).toBe(
      'the image shows a red square',
    );
  });
});

describe('describe: what it says', () => {
  it('says which sub-folders it did not look in without --recursive', async () => {
    const folder = join(workDir, 'trip');
    await writeFixture(folder, 'red.png', 'solidRed');
    await writeFixture(join(folder, 'day-2'), 'blue.png', 'solidBlue');

    const { status, stderr } = await describeCli(folder);

    expect(status).toBe(0);
    expect(stderr).toContain(
      `Not looking in 1 sub-folder(s) (${join(folder, 'day-2')}): add --recursive to describe their images too.`,
    );
  });

  it('says the detailed description was not requested in fast mode, rather than leaving it "pending"', async () => {
    const path = await writeFixture(workDir, 'gray.png', 'solidGray');

    const { stdout } = await describeCli(path);

    expect(stdout).toContain('description: (not requested: --mode normal adds the detailed description)');
    expect(stdout).not.toContain('pending');
  });

  it("prints one bad file's error once", async () => {
    const path = await writeFixture(workDir, 'cut.jpg', 'truncatedJpeg');
    const folder = join(workDir, 'one-bad');
    await writeFixture(folder, 'cut.jpg', 'truncatedJpeg');
    await writeFixture(folder, 'red.png', 'solidRed');

    const single = await describeCli(path);
    const batch = await describeCli(folder);

    expect(single.status).toBe(1);
    expect(`${single.stdout}${single.stderr}`.match(/CORRUPT_IMAGE/g)).toHaveLength(1);
    expect(batch.status).toBe(1);
    expect(`${batch.stdout}${batch.stderr}`.match(/CORRUPT_IMAGE/g)).toHaveLength(1);
    expect(batch.stderr).toContain('1 described, 1 failed');
  });

  it('says an empty folder is empty, without calling it a failure', async () => {
    const folder = join(workDir, 'empty');
    await mkdir(folder);

    const { status, stderr } = await describeCli(folder);

    expect(status).toBe(0);
    expect(stderr).toContain(`No images in ${folder}`);
    expect(stderr).not.toContain('failed');
  });

  it('prints the usage and exits 2 when given no command at all', async () => {
    const { output, stdout, stderr } = captureOutput();

    const status = await runCli([], env, output);

    expect(status).toBe(2);
    expect(stdout()).toBe('');
    expect(stderr()).toContain('Usage: image-describer describe');
  });
});
