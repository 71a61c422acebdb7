import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadManifest } from '#engine/models/registry.ts';
import { buildFixtureModelSet } from '#models/fixtures/build.ts';

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

async function digest(dir: string): Promise<Record<string, string>> {
  const files = await filesUnder(dir);
  const hashes = await Promise.all(
    files.map(async (file) => [
      file.slice(dir.length),
      createHash('sha256')
        .update(await readFile(file))
        .digest('hex'),
    ]),
  );
  return Object.fromEntries(hashes);
}

describe('buildFixtureModelSet', () => {
  let first: string;
  let second: string;

  beforeAll(async () => {
    first = await mkdtemp(join(tmpdir(), 'fixtures-a-'));
    second = await mkdtemp(join(tmpdir(), 'fixtures-b-'));
  });

  afterAll(async () => {
    await Promise.all([first, second].map((dir) => rm(dir, { recursive: true, force: true })));
  });

  test('writes a manifest and the tiny models in the layout transformers.js loads, byte-identical run to run', async () => {
    // Act
    const { manifestPath } = await buildFixtureModelSet(first);
    await buildFixtureModelSet(second);

    // Assess
    expect(manifestPath).toBe(join(first, 'manifest.json'));
    const files = (await filesUnder(first)).map((file) => file.slice(first.length + 1));
    expect(files).toEqual(
      expect.arrayContaining([
        'manifest.json',
        'fixtures/florence2-colour/config.json',
        'fixtures/florence2-colour/preprocessor_config.json',
        'fixtures/florence2-colour/tokenizer.json',
        'fixtures/florence2-colour/tokenizer_config.json',
        'fixtures/florence2-colour/generation_config.json',
        'fixtures/florence2-colour/onnx/vision_encoder.onnx',
        'fixtures/florence2-colour/onnx/embed_tokens.onnx',
        'fixtures/florence2-colour/onnx/encoder_model.onnx',
        'fixtures/florence2-colour/onnx/decoder_model_merged.onnx',
        'fixtures/vit-gpt2-colour/config.json',
        'fixtures/vit-gpt2-colour/preprocessor_config.json',
        'fixtures/vit-gpt2-colour/tokenizer.json',
        'fixtures/vit-gpt2-colour/tokenizer_config.json',
        'fixtures/vit-gpt2-colour/onnx/encoder_model.onnx',
        'fixtures/vit-gpt2-colour/onnx/decoder_model_merged.onnx',
      ]),
    );
    expect(await digest(second)).toEqual(await digest(first));
  });

  test('the manifest (v2) runs caption, objects and detailed on Florence-2, questions on SmolVLM, and names vit-gpt2', async () => {
    await buildFixtureModelSet(first);

    const manifest = await loadManifest(first);

    expect(manifest.manifestVersion).toBe(2);
    expect(manifest.models.florence2).toMatchObject({
      id: 'fixtures/florence2-colour',
      architecture: 'florence2',
      dtype: 'fp32',
      fetch: 'default',
    });
    expect(manifest.tasks).toMatchObject({
      caption: { model: 'florence2', stage: 'fast', task: '<CAPTION>' },
      objects: { model: 'florence2', stage: 'fast', task: '<OD>' },
      detailed: { model: 'florence2', stage: 'detailed', task: '<MORE_DETAILED_CAPTION>' },
      questions: { model: 'smolvlm', stage: 'detailed' },
    });
    expect(manifest.models.smolvlm).toMatchObject({
      id: 'fixtures/smolvlm-colour',
      architecture: 'smolvlm',
      imageSplitting: false,
      fetch: 'optional',
    });
    expect(manifest.models['vit-gpt2']).toMatchObject({
      id: 'fixtures/vit-gpt2-colour',
      architecture: 'vision-encoder-decoder',
    });
  });

  test('each model folder stays under 100 KB', async () => {
    await buildFixtureModelSet(first);

    for (const model of [
      'fixtures/florence2-colour',
      'fixtures/smolvlm-colour',
      'fixtures/vit-gpt2-colour',
    ]) {
      const sizes = await Promise.all(
        (await filesUnder(join(first, model))).map(async (file) => (await stat(file)).size),
      );
      expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThan(100 * 1024);
    }
  });

  test('the CLI refuses a missing --out with the usage line and exit status 2', async () => {
    const run = promisify(execFile);

    const failure = await run(process.execPath, ['--import', 'tsx', 'models/fixtures/build.ts']).catch(
      (error: { code: number; stderr: string }) => error,
    );

    expect(failure).toMatchObject({ code: 2 });
    expect((failure as { stderr: string }).stderr).toContain(
      'Expected a directory for --out but received nothing\nUsage: npm run fixtures -- --out <dir>',
    );
  });
});
