import { isPermanent } from '../errors.ts';
import { type ImageVectorIndex, ObjectNotFoundError, type ObjectStore } from '../ports.ts';
import type { DescriptionRecord } from '../record/schema.ts';
import { vectorEntryOf } from '../search/vector-facts.ts';
import { inputKeyFor, isInputKey, type KeyLayout, sidecarKeyFor } from './key-layout.ts';
import type { ObjectRemoved } from './s3-event.ts';
import { parseStoredRecord } from './staleness.ts';

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
 * and similar images stop listing it. The bucket is versioned and its events may arrive out of
 * order, so a removal event does not prove the image is gone (a noncurrent version deleted, a
 * delete marker removed, a re-upload that overtook the event): an image that still exists with a
 * readable sidecar is re-synced from that sidecar instead. Keys of other buckets are ignored.
 * Returns the image keys whose vectors were removed (none without an index).
 */
export async function forgetRemovedObjects(
  deps: {
    readonly vectors?: ImageVectorIndex;
    readonly store: ObjectStore;
    readonly layout: KeyLayout;
    readonly bucket: string;
  },
  removed: readonly ObjectRemoved[],
): Promise<string[]> {
  if (!deps.vectors) return [];
  const keys = removed.filter((object) => object.bucket === deps.bucket).map((object) => object.key);
  const gone: string[] = [];
  for (const image of imageKeysOfRemoved(deps.layout, keys)) {
    const current = await currentRecordOf(deps.store, deps.layout, image);
    if (current) await syncVector(deps.vectors, image, current);
    else gone.push(image);
  }
  if (gone.length > 0) await deps.vectors.remove(gone);
  return gone;
}

/** The record of an image that still exists beside its readable sidecar, else undefined. */
async function currentRecordOf(
  store: ObjectStore,
  layout: KeyLayout,
  image: string,
): Promise<DescriptionRecord | undefined> {
  try {
    await store.head(image);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return undefined;
    throw error;
  }
  const sidecar = await store.getJson(sidecarKeyFor(layout, image));
  return sidecar && parseStoredRecord(sidecar.value);
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
