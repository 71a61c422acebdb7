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
};
const validManifest = () => ({
  manifestVersion: 2,
  models: { florence2: { ...florence } } as Record<string, Record<string, unknown>>,
  tasks: {
    caption: { model: 'florence2', stage: 'fast', task: '<CAPTION>' },
    detailed: { model: 'florence2', stage: 'detailed', task: '<MORE_DETAILED_CAPTION>' },
  } as Record<string, Record<string, unknown>>,
});
type Valid = ReturnType<typeof validManifest>;

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

    expect(manifest.models.florence2).toMatchObject({ id: 'fixtures/florence2-colour', threads: 0 });
    expect(manifest.tasks.caption).toMatchObject({ model: 'florence2', task: '<CAPTION>' });
    expect(manifest.models['vit-gpt2']?.architecture).toBe('vision-encoder-decoder');
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
      (m: Valid) => Object.assign(m.models.florence2 ?? {}, { id: 'florence' }),
      'Expected a Hugging Face id like org/name for models.florence2.id in FILE but received "florence"',
    ],
    [
      'an unknown architecture',
      (m: Valid) => Object.assign(m.models.florence2 ?? {}, { architecture: 'blip' }),
      'Expected one of "vision-encoder-decoder", "florence2", "smolvlm", "clip", "openai-compatible", "bedrock" for models.florence2.architecture in FILE but received "blip"',
    ],
    [
      'a florence2 task without a task token',
      (m: Valid) => Object.assign(m.tasks.caption ?? {}, { task: undefined }),
      'tasks.caption in FILE: florence2 tasks need a task such as <CAPTION>',
    ],
    [
      'objects asked of a text task',
      (m: Valid) =>
        Object.assign(m.tasks, { objects: { model: 'florence2', stage: 'fast', task: '<CAPTION>' } }),
      'tasks.objects.task in FILE: the objects task of a florence2 model is one of <OD>; got "<CAPTION>"',
    ],
    [
      'a caption asked of a box task',
      (m: Valid) => Object.assign(m.tasks.caption ?? {}, { task: '<OCR>' }),
      'tasks.caption.task in FILE: the caption task of a florence2 model is one of <CAPTION>, <DETAILED_CAPTION>, <MORE_DETAILED_CAPTION>; got "<OCR>"',
    ],
    [
      'a task naming a model the manifest lacks',
      (m: Valid) => Object.assign(m.tasks.detailed ?? {}, { model: 'smolvlm' }),
      'tasks.detailed.model in FILE: names no model of this manifest (models: florence2); got "smolvlm"',
    ],
    [
      'a task in the wrong stage',
      (m: Valid) => Object.assign(m.tasks.caption ?? {}, { stage: 'detailed' }),
      'tasks.caption.stage in FILE: the caption task runs in the fast stage; got "detailed"',
    ],
    [
      'a missing detailed task',
      (m: Valid) => {
        delete m.tasks.detailed;
      },
      'Expected an object for tasks.detailed in FILE but received nothing',
    ],
    [
      'a wrong type',
      (m: Valid) => Object.assign(m.tasks.caption ?? {}, { generation: { max_new_tokens: '20' } }),
      'Expected a number for tasks.caption.generation.max_new_tokens in FILE but received "20"',
    ],
    [
      'a typo in a key',
      (m: Valid) => Object.assign(m.models.florence2 ?? {}, { dtpye: 'q4' }),
      'Expected only known keys for models.florence2 in FILE but received "unknown key(s) dtpye"',
    ],
    [
      'an unknown fetch choice',
      (m: Valid) => Object.assign(m.models.florence2 ?? {}, { fetch: 'always' }),
      'Expected one of "default", "optional" for models.florence2.fetch in FILE but received "always"',
    ],
    [
      'an unknown dtype',
      (m: Valid) => Object.assign(m.models.florence2 ?? {}, { dtype: 'q9' }),
      'Expected one of fp32, fp16, int8, uint8, q8, q4, q2, q1, q4f16, q2f16, q1f16, bnb4 for models.florence2.dtype in FILE but received "q9"',
    ],
    [
      'a per-session dtype that leaves a session out',
      (m: Valid) =>
        Object.assign(m.models.florence2 ?? {}, {
          dtype: { vision_encoder: 'fp16', embed_tokens: 'fp16', encoder_model: 'q4' },
        }),
      'Expected a dtype for session decoder_model_merged (florence2 has vision_encoder, embed_tokens, encoder_model, decoder_model_merged) for models.florence2.dtype in FILE but received an object',
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

  test('a version 1 manifest is refused with what changed and how to regenerate or update it', async () => {
    const v1 = { manifestVersion: 1, modes: { fast: { ...florence, task: '<CAPTION>' } }, extra: {} };

    const error = await loadWith(v1);

    expect(error).toBeInstanceOf(ManifestError);
    const message = (error as Error).message;
    expect(message).toContain(`${file} is a version 1 model manifest (modes.fast / modes.normal)`);
    expect(message).toContain('reads version 2');
    expect(message).toContain('copy models/manifest.json of this release');
    expect(message).toContain('npm run fixtures -- --out <dir>');
    expect(message).toContain('docs/models.md');
  });

  test('ModelRegistry.open refuses a bad manifest before loading anything', async () => {
    await writeFile(file, JSON.stringify({ manifestVersion: 3, models: {} }));

    await expect(ModelRegistry.open({ modelsDir: dir, threads: 0 })).rejects.toThrow(
      `Expected 2 for manifestVersion in ${file} but received number 3`,
    );
  });
});
