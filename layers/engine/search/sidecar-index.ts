import { inputKeyFor, type KeyLayout } from '../pipeline/key-layout.ts';
import { parseStoredRecord } from '../pipeline/staleness.ts';
import type { ImageVectorIndex, ObjectStore } from '../ports.ts';
import { elapsedMs } from '../timing.ts';
import type { SearchIndex } from './local-index.ts';
import { vectorEntryOf } from './vector-facts.ts';

/** The upload API keeps the sanitised, percent-encoded file name in this object metadata key. */
export const ORIGINAL_NAME_METADATA = 'original-filename';

export interface SidecarIndexerOptions {
  readonly store: Pick<ObjectStore, 'head' | 'getJson' | 'list'>;
  readonly layout: KeyLayout;
  readonly index: SearchIndex;
  /** The image vectors, kept in step with `index` (records without an embedding are left out). */
  readonly vectors?: ImageVectorIndex;
  /** A sidecar that is not a record (half-written, foreign JSON): skipped, and reported here. */
  readonly onSkipped?: (sidecarKey: string, error: unknown) => void;
}

export interface RebuildSummary {
  readonly indexed: number;
  readonly skipped: number;
  readonly ms: number;
}

/**
 * Keeps a search index in step with the sidecars in a bucket: `rebuild` lists the sidecar
 * prefix through the object store port (on start), `update` re-reads one sidecar after a write,
 * `remove` drops one after a delete. Records are named by their image key, with the upload's
 * original file name when the image object carries one.
 *
 * Callers fire these from store events without waiting, so the work on one key is serialised in
 * the order of the calls: a read still in flight cannot land after a later remove (and bring the
 * record back), and of two quick rewrites the later read lands last. The store is strongly
 * consistent (s3rver on disk, S3), so a read that starts after another reads content at least as
 * new: the order of the calls is the order of the versions, and no version comparison is needed.
 */
export class SidecarIndexer {
  /** Keys written or removed while a rebuild runs: the rebuild's older read must not replace them. */
  private fresh: Set<string> | undefined;
  /** The last queued operation per image key (its settled promise); absent when none is pending. */
  private readonly queues = new Map<string, Promise<void>>();

  constructor(private readonly options: SidecarIndexerOptions) {}

  async rebuild(onProgress?: (indexed: number) => void): Promise<RebuildSummary> {
    const started = performance.now();
    this.fresh = new Set();
    let indexed = 0;
    let skipped = 0;
    try {
      const pending: Array<Promise<void>> = [];
      const readOne = async (sidecarKey: string) => {
        const fresh = this.fresh;
        const read = () => this.read(sidecarKey, (key) => !fresh?.has(key));
        const inputKey = inputKeyFor(this.options.layout, sidecarKey);
        const ok = await (inputKey ? this.enqueue(inputKey, read) : read());
        if (!ok) {
          skipped += 1;
          return;
        }
        indexed += 1;
        if (onProgress && indexed % 1000 === 0) onProgress(indexed);
      };
      for await (const object of this.options.store.list(this.options.layout.sidecarPrefix)) {
        pending.push(readOne(object.key));
        // A few reads in flight: the store is on loopback or in-region.
        if (pending.length >= 16) await Promise.all(pending.splice(0));
      }
      await Promise.all(pending);
    } finally {
      this.fresh = undefined;
    }
    return { indexed, skipped, ms: elapsedMs(started) };
  }

  /** A sidecar was written: index its current content. False when it is not a readable record. */
  async update(sidecarKey: string): Promise<boolean> {
    const inputKey = inputKeyFor(this.options.layout, sidecarKey);
    if (!inputKey) return false;
    this.fresh?.add(inputKey);
    return this.enqueue(inputKey, () => this.read(sidecarKey, () => true));
  }

  /**
   * A sidecar was deleted: drop its record, at once when nothing is pending for the key, else after
   * the reads queued before it (which must not bring it back).
   */
  remove(sidecarKey: string): Promise<void> {
    const inputKey = inputKeyFor(this.options.layout, sidecarKey);
    if (!inputKey) return Promise.resolve();
    this.fresh?.add(inputKey);
    const drop = () => this.drop(inputKey);
    if (!this.queues.has(inputKey)) return drop();
    return this.enqueue(inputKey, drop);
  }

  private async drop(inputKey: string): Promise<void> {
    this.options.index.remove(inputKey);
    await this.options.vectors?.remove([inputKey]);
  }

  /** Runs `op` after every operation queued before it for the key. */
  private enqueue<T>(inputKey: string, op: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(inputKey) ?? Promise.resolve();
    const run = previous.then(op);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(inputKey, settled);
    void settled.then(() => {
      if (this.queues.get(inputKey) === settled) this.queues.delete(inputKey);
    });
    return run;
  }

  private async read(sidecarKey: string, shouldWrite: (inputKey: string) => boolean): Promise<boolean> {
    const inputKey = inputKeyFor(this.options.layout, sidecarKey);
    if (!inputKey) return false;
    try {
      const stored = await this.options.store.getJson(sidecarKey);
      // Unreadable counts as absent, as everywhere: the fast stage replaces it (and says so).
      const record = stored && parseStoredRecord(stored.value);
      if (!record) {
        await this.drop(inputKey);
        return false;
      }
      const originalName = await this.originalName(inputKey);
      if (shouldWrite(inputKey)) {
        this.options.index.upsert({ key: inputKey, record, ...(originalName ? { originalName } : {}) });
        const entry = vectorEntryOf(inputKey, record);
        if (entry) await this.options.vectors?.upsert([entry]);
        else await this.options.vectors?.remove([inputKey]);
      }
      return true;
    } catch (error) {
      this.options.onSkipped?.(sidecarKey, error);
      return false;
    }
  }

  private async originalName(inputKey: string): Promise<string | undefined> {
    try {
      const value = (await this.options.store.head(inputKey)).metadata?.[ORIGINAL_NAME_METADATA];
      if (!value) return undefined;
      try {
        return decodeURIComponent(value);
      } catch {
        return value;
      }
    } catch {
      // The image was deleted but its sidecar stays: still searchable, by its key.
      return undefined;
    }
  }
}
