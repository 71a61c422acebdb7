import { errorCodeOf } from '../errors.ts';
import { type FieldRow, type ModelKey, RESULT_FIELDS, type ResultField, rowsOf } from './fields.ts';
import { failedRecord } from './record.ts';
import type { DescriptionRecord, ModelProvenance, Source, StageName } from './schema.ts';

/**
 * Every way two records of the same bytes become one, driven by the field table (record/fields.ts):
 * a stage that runs again (a restart re-queue, a backfill, a model change, a redelivery, the CLI
 * over existing sidecars), a failed run, and a write that lost a race with another writer. The rule
 * is the same everywhere: never replace a good result with a worse one. A field a run cannot
 * produce keeps its last good value, marked in `stale` with the reason and the provenance that
 * would replace it; a stage's results are only ever replaced by that stage's.
 */

type Stale = NonNullable<DescriptionRecord['stale']>;

const rows = () => rowsOf(RESULT_FIELDS);

const modelKeyOf = (field: ResultField) => (RESULT_FIELDS[field] as FieldRow).model as ModelKey | undefined;

/** The fields a stage may write: its own and the text, which moves with the OCR stage. */
export const STAGE_FIELDS: Readonly<Record<StageName, readonly ResultField[]>> = {
  fast: rows().flatMap(([field, row]) => (row.stage === 'detailed' ? [] : [field])),
  detailed: rows().flatMap(([field, row]) => (row.stage === 'fast' ? [] : [field])),
};

/** The fields `stage` produces itself with this OCR setting (the text only where OCR runs). */
function fieldsOwnedBy(stage: StageName, ocrStage: string): ResultField[] {
  return rows().flatMap(([field, row]) =>
    row.stage === stage || (row.stage === 'ocr' && ocrStage === stage) ? [field] : [],
  );
}

/**
 * The earlier record, when it describes exactly these bytes; results of other bytes are not kept.
 * Bytes are compared by SHA-256; a stored record without one (the field is optional, so another
 * writer or a hand-made sidecar may lack it) of an S3 object is matched by its ETag, which the
 * stores compare for every other decision too. Without either, nothing is kept.
 */
export function previousForSameBytes(
  previous: DescriptionRecord | undefined,
  source: Pick<Source, 'sha256' | 'etag'>,
): DescriptionRecord | undefined {
  if (!previous) return undefined;
  const before = previous.source;
  if (before.sha256 && source.sha256) return before.sha256 === source.sha256 ? previous : undefined;
  return before.etag && before.etag === source.etag ? previous : undefined;
}

export interface StaleMark {
  /** Why the refresh did not replace the value: waiting-for-models, or the failed run's error code. */
  readonly reason: string;
  /** What would replace the value once it runs. */
  readonly replacement?: ModelProvenance;
}

/** `record` with `field` and the provenance of its model set to `from`'s. */
function withFieldOf(record: DescriptionRecord, from: DescriptionRecord, field: ResultField) {
  const modelKey = modelKeyOf(field);
  return {
    ...record,
    [field]: from[field],
    models: modelKey ? { ...record.models, [modelKey]: from.models[modelKey] } : record.models,
  };
}

const withStale = (record: DescriptionRecord, stale: Stale): DescriptionRecord => {
  const { stale: _old, ...rest } = record;
  return Object.keys(stale).length > 0 ? { ...rest, stale } : rest;
};

/**
 * Each of `fields` that `record` lacks but `previous` has is taken from `previous`, with the model
 * that produced it, and marked stale (keeping the first `since` while it stays stale).
 */
export function keepLastGood(
  record: DescriptionRecord,
  previous: DescriptionRecord | undefined,
  fields: readonly ResultField[],
  mark: StaleMark,
  now: Date,
): DescriptionRecord {
  if (!previous) return record;
  let kept = record;
  for (const field of fields) {
    if (kept[field] !== undefined || previous[field] === undefined) continue;
    const since = previous.stale?.[field]?.since ?? now.toISOString();
    kept = withFieldOf(kept, previous, field);
    kept = {
      ...kept,
      stale: {
        ...kept.stale,
        [field]: {
          reason: mark.reason,
          ...(mark.replacement ? { replacement: mark.replacement } : {}),
          since,
        },
      },
    };
  }
  return kept;
}

/** Fields just produced afresh lose their stale marks; an empty `stale` is dropped. */
export function markFresh(record: DescriptionRecord, fields: readonly ResultField[]): DescriptionRecord {
  if (!record.stale) return record;
  const stale = { ...record.stale };
  for (const field of fields) delete stale[field];
  return withStale(record, stale);
}

/**
 * A fast stage that runs again over the same bytes starts a new record; the detailed stage's results
 * are not its to drop. They are carried over as they were (with their models and stale marks), and
 * a finished detailed stage stays finished, so the worker only re-runs it when its own inputs changed.
 * The same carry takes a concurrent writer's newer detailed results into a fast record (a lost race).
 */
export function carryDetailedResults(
  record: DescriptionRecord,
  previous: DescriptionRecord | undefined,
): DescriptionRecord {
  if (!previous) return record;
  let carried = record;
  const stale = { ...carried.stale };
  for (const field of STAGE_FIELDS.detailed) {
    if (previous[field] === undefined) continue;
    carried = withFieldOf(carried, previous, field);
    const mark = previous.stale?.[field];
    if (mark) stale[field] = mark;
  }
  if (Object.keys(stale).length > 0) carried = { ...carried, stale };
  if (previous.status.detailed.state === 'done' && previous.status.fast.state !== 'failed') {
    carried = {
      ...carried,
      status: { ...carried.status, detailed: previous.status.detailed },
      timings: { ...carried.timings, detailed: previous.timings.detailed },
    };
  }
  return carried;
}

/**
 * A stage's `result` laid over `base`, a sidecar another writer changed since the stage read it:
 * the fields the stage produces itself (`fieldsOwnedBy`) come from `result` where it has them; the
 * other fields it may write (the text, where another stage reads it) from `base`, which is newer.
 * The stage's stale marks, state, timings and error come from `result`; everything else from `base`.
 * Categories and checks are the caller's to judge again over the merged record.
 */
export function overStageResult(
  base: DescriptionRecord,
  result: DescriptionRecord,
  stage: StageName,
  ocrStage: string,
): DescriptionRecord {
  const owned = new Set(fieldsOwnedBy(stage, ocrStage));
  let merged: DescriptionRecord = { ...base, image: base.image ?? result.image };
  const stale = { ...base.stale };
  for (const field of STAGE_FIELDS[stage]) {
    const [first, second] = owned.has(field) ? [result, base] : [base, result];
    const from = first[field] !== undefined ? first : second;
    if (from[field] !== undefined) merged = withFieldOf(merged, from, field);
    const modelKey = modelKeyOf(field);
    if (modelKey) {
      const provenance = first.models[modelKey] ?? second.models[modelKey];
      merged = { ...merged, models: { ...merged.models, [modelKey]: provenance } };
    }
    const mark = result.stale?.[field];
    if (mark) stale[field] = mark;
    else delete stale[field];
  }
  const { [stage]: _dropped, ...baseErrors } = base.errors;
  const error = result.errors[stage];
  return withStale(
    {
      ...merged,
      status: { ...base.status, [stage]: result.status[stage] },
      timings: { ...base.timings, [stage]: result.timings[stage] },
      errors: error ? { ...baseErrors, [stage]: error } : baseErrors,
    },
    stale,
  );
}

/**
 * What each model-made field would be written by now, for the stale marks of a failed run:
 * `provenanceOf` answers for a `models` key (undefined when nothing is configured for it).
 */
export function replacementsFrom(
  provenanceOf: (model: ModelKey) => ModelProvenance | undefined,
): Partial<Record<ResultField, ModelProvenance>> {
  const replacements: Partial<Record<ResultField, ModelProvenance>> = {};
  for (const field of [...STAGE_FIELDS.fast, ...STAGE_FIELDS.detailed]) {
    const modelKey = modelKeyOf(field);
    const provenance = modelKey && provenanceOf(modelKey);
    if (provenance) replacements[field] = provenance;
  }
  return replacements;
}

/**
 * The record of a failed stage. `fresh` is a new record of the bytes (or object) the run was
 * given; `base` the earlier record whose results are kept, if any. A fast failure keeps every
 * result (they describe these bytes), a detailed one the detailed stage's; each kept result is
 * stale, with the error's code and, where known, the provenance the failed run would have written.
 */
export function failedRun(options: {
  readonly fresh: DescriptionRecord;
  readonly base: DescriptionRecord | undefined;
  readonly stage: StageName;
  readonly error: unknown;
  readonly now: Date;
  readonly replacements: Partial<Record<ResultField, ModelProvenance>>;
}): DescriptionRecord {
  const { fresh, base, stage, error, now, replacements } = options;
  if (!base) return failedRecord(fresh, stage, error, now);
  const record = failedRecord(
    {
      ...base,
      source: { ...base.source, ...fresh.source },
      createdAt: base.createdAt ?? fresh.createdAt,
    },
    stage,
    error,
    now,
  );
  const fields = stage === 'fast' ? [...STAGE_FIELDS.fast, ...STAGE_FIELDS.detailed] : STAGE_FIELDS.detailed;
  return markKeptAfterFailure(record, fields, error, now, replacements);
}

/**
 * After a failed run over the same bytes: every result it kept is stale, with the error's code and,
 * where known, the provenance the failed run would have written (`replacements`, by field).
 */
function markKeptAfterFailure(
  record: DescriptionRecord,
  fields: readonly ResultField[],
  error: unknown,
  now: Date,
  replacements: Partial<Record<ResultField, ModelProvenance>>,
): DescriptionRecord {
  const reason = `failed: ${errorCodeOf(error)}`;
  const stale = { ...record.stale };
  for (const field of fields) {
    if (record[field] === undefined) continue;
    const replacement = replacements[field] ?? stale[field]?.replacement;
    stale[field] = {
      reason,
      ...(replacement ? { replacement } : {}),
      since: stale[field]?.since ?? now.toISOString(),
    };
  }
  return Object.keys(stale).length > 0 ? { ...record, stale } : record;
}
