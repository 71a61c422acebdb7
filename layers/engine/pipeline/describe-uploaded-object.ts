import { performance } from 'node:perf_hooks';
import type { DescribeEngine, DescribeInput } from '../engine.ts';
import { ImageRejectedError, isPermanent } from '../errors.ts';
import {
  type ImageVectorIndex,
  type JobQueue,
  type ObjectHead,
  ObjectNotFoundError,
  type ObjectStore,
  PreconditionFailedError,
  type StoredJson,
} from '../ports.ts';
import type { DescriptionRecord } from '../record/schema.ts';
import { elapsedMs } from '../timing.ts';
import { tooLargeSentence } from '../user-messages.ts';
import type { DetailedJob } from './detailed-job.ts';
import { isInputKey, type KeyLayout, keptAsideKeyFor, sidecarKeyFor } from './key-layout.ts';
import type { ObjectCreated } from './s3-event.ts';
import { type CurrentModels, needsDescription, parseStoredRecord } from './staleness.ts';
import { syncVector, type VectorSync } from './vector-sync.ts';

export type FastEngine = Pick<
  DescribeEngine,
  'describeFast' | 'failedRecordFor' | 'failedUnreadRecordFor' | 'withNewerDetailedResults'
> & {
  readonly settings: { readonly maxInputBytes: number };
};

export interface FastStageDependencies {
  readonly engine: FastEngine;
  readonly store: ObjectStore;
  readonly queue: JobQueue<DetailedJob>;
  readonly layout: KeyLayout;
  /** The models this process describes with: a sidecar from other models is stale. */
  readonly models: CurrentModels;
  /** Only this bucket is described (the store is bound to it). */
  readonly bucket: string;
  /** A remote vector index (S3 Vectors) to keep in step with the sidecar; absent locally. */
  readonly vectors?: ImageVectorIndex;
}

export type FastSkipReason = 'outside-input-prefix' | 'other-bucket' | 'deleted' | 'replaced' | 'duplicate';

export type FastOutcome =
  | {
      readonly kind: 'skipped';
      readonly key: string;
      readonly reason: FastSkipReason;
      readonly jobResent?: boolean;
      /** A duplicate event re-syncs the vector from the sidecar it found (heals a lost write). */
      readonly vector?: VectorSync;
    }
  | {
      readonly kind: 'described' | 'failed';
      readonly key: string;
      readonly sidecarKey: string;
      readonly record: DescriptionRecord;
      /** Set when the detailed job was sent (not for failed records). */
      readonly job?: DetailedJob;
      readonly readMs?: number;
      /** The sidecar found was not JSON: kept here, then replaced by this description. */
      readonly keptAside?: { readonly key: string; readonly reason: string };
      /** What became of the image's vector in the remote index, when there is one. */
      readonly vector?: VectorSync;
    };

/** Conditional-write attempts before giving up (a transient error: the invoke is retried). */
const MAX_WRITE_ATTEMPTS = 3;

/**
 * The fast stage for one created object (one S3 event record). Steps:
 *  1. Ignore keys outside the input prefix (sidecars can never trigger a description) and other buckets.
 *  2. HEAD the object: gone → skip; another ETag → skip (the newer upload has its own event).
 *  3. Read the sidecar: same ETag, same caption model and fast done → duplicate event, nothing to
 *     write (the detailed job is re-sent while detailed is pending, which heals a lost send).
 *  4. Oversize (HEAD size > MAX_INPUT_BYTES) → failed sidecar INPUT_TOO_LARGE, nothing downloaded.
 *  5. GET with If-Match on the event's ETag (412 → replaced → skip).
 *  6. engine.describeFast, given the old sidecar when it describes the same ETag, so a re-run
 *     (backfill, model change, redelivery) keeps its results where it cannot produce them; a
 *     permanent error (undecodable image…) → failed sidecar, no job; transient errors are thrown
 *     (the async invoke retries, then the on-failure destination).
 *  7. Write the sidecar conditionally: If-None-Match: * when none existed, If-Match on the old
 *     sidecar's ETag when replacing a stale one, so a late duplicate never overwrites a newer one.
 *     A sidecar that is not JSON or not a description record counts as unreadable (3.) and is
 *     copied to `<sidecar>.corrupt` first, so its owner still has it; the outcome says so.
 *  8. With a remote vector index: put the image's vector with the record's search facts (or
 *     remove it when the record has no current embedding); a duplicate event does the same from
 *     the sidecar it found, so a retried invoke heals a vector write that failed after step 7.
 *  9. Send the detailed job { bucket, key, etag, sidecarKey }.
 */
export async function describeUploadedObject(
  deps: FastStageDependencies,
  created: ObjectCreated,
): Promise<FastOutcome> {
  const { key } = created;
  if (!isInputKey(deps.layout, key)) return { kind: 'skipped', key, reason: 'outside-input-prefix' };
  if (created.bucket !== deps.bucket) return { kind: 'skipped', key, reason: 'other-bucket' };
  const sidecarKey = sidecarKeyFor(deps.layout, key);

  let head: ObjectHead;
  try {
    head = await deps.store.head(key);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return { kind: 'skipped', key, reason: 'deleted' };
    throw error;
  }
  if (created.etag && head.etag !== created.etag) return { kind: 'skipped', key, reason: 'replaced' };
  const etag = head.etag;
  const job: DetailedJob = { bucket: deps.bucket, key, etag, sidecarKey };

  let existing = await deps.store.getJson(sidecarKey);
  const existingRecord = existing && parseStoredRecord(existing.value);
  const need = needsDescription(existingRecord, { etag }, deps.models);
  if (existing && need?.stage !== 'fast') {
    // Written by an earlier delivery of this event. If that delivery failed to send the job
    // (and was retried), re-sending now is what completes the image; the worker is idempotent.
    const resend = need?.stage === 'detailed';
    const vector = existingRecord ? await syncVector(deps.vectors, key, existingRecord) : undefined;
    if (resend) await deps.queue.send(job);
    return { kind: 'skipped', key, reason: 'duplicate', jobResent: resend, ...(vector ? { vector } : {}) };
  }

  const source = { kind: 's3' as const, bucket: deps.bucket, key, etag, contentType: head.contentType };
  // The engine keeps this record's results where the new run cannot produce them (same bytes only).
  const previous = existingRecord?.source.etag === etag ? existingRecord : undefined;
  let record: DescriptionRecord;
  let readMs: number | undefined;
  const maxBytes = deps.engine.settings.maxInputBytes;
  if (head.size > maxBytes) {
    const tooLarge = new ImageRejectedError('INPUT_TOO_LARGE', tooLargeSentence(head.size, maxBytes), {
      detail: `Expected at most ${maxBytes} bytes for ${key} but received ${head.size} bytes (MAX_INPUT_BYTES)`,
    });
    record = deps.engine.failedUnreadRecordFor({ ...source, size: head.size }, tooLarge, previous);
  } else {
    const readStart = performance.now();
    let bytes: Uint8Array;
    try {
      ({ bytes } = await deps.store.get(key, { ifMatch: etag }));
    } catch (error) {
      if (error instanceof PreconditionFailedError) return { kind: 'skipped', key, reason: 'replaced' };
      if (error instanceof ObjectNotFoundError) return { kind: 'skipped', key, reason: 'deleted' };
      throw error;
    }
    readMs = elapsedMs(readStart);
    const input: DescribeInput = { bytes, source };
    try {
      // Only the embedding is missing or stale: the current caption and objects are kept.
      const keepCurrent = need?.reason === 'embedding-stale';
      record = await deps.engine.describeFast(input, previous, keepCurrent ? { keepCurrent } : {});
      record = { ...record, timings: { ...record.timings, fast: { ...record.timings.fast, readMs } } };
    } catch (error) {
      if (!isPermanent(error)) throw error;
      record = deps.engine.failedRecordFor(input, 'fast', error, previous);
    }
  }

  let keptAside: { key: string; reason: string } | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      const unreadable = existing && unreadableSidecar(existing);
      if (unreadable) {
        keptAside = { key: keptAsideKeyFor(sidecarKey), reason: unreadable.reason };
        await deps.store.putBytes(keptAside.key, unreadable.bytes, {
          contentType: 'application/octet-stream',
        });
      }
      await deps.store.putJson(sidecarKey, record, writeCondition(existing));
      break;
    } catch (error) {
      if (!(error instanceof PreconditionFailedError) || attempt >= MAX_WRITE_ATTEMPTS) throw error;
      // Another delivery wrote first. Still the current object and still stale? Write over it.
      existing = await deps.store.getJson(sidecarKey);
      const current = existing && parseStoredRecord(existing.value);
      if (existing && needsDescription(current, { etag }, deps.models)?.stage !== 'fast') {
        return { kind: 'skipped', key, reason: 'duplicate' };
      }
      const latest = await deps.store.head(key).catch(() => undefined);
      if (latest?.etag !== etag) return { kind: 'skipped', key, reason: 'replaced' };
      // What the other writer added (a finished detailed description) is newer than what we carried.
      record = await deps.engine.withNewerDetailedResults(record, current);
    }
  }

  const vector = await syncVector(deps.vectors, key, record);
  const extra = { ...(keptAside ? { keptAside } : {}), ...(vector ? { vector } : {}) };
  if (record.status.fast.state === 'failed') {
    return { kind: 'failed', key, sidecarKey, record, readMs, ...extra };
  }
  await deps.queue.send(job);
  return { kind: 'described', key, sidecarKey, record, job, readMs, ...extra };
}

/** The bytes and the reason of a stored sidecar no description can be read from, else undefined. */
export function unreadableSidecar(stored: StoredJson): { bytes: Uint8Array; reason: string } | undefined {
  if (stored.unreadable) return stored.unreadable;
  if (parseStoredRecord(stored.value)) return undefined;
  return {
    bytes: Buffer.from(`${JSON.stringify(stored.value)}\n`),
    reason: 'it is JSON but not a description record',
  };
}

function writeCondition(existing: StoredJson | undefined) {
  return existing ? { ifMatch: existing.etag } : { ifNoneMatch: '*' as const };
}
