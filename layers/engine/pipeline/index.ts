/**
 * The use cases every entry point shares: the fast stage for an uploaded object, the detailed
 * stage for a job, backfill, staleness, and the bucket's key layout and S3 event shapes.
 */

export { type BackfillSummary, backfill } from './backfill.ts';
export {
  completeDetailedDescription,
  type DetailedStageDependencies,
  InvalidJobError,
} from './complete-detailed-description.ts';
export { describeUploadedObject, type FastStageDependencies } from './describe-uploaded-object.ts';
export type { DetailedJob } from './detailed-job.ts';
export { DETAILED_WORKER_DEFAULTS, VISIBILITY_TO_TIMEOUT_RATIO } from './detailed-worker.ts';
export {
  DEFAULT_KEY_LAYOUT,
  decodeEventKey,
  inputKeyFor,
  isInputKey,
  KEPT_ASIDE_SUFFIX,
  type KeyLayout,
  keptAsideKeyFor,
  keyLayout,
  readKeyLayout,
  sidecarKeyFor,
} from './key-layout.ts';
export { encodeEventKey, objectsCreated, type S3NotificationRecords, s3EventFor } from './s3-event.ts';
export {
  type CurrentModels,
  currentModelsOf,
  needsDescription,
  parseStoredRecord,
  type StaleReason,
} from './staleness.ts';

export const IMPORTED_ON_THEIR_OWN: readonly string[] = [];
