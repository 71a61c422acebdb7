import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ManifestError } from '#engine/errors.ts';
import { loadManifest, ModelRegistry } from '#engine/models/registry.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';

const florence = {
  id: 'onnx-community/Florence-2-base-ft',
  revision: '0123456789abcdef0123456789abcdef01234567',
  architecture: 'florence2',
  dtype: 'q8',
  task: '<CAPTION>',
};
const validManifest = () => ({
  manifestVersion: 1,
  modes: { fast: { ...florence }, normal: { ...florence } },
});

describe('loadManifest', () => {
  let dir: string;
  let file: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'manifest-'));
    file = join(dir, 'manifest.json');
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function loadWith(manifest: unknown): Promise<unknown> {
    await writeFile(file, typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
    return loadManifest(dir).catch((error: unknown) => error);
  }

  test('the fixture set loads, with defaults filled in', async () => {
    const manifest = await loadManifest(fixtureModelsDir());

    expect(manifest.modes.fast).toMatchObject({
      id: 'fixtures/florence2-colour',
      task: '<CAPTION>',
      threads: 0,
    });
    expect(manifest.extra['vit-gpt2']?.architecture).toBe('vision-encoder-decoder');
  });

  test('a missing model directory names the directory and how to fill it', async () => {
    const error = await loadManifest(join(dir, 'nowhere')).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ManifestError);
    expect((error as Error).message).toContain(`for MODELS_DIR but received "${join(dir, 'nowhere')}"`);
    expect((error as Error).message).toContain('npm run models:fetch');
  });

  test('a directory without manifest.json names the file', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'manifest-empty-'));
    try {
      const error = await loadManifest(empty).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ManifestError);
      expect((error as Error).message).toContain(
        `Expected a model manifest at ${join(empty, 'manifest.json')}`,
      );
    } finally {
      await rm(empty, { recursive: true });
    }
  });

  test('a manifest that is not JSON says so', async () => {
    const error = await loadWith('{ "manifestVersion": 1,');

    expect(error).toBeInstanceOf(ManifestError);
    expect((error as Error).message).toMatch(new RegExp(`^Expected JSON in ${file} but it does not parse`));
  });

  test.each([
    [
      'a bad model id',
      (m: ReturnType<typeof validManifest>) => Object.assign(m.modes.fast, { id: 'florence' }),
      'Expected a Hugging Face id like org/name for modes.fast.id in FILE but received "florence"',
    ],
    [
      'an unknown architecture',
      (m: ReturnType<typeof validManifest>) => Object.assign(m.modes.normal, { architecture: 'blip' }),
      'Expected one of "vision-encoder-decoder", "florence2", "smolvlm" for modes.normal.architecture in FILE but received "blip"',
    ],
    [
      'a florence2 model without a task',
      (m: ReturnType<typeof validManifest>) => Object.assign(m.modes.fast, { task: undefined }),
      'modes.fast in FILE: florence2 models need a task such as <CAPTION>',
    ],
    [
      'a wrong type',
      (m: ReturnType<typeof validManifest>) =>
        Object.assign(m.modes.fast, { generation: { max_new_tokens: '20' } }),
      'Expected a number for modes.fast.generation.max_new_tokens in FILE but received "20"',
    ],
    [
      'a typo in a key',
      (m: ReturnType<typeof validManifest>) => Object.assign(m.modes.fast, { dtpye: 'q4' }),
      'Expected only known keys for modes.fast in FILE but received "unknown key(s) dtpye"',
    ],
    [
      'an unknown dtype',
      (m: ReturnType<typeof validManifest>) => Object.assign(m.modes.fast, { dtype: 'q9' }),
      'Expected one of fp32, fp16, int8, uint8, q8, q4, q2, q1, q4f16, q2f16, q1f16, bnb4 for modes.fast.dtype in FILE but received "q9"',
    ],
    [
      'a per-session dtype that leaves a session out',
      (m: ReturnType<typeof validManifest>) =>
        Object.assign(m.modes.fast, {
          dtype: { vision_encoder: 'fp16', embed_tokens: 'fp16', encoder_model: 'q4' },
        }),
      'Expected a dtype for session decoder_model_merged (florence2 has vision_encoder, embed_tokens, encoder_model, decoder_model_merged) for modes.fast.dtype in FILE but received an object',
    ],
  ])('%s is refused with the field and the file named', async (_case, breakIt, message) => {
    // Prepare
    const manifest = validManifest();
    breakIt(manifest);

    // Act
    const error = await loadWith(manifest);

    // Assess
    expect(error).toBeInstanceOf(ManifestError);
    expect((error as Error).message).toBe(message.replace('FILE', file));
  });

  test('ModelRegistry.open refuses a bad manifest before loading anything', async () => {
    await writeFile(file, JSON.stringify({ manifestVersion: 2, modes: {} }));

    await expect(ModelRegistry.open({ modelsDir: dir, threads: 0 })).rejects.toThrow(
      `Expected 1 for manifestVersion in ${file} but received number 2`,
    );
  });
});
