import { isUtf8 } from 'node:buffer';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import { contentTypeForFileName } from '#engine/image/index.ts';
import { type ObjectStore, SourceUnreadableError } from '#engine/index.ts';
import { FILE_SIDECAR_SUFFIX, fileSidecarPath } from '#engine/record/index.ts';
import { readInputFile } from '../read-input-file.ts';

export interface InboxOptions {
  readonly dir: string;
  /** The bucket, behind the object store port. */
  readonly store: ObjectStore;
  readonly inputPrefix: string;
  readonly sidecarPrefix: string;
  /** Files larger than this are refused before reading (the engine's MAX_INPUT_BYTES). */
  readonly maxBytes: number;
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
    // An 'error' event without a listener would end the process (a name the system refuses, a
    // folder that vanished): report it and keep watching.
    this.watcher.on('error', (error) => this.options.onError?.(error, this.options.dir));
    // A name that is not UTF-8 reaches Node as another name (U+FFFD in place of the bytes), so the
    // watcher cannot open it: say so, once per name, at start and when one appears.
    this.watcher.on('raw', (_event, path, details) => {
      const watched = (details as { watchedPath?: string } | undefined)?.watchedPath;
      if (String(path).includes('\uFFFD')) void this.reportUnnamable(watched ?? this.options.dir);
    });
    await new Promise<void>((resolve) => this.watcher?.once('ready', () => resolve()));
    await this.reportUnnamable(this.options.dir);
  }

  private readonly unnamable = new Set<string>();

  private async reportUnnamable(dir: string): Promise<void> {
    const names = await readdir(dir, { encoding: 'buffer' }).catch(() => [] as Buffer[]);
    for (const name of names) {
      const hex = name.toString('hex');
      if (isUtf8(name) || this.unnamable.has(`${dir}\0${hex}`)) continue;
      this.unnamable.add(`${dir}\0${hex}`);
      const shown = name.toString('utf8');
      this.options.onError?.(
        new SourceUnreadableError(
          `Cannot read "${shown}" in ${dir}: its name is not valid UTF-8 (bytes ${hex}), so it cannot be opened by name; rename the file.`,
        ),
        join(dir, shown),
      );
    }
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
    return fileSidecarPath(join(this.options.dir, ...rest.split('/')));
  }

  /** Write a sidecar next to its image in the inbox (atomically: the watcher never sees half a file). */
  async mirror(inputKey: string, sidecarJson: string): Promise<string | undefined> {
    const target = this.mirrorPathFor(inputKey);
    if (!target) return undefined;
    await mkdir(dirname(target), { recursive: true });
    // Named apart from the target: `<target>.tmp` would be too long for a name near the limit.
    const temporary = join(dirname(target), `.${randomUUID()}.tmp`);
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
    // FIFOs, sockets and devices are refused unopened, and nothing over the limit is read.
    const bytes = await readInputFile(path, this.options.maxBytes);
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
