import type { ModelRegistry } from '../models/registry.ts';
import type { QueryEmbedder } from './hybrid.ts';
import { embeddingModelKey } from './vector-facts.ts';

/** Used when the manifest's embedding task sets no minSimilarity. */
export const DEFAULT_MIN_SIMILARITY = 0.2;

/**
 * The registry's embedding task as a query embedder, or undefined when the manifest configures none.
 * Opening it loads nothing: the text tower loads on the first query (and a missing model is then
 * reported by that query, which falls back to keywords).
 */
export function queryEmbedderOf(
  models: Pick<ModelRegistry, 'taskSpec' | 'provenance' | 'embedTexts'>,
): QueryEmbedder | undefined {
  const task = models.taskSpec('embedding');
  if (!task) return undefined;
  return {
    model: embeddingModelKey(models.provenance('embedding')),
    minSimilarity: task.minSimilarity ?? DEFAULT_MIN_SIMILARITY,
    embed: async (text) => {
      const [vector] = await models.embedTexts([text]);
      if (!vector) throw new Error('The text tower returned no vector');
      return vector;
    },
  };
}
