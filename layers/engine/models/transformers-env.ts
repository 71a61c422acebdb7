import { join, resolve } from 'node:path';
import { env } from '@huggingface/transformers';
import type { InferenceSession } from 'onnxruntime-common';
import type { Architecture, ModelSpec } from './manifest.ts';

/**
 * The one place transformers.js is configured. Runtime loading is local-only: models come from the
 * model set directory (`npm run models:fetch` is the only thing that downloads), nothing is cached
 * elsewhere. Idempotent: every registry calls it; the last directory wins for `localModelPath`,
 * which matters little because runners load by absolute folder path (see `modelFolder`).
 */
export function configureTransformersEnv(modelsDir: string): void {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = modelsDir.endsWith('/') ? modelsDir : `${modelsDir}/`;
  // Nothing is downloaded at runtime, so there is nothing to cache (and node_modules is read-only on Lambda).
  env.useFSCache = false;
}

/** What every runner loader gets besides its spec (models-b's smolvlm loader takes the same). */
export interface RunnerContext {
  /** The model set directory (manifest.json + one folder per model id). */
  readonly modelsDir: string;
  /** Process-wide intra-op threads; 0 = onnxruntime's default. A spec's own `threads` wins. */
  readonly threads: number;
}

/**
 * onnxruntime session options for a thread budget: 0 keeps onnxruntime's default (one per core);
 * otherwise that many intra-op threads and one inter-op thread (the graphs run sequentially).
 */
export function sessionOptionsFor(threads: number): InferenceSession.SessionOptions {
  return threads > 0 ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {};
}

/** The spec's own thread count wins over the process-wide one. */
export function threadsFor(spec: ModelSpec, processThreads: number): number {
  return spec.threads > 0 ? spec.threads : processThreads;
}

/** ONNX file suffix per dtype, as transformers.js 4.3 names them (`DEFAULT_DTYPE_SUFFIX_MAPPING`, not exported). */
export const DTYPE_SUFFIX: Readonly<Record<string, string>> = Object.freeze({
  fp32: '',
  fp16: '_fp16',
  int8: '_int8',
  uint8: '_uint8',
  q8: '_quantized',
  q4: '_q4',
  q2: '_q2',
  q1: '_q1',
  q4f16: '_q4f16',
  q2f16: '_q2f16',
  q1f16: '_q1f16',
  bnb4: '_bnb4',
});

/** The ONNX sessions (file stems under onnx/) transformers.js opens for each architecture. */
export const SESSIONS: Readonly<Record<Architecture, readonly string[]>> = Object.freeze({
  'vision-encoder-decoder': ['encoder_model', 'decoder_model_merged'],
  florence2: ['vision_encoder', 'embed_tokens', 'encoder_model', 'decoder_model_merged'],
  smolvlm: ['vision_encoder', 'embed_tokens', 'decoder_model_merged'],
  clip: ['vision_model', 'text_model'],
});

/** The dtype of one session: the spec's string, or its entry for that session. */
export function dtypeOf(spec: ModelSpec, session: string): string | undefined {
  return typeof spec.dtype === 'string' ? spec.dtype : spec.dtype[session];
}

/** The onnx files a spec needs, relative to its folder, e.g. `onnx/decoder_model_merged_q4.onnx`. */
export function onnxFilesFor(spec: ModelSpec): string[] {
  return SESSIONS[spec.architecture].map((session) => {
    const suffix = DTYPE_SUFFIX[dtypeOf(spec, session) ?? 'fp32'] ?? '';
    return `onnx/${session}${suffix}.onnx`;
  });
}

/**
 * transformers.js `dtype` option: always explicit. A string applies to every session; an object is
 * passed through per session (validated by the registry to name every session).
 */
export function transformersDtype(spec: ModelSpec): string | Record<string, string> {
  return typeof spec.dtype === 'string' ? spec.dtype : { ...spec.dtype };
}

/**
 * A model's folder: `<modelsDir>/<org>/<name>`. Runners load by this absolute path rather than by id
 * under `env.localModelPath`: transformers.js memoizes configs per id, so two model sets in one
 * process (tests, a CLI `--models` override) would otherwise share the first one's files.
 */
export function modelFolder(spec: ModelSpec, modelsDir: string): string {
  return join(resolve(modelsDir), spec.id);
}

/** The from_pretrained options of a runner's model: explicit dtype and revision, local files, CPU, threads. */
export function pretrainedOptions(spec: ModelSpec, context: RunnerContext) {
  return {
    dtype: transformersDtype(spec) as never,
    revision: spec.revision,
    local_files_only: true,
    device: 'cpu' as const,
    session_options: sessionOptionsFor(threadsFor(spec, context.threads)),
  };
}

/**
 * A model and its processor, loaded side by side. When one fails the other's sessions are released
 * (they would leak otherwise) and the failure is thrown.
 */
export async function loadWithProcessor<M extends { dispose(): Promise<unknown> }, P>(
  model: Promise<M>,
  processor: Promise<P>,
): Promise<[M, P]> {
  const [loadedModel, loadedProcessor] = await Promise.allSettled([model, processor]);
  if (loadedModel.status === 'rejected' || loadedProcessor.status === 'rejected') {
    if (loadedModel.status === 'fulfilled') await loadedModel.value.dispose();
    throw loadedModel.status === 'rejected'
      ? loadedModel.reason
      : (loadedProcessor as PromiseRejectedResult).reason;
  }
  return [loadedModel.value, loadedProcessor.value];
}
