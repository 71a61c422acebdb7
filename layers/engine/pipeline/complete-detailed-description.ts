import { performance } from 'node:perf_hooks';
import type { DescribeEngine, DescribeInput } from '../engine.ts';
import { DescribeError, isPermanent } from '../errors.ts';
import {
  type ImageVectorIndex,
  ObjectNotFoundError,
  type ObjectStore,
  PreconditionFailedError,
  type StoredObject,
} from '../ports.ts';
import { overStageResult } from '../record/merge.ts';
import type { DescriptionRecord } from '../record/schema.ts';
import type { EngineSettings } from '../settings.ts';
import { elapsedMs } from '../timing.ts';
import type { DetailedJob } from './detailed-job.ts';
import { type CurrentModels, needsDescription, parseStoredRecord } from './staleness.ts';
import { syncVector, type VectorSync } from './vector-sync.ts';

export type DetailedEngine = Pick<DescribeEngine, 'describeDetailed' | 'failedRecordFor' | 'judgedAgain'> & {
  readonly settings: Pick<EngineSettings, 'ocrStage'>;
};

export interface DetailedStageDependencies {
  readonly engine: DetailedEngine;
  readonly store: ObjectStore;
  readonly models: CurrentModels;
  readonly bucket: string;
  /** A remote vector index (S3 Vectors) whose search facts follow the sidecar; absent locally. */
  readonly vectors?: ImageVectorIndex;
}

/**
 * A job message that is not a detailed job. Not permanent on purpose: there is no sidecar to
 * record it in, so the message is retried and then kept in the DLQ for a human to look at.
 */
export class InvalidJobError extends DescribeError {
  readonly code = 'INVALID_JOB' as const;
  readonly permanent = false;
}

export type DetailedDropReason =
  | 'no-sidecar'
  | 'superseded'
  | 'already-done'
  | 'fast-failed'
  | 'replaced'
  | 'deleted'
  | 'other-bucket';

export type DetailedOutcome =
  | {
      readonly kind: 'dropped';
      readonly key: string;
      readonly reason: DetailedDropReason;
      /** A job for a finished record re-syncs its vector (heals a write lost after the sidecar). */
      readonly vector?: VectorSync;
    }
  | {
      readonly kind: 'done' | 'failed';
      readonly key: string;
      readonly record: DescriptionRecord;
      /** Conditional writes it took (1 = no conflict). */
      readonly attempts: number;
      /** The image's vector, re-put with the facts this stage decides (categories, text, state). */
      readonly vector?: VectorSync;
    };

const MAX_WRITE_ATTEMPTS = 4;

/**
 * The detailed stage's `result` laid over `base` (a sidecar that changed meanwhile, see
 * record/merge.ts); categories and checks are judged again over the merged record.
 */
function mergeDetailed(engine: DetailedEngine, base: DescriptionRecord, result: DescriptionRecord) {
  return engine.judgedAgain(overStageResult(base, result, 'detailed', engine.settings.ocrStage));
}

/** The record re-scored for a changed category list: no image read, no image model run. */
async function rescored(engine: DetailedEngine, previous: DescriptionRecord): Promise<DescriptionRecord> {
  const started = performance.now();
  const record = await engine.judgedAgain(previous);
  const timings = record.timings.detailed;
  return timings
    ? {
        ...record,
        timings: { ...record.timings, detailed: { ...timings, categoriesMs: elapsedMs(started) } },
      }
    : record;
}

/**
 * The detailed stage for one job, already parsed from its message (a message that is not a job is
 * an InvalidJobError where it is read: retried, then the DLQ keeps it). Steps:
 *  1. Drop a job for another bucket.
 *  2. Read the sidecar and its ETag: missing, describing another ETag (a newer upload), fast
 *     failed, or detailed already done by the current model → drop the job (duplicate delivery).
 *     Only the category list changed → re-score the stored record (categories and checks; the
 *     text tower for category prompts) and go to 5: the image is neither read nor described.
 *  3. GET the object with If-Match on the job's ETag: replaced or deleted → drop.
 *  4. engine.describeDetailed; a permanent error → detailed = failed with the error in the
 *     sidecar (the message is then deleted, not retried); transient errors are thrown.
 *  5. Write back with If-Match on the sidecar's ETag. On 412 (a concurrent change) re-read, drop
 *     if it now describes another ETag, else merge the detailed fields into it and retry (bounded).
 *  6. With a remote vector index: put the vector again with the facts this stage decides
 *     (categories, text found, detailed state), so filters on the index match the sidecar; a job
 *     for an already finished record does the same (a retry after a failed vector write).
 */
export async function completeDetailedDescription(
  deps: DetailedStageDependencies,
  job: DetailedJob,
): Promise<DetailedOutcome> {
  const { key } = job;
  if (job.bucket !== deps.bucket) return { kind: 'dropped', key, reason: 'other-bucket' };

  const sidecar = await deps.store.getJson(job.sidecarKey);
  const previous = sidecar && parseStoredRecord(sidecar.value);
  const early = dropReason(previous, job, deps.models);
  if (early === 'already-done' && previous) {
    const vector = await syncVector(deps.vectors, key, previous);
    return { kind: 'dropped', key, reason: early, ...(vector ? { vector } : {}) };
  }
  if (early || !sidecar || !previous) return { kind: 'dropped', key, reason: early ?? 'no-sidecar' };
  const read = { record: previous, etag: sidecar.etag };
  if (needsDescription(previous, { etag: job.etag }, deps.models)?.reason === 'categories-changed') {
    // A sidecar changed meanwhile is re-scored as it is now.
    return writeBack(deps, job, read, (base) => rescored(deps.engine, base));
  }
  const result = await describedAgain(deps, job, previous);
  if ('dropped' in result) return { kind: 'dropped', key, reason: result.dropped };
  return writeBack(deps, job, read, (base) =>
    base === previous ? Promise.resolve(result) : mergeDetailed(deps.engine, base, result),
  );
}

/** Steps 3-4: the object read and its detailed stage run (a failed record for a permanent error). */
async function describedAgain(
  deps: DetailedStageDependencies,
  job: DetailedJob,
  previous: DescriptionRecord,
): Promise<DescriptionRecord | { dropped: DetailedDropReason }> {
  const { key } = job;
  const readStart = performance.now();
  let object: StoredObject;
  try {
    object = await deps.store.get(key, { ifMatch: job.etag });
  } catch (error) {
    if (error instanceof PreconditionFailedError) return { dropped: 'replaced' };
    if (error instanceof ObjectNotFoundError) return { dropped: 'deleted' };
    throw error;
  }
  const readMs = elapsedMs(readStart);
  const input: DescribeInput = {
    bytes: object.bytes,
    source: { kind: 's3', bucket: job.bucket, key, etag: job.etag, contentType: object.contentType },
  };

  let result: DescriptionRecord;
  try {
    result = await deps.engine.describeDetailed(input, previous);
    result = { ...result, timings: { ...result.timings, detailed: { ...result.timings.detailed, readMs } } };
  } catch (error) {
    if (!isPermanent(error)) throw error;
    result = deps.engine.failedRecordFor(input, 'detailed', error, previous);
  }
  return result;
}

/**
 * Step 5: the conditional write of `recordOver(base)`, the result laid over the sidecar as read; a
 * sidecar changed meanwhile is read again and the result laid over it (bounded).
 */
async function writeBack(
  deps: DetailedStageDependencies,
  job: DetailedJob,
  read: { record: DescriptionRecord; etag: string },
  recordOver: (base: DescriptionRecord) => Promise<DescriptionRecord>,
): Promise<DetailedOutcome> {
  const { key } = job;
  let base = read;
  for (let attempt = 1; ; attempt++) {
    const record = await recordOver(base.record);
    try {
      await deps.store.putJson(job.sidecarKey, record, { ifMatch: base.etag });
    } catch (error) {
      if (!(error instanceof PreconditionFailedError) || attempt >= MAX_WRITE_ATTEMPTS) throw error;
      const fresh = await deps.store.getJson(job.sidecarKey);
      const freshRecord = fresh && parseStoredRecord(fresh.value);
      if (!fresh || !freshRecord) return { kind: 'dropped', key, reason: 'no-sidecar' };
      if (freshRecord.source.etag !== job.etag) return { kind: 'dropped', key, reason: 'superseded' };
      base = { record: freshRecord, etag: fresh.etag };
      continue;
    }
    const vector = await syncVector(deps.vectors, key, record);
    return {
      kind: record.status.detailed.state === 'failed' ? 'failed' : 'done',
      key,
      record,
      attempts: attempt,
      ...(vector ? { vector } : {}),
    };
  }
}

function dropReason(
  record: DescriptionRecord | undefined,
  job: DetailedJob,
  models: CurrentModels,
): DetailedDropReason | undefined {
  if (!record) return 'no-sidecar';
  if (record.source.etag !== job.etag) return 'superseded';
  if (record.status.fast.state === 'failed') return 'fast-failed';
  const need = needsDescription(record, { etag: job.etag }, models);
  // Stage 'fast' here means the caption is stale or incomplete: the detailed stage still completes
  // the record for these bytes; only an up-to-date or failed detailed stage ends the job.
  if (need === undefined) return 'already-done';
  return undefined;
}
