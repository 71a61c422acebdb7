import { DescribeError } from './errors.ts';
import type { ColourFamily, StageState } from './record/schema.ts';
import type { SearchQuery } from './search/query.ts';

/**
 * Ports: every interface the use cases depend on and an adapter implements, in one place. Adapters
 * in layers/adapters/ implement them (S3, SQS, Lambda, the presigner, S3 Vectors) and are the only
 * code that calls the AWS SDK; they translate SDK errors into the named errors below, so use cases
 * never see an SDK error. Local stand-ins live in layers/emulators/.
 *
 * Three ports are declared beside the one module that uses them and re-exported here: the remote
 * vision client (models/remote-client.ts, with the RemoteCallError its retry policy reads), the
 * keyword search index (search/local-index.ts, with its in-memory implementation) and the SQL
 * runner of the Athena engine (search/athena-engine.ts, whose rows it types).
 */

export type {
  RemoteVisionAnswer,
  RemoteVisionClient,
  RemoteVisionRequest,
} from './models/remote-client.ts';
export type { SqlRow, SqlRunner } from './search/athena-engine.ts';
export type { IndexEntry, SearchIndex } from './search/local-index.ts';

export interface ObjectHead {
  readonly key: string;
  /** ETag without quotes. */
  readonly etag: string;
  readonly size: number;
  readonly contentType?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface StoredObject extends ObjectHead {
  readonly bytes: Uint8Array;
}

export interface StoredJson<T = unknown> {
  /** Undefined when the stored bytes are not JSON (see `unreadable`). */
  readonly value: T;
  /** ETag without quotes, for a later If-Match. */
  readonly etag: string;
  /**
   * Set when the object exists but is not JSON (empty, cut short, edited by hand): `value` is then
   * undefined, so a record read from it counts as unreadable and the image is described again;
   * `bytes` are what was stored, for keeping them aside.
   */
  readonly unreadable?: { readonly reason: string; readonly bytes: Uint8Array };
}

/** A stored object's JSON, or the object marked unreadable (never a SyntaxError: see StoredJson). */
export function parseStoredJson<T>(object: {
  readonly bytes: Uint8Array;
  readonly etag: string;
}): StoredJson<T> {
  try {
    return { value: JSON.parse(Buffer.from(object.bytes).toString('utf8')) as T, etag: object.etag };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { value: undefined as T, etag: object.etag, unreadable: { reason, bytes: object.bytes } };
  }
}

export interface ListedObject {
  readonly key: string;
  readonly etag: string;
  readonly size: number;
  /** ISO 8601, when the store reports it. */
  readonly lastModified?: string;
}

export interface PutBytesOptions {
  readonly contentType?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface PutCondition {
  /** `'*'`: write only if no object exists at the key (create). */
  readonly ifNoneMatch?: '*';
  /** Write only if the current object has this ETag (compare-and-swap). */
  readonly ifMatch?: string;
}

export interface ObjectStore {
  /** Metadata only. Throws ObjectNotFoundError when the key does not exist. */
  head(key: string): Promise<ObjectHead>;
  /**
   * The object's bytes. With `ifMatch`, throws PreconditionFailedError when the stored object has
   * another ETag (replaced since the event). Throws ObjectNotFoundError when it does not exist.
   */
  get(key: string, options?: { ifMatch?: string }): Promise<StoredObject>;
  /**
   * A JSON object and its ETag, or undefined when the key does not exist. Bytes that are not JSON
   * do not throw: they come back with `unreadable` set.
   */
  getJson<T = unknown>(key: string): Promise<StoredJson<T> | undefined>;
  /** Write JSON; with a condition, throws PreconditionFailedError when it does not hold. */
  putJson(key: string, value: unknown, condition?: PutCondition): Promise<{ etag: string }>;
  /** Write raw bytes (an image), unconditionally. */
  putBytes(key: string, bytes: Uint8Array, options?: PutBytesOptions): Promise<{ etag: string }>;
  /** Every object under the prefix, in key order, page by page. */
  list(prefix: string): AsyncIterable<ListedObject>;
}

export interface JobQueue<T> {
  send(job: T): Promise<void>;
}

/** Storage or queue failure that a retry may fix (throttling, network, 5xx). */
export class StorageUnavailableError extends DescribeError {
  readonly code = 'STORAGE_UNAVAILABLE' as const;
  readonly permanent = false;
}

/** The key does not exist (deleted, or never written). */
export class ObjectNotFoundError extends DescribeError {
  readonly code = 'OBJECT_NOT_FOUND' as const;
  readonly permanent = true;
  constructor(readonly key: string) {
    super(`Expected an object at ${key} but received nothing`);
  }
}

/**
 * A conditional read or write did not hold: If-Match on another ETag (the object was replaced or
 * the sidecar changed concurrently) or If-None-Match: * on an existing key. S3 answers 412, or
 * 409 ConditionalRequestConflict for a concurrent conditional write.
 */
export class PreconditionFailedError extends DescribeError {
  readonly code = 'PRECONDITION_FAILED' as const;
  readonly permanent = false;
  constructor(
    readonly key: string,
    readonly condition: string,
    options?: { cause?: unknown },
  ) {
    super(`Expected ${condition} for ${key} but the stored object did not match`, options);
  }
}

/** An object that should go through the fast stage (as if S3 had just notified its creation). */
export interface ObjectToDescribe {
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  readonly size: number;
}

/**
 * Starts the fast stage for an object: in AWS an asynchronous invoke of the fast function with
 * the S3 event S3 would have sent (same retries and on-failure DLQ); locally, the use case itself.
 */
export interface FastStageTrigger {
  trigger(object: ObjectToDescribe): Promise<void>;
}

/**
 * Filters a vector search applies: the query model's filters without its words and paging
 * (search/query.ts), so a hybrid search filters both of its halves alike.
 */
export type VectorSearchFilters = Pick<
  SearchQuery,
  'colours' | 'labels' | 'categories' | 'hasText' | 'uploaded' | 'state'
>;

/**
 * What a vector index keeps beside each vector so it can apply VectorSearchFilters without the
 * record: flat values an index with metadata filters (S3 Vectors, LanceDB, SQLite) can store.
 */
export interface VectorFacts {
  /** uploadedAtOf(record), ISO 8601 UTC. */
  readonly uploadedAt: string;
  /** Summed palette share per colour family present (only families with a share > 0). */
  readonly colours: Readonly<Partial<Record<ColourFamily, number>>>;
  /** Folded label phrases (foldPhrase). */
  readonly labels: readonly string[];
  /** Folded category ids. */
  readonly categories: readonly string[];
  readonly hasText: boolean;
  readonly fast: StageState;
  readonly detailed: StageState;
}

export interface ImageVectorEntry {
  /** The image key results are named by. */
  readonly key: string;
  /** Unit length (cosine similarity = dot product). */
  readonly vector: Float32Array;
  /**
   * The embedding model's provenance key (provenanceKey): vectors of different models are never
   * compared, so a changed model cannot rank old vectors against new queries.
   */
  readonly model: string;
  readonly facts: VectorFacts;
}

export interface VectorHit {
  readonly key: string;
  /** Cosine similarity, -1..1. */
  readonly similarity: number;
}

export interface NearestOptions {
  /** The model key the query vector came from; only entries of this model are compared. */
  readonly model: string;
  /** Hits to return at most, best first. */
  readonly limit: number;
  /** Only entries whose facts pass every filter. */
  readonly filter?: VectorSearchFilters;
  /** Leave this key out (similar images: the image itself). */
  readonly excludeKey?: string;
}

/**
 * The vector index refused the call for now (throttled, or unavailable) after the client's own
 * retries: a retry later may succeed. A search answers 503 with Retry-After; a write is retried.
 */
export class VectorIndexBusyError extends DescribeError {
  readonly code = 'VECTOR_INDEX_BUSY' as const;
  readonly permanent = false;
}

/**
 * The vector index rejected the request itself (a vector of another length than the index's, too
 * much filterable metadata, a missing index): retrying the same request cannot help.
 */
export class VectorIndexRejectedError extends DescribeError {
  readonly code = 'VECTOR_INDEX_REJECTED' as const;
  readonly permanent = true;
}

/** An image's stored vector, for similar images; a remote index reads it back (S3 Vectors GetVectors). */
export interface StoredVectorReader {
  /** The vector and model key stored under an image key, or undefined when there is none. */
  vectorOf(key: string): Promise<{ vector: Float32Array; model: string } | undefined>;
}

/**
 * Nearest-neighbour search over image embeddings: the local stack's index (in memory, or the
 * persistent store), S3 Vectors in AWS. Writes replace the entry under its key. Throws
 * StorageUnavailableError when the store cannot answer (a retry may fix it).
 */
export interface ImageVectorIndex {
  upsert(entries: readonly ImageVectorEntry[]): Promise<void>;
  /** Keys not in the index are ignored. */
  remove(keys: readonly string[]): Promise<void>;
  /** Best first (highest similarity), ties by key. */
  nearest(query: Float32Array, options: NearestOptions): Promise<VectorHit[]>;
}

/**
 * The presigning port: the upload use case says what the POST policy must pin; the adapter
 * (layers/adapters/s3-upload-signer.ts) signs it and is the only code that touches the SDK.
 */

/** A POST policy condition, as S3 spells them. */
export type PostPolicyCondition =
  | Readonly<Record<string, string>>
  | readonly ['eq', string, string]
  | readonly ['starts-with', string, string]
  | readonly ['content-length-range', number, number];

export interface PresignPostRequest {
  /** The exact object key the form may write. */
  readonly key: string;
  /** Conditions beyond the key, bucket and X-Amz-* fields the signer adds itself. */
  readonly conditions: readonly PostPolicyCondition[];
  /** Form fields the client must send back unchanged (the policy pins each of them). */
  readonly fields: Readonly<Record<string, string>>;
  readonly expiresInSeconds: number;
}

export interface PresignedPost {
  /** Where to POST the multipart form. */
  readonly url: string;
  /** Every form field to send before the file: key, Policy, X-Amz-*, Content-Type, metadata. */
  readonly fields: Readonly<Record<string, string>>;
}

export interface UploadSigner {
  presignPost(request: PresignPostRequest): Promise<PresignedPost>;
}
