import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { fetchMissingModels } from '#engine/models/fetch-models.ts';
import { localModels, type ModelSpec } from '#engine/models/manifest.ts';
import { CONFIG_FILES, expectedModelFiles } from '#engine/models/model-files.ts';
import { loadManifest, ModelRegistry } from '#engine/models/registry.ts';
import { onnxFilesFor, SESSIONS } from '#engine/models/transformers-env.ts';
import { DEFAULT_MODELS_DIR } from '#engine/settings.ts';
import { startFakeHub } from './fetch-support.ts';

const REPO_MODELS = fileURLToPath(new URL('../../../models/', import.meta.url));

describe('the production manifest (models/manifest.json)', () => {
  test('is the default model set and validates', async () => {
    const manifest = await loadManifest(REPO_MODELS);

    expect(DEFAULT_MODELS_DIR).toBe(REPO_MODELS);
    expect(manifest.manifestVersion).toBe(2);
    expect(manifest.models.florence2).toMatchObject({
      id: 'onnx-community/Florence-2-base-ft',
      architecture: 'florence2',
      fetch: 'default',
    });
    // One model for the three tasks of the record: one download, one vision pass per stage
    expect(manifest.tasks).toMatchObject({
      caption: { model: 'florence2', stage: 'fast', task: '<CAPTION>' },
      objects: { model: 'florence2', stage: 'fast', task: '<OD>' },
      detailed: { model: 'florence2', stage: 'detailed', task: '<MORE_DETAILED_CAPTION>' },
      questions: { model: 'smolvlm', stage: 'detailed' },
      embedding: { model: 'clip', stage: 'fast' },
    });
    expect(manifest.models.clip).toMatchObject({
      id: 'Xenova/clip-vit-base-patch32',
      architecture: 'clip',
      dtype: { vision_model: 'q8', text_model: 'q8' },
      fetch: 'default',
    });
    expect(manifest.models.smolvlm).toMatchObject({
      id: 'HuggingFaceTB/SmolVLM-256M-Instruct',
      architecture: 'smolvlm',
      imageSplitting: false,
      fetch: 'optional',
    });
    expect(
      localModels(manifest)
        .filter(([, spec]) => spec.fetch === 'default')
        .map(([name]) => name),
    ).toEqual(['florence2', 'clip']);
  });

  test.each(['florence2', 'smolvlm', 'clip'] as const)(
    '%s: pinned to a commit, an explicit dtype per session, exactly that dtype’s files',
    async (name) => {
      const spec = (await loadManifest(REPO_MODELS)).models[name] as ModelSpec;

      expect(spec.revision).toMatch(/^[0-9a-f]{40}$/);
      expect(typeof spec.dtype).toBe('object');
      expect(Object.keys(spec.dtype).sort()).toEqual([...SESSIONS[spec.architecture]].sort());
      const onnx = (spec.files ?? []).filter((f) => f.endsWith('.onnx'));
      expect(onnx.sort()).toEqual(onnxFilesFor(spec).sort());
      expect((spec.files ?? []).filter((f) => !f.endsWith('.onnx')).sort()).toEqual(
        [...CONFIG_FILES[spec.architecture]].sort(),
      );
      expect(expectedModelFiles(spec)).toEqual(spec.files);
    },
  );

  test('models:fetch asks the hub for exactly the default models’ files at their pinned revisions, and the registry then finds nothing missing', async () => {
    // Prepare: a copy of the manifest, a hub holding a few bytes for every file of every dtype
    const dir = await mkdtemp(join(tmpdir(), 'prod-manifest-'));
    await cp(join(REPO_MODELS, 'manifest.json'), join(dir, 'manifest.json'));
    const manifest = await loadManifest(dir);
    const specs = localModels(manifest).map(([, spec]) => spec);
    const everyDtype = (spec: ModelSpec) =>
      SESSIONS[spec.architecture].flatMap((s) =>
        ['', '_fp16', '_quantized', '_q4', '_int8', '_uint8', '_bnb4', '_q4f16'].map(
          (suffix) => `onnx/${s}${suffix}.onnx`,
        ),
      );
    const hub = await startFakeHub(
      Object.fromEntries(
        specs.map((spec) => [
          spec.id,
          {
            revision: spec.revision,
            files: Object.fromEntries(
              [
                ...CONFIG_FILES[spec.architecture],
                'special_tokens_map.json',
                'chat_template.json',
                ...everyDtype(spec),
              ].map((f) => [f, new TextEncoder().encode(`{"file":"${f}"}`)]),
            ),
          },
        ]),
      ),
    );

    try {
      // Act
      await fetchMissingModels(dir, { endpoint: hub.endpoint });

      // Assess: the captioner and the embedding model fetched; the optional questions model is not
      const gets = hub.resolved().filter((r) => r.startsWith('GET'));
      const fetched = specs.filter((s) => s.fetch === 'default');
      expect(fetched.map((s) => s.id)).toEqual([
        'onnx-community/Florence-2-base-ft',
        'Xenova/clip-vit-base-patch32',
      ]);
      expect(gets.sort()).toEqual(
        fetched.flatMap((s) => (s.files ?? []).map((f) => `GET /${s.id}/resolve/${s.revision}/${f}`)).sort(),
      );
      const registry = await ModelRegistry.open({ modelsDir: dir, threads: 1 });
      expect(registry.missingModels()).toEqual([]);
      expect(registry.missingModels({ tasks: ['questions'] }).map((m) => m.id)).toEqual([
        'HuggingFaceTB/SmolVLM-256M-Instruct',
      ]);
    } finally {
      await hub.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
