import type { S3Event } from 'aws-lambda';
import type { ListedObject, ObjectStore } from '#engine/index.ts';
import {
  type CurrentModels,
  type DetailedJob,
  isInputKey,
  type KeyLayout,
  needsDescription,
  parseStoredRecord,
  s3EventFor,
  sidecarKeyFor,
} from '#engine/pipeline/index.ts';
import type { DescriptionRecord } from '#engine/record/index.ts';

/**
 * What in a record waits for model files: `stages` = the caption or detailed stage (its state is
 * waiting-for-models), `answers` = a question's answer (its error is MODEL_NOT_FOUND; the questions
 * model is fetched separately, so it can be missing while both stages are done). Both are asked
 * again by the scan once their models are there.
 */
export function waitingFor(record: DescriptionRecord | undefined): { stages: boolean; answers: boolean } {
  if (!record) return { stages: false, answers: false };
  return {
    stages:
      record.status.fast.state === 'waiting-for-models' ||
      record.status.detailed.state === 'waiting-for-models',
    answers: Object.values(record.answers ?? {}).some((answer) => answer.error?.code === 'MODEL_NOT_FOUND'),
  };
}

/** An S3 ObjectCreated event exactly as the notification would carry it for a stored object. */
export function objectCreatedEvent(bucket: string, object: ListedObject): S3Event {
  return s3EventFor([{ bucket, key: object.key, etag: object.etag, size: object.size }]);
}

export interface RequeueTargets {
  /** Hand an event to the fast handler (the local async invoker). */
  readonly fast: (event: S3Event) => void;
  /** Send a detailed job to the queue. */
  readonly detailed: (job: DetailedJob) => Promise<void>;
}

export interface RequeueSummary {
  scanned: number;
  fast: number;
  detailed: number;
  /** Objects whose caption or detailed stage waits for models. */
  waiting: number;
  /** Objects with an answer waiting for the questions model (counted apart from `waiting`). */
  waitingAnswers: number;
}

/**
 * The start-up scan (and the one run when models appear): every input object whose sidecar is
 * missing, stale or unfinished — the aws pipeline's own staleness check, as in backfill — is handed
 * back to the stage that has to run (waiting-for-models counts as unfinished). Duplicates are
 * harmless: the fast use case skips a sidecar already written for the same ETag and models, and
 * the detailed use case skips a record whose detailed stage is done.
 */
export async function requeueUnfinished(
  store: ObjectStore,
  layout: KeyLayout,
  bucket: string,
  current: CurrentModels,
  targets: RequeueTargets,
): Promise<RequeueSummary> {
  const summary: RequeueSummary = { scanned: 0, fast: 0, detailed: 0, waiting: 0, waitingAnswers: 0 };
  for await (const object of store.list(layout.inputPrefix)) {
    if (!isInputKey(layout, object.key)) continue;
    summary.scanned += 1;
    const sidecarKey = sidecarKeyFor(layout, object.key);
    const record = parseStoredRecord((await store.getJson(sidecarKey))?.value);
    const waiting = waitingFor(record);
    if (waiting.stages) summary.waiting += 1;
    if (waiting.answers) summary.waitingAnswers += 1;
    const need = needsDescription(record, object, current)?.stage;
    if (need === 'fast') {
      summary.fast += 1;
      targets.fast(objectCreatedEvent(bucket, object));
    } else if (need === 'detailed') {
      summary.detailed += 1;
      await targets.detailed({ bucket, key: object.key, etag: object.etag, sidecarKey });
    }
  }
  return summary;
}
