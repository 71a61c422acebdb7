import type { ListedObject, ObjectStore } from '#engine/index.ts';
import { type DescriptionRecord, readStoredRecord } from '#engine/record/index.ts';
import { statusOfRecord, type UploadStatus } from '#engine/uploads/index.ts';
import { thumbnailPath } from './http-server.ts';

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
  /** The bucket, behind the object store port. */
  readonly store: ObjectStore;
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
  private readonly names = new Map<string, { etag: string; name: string | undefined }>();

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
        const imageUrl = `${thumbnailPath(relative)}?v=${object.etag}`;
        return {
          key: object.key,
          id: upload?.[1],
          name: (await this.originalName(object.key, object.etag)) ?? relative.split('/').pop() ?? relative,
          // Same words as GET /uploads/{id}; no sidecar yet = describing.
          status: record ? statusOfRecord(record) : 'describing',
          lastModified: object.lastModified,
          imageUrl,
          record,
        };
      }),
    );
  }

  /** The upload API keeps the sanitised file name in metadata (the key is a server-made id). */
  private async originalName(key: string, etag: string): Promise<string | undefined> {
    const cached = this.names.get(key);
    if (cached?.etag === etag) return cached.name;
    let name: string | undefined;
    try {
      const head = await this.options.store.head(key);
      name = head.metadata?.['original-filename'] || undefined;
    } catch {
      name = undefined;
    }
    this.names.set(key, { etag, name });
    return name;
  }

  private async read(key: string, etag: string): Promise<DescriptionRecord | undefined> {
    const cached = this.cache.get(key);
    if (cached?.etag === etag) return cached.record;
    let record: DescriptionRecord | undefined;
    try {
      record = readStoredRecord((await this.options.store.getJson(key))?.value ?? null);
    } catch {
      // A sidecar being replaced or not matching the schema: show the object without it.
      record = undefined;
    }
    this.cache.set(key, { etag, record });
    return record;
  }

  private async listAll(prefix: string): Promise<ListedObject[]> {
    const out: ListedObject[] = [];
    for await (const object of this.options.store.list(prefix)) out.push(object);
    return out;
  }
}
