import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type Stats } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * The embedded S3 server's objects on disk, in place of s3rver's own store (which maps a key to a
 * path: `%2E%2E/` segments escaped the data folder, a 250-byte name failed with ENAMETOOLONG, and
 * writes were in place, so a reader could see half an object). Here:
 * - one file per object, named by the SHA-256 of bucket and key: any key S3 accepts (up to 1,024
 *   bytes, any script, `..`) is stored, and nothing is ever written outside the bucket's folder;
 * - the file holds the bytes, then a newline and one JSON line (key, MD5, size, metadata): a reader
 *   opens it once and reads one consistent version;
 * - every write goes to a temporary file in the same folder and is renamed over the object, so a
 *   reader (or a kill -9) sees the old object or the new one, never half of one. Temporary files a
 *   killed process left behind are removed at start;
 * - a file whose first line cannot be read is moved to `<bucket>/.corrupt/` and reported once,
 *   and the object reads as absent: it never stops a start.
 * The interface is the one s3rver's controllers call (its FilesystemStore's), so s3rver still
 * speaks the S3 protocol and emits the event records.
 */

const require = createRequire(import.meta.url);
// s3rver's models: what its controllers expect back (no exports map, so the files are reachable).
const S3Object = require('s3rver/lib/models/object') as S3ObjectClass;
const S3Bucket = require('s3rver/lib/models/bucket') as new (name: string, created: Date) => unknown;

interface S3ObjectInstance {
  readonly bucket: string;
  readonly key: string;
  content: Readable | Buffer | null;
  readonly metadata: Record<string, string>;
  range?: { start: number; end: number };
}
type S3ObjectClass = {
  new (
    bucket: string,
    key: string,
    content: Readable | Buffer | null,
    metadata: Record<string, unknown>,
  ): S3ObjectInstance;
  readonly ALLOWED_METADATA: readonly string[];
};

/** The JSON line every object file ends with (JSON text has no raw newline). */
interface Header {
  readonly key: string;
  readonly md5: string;
  readonly size: number;
  readonly modified: string;
  readonly metadata: Readonly<Record<string, string>>;
}

interface Entry {
  readonly file: string;
  readonly header: Header;
}

/** S3 caps user metadata at 2 KB and keys at 1 KB: a trailer longer than this is not ours. */
const MAX_HEADER_BYTES = 64 * 1024;
const TEMP_PREFIX = '.tmp-';
const CORRUPT_DIR = '.corrupt';
const UPLOADS_DIR = '.uploads';

export interface CorruptObjectFile {
  readonly file: string;
  readonly keptAs: string;
  readonly reason: string;
}

function storedMetadata(metadata: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') continue;
    if (S3Object.ALLOWED_METADATA.includes(name) || name.startsWith('x-amz-meta-')) out[name] = value;
  }
  return out;
}

/** S3 lists keys in the order of their UTF-8 bytes (JavaScript compares UTF-16 units). */
function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function notFound(): NodeJS.ErrnoException {
  return Object.assign(new Error('No such object'), { code: 'ENOENT' });
}

export class ObjectFiles {
  /** bucket → key → entry, read from the headers at start and kept current by every write. */
  private readonly buckets = new Map<string, Map<string, Entry>>();
  private readonly subresources = new Map<string, unknown>();

  constructor(
    readonly rootDirectory: string,
    private readonly onCorrupt: (corrupt: CorruptObjectFile) => void = () => undefined,
  ) {}

  private bucketPath(bucket: string): string {
    // s3rver checks bucket names against S3's rules (lower-case letters, digits, dots, dashes).
    return join(this.rootDirectory, bucket);
  }

  private fileFor(bucket: string, key: string): string {
    return createHash('sha256').update(bucket).update('\0').update(key).digest('hex');
  }

  private async entries(bucket: string): Promise<Map<string, Entry>> {
    const known = this.buckets.get(bucket);
    if (known) return known;
    const entries = new Map<string, Entry>();
    const dir = this.bucketPath(bucket);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return entries;
      throw error;
    }
    for (const name of names) {
      const path = join(dir, name);
      if (name.startsWith(TEMP_PREFIX)) {
        // A write a killed process never finished: the object it was replacing is still whole.
        await rm(path, { force: true });
        continue;
      }
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      try {
        const entry = await this.readHeader(path, name);
        entries.set(entry.header.key, entry);
      } catch (error) {
        await this.keepAside(bucket, name, error);
      }
    }
    this.buckets.set(bucket, entries);
    return entries;
  }

  private async keepAside(bucket: string, name: string, error: unknown): Promise<void> {
    const aside = join(this.bucketPath(bucket), CORRUPT_DIR);
    await mkdir(aside, { recursive: true });
    const keptAs = join(aside, `${name}.${Date.now()}`);
    await rename(join(this.bucketPath(bucket), name), keptAs);
    this.onCorrupt({
      file: join(this.bucketPath(bucket), name),
      keptAs,
      reason: error instanceof Error ? error.message : String(error),
    });
  }

  private async readHeader(path: string, name: string): Promise<Entry> {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, MAX_HEADER_BYTES);
      const tail = Buffer.alloc(length);
      await handle.read(tail, 0, length, size - length);
      const at = tail.lastIndexOf(0x0a);
      if (at < 0) throw new Error(`no description line in the last ${length} bytes`);
      const header = JSON.parse(tail.subarray(at + 1).toString('utf8')) as Header;
      if (typeof header.key !== 'string' || typeof header.md5 !== 'string') {
        throw new Error('the description line names no key or MD5');
      }
      if (size - length + at !== header.size) {
        throw new Error(`expected ${header.size} bytes but found ${size - length + at}`);
      }
      return { file: name, header };
    } finally {
      await handle.close();
    }
  }

  /** Write the bytes and their header line to a temporary file, then rename it over the object. */
  private async writeAtomically(
    bucket: string,
    key: string,
    content: Readable | Buffer,
    metadata: Record<string, string>,
  ): Promise<{ size: number; md5: string }> {
    const dir = this.bucketPath(bucket);
    await mkdir(dir, { recursive: true });
    const temporary = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    try {
      const md5 = createHash('md5');
      let size = 0;
      const done: { header?: Header } = {};
      const withHeader = async function* (source: AsyncIterable<Buffer> | Iterable<Buffer>) {
        for await (const chunk of source) {
          md5.update(chunk);
          size += chunk.length;
          yield chunk;
        }
        done.header = { key, md5: md5.digest('hex'), size, modified: new Date().toISOString(), metadata };
        yield Buffer.from(`\n${JSON.stringify(done.header)}`);
      };
      await pipeline(
        Buffer.isBuffer(content) ? [content] : content,
        withHeader,
        createWriteStream(temporary, { flags: 'wx' }),
      );
      const written = done.header;
      if (!written) throw new Error(`the write of ${key} ended before its bytes did`);
      const file = this.fileFor(bucket, key);
      await rename(temporary, join(dir, file));
      (await this.entries(bucket)).set(key, { file, header: written });
      return { size, md5: written.md5 };
    } finally {
      await rm(temporary, { force: true });
    }
  }

  private async entry(bucket: string, key: string): Promise<Entry | undefined> {
    return (await this.entries(bucket)).get(key);
  }

  private metadataOf(entry: Entry): Record<string, string> & { etag: string } {
    return {
      ...entry.header.metadata,
      etag: JSON.stringify(entry.header.md5),
      'last-modified': new Date(entry.header.modified).toUTCString(),
      'content-length': String(entry.header.size),
    };
  }

  // The store interface s3rver's controllers call.

  async getMetadata(bucket: string, key: string): Promise<Record<string, string> & { etag: string }> {
    const entry = await this.entry(bucket, key);
    if (!entry) throw notFound();
    return this.metadataOf(entry);
  }

  async putMetadata(bucket: string, key: string, metadata: Record<string, unknown>): Promise<void> {
    const object = await this.getObject(bucket, key);
    if (!object?.content) throw notFound();
    await this.writeAtomically(bucket, key, object.content as Readable, storedMetadata(metadata));
  }

  async listBuckets(): Promise<unknown[]> {
    const names = await readdir(this.rootDirectory).catch(() => [] as string[]);
    const buckets = await Promise.all(names.map((name) => this.getBucket(name)));
    return buckets.filter(Boolean);
  }

  async getBucket(bucket: string): Promise<unknown> {
    let info: Stats;
    try {
      info = await stat(this.bucketPath(bucket));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    return info.isDirectory() ? new S3Bucket(bucket, info.birthtime) : null;
  }

  async putBucket(bucket: string): Promise<unknown> {
    await mkdir(this.bucketPath(bucket), { recursive: true });
    return this.getBucket(bucket);
  }

  async deleteBucket(bucket: string): Promise<void> {
    await rm(this.bucketPath(bucket), { recursive: true, force: true });
    this.buckets.delete(bucket);
  }

  /**
   * Every matching key in one page, whatever `maxKeys` asks: s3rver makes its continuation token
   * with DES, which OpenSSL 3 (Node 18+) no longer offers, so a truncated listing would be a 500.
   */
  async listObjects(
    bucket: string,
    options: { delimiter?: string; startAfter?: string; prefix?: string },
  ): Promise<{ objects: S3ObjectInstance[]; commonPrefixes: string[]; isTruncated: boolean }> {
    const { delimiter = '', startAfter = '', prefix = '' } = options;
    const entries = await this.entries(bucket);
    const keys = [...entries.keys()]
      .filter((key) => key.startsWith(prefix) && byUtf8(key, startAfter) > 0)
      .sort(byUtf8);
    const commonPrefixes = new Set<string>();
    const objects: S3ObjectInstance[] = [];
    for (const key of keys) {
      const at = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
      if (at !== -1) {
        commonPrefixes.add(key.slice(0, at + delimiter.length));
        continue;
      }
      const entry = entries.get(key) as Entry;
      objects.push(new S3Object(bucket, key, null, this.metadataOf(entry)));
    }
    return { objects, commonPrefixes: [...commonPrefixes].sort(byUtf8), isTruncated: false };
  }

  async existsObject(bucket: string, key: string): Promise<boolean> {
    return (await this.entry(bucket, key)) !== undefined;
  }

  async getObject(
    bucket: string,
    key: string,
    options?: { start?: number; end?: number },
  ): Promise<S3ObjectInstance | null> {
    const entry = await this.entry(bucket, key);
    if (!entry) return null;
    const metadata = this.metadataOf(entry);
    // S3 ignores a Range header it cannot parse (`bytes=zz-`) and sends the whole object.
    const wellFormed = (n: number | undefined) => n === undefined || (Number.isInteger(n) && n >= 0);
    if (!wellFormed(options?.start) || !wellFormed(options?.end)) options = undefined;
    const lastByte = Math.max(0, entry.header.size - 1);
    const ranged = options !== undefined && (options.start !== undefined || options.end !== undefined);
    const range = {
      start: options?.start ?? 0,
      end: Math.min(options?.end ?? Number.POSITIVE_INFINITY, lastByte),
    };
    if (range.start < 0 || range.end < range.start) {
      const object = new S3Object(bucket, key, null, metadata);
      if (ranged) object.range = range;
      return object;
    }
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      // One open file: a rename over it later does not change what this read returns.
      handle = await open(join(this.bucketPath(bucket), entry.file), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    let content: Readable;
    if (entry.header.size === 0) {
      await handle.close();
      content = Readable.from([]);
    } else {
      content = handle.createReadStream({ start: range.start, end: range.end });
    }
    const object = new S3Object(bucket, key, content, metadata);
    if (ranged) object.range = range;
    return object;
  }

  async putObject(object: S3ObjectInstance): Promise<{ size: number; md5: string }> {
    return this.writeAtomically(
      object.bucket,
      object.key,
      object.content ?? Buffer.alloc(0),
      storedMetadata(object.metadata),
    );
  }

  async copyObject(
    srcBucket: string,
    srcKey: string,
    destBucket: string,
    destKey: string,
    replacementMetadata?: Record<string, unknown>,
  ): Promise<Record<string, string>> {
    const source = await this.getObject(srcBucket, srcKey);
    if (!source?.content) throw notFound();
    await this.writeAtomically(
      destBucket,
      destKey,
      source.content,
      replacementMetadata ? storedMetadata(replacementMetadata) : storedMetadata(source.metadata),
    );
    return this.getMetadata(destBucket, destKey);
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    const entries = await this.entries(bucket);
    const entry = entries.get(key);
    if (!entry) return;
    entries.delete(key);
    await unlink(join(this.bucketPath(bucket), entry.file)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  // Multipart uploads: parts under <bucket>/.uploads/<id>/ (the id is s3rver's own hex id).

  private uploadDir(bucket: string, uploadId: string): string {
    if (!/^[0-9a-zA-Z_-]+$/.test(uploadId)) throw notFound();
    return join(this.bucketPath(bucket), UPLOADS_DIR, uploadId);
  }

  async initiateUpload(bucket: string, key: string, uploadId: string, metadata: Record<string, unknown>) {
    const dir = this.uploadDir(bucket, uploadId);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'upload.json'), JSON.stringify({ key, metadata: storedMetadata(metadata) }));
  }

  async putPart(bucket: string, uploadId: string, partNumber: number, content: Readable) {
    const dir = this.uploadDir(bucket, uploadId);
    const md5 = createHash('md5');
    let size = 0;
    await pipeline(
      content,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          md5.update(chunk);
          size += chunk.length;
          yield chunk;
        }
      },
      createWriteStream(join(dir, `part-${Number(partNumber)}`)),
    );
    return { size, md5: md5.digest('hex') };
  }

  async putObjectMultipart(bucket: string, uploadId: string, parts: ReadonlyArray<{ number: number }>) {
    const dir = this.uploadDir(bucket, uploadId);
    const { key, metadata } = JSON.parse(await readFile(join(dir, 'upload.json'), 'utf8')) as {
      key: string;
      metadata: Record<string, string>;
    };
    const ordered = [...parts].sort((a, b) => a.number - b.number);
    async function* concatenated() {
      for (const part of ordered) yield* createReadStream(join(dir, `part-${Number(part.number)}`));
    }
    const result = await this.writeAtomically(bucket, key, Readable.from(concatenated()), metadata);
    await rm(dir, { recursive: true, force: true });
    return result;
  }

  // Bucket configuration (CORS, website) is not kept: the stack answers CORS itself.

  async getSubresource(bucket: string, key: string | undefined, type: string): Promise<unknown> {
    return this.subresources.get(`${bucket}\0${key ?? ''}\0${type}`) ?? null;
  }

  async putSubresource(bucket: string, key: string | undefined, resource: { type: string }): Promise<void> {
    this.subresources.set(`${bucket}\0${key ?? ''}\0${resource.type}`, resource);
  }

  async deleteSubresource(bucket: string, key: string | undefined, type: string): Promise<void> {
    this.subresources.delete(`${bucket}\0${key ?? ''}\0${type}`);
  }

  reset(): void {
    this.buckets.clear();
  }
}
