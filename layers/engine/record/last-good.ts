import { errorCodeOf } from '../errors.ts';
import type { DescriptionRecord, ModelProvenance } from './schema.ts';

/**
 * Never replace a good result with a worse one: when a stage runs again over the same bytes (a
 * restart re-queue, a backfill, a model change, a redelivery, the CLI over existing sidecars) and
 * a field cannot be produced this time (models missing, a failed run), the last good value stays,
 * marked in `stale` with the reason and the provenance that would replace it.
 */

/** Fields a stage writes from a model, each with the `models` key that says what produced it. */
export const RESULT_FIELDS = {
  caption: 'caption',
  objects: 'objects',
  labels: 'objects',
  detailedDescription: 'detailed',
  text: 'ocr',
  answers: undefined,
  categories: 'categories',
  embedding: 'embedding',
} as const satisfies Record<string, keyof DescriptionRecord['models'] | undefined>;

export type ResultField = keyof typeof RESULT_FIELDS;

/** The fields each stage produces itself (text moves with OCR_STAGE, so both list it). */
export const STAGE_FIELDS = {
  fast: ['caption', 'objects', 'labels', 'text', 'embedding'],
  detailed: ['detailedDescription', 'text', 'answers', 'categories'],
} as const satisfies Record<'fast' | 'detailed', readonly ResultField[]>;

/** The earlier record, when it describes exactly these bytes; results of other bytes are not kept. */
export function previousForSameBytes(
  previous: DescriptionRecord | undefined,
  sha256: string | undefined,
): DescriptionRecord | undefined {
  if (!previous || !sha256) return undefined;
  return previous.source.sha256 === sha256 ? previous : undefined;
}

export interface StaleMark {
  /** Why the refresh did not replace the value: waiting-for-models, or the failed run's error code. */
  readonly reason: string;
  /** What would replace the value once it runs. */
  readonly replacement?: ModelProvenance;
}

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
    const modelKey = RESULT_FIELDS[field];
    const since = previous.stale?.[field]?.since ?? now.toISOString();
    kept = {
      ...kept,
      [field]: previous[field],
      models: modelKey ? { ...kept.models, [modelKey]: previous.models[modelKey] } : kept.models,
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
  const { stale: _old, ...rest } = record;
  return Object.keys(stale).length > 0 ? { ...rest, stale } : rest;
}

/**
 * A fast stage that runs again over the same bytes starts a new record; the detailed stage's results
 * are not its to drop. They are carried over as they were (with their models and stale marks), and
 * a finished detailed stage stays finished, so the worker only re-runs it when its own inputs changed.
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
    const modelKey = RESULT_FIELDS[field];
    carried = {
      ...carried,
      [field]: previous[field],
      models: modelKey ? { ...carried.models, [modelKey]: previous.models[modelKey] } : carried.models,
    };
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
 * After a failed run over the same bytes: every result it kept is stale, with the error's code and,
 * where known, the provenance the failed run would have written (`replacements`, by field).
 */
export function markKeptAfterFailure(
  record: DescriptionRecord,
  fields: readonly ResultField[],
  error: unknown,
  now: Date,
  replacements: Partial<Record<ResultField, ModelProvenance>> = {},
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
