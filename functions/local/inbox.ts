import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import { contentTypeForFileName } from '#engine/image/content-types.ts';
import type { ObjectStore } from '#engine/ports.ts';
import { FILE_SIDECAR_SUFFIX } from '#engine/record/file-sidecar.ts';

export interface InboxOptions {
  readonly dir: string;
  /** The bucket, behind the object store port. */
  readonly store: ObjectStore;
  readonly inputPrefix: string;
  readonly sidecarPrefix: string;
  readonly onUpload?: (path: string, key: string) => void;
  readonly onError?: (error: unknown, path: string) => void;
}

function isIgnored(path: string): boolean {
  const name = basename(path);
  return name.startsWith('.') || name.endsWith(FILE_SIDECAR_SUFFIX) || name.endsWith('.tmp');
}

/**
 * Drop-into-folder, the laptop twin of drop-into-bucket: every file written into the inbox (and
 * its sub-folders) is uploaded to `<inputPrefix><relative path>` once its size has been stable for
 * a moment. A file whose bytes are already in the bucket (same MD5 = s3rver's ETag) is not sent
 * again, so a restart does not describe the whole folder twice.
 */
export class InboxWatcher {
  private watcher: FSWatcher | undefined;
  private readonly uploads = new Set<Promise<void>>();

  constructor(private readonly options: InboxOptions) {}

  async start(): Promise<void> {
    await mkdir(this.options.dir, { recursive: true });
    this.watcher = watch(this.options.dir, {
      ignored: (path) => path !== this.options.dir && isIgnored(path),
      awaitWriteFinish: { stabilityThreshold: 400, pollInterval: 100 },
      ignoreInitial: false,
    });
    const onFile = (path: string) => {
      const upload = this.upload(path).catch((error) => this.options.onError?.(error, path));
      this.uploads.add(upload);
      void upload.finally(() => this.uploads.delete(upload));
    };
    this.watcher.on('add', onFile).on('change', onFile);
    await new Promise<void>((resolve) => this.watcher?.once('ready', () => resolve()));
  }

  /** The input key a file in the inbox is uploaded to. */
  keyFor(path: string): string {
    return `${this.options.inputPrefix}${relative(this.options.dir, path).split(sep).join('/')}`;
  }

  /** Where the mirrored sidecar of an input key goes, or undefined when the key is not from the inbox. */
  mirrorPathFor(inputKey: string): string | undefined {
    if (!inputKey.startsWith(this.options.inputPrefix)) return undefined;
    const rest = inputKey.slice(this.options.inputPrefix.length);
    if (rest.startsWith('uploads/') || rest.split('/').includes('..')) return undefined;
    return `${join(this.options.dir, ...rest.split('/'))}${FILE_SIDECAR_SUFFIX}`;
  }

  /** Write a sidecar next to its image in the inbox (atomically: the watcher never sees half a file). */
  async mirror(inputKey: string, sidecarJson: string): Promise<string | undefined> {
    const target = this.mirrorPathFor(inputKey);
    if (!target) return undefined;
    await mkdir(dirname(target), { recursive: true });
    const temporary = `${target}.tmp`;
    await writeFile(temporary, sidecarJson);
    await rename(temporary, target);
    return target;
  }

  async close(): Promise<void> {
    await this.watcher?.close();
    await Promise.allSettled([...this.uploads]);
  }

  private async upload(path: string): Promise<void> {
    const { store } = this.options;
    const bytes = await readFile(path);
    const key = this.keyFor(path);
    const md5 = createHash('md5').update(bytes).digest('hex');
    try {
      if ((await store.head(key)).etag === md5) return;
    } catch {
      // Not there yet: upload.
    }
    await store.putBytes(key, bytes, {
      contentType: contentTypeForFileName(path) ?? 'application/octet-stream',
    });
    this.options.onUpload?.(path, key);
  }
}
