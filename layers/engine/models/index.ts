/**
 * Models, for entry points: the manifest's schema and modes. The registry (`ModelRegistry`,
 * `loadManifest`) and the fetch command load transformers.js, so they are imported by their own
 * path (see layers/engine/index.ts for the rule).
 */

export {
  type AnyModelSpec,
  type BedrockSpec,
  isRemoteSpec,
  type ModelMode,
  manifestSchema,
  modeSchema,
  type RemoteModelSpec,
} from './manifest.ts';

export const IMPORTED_ON_THEIR_OWN: readonly string[] = ['registry.ts', 'fetch-models.ts'];
