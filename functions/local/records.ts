import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { validateRecord } from '#engine/record/record.ts';
import type { DescriptionRecord } from '#engine/record/schema.ts';

export type UploadStatus = 'uploading' | 'describing' | 'fast-done' | 'done' | 'failed';

/** The status words of GET /uploads/{id} (shared AWS conventions), from a sidecar. */
export function statusOfRecord(record: DescriptionRecord | undefined): UploadStatus {
  if (!record) return 'describing';
  const { fast, detailed } = record.status;
  if (fast.state === 'failed' || detailed.state === 'failed') return 'failed';
  if (fast.state !== 'done') return 'describing';
  return detailed.state === 'done' ? 'done' : 'fast-done';
}

export interface ListedRecord {
  readonly key: string;
  /** Upload id when the object came through the upload API. */
  readonly id?: string;
  readonly name: string;
  readonly status: UploadStatus;
  readonly lastModified?: string;
  /** The local stack's thumbnail route for this object. */
  readonly imageUrl: string;
  readonly record?: DescriptionRecord;
}

export interface RecordListerOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly inputPrefix: string;
  readonly sidecarPrefix: string;
  /** Newest first, at most this many (the page is a demo, not a gallery for 100k images). */
  readonly limit?: number;
}

/**
 * The local-only `GET /records`: every input object with its sidecar, for the web page's list,
 * search and colour filter. Sidecars are cached by ETag so a refresh only reads what changed.
 */
export class RecordLister {
  private readonly cache = new Map<string, { etag: string; record: DescriptionRecord | undefined }>();

  constructor(private readonly options: RecordListerOptions) {}

  async list(): Promise<ListedRecord[]> {
    const { inputPrefix, sidecarPrefix } = this.options;
    const inputs = await this.listAll(inputPrefix);
    const sidecars = new Map((await this.listAll(sidecarPrefix)).map((o) => [o.key, o]));
    inputs.sort((a, b) => (b.lastModified ?? '').localeCompare(a.lastModified ?? ''));
    const chosen = inputs.slice(0, this.options.limit ?? 500);
    return Promise.all(
      chosen.map(async (object) => {
        const relative = object.key.slice(inputPrefix.length);
        const sidecar = sidecars.get(`${sidecarPrefix}${relative}.json`);
        const record = sidecar ? await this.read(sidecar.key, sidecar.etag) : undefined;
        const upload = /^uploads\/([0-9a-f-]{36})$/.exec(relative);
        const imageUrl = `/thumbnails/${relative.split('/').map(encodeURIComponent).join('/')}?v=${object.etag.replace(/"/g, '')}`;
        return {
          key: object.key,
          id: upload?.[1],
          name: relative.split('/').pop() ?? relative,
          status: statusOfRecord(record),
          lastModified: object.lastModified,
          imageUrl,
          record,
        };
      }),
    );
  }

  private async read(key: string, etag: string): Promise<DescriptionRecord | undefined> {
    const cached = this.cache.get(key);
    if (cached?.etag === etag) return cached.record;
    let record: DescriptionRecord | undefined;
    try {
      const object = await this.options.s3.send(
        new GetObjectCommand({ Bucket: this.options.bucket, Key: key }),
      );
      record = validateRecord(
        JSON.parse(await (object.Body?.transformToString() ?? Promise.resolve('null'))),
      );
    } catch {
      // A sidecar being replaced or not matching the schema: show the object without it.
      record = undefined;
    }
    this.cache.set(key, { etag, record });
    return record;
  }

  private async listAll(
    prefix: string,
  ): Promise<Array<{ key: string; etag: string; lastModified?: string }>> {
    const out: Array<{ key: string; etag: string; lastModified?: string }> = [];
    let token: string | undefined;
    do {
      const page = await this.options.s3.send(
        new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key) out.push({ key: o.Key, etag: o.ETag ?? '', lastModified: o.LastModified?.toISOString() });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }
}
