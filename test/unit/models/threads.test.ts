import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { ModelRegistry } from '#engine/models/registry.ts';
import { COLOUR_RGB, copyFixtureModelSet, editJson, mostlyImage, textOf } from './support.ts';

// transformers.js creates its sessions through this very class (onnxruntime-node, loaded via require).
const ort = createRequire(import.meta.url)('onnxruntime-node') as typeof Ort;

/** Session options of every onnxruntime session created from now on. */
function watchSessionOptions(): Ort.InferenceSession.SessionOptions[] {
  const seen: Ort.InferenceSession.SessionOptions[] = [];
  const create = ort.InferenceSession.create.bind(ort.InferenceSession) as (
    ...args: unknown[]
  ) => Promise<Ort.InferenceSession>;
  vi.spyOn(ort.InferenceSession, 'create').mockImplementation(((...args: unknown[]) => {
    seen.push(
      (args.find((arg) => typeof arg === 'object' && arg !== null && !ArrayBuffer.isView(arg)) ??
        {}) as Ort.InferenceSession.SessionOptions,
    );
    return create(...args);
  }) as typeof ort.InferenceSession.create);
  return seen;
}

describe('onnxruntime threads', () => {
  let dir: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ dir, cleanup } = await copyFixtureModelSet());
    // The vit-gpt2 spec asks for 1 thread itself; florence2 leaves it to the process setting.
    await editJson(join(dir, 'manifest.json'), (manifest) => {
      const models = manifest.models as Record<string, Record<string, unknown>>;
      models['vit-gpt2'] = { ...models['vit-gpt2'], threads: 1 };
    });
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  afterAll(async () => {
    await cleanup();
  });

  test('the process thread budget reaches every session of a model: intra-op N, inter-op 1', async () => {
    const seen = watchSessionOptions();
    const models = await ModelRegistry.open({ modelsDir: dir, threads: 2 });

    try {
      const runner = await models.modelRunner('florence2');
      expect(await textOf(runner, mostlyImage(COLOUR_RGB.green))).toBe('a green square');

      // Florence-2 has four sessions
      expect(seen).toHaveLength(4);
      for (const options of seen)
        expect(options).toMatchObject({ intraOpNumThreads: 2, interOpNumThreads: 1 });
    } finally {
      await models.dispose();
    }
  });

  test("a spec's own thread count wins over the process budget", async () => {
    const seen = watchSessionOptions();
    const models = await ModelRegistry.open({ modelsDir: dir, threads: 2 });

    try {
      await models.modelRunner('vit-gpt2');

      expect(seen).toHaveLength(2);
      for (const options of seen)
        expect(options).toMatchObject({ intraOpNumThreads: 1, interOpNumThreads: 1 });
    } finally {
      await models.dispose();
    }
  });

  test('threads 0 leaves onnxruntime its default (one per core)', async () => {
    const seen = watchSessionOptions();
    const models = await ModelRegistry.open({ modelsDir: dir, threads: 0 });

    try {
      await models.modelRunner('florence2');

      expect(seen.map((options) => options.intraOpNumThreads)).toEqual([
        undefined,
        undefined,
        undefined,
        undefined,
      ]);
    } finally {
      await models.dispose();
    }
  });
});
