import { ModelNotFoundError } from '../errors.ts';
import { DEFAULT_MIN_SIMILARITY } from '../models/manifest.ts';
import type { ModelRegistry } from '../models/registry.ts';
import type { Category } from '../questions/config.ts';
import { embeddingModelKey } from '../search/vector-facts.ts';

/** The categories' prompts in one embedding model's space, ready for `categorise`. */
export interface PromptVectors {
  /** The model key (embeddingModelKey) of the text tower: only image vectors of this key are compared. */
  readonly model: string;
  /** Cosine a prompt needs to count, unless its category sets its own. */
  readonly minSimilarity: number;
  /** A prompt's unit vector; undefined for a prompt that was not embedded. */
  vectorOf(prompt: string): Float32Array | undefined;
}

/** The prompts of a category list, each once. */
export function promptsOf(categories: readonly Category[]): string[] {
  return [...new Set(categories.flatMap((category) => category.prompts ?? []))];
}

type Registry = Pick<ModelRegistry, 'taskSpec' | 'provenance' | 'embedTexts'>;

/**
 * Prompt vectors, computed once per process and kept by model key and prompt text: every image
 * is scored against the same few vectors, and a changed category list embeds only its new prompts.
 * The text tower loads on the first call that has prompts to embed. A failed embedding is forgotten,
 * so a model fetched later is used by the next call.
 */
export class PromptVectorCache {
  private readonly vectors = new Map<string, Promise<Float32Array>>();

  constructor(private readonly models: Registry) {}

  /**
   * The vectors of the list's prompts; undefined when no category has prompts or the manifest
   * configures no embedding task. Resolves to the ModelNotFoundError while the model is missing.
   */
  async forCategories(
    categories: readonly Category[],
  ): Promise<PromptVectors | ModelNotFoundError | undefined> {
    const prompts = promptsOf(categories);
    const task = this.models.taskSpec('embedding');
    if (prompts.length === 0 || !task) return undefined;
    const model = embeddingModelKey(this.models.provenance('embedding'));
    const keyOf = (prompt: string) => `${model}\n${prompt}`;
    const missing = prompts.filter((prompt) => !this.vectors.has(keyOf(prompt)));
    if (missing.length > 0) {
      // One batch through the text tower for every prompt not seen yet.
      const batch = this.models.embedTexts(missing);
      missing.forEach((prompt, i) => {
        const one = batch.then((rows) => {
          const row = rows[i];
          if (!row) throw new Error(`The text tower returned no vector for prompt ${JSON.stringify(prompt)}`);
          return row;
        });
        this.vectors.set(keyOf(prompt), one);
        one.catch(() => {
          if (this.vectors.get(keyOf(prompt)) === one) this.vectors.delete(keyOf(prompt));
        });
      });
    }
    let resolved: Float32Array[];
    try {
      resolved = await Promise.all(
        prompts.map((prompt) => this.vectors.get(keyOf(prompt)) as Promise<Float32Array>),
      );
    } catch (error) {
      if (error instanceof ModelNotFoundError) return error;
      throw error;
    }
    const byPrompt = new Map(prompts.map((prompt, i) => [prompt, resolved[i] as Float32Array]));
    return {
      model,
      minSimilarity: task.minSimilarity ?? DEFAULT_MIN_SIMILARITY,
      vectorOf: (prompt) => byPrompt.get(prompt),
    };
  }
}
