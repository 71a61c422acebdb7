import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import {
  type ListedObject,
  type ObjectHead,
  ObjectNotFoundError,
  type ObjectStore,
  PreconditionFailedError,
  type PutBytesOptions,
  type PutCondition,
  parseStoredJson,
  StorageUnavailableError,
  type StoredJson,
  type StoredObject,
} from '#engine/ports.ts';
import { type AwsClientOptions, awsClientConfig } from './aws-config.ts';

/** S3 ETags come quoted (`"abc"`); records and job messages store them bare. */
export const bareEtag = (etag: string | undefined): string => (etag ?? '').replace(/^(W\/)?"|"$/g, '');
const quoted = (etag: string): string => (etag === '*' || etag.startsWith('"') ? etag : `"${etag}"`);

function statusOf(error: unknown): number | undefined {
  if (error instanceof S3ServiceException) return error.$metadata.httpStatusCode;
  const meta = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata;
  return meta?.httpStatusCode;
}

function nameOf(error: unknown): string {
  return error instanceof Error ? error.name : '';
}

/**
 * Translate an SDK error into a port error: 404 → ObjectNotFoundError, 412 (and S3's 409
 * ConditionalRequestConflict for racing conditional writes) → PreconditionFailedError, anything
 * else → StorageUnavailableError (transient: the caller's retry policy decides).
 */
function translate(error: unknown, key: string, condition: string): Error {
  const status = statusOf(error);
  const name = nameOf(error);
  if (status === 404 || name === 'NoSuchKey' || name === 'NotFound') return new ObjectNotFoundError(key);
  if (status === 412 || name === 'PreconditionFailed' || name === 'ConditionalRequestConflict') {
    return new PreconditionFailedError(key, condition, { cause: error });
  }
  if (status === 409 && condition !== 'no condition') {
    return new PreconditionFailedError(key, condition, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new StorageUnavailableError(`S3 request for ${key} failed: ${name || 'error'}: ${message}`, {
    cause: error,
  });
}

function conditionText(condition: PutCondition | { ifMatch?: string } | undefined): string {
  if (condition && 'ifNoneMatch' in condition && condition.ifNoneMatch) return 'no existing object';
  if (condition?.ifMatch) return `ETag ${condition.ifMatch}`;
  return 'no condition';
}

export interface S3ObjectStoreOptions extends AwsClientOptions {
  readonly bucket: string;
  /** Share one client per process; created from the options when absent. */
  readonly client?: S3Client;
}

/** The ObjectStore port on one S3 bucket: the only code that calls the S3 API. */
export class S3ObjectStore implements ObjectStore {
  readonly bucket: string;
  readonly client: S3Client;

  constructor(options: S3ObjectStoreOptions) {
    this.bucket = options.bucket;
    this.client = options.client ?? new S3Client(awsClientConfig(options));
  }

  async head(key: string): Promise<ObjectHead> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        key,
        etag: bareEtag(out.ETag),
        size: out.ContentLength ?? 0,
        contentType: out.ContentType,
        metadata: out.Metadata,
      };
    } catch (error) {
      throw translate(error, key, 'no condition');
    }
  }

  async get(key: string, options: { ifMatch?: string } = {}): Promise<StoredObject> {
    const condition = conditionText(options);
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          IfMatch: options.ifMatch ? quoted(options.ifMatch) : undefined,
        }),
      );
      const bytes = out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
      const etag = bareEtag(out.ETag);
      // Some S3-compatible servers ignore If-Match on GET: check the ETag we got back as well.
      if (options.ifMatch && etag && etag !== bareEtag(options.ifMatch)) {
        throw new PreconditionFailedError(key, condition);
      }
      return {
        key,
        etag,
        size: out.ContentLength ?? bytes.length,
        contentType: out.ContentType,
        metadata: out.Metadata,
        bytes,
      };
    } catch (error) {
      if (error instanceof PreconditionFailedError) throw error;
      throw translate(error, key, condition);
    }
  }

  async getJson<T = unknown>(key: string): Promise<StoredJson<T> | undefined> {
    let object: StoredObject;
    try {
      object = await this.get(key);
    } catch (error) {
      if (error instanceof ObjectNotFoundError) return undefined;
      throw error;
    }
    return parseStoredJson<T>(object);
  }

  async putJson(key: string, value: unknown, condition: PutCondition = {}): Promise<{ etag: string }> {
    try {
      const out = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          // One JSON document per line: Athena's JSON SerDe reads each line as one record.
          Body: `${JSON.stringify(value)}\n`,
          ContentType: 'application/json',
          IfNoneMatch: condition.ifNoneMatch,
          IfMatch: condition.ifMatch ? quoted(condition.ifMatch) : undefined,
        }),
      );
      return { etag: bareEtag(out.ETag) };
    } catch (error) {
      throw translate(error, key, conditionText(condition));
    }
  }

  async putBytes(key: string, bytes: Uint8Array, options: PutBytesOptions = {}): Promise<{ etag: string }> {
    try {
      const out = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: bytes,
          ContentType: options.contentType,
          Metadata: options.metadata ? { ...options.metadata } : undefined,
        }),
      );
      return { etag: bareEtag(out.ETag) };
    } catch (error) {
      throw translate(error, key, 'no condition');
    }
  }

  async *list(prefix: string): AsyncIterable<ListedObject> {
    let token: string | undefined;
    do {
      let out: ListObjectsV2CommandOutput;
      try {
        out = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
        );
      } catch (error) {
        throw translate(error, prefix, 'no condition');
      }
      for (const item of out.Contents ?? []) {
        if (!item.Key) continue;
        const listed = { key: item.Key, etag: bareEtag(item.ETag), size: item.Size ?? 0 };
        yield item.LastModified ? { ...listed, lastModified: item.LastModified.toISOString() } : listed;
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }
}
