import type { S3Event } from 'aws-lambda';
import { ObjectNotFoundError, type ObjectStore } from '#engine/index.ts';
import { inputKeyFor, KEPT_ASIDE_SUFFIX, type KeyLayout, parseStoredRecord } from '#engine/pipeline/index.ts';
import type { DescriptionRecord } from '#engine/record/index.ts';
import { objectCreatedEvent } from './requeue.ts';

/** A stored description that could not be read, now kept aside: said once, in words. */
export interface KeptAside {
  readonly stored: string;
  readonly keptAs: string;
  readonly reason: string;
}

export interface UnreadableRecordsOptions {
  readonly store: ObjectStore;
  readonly layout: KeyLayout;
  readonly bucket: string;
  /** Hand an ObjectCreated event to the fast stage (the local async invoker). */
  readonly describeAgain: (event: S3Event) => void;
  readonly onKeptAside: (kept: KeptAside) => void;
}

/**
 * The local stack's side of "an unreadable stored record is treated as absent": what a sidecar
 * write event finds when the bytes at a sidecar key are not a description. The fast stage does the
 * rest (it keeps the bytes at `<sidecar>.corrupt` and writes a new description), as in AWS.
 */
export class UnreadableRecords {
  constructor(private readonly options: UnreadableRecordsOptions) {}

  /** True for the copy the fast stage keeps of an unreadable sidecar (not a sidecar itself). */
  isKeptAside(key: string): boolean {
    return key.startsWith(this.options.layout.sidecarPrefix) && key.endsWith(KEPT_ASIDE_SUFFIX);
  }

  /** A kept-aside copy was written: report it once, with why the original could not be read. */
  async keptAside(keptAs: string): Promise<void> {
    const stored = keptAs.slice(0, -KEPT_ASIDE_SUFFIX.length);
    const copy = await this.options.store.getJson(keptAs).catch(() => undefined);
    const reason = copy?.unreadable?.reason ?? 'it is JSON but not a description record';
    this.options.onKeptAside({ stored, keptAs, reason });
  }

  /**
   * The record at a sidecar key, or undefined when there is none to read; in that case (bytes that
   * are not JSON, or JSON that is not a record — written there by hand or by another tool) its
   * image goes back to the fast stage, which replaces it, as a restart's scan would.
   */
  async read(sidecarKey: string): Promise<{ record: DescriptionRecord; json: string } | undefined> {
    const stored = await this.options.store.getJson(sidecarKey);
    const record = stored && parseStoredRecord(stored.value);
    if (record) return { record, json: JSON.stringify(stored.value) };
    const inputKey = inputKeyFor(this.options.layout, sidecarKey);
    if (stored && inputKey) await this.describeAgain(inputKey);
    return undefined;
  }

  private async describeAgain(inputKey: string): Promise<void> {
    try {
      const head = await this.options.store.head(inputKey);
      this.options.describeAgain(objectCreatedEvent(this.options.bucket, head));
    } catch (error) {
      // No image for this sidecar: nothing to describe.
      if (!(error instanceof ObjectNotFoundError)) throw error;
    }
  }
}
