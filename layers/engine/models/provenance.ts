import { createHash } from 'node:crypto';
import type { ModelProvenance } from '../record/schema.ts';
import type { ModelSpec } from './manifest.ts';

/** What produced a field: enough to tell whether a stored record is stale after a model change. */
export function provenanceOf(spec: ModelSpec): ModelProvenance {
  const promptMaterial = JSON.stringify({
    task: spec.task ?? null,
    prompt: spec.prompt ?? null,
    generation: spec.generation,
    imageSplitting: spec.imageSplitting,
  });
  return {
    id: spec.id,
    revision: spec.revision,
    architecture: spec.architecture,
    dtype: spec.dtype,
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
