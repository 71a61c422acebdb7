import { createHash } from 'node:crypto';
import { detailOf, errorCodeOf, RecordValidationError } from '../errors.ts';
import {
  type DescriptionRecord,
  descriptionRecordSchema,
  SCHEMA_VERSION,
  type Source,
  type StageName,
  type StageState,
} from './schema.ts';

/** Parse and check a record; every record the engine returns or an adapter writes goes through here. */
export function validateRecord(candidate: unknown): DescriptionRecord {
  const result = descriptionRecordSchema.safeParse(candidate);
  if (!result.success) {
    const first = result.error.issues[0];
    const where = first?.path.join('.') || 'record';
    throw new RecordValidationError(
      `Description record does not match schema v${SCHEMA_VERSION}: ${where}: ${first?.message ?? 'invalid'}`,
    );
  }
  return result.data;
}

/**
 * A stored sidecar of any readable version, brought to the current one. v1 is v2 without the new
 * optional fields, so the version number is all that changes.
 */
export function migrateRecord(value: unknown): unknown {
  if (
    value !== null &&
    typeof value === 'object' &&
    (value as { schemaVersion?: unknown }).schemaVersion === 1
  ) {
    return { ...value, schemaVersion: SCHEMA_VERSION };
  }
  return value;
}

/** A stored sidecar, migrated and validated; throws RecordValidationError when it is not a record. */
export function readStoredRecord(value: unknown): DescriptionRecord {
  return validateRecord(migrateRecord(value));
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A record with both stages pending: the starting point of every description. */
export function newRecord(source: Source, now: Date): DescriptionRecord {
  const at = now.toISOString();
  return {
    schemaVersion: SCHEMA_VERSION,
    source,
    createdAt: at,
    status: { fast: { state: 'pending', updatedAt: at }, detailed: { state: 'pending', updatedAt: at } },
    models: {},
    timings: {},
    errors: {},
  };
}

export function withStageState(
  record: DescriptionRecord,
  stage: StageName,
  state: StageState,
  now: Date,
): DescriptionRecord {
  return { ...record, status: { ...record.status, [stage]: { state, updatedAt: now.toISOString() } } };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The record of a stage that failed: the error's code and message are kept for the user; a fast
 * failure also fails the detailed stage, which has nothing to describe.
 */
export function failedRecord(
  base: DescriptionRecord,
  stage: StageName,
  error: unknown,
  now: Date,
): DescriptionRecord {
  const detail = detailOf(error);
  const stageError = { code: errorCodeOf(error), message: messageOf(error), ...(detail ? { detail } : {}) };
  let record = withStageState(base, stage, 'failed', now);
  record = { ...record, errors: { ...record.errors, [stage]: stageError } };
  if (stage === 'fast') {
    record = withStageState(record, 'detailed', 'failed', now);
    record = { ...record, errors: { ...record.errors, detailed: stageError } };
  }
  return validateRecord(record);
}
