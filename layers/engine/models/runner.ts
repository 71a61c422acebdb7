import type { RgbImage } from '../image/types.ts';
import type { ModelProvenance } from '../record/schema.ts';

/** One image-to-text model, loaded and ready. Created once per process by the model registry. */
export interface ImageToTextRunner {
  readonly provenance: ModelProvenance;
  /** Cleaned text: no prompt echo, no chat or task tokens, trimmed. */
  describe(image: RgbImage): Promise<string>;
  dispose(): Promise<void>;
}
