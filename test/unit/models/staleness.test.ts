import { describe, expect, it } from 'vitest';
import { loadManifest } from '#engine/models/registry.ts';
import { currentModelsOf, needsDescription } from '#engine/pipeline/staleness.ts';
import { newRecord, withStageState } from '#engine/record/record.ts';
import type { DescriptionRecord } from '#engine/record/schema.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';

const at = new Date('2026-12-01T00:00:00Z');

/** A finished record of object `e1`, written with `models`. */
function finished(models: DescriptionRecord['models']): DescriptionRecord {
  const record = newRecord({ kind: 's3', bucket: 'b', key: 'images/a.png', etag: 'e1', size: 3 }, at);
  return { ...withStageState(withStageState(record, 'fast', 'done', at), 'detailed', 'done', at), models };
}

describe('staleness after a change of tasks (manifest v2)', () => {
  it('a record of the current caption, objects and detailed tasks is up to date', async () => {
    const current = currentModelsOf(await loadManifest(fixtureModelsDir()));

    expect(needsDescription(finished({ ...current }), { etag: 'e1' }, current)).toBeUndefined();
  });

  it('a record without objects (written before the objects task existed) re-runs the fast stage', async () => {
    const current = currentModelsOf(await loadManifest(fixtureModelsDir()));
    const { objects: _none, ...before } = current;

    expect(needsDescription(finished(before), { etag: 'e1' }, current)).toEqual({
      stage: 'fast',
      reason: 'objects-model-changed',
    });
  });

  it('a record without an embedding, or with one of another model, needs the fast stage (embedding-stale)', async () => {
    const current = currentModelsOf(await loadManifest(fixtureModelsDir()));
    const { embedding: _none, ...before } = current;
    const stale = { stage: 'fast', reason: 'embedding-stale' };

    expect(needsDescription(finished(before), { etag: 'e1' }, current)).toEqual(stale);
    const other = {
      ...current,
      embedding: { ...(current.embedding as NonNullable<typeof current.embedding>), revision: 'r0' },
    };
    expect(needsDescription(finished(other), { etag: 'e1' }, current)).toEqual(stale);
  });

  it('a changed objects task re-runs the fast stage; a changed detailed task only the detailed one', async () => {
    const manifest = await loadManifest(fixtureModelsDir());
    const stored = finished({ ...currentModelsOf(manifest) });
    const objectsEdited = structuredClone(manifest);
    if (objectsEdited.tasks.objects) objectsEdited.tasks.objects.generation = { max_new_tokens: 64 };
    const detailedEdited = structuredClone(manifest);
    detailedEdited.tasks.detailed.generation = { max_new_tokens: 64 };

    expect(needsDescription(stored, { etag: 'e1' }, currentModelsOf(objectsEdited))).toEqual({
      stage: 'fast',
      reason: 'objects-model-changed',
    });
    expect(needsDescription(stored, { etag: 'e1' }, currentModelsOf(detailedEdited))).toEqual({
      stage: 'detailed',
      reason: 'detailed-model-changed',
    });
  });

  it('dropping the objects task from the manifest does not re-describe every image', async () => {
    const manifest = await loadManifest(fixtureModelsDir());
    const stored = finished({ ...currentModelsOf(manifest) });
    const { objects: _dropped, ...tasks } = manifest.tasks;

    expect(needsDescription(stored, { etag: 'e1' }, currentModelsOf({ ...manifest, tasks }))).toBeUndefined();
  });
});
