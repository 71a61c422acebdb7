import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { ObjectStore } from '#engine/index.ts';
import { FILE_SIDECAR_SUFFIX } from '#engine/record/index.ts';
import { ORIGINAL_NAME_METADATA } from '#engine/search/index.ts';

export interface DescriptionsMirrorOptions {
  /** Usually `<data dir>/descriptions`. */
  readonly dir: string;
  readonly store: Pick<ObjectStore, 'head'>;
  readonly inputPrefix: string;
}

/** Longest file name most file systems take is 255 bytes; leave room for " (99)" and the suffix. */
const MAX_NAME_BYTES = 200;
// Separators, characters Windows and macOS refuse, controls and bidi overrides.
const UNSAFE = /[/\\:*?"<>|\p{Cc}\u202a-\u202e\u2066-\u2069]/gu;

/**
 * s3rver keeps objects under its own internal file names, and uploads get a server-made key
 * (`images/uploads/<uuid>`), so neither tells a person where their description is. This writes a
 * readable copy of every sidecar to `<dir>/<original name>.description.json`: the name the file was
 * uploaded with (its `original-filename` metadata), or the key's path under the input prefix for
 * files dropped into the inbox. Two uploads with one name get `photo (2).jpg.description.json`;
 * which copy belongs to which object is read back from the copy itself (`source.key`), so the
 * assignment survives restarts.
 */
export class DescriptionsMirror {
  private readonly names = new Map<string, { shown: string; segments: string[] }>();
  private readonly files = new Map<string, string>();
  // Writes run one at a time, so two objects with one name cannot both claim the same file.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: DescriptionsMirrorOptions) {}

  /** The name a person knows the object by (cached per key). */
  async nameFor(inputKey: string): Promise<string> {
    return (await this.naming(inputKey)).shown;
  }

  /** Uploads: their original name, one file name (a `/` in it is not a folder). Inbox files: their path. */
  private async naming(inputKey: string): Promise<{ shown: string; segments: string[] }> {
    const cached = this.names.get(inputKey);
    if (cached) return cached;
    let original: string | undefined;
    try {
      const raw = (await this.options.store.head(inputKey)).metadata?.[ORIGINAL_NAME_METADATA];
      original = raw ? safeDecode(raw) : undefined;
    } catch {
      original = undefined;
    }
    const path = this.relativeKey(inputKey);
    const naming = original
      ? { shown: original, segments: [safeSegment(original)] }
      : { shown: path, segments: path.split('/').map(safeSegment) };
    this.names.set(inputKey, naming);
    return naming;
  }

  /** Write (or replace) the readable copy of one sidecar; returns the file written. */
  write(inputKey: string, sidecarJson: string): Promise<string> {
    const run = this.queue.then(() => this.writeNow(inputKey, sidecarJson));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async writeNow(inputKey: string, sidecarJson: string): Promise<string> {
    const target =
      this.files.get(inputKey) ?? (await this.claim(inputKey, (await this.naming(inputKey)).segments));
    this.files.set(inputKey, target);
    await mkdir(dirname(target), { recursive: true });
    const temporary = `${target}.tmp`;
    await writeFile(temporary, sidecarJson);
    await rename(temporary, target);
    return target;
  }

  /** The first free `name`, `name (2)`, … — or the one already holding this object's description. */
  private async claim(inputKey: string, path: readonly string[]): Promise<string> {
    const segments = [...path];
    const last = segments.pop() ?? 'image';
    const dot = last.lastIndexOf('.');
    const [stem, extension] = dot > 0 ? [last.slice(0, dot), last.slice(dot)] : [last, ''];
    const taken = new Set(this.files.values());
    for (let n = 1; ; n += 1) {
      const file = `${n === 1 ? stem : `${stem} (${n})`}${extension}${FILE_SIDECAR_SUFFIX}`;
      const candidate = join(this.options.dir, ...segments, file);
      if (!inside(this.options.dir, candidate) || taken.has(candidate)) continue;
      const owner = await ownerOf(candidate);
      if (owner === undefined || owner === inputKey) return candidate;
    }
  }

  private relativeKey(inputKey: string): string {
    return inputKey.startsWith(this.options.inputPrefix)
      ? inputKey.slice(this.options.inputPrefix.length)
      : inputKey;
  }
}

/** The input key a copy describes, or undefined when there is no file (free to claim). */
async function ownerOf(path: string): Promise<string | null | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const key = (JSON.parse(text) as { source?: { key?: unknown } }).source?.key;
    return typeof key === 'string' ? key : null;
  } catch {
    // Someone's file that is not a copy of ours: never overwrite it.
    return null;
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** One path segment a file system takes: unsafe characters become `_`, no dot files, no `..`. */
export function safeSegment(segment: string): string {
  let name = segment.normalize('NFC').replace(UNSAFE, '_').trim();
  name = name.replace(/^\.+/, '').replace(/[. ]+$/, '');
  // By code point: cutting a UTF-16 pair in half would leave a character no file system stores.
  while (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) name = Array.from(name).slice(0, -1).join('');
  return name === '' ? 'image' : name;
}

function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..';
}
