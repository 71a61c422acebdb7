import { createHash } from 'node:crypto';
import type { ModelProvenance } from '../record/schema.ts';
import { type AnyModelSpec, isRemoteSpec, type RemoteModelSpec, type TaskSpec } from './manifest.ts';

/**
 * What produced a field: the model (id, revision, architecture, dtype) and the task run on it (task
 * token or prompt, generation options, image splitting → promptHash). A change of model or task is a
 * new key, so stored records know they are stale. The hashed material has the same shape as in
 * manifest v1, so a v1 record whose model and task did not change stays current after the upgrade.
 */
export function provenanceOf(
  model: AnyModelSpec,
  task: Pick<TaskSpec, 'task' | 'prompt' | 'generation'>,
): ModelProvenance {
  if (isRemoteSpec(model)) return remoteProvenanceOf(model, task);
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

/** Where a remote model runs: the endpoint (openai-compatible) or `bedrock` and its region when pinned. */
export function providerOf(spec: RemoteModelSpec): string {
  if (spec.architecture === 'bedrock') return spec.region ? `bedrock:${spec.region}` : 'bedrock';
  // Credentials in the URL never reach a sidecar.
  const url = new URL(spec.endpoint);
  url.username = '';
  url.password = '';
  return url.href.replace(/\/+$/, '');
}

/**
 * A remote model's provenance: provider, model and a prompt hash over the prompt, the generation
 * options and the size of the image sent (what the answer depends on that the manifest controls).
 */
function remoteProvenanceOf(
  model: RemoteModelSpec,
  task: Pick<TaskSpec, 'task' | 'prompt' | 'generation'>,
): ModelProvenance {
  const promptMaterial = JSON.stringify({
    prompt: task.prompt ?? null,
    generation: task.generation,
    imageMaxSide: model.imageMaxSide,
  });
  return {
    id: model.architecture === 'bedrock' ? model.modelId : model.model,
    revision: model.revision,
    architecture: model.architecture,
    dtype: 'remote',
    provider: providerOf(model),
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
    a.promptHash === b.promptHash &&
    a.provider === b.provider
  );
}
