/**
 * The engine's public surface for entry points (functions/, infra/): errors, settings, ports and
 * the sentences users read. Each folder of the engine is a package with an index like this one;
 * entry points import a package through its index and nothing else (test/unit/architecture/
 * public-surface.test.ts). Folders without an index (categories, guard, ocr, palette) are internal
 * to the engine.
 *
 * An index re-exports only modules that load no native or model code, so importing it is cheap
 * (`--help`, the zip-bundled upload API). A public module that does load such code is imported by
 * its own path and named in IMPORTED_ON_THEIR_OWN: re-exported here, every importer would load it,
 * since a bundle keeps an external package's import even when none of its exports is used.
 */

export type { DescribeEngine, DescribeInput } from './engine.ts';
export {
  ConfigError,
  DescribeError,
  type ErrorCode,
  errorCodeOf,
  expected,
  ImageRejectedError,
  InferenceError,
  ManifestError,
  ModelLoadError,
  ModelNotFoundError,
  RecordValidationError,
  SourceUnreadableError,
} from './errors.ts';
export { PACKAGE_ROOT, packagePath } from './package-root.ts';
export {
  type FastStageTrigger,
  type ImageVectorIndex,
  type JobQueue,
  type ListedObject,
  ObjectNotFoundError,
  type ObjectStore,
  PreconditionFailedError,
  parseStoredJson,
  StorageUnavailableError,
  type UploadSigner,
} from './ports.ts';
export { DEFAULT_LOG_LEVEL, METRICS_NAMESPACE, powertoolsEnvironment, SERVICE_NAME } from './service.ts';
export {
  DEFAULT_ENGINE_SETTINGS,
  DEFAULT_MODELS_DIR,
  ENV,
  type EngineSettings,
  type Env,
  type OcrStage,
  readEngineSettings,
  readIntegerEnv,
  readModelsDir,
  readRequiredEnv,
} from './settings.ts';
export { keptAsideSentence, toBeKeptAsideSentence, tooLargeSentence } from './user-messages.ts';

/** Public modules imported by their own path: wiring.ts (`createEngine`) loads sharp, onnxruntime and transformers.js. */
export const IMPORTED_ON_THEIR_OWN: readonly string[] = ['wiring.ts'];
