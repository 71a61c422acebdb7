import type { ImageVectorEntry, VectorFacts, VectorSearchFilters } from '../ports.ts';
import type { ColourFamily, DescriptionRecord, ModelProvenance } from '../record/schema.ts';
import { foldPhrase } from '../words.ts';
import { uploadedAtOf } from './document.ts';
import { decodeEmbedding } from './vector-codec.ts';

/** The facts a vector index keeps for a record, so it filters as the keyword search does. */
export function vectorFactsOf(record: DescriptionRecord): VectorFacts {
  const colours: Partial<Record<ColourFamily, number>> = {};
  for (const c of record.colours ?? []) {
    if (c.fraction > 0) colours[c.family] = (colours[c.family] ?? 0) + c.fraction;
  }
  return {
    uploadedAt: uploadedAtOf(record),
    colours,
    labels: (record.labels ?? []).map(foldPhrase),
    categories: (record.categories ?? []).map((c) => foldPhrase(c.id)),
    hasText: (record.text?.full ?? '').trim() !== '',
    fast: record.status.fast.state,
    detailed: record.status.detailed.state,
  };
}

/** Every filter holds for the facts: the same rules as matchesFilters (document.ts). */
export function matchesVectorFilters(facts: VectorFacts, filter: VectorSearchFilters): boolean {
  for (const colour of filter.colours) {
    const share = facts.colours[colour.family] ?? 0;
    if (share === 0 || share < colour.minFraction) return false;
  }
  for (const label of filter.labels) if (!facts.labels.includes(label)) return false;
  for (const category of filter.categories) if (!facts.categories.includes(category)) return false;
  if (filter.hasText !== undefined && facts.hasText !== filter.hasText) return false;
  if (filter.uploaded.from && facts.uploadedAt < filter.uploaded.from) return false;
  if (filter.uploaded.before && facts.uploadedAt >= filter.uploaded.before) return false;
  if (filter.state.fast && facts.fast !== filter.state.fast) return false;
  if (filter.state.detailed && facts.detailed !== filter.state.detailed) return false;
  return true;
}

/** The string a vector index compares model keys by: id, revision, dtype and task hash. */
export function embeddingModelKey(provenance: ModelProvenance): string {
  const dtype = typeof provenance.dtype === 'string' ? provenance.dtype : JSON.stringify(provenance.dtype);
  return `${provenance.id}@${provenance.revision}:${dtype}:${provenance.promptHash}`;
}

/**
 * The vector index entry of a record, or undefined when it has no current embedding (written before
 * embeddings, or its model was missing): such an image is found by keywords until backfill embeds it.
 * A vector kept from another model still carries that model's key, so it is never compared with this one.
 */
export function vectorEntryOf(key: string, record: DescriptionRecord): ImageVectorEntry | undefined {
  const provenance = record.models.embedding;
  if (!record.embedding || !provenance) return undefined;
  return {
    key,
    vector: decodeEmbedding(record.embedding),
    model: embeddingModelKey(provenance),
    facts: vectorFactsOf(record),
  };
}
