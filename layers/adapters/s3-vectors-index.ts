import {
  DeleteVectorsCommand,
  GetVectorsCommand,
  PutVectorsCommand,
  QueryVectorsCommand,
  S3VectorsClient,
} from '@aws-sdk/client-s3vectors';
import { expected } from '#engine/errors.ts';
import {
  type ImageVectorEntry,
  type ImageVectorIndex,
  type NearestOptions,
  type StoredVectorReader,
  type VectorFacts,
  type VectorHit,
  VectorIndexBusyError,
  VectorIndexRejectedError,
  type VectorSearchFilters,
} from '#engine/ports.ts';
import { colourFamilySchema } from '#engine/record/value-schemas.ts';
import { type AwsClientOptions, awsClientConfig } from './aws-config.ts';

/** S3 Vectors' limits per call (Amazon S3 User Guide, "S3 Vectors limitations and restrictions"). */
export const S3_VECTORS_LIMITS = Object.freeze({
  putBatch: 500,
  deleteBatch: 500,
  getBatch: 100,
  topK: 100,
  filterableMetadataBytes: 2048,
});

/**
 * The metadata keys written beside each vector, all filterable (what search filters on): the model
 * key, the upload time in epoch milliseconds (range filters need numbers), one share per colour
 * family present, folded labels and category ids (lists: `$eq` matches any element), has-text and
 * the stage states. Nothing non-filterable is stored: results are read from the sidecars.
 */
export const VECTOR_METADATA_KEYS = Object.freeze({
  model: 'model',
  uploadedAt: 'uploadedAt',
  labels: 'labels',
  categories: 'categories',
  hasText: 'hasText',
  fast: 'fast',
  detailed: 'detailed',
  colour: (family: string) => `colour_${family}`,
});

type Metadata = Record<string, string | number | boolean | string[]>;
/** A filter document: JSON values only (the SDK's DocumentType). */
type FilterValue = string | number | boolean | FilterValue[] | { [key: string]: FilterValue };
type Filter = { [key: string]: FilterValue };

export interface S3VectorsIndexOptions extends AwsClientOptions {
  /** arn:aws:s3vectors:<region>:<account>:bucket/<vector bucket>/index/<index> */
  readonly indexArn: string;
  /** Share one client per process; created from the options when absent. */
  readonly client?: S3VectorsClient;
}

/** The facts of an entry as S3 Vectors metadata (see VECTOR_METADATA_KEYS). */
export function vectorMetadataOf(model: string, facts: VectorFacts): Metadata {
  const k = VECTOR_METADATA_KEYS;
  const metadata: Metadata = {
    [k.model]: model,
    [k.uploadedAt]: Date.parse(facts.uploadedAt),
    [k.hasText]: facts.hasText,
    [k.fast]: facts.fast,
    [k.detailed]: facts.detailed,
  };
  for (const family of colourFamilySchema.options) {
    const share = facts.colours[family];
    if (share !== undefined && share > 0) metadata[k.colour(family)] = share;
  }
  // An empty list is left out: `$eq` on a missing key matches nothing, as on an empty list.
  if (facts.labels.length > 0) metadata[k.labels] = [...facts.labels];
  if (facts.categories.length > 0) metadata[k.categories] = [...facts.categories];
  return metadata;
}

/** The search filters as one S3 Vectors metadata filter, with the same rules as matchesVectorFilters. */
export function vectorFilterOf(model: string, filter: VectorSearchFilters | undefined): Filter {
  const k = VECTOR_METADATA_KEYS;
  const all: Filter[] = [{ [k.model]: { $eq: model } }];
  for (const colour of filter?.colours ?? []) {
    // A family is stored only when present, so a 0 minimum still needs it there.
    const bound: Filter = colour.minFraction > 0 ? { $gte: colour.minFraction } : { $gt: 0 };
    all.push({ [k.colour(colour.family)]: bound });
  }
  for (const label of filter?.labels ?? []) all.push({ [k.labels]: { $eq: label } });
  for (const category of filter?.categories ?? []) all.push({ [k.categories]: { $eq: category } });
  if (filter?.hasText !== undefined) all.push({ [k.hasText]: { $eq: filter.hasText } });
  if (filter?.uploaded.from) all.push({ [k.uploadedAt]: { $gte: Date.parse(filter.uploaded.from) } });
  if (filter?.uploaded.before) all.push({ [k.uploadedAt]: { $lt: Date.parse(filter.uploaded.before) } });
  if (filter?.state.fast) all.push({ [k.fast]: { $eq: filter.state.fast } });
  if (filter?.state.detailed) all.push({ [k.detailed]: { $eq: filter.state.detailed } });
  return all.length === 1 ? (all[0] as Filter) : { $and: all };
}

/** Error names of "not now" answers (after the SDK's own retries): a later retry may succeed. */
const BUSY = new Set([
  'TooManyRequestsException',
  'ServiceUnavailableException',
  'InternalServerException',
  'RequestTimeoutException',
  'ThrottlingException',
]);

function translate(error: unknown, action: string): Error {
  if (!(error instanceof Error))
    return new VectorIndexBusyError(`S3 Vectors ${action} failed: ${String(error)}`);
  const meta = error as Error & { $fault?: string; $metadata?: { httpStatusCode?: number } };
  const status = meta.$metadata?.httpStatusCode;
  const detail = `${error.name}: ${error.message}`;
  // No HTTP status at all: the request never got an answer (network), which a retry may fix.
  if (BUSY.has(error.name) || status === 429 || (status ?? 500) >= 500 || meta.$fault === 'server') {
    return new VectorIndexBusyError(`S3 Vectors is busy or unavailable (${action}): try again shortly`, {
      cause: error,
      detail,
    });
  }
  return new VectorIndexRejectedError(`S3 Vectors rejected ${action}: ${error.message}`, {
    cause: error,
    detail,
  });
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * The ImageVectorIndex port on Amazon S3 Vectors: the only code that calls its API. One vector per
 * image key (cosine index, float32), with the filter facts as filterable metadata; writes are
 * batched to S3 Vectors' per-call limits. Reads are eventually consistent: a vector just written
 * may not be returned by a query for a moment.
 */
export class S3VectorsIndex implements ImageVectorIndex, StoredVectorReader {
  readonly client: S3VectorsClient;
  private readonly target: { indexArn: string };

  constructor(options: S3VectorsIndexOptions) {
    this.client = options.client ?? new S3VectorsClient(awsClientConfig(options));
    this.target = { indexArn: options.indexArn };
  }

  async upsert(entries: readonly ImageVectorEntry[]): Promise<void> {
    const vectors = entries.map((entry) => {
      const metadata = vectorMetadataOf(entry.model, entry.facts);
      const bytes = Buffer.byteLength(JSON.stringify(metadata));
      if (bytes > S3_VECTORS_LIMITS.filterableMetadataBytes) {
        throw new VectorIndexRejectedError(
          `The search facts of ${entry.key} are too large for S3 Vectors (${bytes} bytes of filterable metadata; at most ${S3_VECTORS_LIMITS.filterableMetadataBytes}): it is found by keywords only`,
          {
            detail: expected(`at most ${S3_VECTORS_LIMITS.filterableMetadataBytes} bytes`, 'metadata', bytes),
          },
        );
      }
      return { key: entry.key, data: { float32: Array.from(entry.vector) }, metadata };
    });
    for (const batch of chunks(vectors, S3_VECTORS_LIMITS.putBatch)) {
      await attempt('PutVectors', () =>
        this.client.send(new PutVectorsCommand({ ...this.target, vectors: batch })),
      );
    }
  }

  async remove(keys: readonly string[]): Promise<void> {
    // Deleting a key that has no vector is not an error in S3 Vectors: the port's "ignored".
    for (const batch of chunks(keys, S3_VECTORS_LIMITS.deleteBatch)) {
      await attempt('DeleteVectors', () =>
        this.client.send(new DeleteVectorsCommand({ ...this.target, keys: batch })),
      );
    }
  }

  /**
   * At most S3_VECTORS_LIMITS.topK hits (QueryVectors' top-K limit), whatever `limit` asks: deeper
   * pages of search by meaning are not offered in AWS.
   */
  async nearest(query: Float32Array, options: NearestOptions): Promise<VectorHit[]> {
    const extra = options.excludeKey === undefined ? 0 : 1;
    const topK = Math.min(S3_VECTORS_LIMITS.topK, Math.max(1, options.limit + extra));
    const output = await attempt('QueryVectors', () =>
      this.client.send(
        new QueryVectorsCommand({
          ...this.target,
          topK,
          queryVector: { float32: Array.from(query) },
          filter: vectorFilterOf(options.model, options.filter),
          returnDistance: true,
        }),
      ),
    );
    const hits: VectorHit[] = [];
    for (const vector of output.vectors ?? []) {
      if (vector.key === undefined || vector.key === options.excludeKey) continue;
      // A cosine index reports the cosine distance, 1 - similarity.
      hits.push({ key: vector.key, similarity: 1 - (vector.distance ?? 1) });
    }
    hits.sort((a, b) => b.similarity - a.similarity || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return hits.slice(0, options.limit);
  }

  async vectorOf(key: string): Promise<{ vector: Float32Array; model: string } | undefined> {
    const output = await attempt('GetVectors', () =>
      this.client.send(
        new GetVectorsCommand({ ...this.target, keys: [key], returnData: true, returnMetadata: true }),
      ),
    );
    const found = output.vectors?.find((vector) => vector.key === key);
    const data = found?.data?.float32;
    const model = (found?.metadata as Metadata | undefined)?.[VECTOR_METADATA_KEYS.model];
    if (!data || typeof model !== 'string') return undefined;
    return { vector: Float32Array.from(data), model };
  }
}

async function attempt<T>(action: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw translate(error, action);
  }
}
