import { ModelNotFoundError } from '../errors.ts';
import type { RgbImage } from '../image/types.ts';
import { keepLastGood, markFresh, type ResultField } from '../record/last-good.ts';
import type { DescriptionRecord, DetectedObject } from '../record/schema.ts';
import { encodeEmbedding } from '../search/vector-codec.ts';
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
    write: (record: DescriptionRecord, result: TaskResult) => DescriptionRecord;
  },
): Promise<void> {
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
  options: { encodings: ImageEncodings; previous: DescriptionRecord | undefined; now: Date },
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
