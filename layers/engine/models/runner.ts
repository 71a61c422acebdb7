import type { RgbImage } from '../image/types.ts';
import type { DetectedObject, ModelProvenance } from '../record/schema.ts';
import type { Architecture, GenerationOptions, RemoteArchitecture } from './manifest.ts';

/** What to decode from an encoded image: a Florence-2 task token or a chat prompt, and how. */
export interface TaskRequest {
  readonly task?: string;
  readonly prompt?: string;
  readonly generation: GenerationOptions;
}

/** Tokens a remote model reported for one answer (the price is per token). */
export interface TokenUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
}

export type TaskAnswer =
  | { readonly kind: 'text'; readonly text: string; readonly usage?: TokenUsage }
  /** Boxes normalised 0-1 like OCR lines; no score (Florence-2 gives none). */
  | { readonly kind: 'objects'; readonly objects: readonly DetectedObject[] }
  /** Unit length: cosine similarity is a dot product. */
  | { readonly kind: 'embedding'; readonly vector: Float32Array };

/**
 * One image after the runner's expensive vision pass. Answer as many tasks from it as needed,
 * with the runner that made it; `state` is the runner's own (image features, or the image itself
 * for architectures whose pipeline gives no seam to share the pass).
 */
export interface EncodedImage {
  /** The model name (manifest key) of the runner that encoded it. */
  readonly model: string;
  readonly width: number;
  readonly height: number;
  /** Vision-encoder time, 0 when the runner defers the pass to each task. */
  readonly encodeMs: number;
  readonly state: unknown;
}

/** One loaded model, shared by every task that names it. Created once per process by the registry. */
export interface ModelRunner {
  readonly model: string;
  readonly architecture: Architecture | RemoteArchitecture;
  /** The vision pass, once per image. */
  encode(image: RgbImage): Promise<EncodedImage>;
  /** One task from an image this runner encoded. Text is cleaned: no prompt echo, task or chat tokens. */
  run(encoded: EncodedImage, request: TaskRequest): Promise<TaskAnswer>;
  dispose(): Promise<void>;
}

/** A runner with a text tower: texts in the same space as its images (search by meaning). */
export interface TextEmbedder {
  /** One unit-length vector per text (a text with no known token gives a zero vector). */
  embedTexts(texts: readonly string[]): Promise<Float32Array[]>;
}

export function isTextEmbedder(runner: ModelRunner): runner is ModelRunner & TextEmbedder {
  return typeof (runner as Partial<TextEmbedder>).embedTexts === 'function';
}

/** A text task bound to its model: one string per image (benchmarks, simple callers). */
export interface ImageToTextRunner {
  readonly provenance: ModelProvenance;
  describe(image: RgbImage): Promise<string>;
}
