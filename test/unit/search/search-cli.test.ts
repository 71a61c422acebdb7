import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SearchResponse } from '#engine/search/document.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { renderTextImage, textImage } from '#test/fixtures/text-images.ts';
import { captureOutput } from '#test/support/capture-output.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import { runCli } from '../../../functions/cli/cli.ts';

/** `describe` writes sidecars for a folder; `search` finds the images in them. */
let dir: string;
const env = () => ({ MODELS_DIR: fixtureModelsDir() });

async function search(...args: string[]) {
  const { output, stdout, stderr } = captureOutput();
  const status = await runCli(['search', '--dir', dir, ...args], env(), output);
  return { status, stdout: stdout(), stderr: stderr() };
}

async function searchJson(...args: string[]): Promise<string[]> {
  const { status, stdout } = await search('--json', ...args);
  expect(status).toBe(0);
  return (JSON.parse(stdout) as SearchResponse).results.map((hit) => hit.name).sort();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'search-cli-'));
  const sign = {
    ...textImage('clearHeading'),
    name: 'cliOpenSign',
    lines: ['OPEN 24 HOURS'],
    colour: '#ffffff',
    background: { kind: 'flat' as const, colour: '#d01818' },
  };
  await mkdir(join(dir, 'shop'));
  await writeFile(join(dir, 'shop', 'sign.png'), (await renderTextImage(sign)).png);
  await writeFile(join(dir, 'red.png'), await imageFixture('solidRed'));
  await writeFile(
    join(dir, 'dawn.png'),
    await sharp({ create: { width: 64, height: 64, channels: 3, background: '#d8d7d9' } })
      .png()
      .toBuffer(),
  );
  const { output, stderr } = captureOutput();
  const status = await runCli(['describe', dir, '--recursive'], env(), output);
  expect(status, stderr()).toBe(0);
  // Not a record: search reports it and goes on.
  await writeFile(join(dir, 'notes.png.description.json'), '{"hello":"world"}');
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('image-describer search', () => {
  it('finds the sign by a word of its text, in subfolders too', async () => {
    expect(await searchJson('open')).toEqual(['sign.png']);
    expect(await searchJson('OPEN', '24', 'hours')).toEqual(['sign.png']);
  });

  it('filters by colour family, and "red" never matches the colour name Desired Dawn', async () => {
    expect(await searchJson('--colour', 'red')).toEqual(['red.png', 'sign.png']);
    expect(await searchJson('red')).not.toContain('dawn.png');
    expect(await searchJson('--colour', 'gray')).toEqual(['dawn.png']);
  });

  it('finds colours by the names the palette gives them, not only by family', async () => {
    expect(await searchJson('--colour', 'light gray')).toEqual(['dawn.png']);
    expect(await searchJson('--colour', 'light grey')).toEqual(['dawn.png']);
    expect(await searchJson('--colour', 'dark gray')).toEqual([]);
    const { stdout } = await search('--colour', 'light gray');
    expect(stdout).toContain('colours:  gray 100% (light gray)');
  });

  it('prints results for a person, and reports the sidecar it could not read', async () => {
    const { status, stdout, stderr } = await search('square', '--colour', 'red', '--has-text', 'false');
    expect(status).toBe(0);
    expect(stdout).toMatch(
      /^1\. .*red\.png {2}\(score [\d.]+(, similarity [\d.]+)?\)\n {3}caption: {2}a red square/,
    );
    expect(stdout).toContain('1-1 of 1');
    expect(stderr).toMatch(/skipped .*notes\.png\.description\.json: Description record does not match/);
  });

  it('pages with --limit and --cursor', async () => {
    const first = await search('--json', '--limit', '2');
    const page = JSON.parse(first.stdout) as SearchResponse;
    expect(page.results).toHaveLength(2);
    expect(page.total).toBe(3);
    const second = JSON.parse(
      (await search('--json', '--limit', '2', '--cursor', page.nextCursor ?? '')).stdout,
    );
    expect((second as SearchResponse).results).toHaveLength(1);
  });

  it('names the flag that is wrong, with exit status 2', async () => {
    const teal = await search('--colour', 'teal');
    expect(teal.status).toBe(2);
    expect(teal.stderr).toMatch(/^Expected a colour family .* for --colour but received "teal"/);
    const quote = await search("'");
    expect(quote.status).toBe(2);
    expect(quote.stderr).toMatch(/for the search words but received "'"/);
    expect((await search('--sort', 'random')).stderr).toContain('--sort');
  });

  it('refuses a category id no list knows, naming the known ones; a singular is the same id', async () => {
    const unknown = await search('--category', 'pets');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/There is no category "pets": the known ones are .*\banimals\b/);
    expect(unknown.stdout).toBe('');
    // Ids fold like words: "animal" is the configured "animals" (no square is one).
    const singular = await search('--category', 'animal');
    expect(singular.status).toBe(0);
    expect(singular.stdout).toContain('No images match.');
  });

  it('says in a sentence that the --dir folder does not exist', async () => {
    const { output, stderr } = captureOutput();
    const nope = join(dir, 'nope');

    const status = await runCli(['search', 'x', '--dir', nope], env(), output);

    expect(status).toBe(2);
    expect(stderr()).toBe(
      `There is no folder ${nope}: give --dir the folder describe wrote its sidecars in (default: the current folder).\n`,
    );
  });
});
