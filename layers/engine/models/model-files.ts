import { expected, ManifestError } from '../errors.ts';
import type { Architecture, ModelSpec } from './manifest.ts';
import { onnxFilesFor } from './transformers-env.ts';

/**
 * Which files a model folder holds, shared by `models:fetch` (what to download) and the registry (what
 * must be there). The onnx names come from `onnxFilesFor` — the same dtype → suffix table the registry's
 * missing-file check uses — so a manifest can never make fetch download one file and the runtime look
 * for another.
 */

/** The JSON files transformers.js reads for each architecture (special_tokens_map.json is never read). */
export const CONFIG_FILES: Readonly<Record<Architecture, readonly string[]>> = Object.freeze({
  'vision-encoder-decoder': [
    'config.json',
    'generation_config.json',
    'preprocessor_config.json',
    'tokenizer.json',
    'tokenizer_config.json',
  ],
  florence2: [
    'config.json',
    'generation_config.json',
    'preprocessor_config.json',
    'tokenizer.json',
    'tokenizer_config.json',
  ],
  // Idefics3Processor reads processor_config.json (image_seq_len); the chat template is in tokenizer_config.json.
  smolvlm: [
    'config.json',
    'generation_config.json',
    'preprocessor_config.json',
    'processor_config.json',
    'tokenizer.json',
    'tokenizer_config.json',
  ],
  clip: ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json'],
});

/** Files the runtime cannot start without: config.json and the onnx files of the chosen dtypes. */
export function requiredModelFiles(spec: ModelSpec): string[] {
  return ['config.json', ...onnxFilesFor(spec)];
}

/**
 * The files to download for a spec: its `files` list when the manifest gives one (checked to carry
 * the chosen dtype's onnx files), else the architecture's config files plus those onnx files.
 */
export function expectedModelFiles(spec: ModelSpec): string[] {
  if (!spec.files) return [...CONFIG_FILES[spec.architecture], ...onnxFilesFor(spec)];
  const missing = requiredModelFiles(spec).filter((file) => !spec.files?.includes(file));
  if (missing.length > 0) {
    throw new ManifestError(
      expected(
        `files to include ${missing.join(', ')} (dtype ${JSON.stringify(spec.dtype)})`,
        `the files of ${spec.id}`,
        spec.files,
      ),
    );
  }
  return [...new Set(spec.files)];
}
