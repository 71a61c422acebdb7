import { DescribeError, ModelNotFoundError } from '../errors.ts';
import { DEFAULT_MIN_SIMILARITY } from '../models/manifest.ts';
import { ModelRegistry } from '../models/registry.ts';
import type { QueryEmbedder } from './hybrid.ts';
import { embeddingModelKey } from './vector-facts.ts';

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

/**
 * The query embedder of a model set, with the registry to dispose of; when the set cannot be opened
 * (no manifest there), an embedder that reports why, so that search still answers by keywords and
 * says so. Loads no model.
 */
export async function openQueryEmbedder(
  modelsDir: string,
  threads = 0,
): Promise<{ embedder?: QueryEmbedder; models?: ModelRegistry }> {
  try {
    const models = await ModelRegistry.open({ modelsDir, threads });
    const embedder = queryEmbedderOf(models);
    return { models, ...(embedder ? { embedder } : {}) };
  } catch (error) {
    if (!(error instanceof DescribeError)) throw error;
    const missing = new ModelNotFoundError(error.message);
    return { embedder: { model: '', minSimilarity: 1, embed: () => Promise.reject(missing) } };
  }
}
