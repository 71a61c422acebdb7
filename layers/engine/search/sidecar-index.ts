import { inputKeyFor, type KeyLayout } from '../pipeline/key-layout.ts';
import type { ObjectStore } from '../ports.ts';
import { readStoredRecord } from '../record/record.ts';
import type { LocalSearchIndex } from './local-index.ts';

/** The upload API keeps the sanitised, percent-encoded file name in this object metadata key. */
export const ORIGINAL_NAME_METADATA = 'original-filename';

export interface SidecarIndexerOptions {
  readonly store: ObjectStore;
  readonly layout: KeyLayout;
  readonly index: LocalSearchIndex;
  /** A sidecar that is not a record (half-written, foreign JSON): skipped, and reported here. */
  readonly onSkipped?: (sidecarKey: string, error: unknown) => void;
}

export interface RebuildSummary {
  readonly indexed: number;
  readonly skipped: number;
  readonly ms: number;
}

/**
 * Keeps a LocalSearchIndex in step with the sidecars in a bucket: `rebuild` lists the sidecar
 * prefix through the object store port (on start), `update` re-reads one sidecar after a write,
 * `remove` drops one after a delete. Records are named by their image key, with the upload's
 * original file name when the image object carries one.
 */
export class SidecarIndexer {
  /** Keys written while a rebuild runs: the rebuild's older read must not replace them. */
  private fresh: Set<string> | undefined;

  constructor(private readonly options: SidecarIndexerOptions) {}

  async rebuild(onProgress?: (indexed: number) => void): Promise<RebuildSummary> {
    const started = performance.now();
    this.fresh = new Set();
    let indexed = 0;
    let skipped = 0;
    try {
      const pending: Array<Promise<void>> = [];
      const readOne = async (sidecarKey: string) => {
        const ok = await this.read(sidecarKey, (key) => !this.fresh?.has(key));
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
    return { indexed, skipped, ms: Math.round(performance.now() - started) };
  }

  /** A sidecar was written: index its current content. False when it is not a readable record. */
  async update(sidecarKey: string): Promise<boolean> {
    const inputKey = inputKeyFor(this.options.layout, sidecarKey);
    if (inputKey) this.fresh?.add(inputKey);
    return this.read(sidecarKey, () => true);
  }

  remove(sidecarKey: string): void {
    const inputKey = inputKeyFor(this.options.layout, sidecarKey);
    if (inputKey) this.options.index.remove(inputKey);
  }

  private async read(sidecarKey: string, shouldWrite: (inputKey: string) => boolean): Promise<boolean> {
    const inputKey = inputKeyFor(this.options.layout, sidecarKey);
    if (!inputKey) return false;
    try {
      const stored = await this.options.store.getJson(sidecarKey);
      if (!stored) {
        this.options.index.remove(inputKey);
        return false;
      }
      const record = readStoredRecord(stored.value);
      const originalName = await this.originalName(inputKey);
      if (shouldWrite(inputKey)) {
        this.options.index.upsert({ key: inputKey, record, ...(originalName ? { originalName } : {}) });
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
