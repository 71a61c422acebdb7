import { isPermanent } from '../errors.ts';
import type { ImageVectorIndex } from '../ports.ts';
import type { DescriptionRecord } from '../record/schema.ts';
import { vectorEntryOf } from '../search/vector-facts.ts';
import { inputKeyFor, isInputKey, type KeyLayout } from './key-layout.ts';
import type { ObjectRemoved } from './s3-event.ts';

/** What happened to an image's vector after its sidecar was written. */
export type VectorSync =
  | { readonly kind: 'written' }
  /** The record has no current embedding (failed, or its model was missing): no vector may stay. */
  | { readonly kind: 'removed' }
  /** The index refused it for good (see VectorIndexRejectedError): found by keywords only. */
  | { readonly kind: 'rejected'; readonly code: string; readonly reason: string };

/**
 * Put an image's vector, with the record's search facts, into a remote vector index (S3 Vectors)
 * after its sidecar is written, so filters on the index see what the sidecar says; remove it when
 * the record carries no current embedding. A permanent refusal is reported, not thrown (the sidecar
 * is written and the image is found by keywords); anything a retry may fix is thrown, and the
 * retried event re-syncs from the sidecar it finds. Without an index: nothing (the local stack
 * indexes from the sidecar events instead).
 */
export async function syncVector(
  vectors: ImageVectorIndex | undefined,
  key: string,
  record: DescriptionRecord,
): Promise<VectorSync | undefined> {
  if (!vectors) return undefined;
  const entry = vectorEntryOf(key, record);
  try {
    if (entry) await vectors.upsert([entry]);
    else await vectors.remove([key]);
  } catch (error) {
    if (!isPermanent(error) || !(error instanceof Error)) throw error;
    const code = (error as { code?: string }).code ?? 'INTERNAL';
    return { kind: 'rejected', code, reason: error.message };
  }
  return { kind: entry ? 'written' : 'removed' };
}

/**
 * An image or its sidecar was deleted: its vector leaves the remote index, so search by meaning
 * and similar images stop listing it. Keys of other buckets are ignored. Returns the image keys
 * whose vectors were removed (none without an index).
 */
export async function forgetRemovedObjects(
  deps: { readonly vectors?: ImageVectorIndex; readonly layout: KeyLayout; readonly bucket: string },
  removed: readonly ObjectRemoved[],
): Promise<string[]> {
  if (!deps.vectors) return [];
  const keys = removed.filter((object) => object.bucket === deps.bucket).map((object) => object.key);
  const images = imageKeysOfRemoved(deps.layout, keys);
  if (images.length > 0) await deps.vectors.remove(images);
  return images;
}

/**
 * The image keys whose vectors go when these objects are deleted: an image under the input prefix,
 * or the image a deleted sidecar described. Other keys (kept-aside sidecars, strays) name none.
 */
export function imageKeysOfRemoved(layout: KeyLayout, keys: readonly string[]): string[] {
  const images = new Set<string>();
  for (const key of keys) {
    if (isInputKey(layout, key)) images.add(key);
    else {
      const image = inputKeyFor(layout, key);
      if (image !== undefined) images.add(image);
    }
  }
  return [...images];
}
