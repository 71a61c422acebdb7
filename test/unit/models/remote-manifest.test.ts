import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ManifestError } from '#engine/errors.ts';
import { loadManifest, ModelRegistry } from '#engine/models/registry.ts';
import { REMOTE_PROMPT, remoteModelSet } from '#test/support/remote-model-set.ts';
import { editJson } from './support.ts';

const vlm = {
  architecture: 'openai-compatible',
  endpoint: 'https://user:secret@vlm.example.com:8000/v1/',
  model: 'Qwen/Qwen2.5-VL-7B-Instruct',
  apiKeyEnv: 'VLM_TEST_KEY',
};

describe('a manifest with a remote detailed model', () => {
  let set: { dir: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    set = await remoteModelSet(vlm);
  });
  afterAll(() => set.cleanup());

  it('records provider (credentials removed), model and a prompt hash that follows the prompt', async () => {
    const registry = await ModelRegistry.open({ modelsDir: set.dir, threads: 1 });
    const other = await remoteModelSet(vlm, { prompt: 'Describe this photo for a blind reader.' });

    try {
      const changed = await ModelRegistry.open({ modelsDir: other.dir, threads: 1 });
      expect(registry.provenance('detailed')).toEqual({
        id: 'Qwen/Qwen2.5-VL-7B-Instruct',
        revision: 'unpinned',
        architecture: 'openai-compatible',
        dtype: 'remote',
        provider: 'https://vlm.example.com:8000/v1',
        promptHash: expect.stringMatching(/^[0-9a-f]{16}$/),
      });
      expect(changed.provenance('detailed').promptHash).not.toBe(registry.provenance('detailed').promptHash);
    } finally {
      await other.cleanup();
    }
  });

  it('never lists a remote model as missing (it has no files to fetch)', async () => {
    const registry = await ModelRegistry.open({ modelsDir: set.dir, threads: 1 });

    expect(registry.missingModels()).toEqual([]);
    expect(registry.missingModels({ stage: 'detailed' })).toEqual([]);
  });

  it('stops at load when the API key variable is not set, naming it', async () => {
    const registry = await ModelRegistry.open({
      modelsDir: set.dir,
      threads: 1,
      remote: {
        clients: {
          openAiCompatible: async () => ({ ask: async () => ({ text: '' }) }),
          bedrock: async () => ({ ask: async () => ({ text: '' }) }),
        },
        secret: () => undefined,
      },
    });

    const error = await registry.modelRunner('vlm').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(
      'Expected an API key for model "vlm" (https://vlm.example.com:8000/v1) for environment variable VLM_TEST_KEY but received nothing',
    );
  });

  it.each([
    [
      'a remote caption',
      (m: Record<string, Record<string, Record<string, unknown>>>) => {
        m.tasks = { ...m.tasks, caption: { model: 'vlm', stage: 'fast', prompt: REMOTE_PROMPT } };
      },
      'tasks.caption.model in FILE: remote models (openai-compatible) serve the detailed and questions tasks; the caption task needs a local model',
    ],
    [
      'a remote detailed task without a prompt',
      (m: Record<string, Record<string, Record<string, unknown>>>) => {
        m.tasks = { ...m.tasks, detailed: { model: 'vlm', stage: 'detailed' } };
      },
      'tasks.detailed in FILE: openai-compatible tasks need a prompt',
    ],
    [
      'an endpoint that is not a URL',
      (m: Record<string, Record<string, Record<string, unknown>>>) => {
        m.models = { ...m.models, vlm: { ...vlm, endpoint: 'localhost:11434' } };
      },
      'Expected an http(s) base URL like http://127.0.0.1:11434/v1 for models.vlm.endpoint in FILE but received "localhost:11434"',
    ],
  ])('refuses %s with the field named', async (_case, edit, message) => {
    const copy = await remoteModelSet(vlm);
    try {
      await editJson(`${copy.dir}/manifest.json`, edit as never);

      const error = await loadManifest(copy.dir).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ManifestError);
      expect((error as Error).message).toBe(message.replace('FILE', `${copy.dir}/manifest.json`));
    } finally {
      await copy.cleanup();
    }
  });
});
