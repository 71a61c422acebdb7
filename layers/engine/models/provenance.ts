import { createHash } from 'node:crypto';
import type { ModelProvenance } from '../record/schema.ts';
import type { ModelSpec, TaskSpec } from './manifest.ts';

/**
 * What produced a field: the model (id, revision, architecture, dtype) and the task run on it (task
 * token or prompt, generation options, image splitting → promptHash). A change of model or task is a
 * new key, so stored records know they are stale. The hashed material has the same shape as in
 * manifest v1, so a v1 record whose model and task did not change stays current after the upgrade.
 */
export function provenanceOf(
  model: ModelSpec,
  task: Pick<TaskSpec, 'task' | 'prompt' | 'generation'>,
): ModelProvenance {
  const promptMaterial = JSON.stringify({
    task: task.task ?? null,
    prompt: task.prompt ?? null,
    generation: task.generation,
    imageSplitting: model.imageSplitting,
  });
  return {
    id: model.id,
    revision: model.revision,
    architecture: model.architecture,
    dtype: model.dtype,
    promptHash: createHash('sha256').update(promptMaterial).digest('hex').slice(0, 16),
  };
}

export function sameProvenance(a: ModelProvenance | undefined, b: ModelProvenance | undefined): boolean {
  if (!a || !b) return a === b;
  return (
    a.id === b.id &&
    a.revision === b.revision &&
    a.architecture === b.architecture &&
    JSON.stringify(a.dtype) === JSON.stringify(b.dtype) &&
    a.promptHash === b.promptHash
  );
}
