import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HybridHit, HybridSearchResponse } from '#engine/search/hybrid.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { captureOutput } from '#test/support/capture-output.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import { runCli } from '../../../functions/cli/cli.ts';

/**
 * Search by meaning through the CLI, end to end with the known-answer models: describe embeds each
 * image (the image tower), search embeds the words (the text tower) and ranks by cosine, fused with
 * the keyword matches. "crimson" is in no record, yet finds the red image.
 */
let dir: string;
let noEmbeddingModel: string;

const solid = (hex: string) =>
  sharp({ create: { width: 64, height: 64, channels: 3, background: hex } })
    .png()
    .toBuffer();

async function search(modelsDir: string, ...args: string[]) {
  const { output, stdout, stderr } = captureOutput();
  const status = await runCli(['search', '--dir', dir, ...args], { MODELS_DIR: modelsDir }, output);
  return { status, stdout: stdout(), stderr: stderr() };
}

async function searchJson(...args: string[]): Promise<HybridSearchResponse & { results: HybridHit[] }> {
  const { status, stdout, stderr } = await search(fixtureModelsDir(), '--json', ...args);
  expect(status, stderr).toBe(0);
  return JSON.parse(stdout);
}

const names = (response: { results: readonly { name: string }[] }) => response.results.map((hit) => hit.name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'semantic-cli-'));
  await writeFile(join(dir, 'red.png'), await imageFixture('solidRed'));
  await writeFile(join(dir, 'blue.png'), await imageFixture('solidBlue'));
  await writeFile(join(dir, 'dark-red.png'), await solid('#a00000'));
  const { output, stderr } = captureOutput();
  const status = await runCli(
    ['describe', dir, '--mode', 'fast'],
    { MODELS_DIR: fixtureModelsDir() },
    output,
  );
  expect(status, stderr()).toBe(0);
  // The same model set without the embedding model's files.
  noEmbeddingModel = await mkdtemp(join(tmpdir(), 'semantic-cli-models-'));
  await cp(fixtureModelsDir(), noEmbeddingModel, { recursive: true });
  await rm(join(noEmbeddingModel, 'fixtures', 'clip-colour'), { recursive: true, force: true });
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(noEmbeddingModel, { recursive: true, force: true });
});

describe('image-describer search by meaning', () => {
  it('"crimson" lists the red images and not the blue one, though no record says crimson', async () => {
    const sidecar = await readFile(join(dir, 'red.png.description.json'), 'utf8');
    expect(sidecar.toLowerCase()).not.toContain('crimson');
    expect(JSON.parse(sidecar).embedding).toMatchObject({ dims: 3, encoding: 'int8' });

    const response = await searchJson('crimson');

    expect(response.mode).toBe('hybrid');
    expect(names(response).sort()).toEqual(['dark-red.png', 'red.png']);
    expect(names(response)).not.toContain('blue.png');
    expect(response.results[0]?.similarity).toBeGreaterThan(0.9);
  });

  it('fuses with the keyword matches: "blue" lists the blue image first, and "scarlet" the red ones', async () => {
    expect(names(await searchJson('blue'))[0]).toBe('blue.png');
    expect(names(await searchJson('scarlet'))).not.toContain('blue.png');
  });

  it('keeps the filters: "crimson" among images with a blue share lists nothing', async () => {
    expect(names(await searchJson('crimson', '--colour', 'blue'))).toEqual([]);
  });

  it('lists images similar to one, nearest first, without the image itself', async () => {
    const response = await searchJson('--similar', join(dir, 'red.png'));
    expect(response.mode).toBe('similar');
    expect(names(response)).toEqual(['dark-red.png', 'blue.png']);
  });

  it('falls back to keywords and says so while the embedding model is missing', async () => {
    const { status, stdout } = await search(noEmbeddingModel, '--json', 'crimson');
    expect(status).toBe(0);
    const response = JSON.parse(stdout) as HybridSearchResponse;
    expect(response.mode).toBe('keyword');
    expect(response.notice).toMatch(/not available yet.*fixtures\/clip-colour.*keyword matches only/s);
    expect(response.results).toEqual([]);
    const red = await search(noEmbeddingModel, 'red');
    expect(red.stdout).toContain('red.png');
    expect(red.stderr).toMatch(/Search by meaning is not available yet/);
  });

  it('names --similar when its image is unknown or the value is malformed (exit 2)', async () => {
    const unknown = await search(fixtureModelsDir(), '--similar', join(dir, 'nothing.png'));
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/for --similar but received/);
    const both = await search(fixtureModelsDir(), 'red', '--similar', join(dir, 'red.png'));
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(
      /either words \(q\) or an image to match \(similar\), not both for --similar/,
    );
  });
});
