import { ModelNotFoundError } from '../errors.ts';
import type { RgbImage } from '../image/types.ts';
import type { ResultField } from '../record/fields.ts';
import { keepLastGood, markFresh } from '../record/merge.ts';
import type { DescriptionRecord, DetectedObject } from '../record/schema.ts';
import { encodeEmbedding } from '../search/vector-codec.ts';
import { sameProvenance } from './provenance.ts';
import type { ImageEncodings, ModelRegistry, TaskResult } from './registry.ts';

/**
 * The model tasks of each stage, written into the record: the fast stage's caption and objects, the
 * detailed stage's description. Every task of a stage is answered from one `encodings` map, so a
 * Florence-2 image is encoded once for all of them (and, in `describe`, once for both stages).
 * A missing model does not fail the stage: its fields keep their last good values, marked stale.
 */

type Registry = Pick<ModelRegistry, 'answer' | 'provenance' | 'taskSpec'>;

export interface StageTasksResult {
  readonly record: DescriptionRecord;
  /** Vision pass time paid in this stage (0 when the encoding was reused). */
  readonly encodeMs: number;
  /** Set when a task's model is not installed: the stage is waiting for models. */
  readonly waiting?: ModelNotFoundError;
}

/** Deduplicated lower-case labels, in order of first appearance: the record's filter list. */
export function labelsOf(objects: readonly DetectedObject[]): string[] {
  return [...new Set(objects.map((object) => object.label.trim().toLowerCase()).filter(Boolean))];
}

function textOf(result: TaskResult, task: string): string {
  if (result.answer.kind !== 'text') throw new Error(`The ${task} task gave ${result.answer.kind}, not text`);
  return result.answer.text;
}

function objectsOf(result: TaskResult): DetectedObject[] {
  if (result.answer.kind !== 'objects')
    throw new Error(`The objects task gave ${result.answer.kind}, not objects`);
  return [...result.answer.objects];
}

const MODEL_KEY = {
  caption: 'caption',
  objects: 'objects',
  detailed: 'detailed',
  embedding: 'embedding',
} as const satisfies Record<string, keyof DescriptionRecord['models']>;

function isCurrent(
  models: Registry,
  name: keyof typeof MODEL_KEY,
  previous: DescriptionRecord | undefined,
  fields: readonly ResultField[],
): previous is DescriptionRecord {
  if (!previous) return false;
  if (fields.some((field) => previous[field] === undefined || previous.stale?.[field] !== undefined))
    return false;
  return sameProvenance(previous.models[MODEL_KEY[name]], models.provenance(name));
}

function carryFields(
  record: DescriptionRecord,
  previous: DescriptionRecord,
  fields: readonly ResultField[],
  modelKey: keyof DescriptionRecord['models'],
): DescriptionRecord {
  const carried: Partial<DescriptionRecord> = {};
  for (const field of fields) Object.assign(carried, { [field]: previous[field] });
  return { ...record, ...carried, models: { ...record.models, [modelKey]: previous.models[modelKey] } };
}

/**
 * Runs one task; a missing model keeps `fields` from `previous` (marked stale, with the provenance
 * that would replace them) instead of failing the stage.
 */
async function runTask(
  models: Registry,
  name: 'caption' | 'objects' | 'detailed' | 'embedding',
  image: RgbImage,
  state: { record: DescriptionRecord; encodeMs: number; waiting?: ModelNotFoundError },
  options: {
    encodings: ImageEncodings;
    previous: DescriptionRecord | undefined;
    fields: readonly ResultField[];
    now: Date;
    keepCurrent?: boolean;
    write: (record: DescriptionRecord, result: TaskResult) => DescriptionRecord;
  },
): Promise<void> {
  if (options.keepCurrent && isCurrent(models, name, options.previous, options.fields)) {
    // Same bytes, same model and task, not stale: keep the result instead of running the model
    // again (a record that only lacks its embedding gets one without a new caption).
    state.record = carryFields(state.record, options.previous, options.fields, MODEL_KEY[name]);
    return;
  }
  try {
    const result = await models.answer(name, image, { encodings: options.encodings });
    state.encodeMs += result.encodeMs;
    state.record = markFresh(options.write(state.record, result), options.fields);
  } catch (error) {
    if (!(error instanceof ModelNotFoundError)) throw error;
    state.waiting ??= error;
    const mark = { reason: 'waiting-for-models', replacement: models.provenance(name) };
    state.record = keepLastGood(state.record, options.previous, options.fields, mark, options.now);
  }
}

/** Fast stage: caption, then objects and labels, then the image embedding, each when configured. */
export async function runFastTasks(
  models: Registry,
  image: RgbImage,
  record: DescriptionRecord,
  options: {
    encodings: ImageEncodings;
    previous: DescriptionRecord | undefined;
    now: Date;
    /** Keep the previous record's current results (a re-run for a missing embedding only). */
    keepCurrent?: boolean;
  },
): Promise<StageTasksResult> {
  const state: { record: DescriptionRecord; encodeMs: number; waiting?: ModelNotFoundError } = {
    record,
    encodeMs: 0,
  };
  await runTask(models, 'caption', image, state, {
    ...options,
    fields: ['caption'],
    write: (r, result) => ({
      ...r,
      caption: textOf(result, 'caption'),
      models: { ...r.models, caption: result.provenance },
    }),
  });
  if (models.taskSpec('objects')) {
    await runTask(models, 'objects', image, state, {
      ...options,
      fields: ['objects', 'labels'],
      write: (r, result) => {
        const objects = objectsOf(result);
        return {
          ...r,
          objects,
          labels: labelsOf(objects),
          models: { ...r.models, objects: result.provenance },
        };
      },
    });
  }
  if (models.taskSpec('embedding')) {
    // The image tower reads the same decoded pixels as the caption: one decode per image.
    await runTask(models, 'embedding', image, state, {
      ...options,
      fields: ['embedding'],
      write: (r, result) => {
        if (result.answer.kind !== 'embedding')
          throw new Error(`The embedding task gave ${result.answer.kind}, not a vector`);
        return {
          ...r,
          embedding: encodeEmbedding(result.answer.vector),
          models: { ...r.models, embedding: result.provenance },
        };
      },
    });
  }
  return state;
}

/**
 * Detailed stage: the detailed description. `record` is the fast stage's, so a last good
 * description is already in it: when the model is missing it stays, marked stale.
 */
export async function runDetailedTask(
  models: Registry,
  image: RgbImage,
  record: DescriptionRecord,
  options: { encodings: ImageEncodings; now: Date },
): Promise<StageTasksResult> {
  // keepLastGood only fills absent fields: start without the description, so that a missing model
  // puts the last good one back, marked stale (keeping the first `since`).
  const { detailedDescription: _last, ...withoutDescription } = record;
  const state: { record: DescriptionRecord; encodeMs: number; waiting?: ModelNotFoundError } = {
    record: withoutDescription,
    encodeMs: 0,
  };
  await runTask(models, 'detailed', image, state, {
    ...options,
    previous: record,
    fields: ['detailedDescription'],
    write: (r, result) => ({
      ...r,
      detailedDescription: textOf(result, 'detailed'),
      models: { ...r.models, detailed: result.provenance },
    }),
  });
  return state;
}
