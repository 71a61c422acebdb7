import { z } from 'zod';
import {
  answerSchema,
  categoryMatchSchema,
  detectedObjectSchema,
  embeddingSchema,
  textSchema,
} from './value-schemas.ts';

/** The stage that writes a field; `ocr` is whichever stage reads text (settings.ocrStage). */
export type FieldStage = 'fast' | 'detailed' | 'ocr';

export interface FieldRow {
  readonly schema: z.ZodType;
  readonly stage: FieldStage;
  /** The `models` key naming what produced the value; absent when each value carries its own. */
  readonly model?: string;
}

/**
 * The record's result fields, one row each. record/schema.ts builds the record's fields and its
 * `models` object from this table, and record/merge.ts merges re-runs, failed runs and write
 * conflicts by it: a new field is a new row here plus the step that produces it (the rest of the
 * list is in docs/architecture.md). Only the table lives here, so that a test can add a row.
 */
export const RESULT_FIELDS = {
  caption: { schema: z.string(), stage: 'fast', model: 'caption' },
  objects: { schema: z.array(detectedObjectSchema), stage: 'fast', model: 'objects' },
  labels: {
    schema: z.array(z.string()).describe('Deduplicated lower-case object labels, for filters'),
    stage: 'fast',
    model: 'objects',
  },
  detailedDescription: { schema: z.string(), stage: 'detailed', model: 'detailed' },
  text: { schema: textSchema, stage: 'ocr', model: 'ocr' },
  answers: {
    schema: z.record(z.string(), answerSchema).describe('Answers to the configured questions, by id'),
    stage: 'detailed',
  },
  categories: {
    schema: z
      .array(categoryMatchSchema)
      .describe('Categories from the configured list this image matches, best first; empty = none'),
    stage: 'detailed',
    model: 'categories',
  },
  embedding: { schema: embeddingSchema, stage: 'fast', model: 'embedding' },
} as const satisfies Record<string, FieldRow>;

type Table = typeof RESULT_FIELDS;
export type ResultField = keyof Table;
export type ModelKey = {
  [K in ResultField]: Table[K] extends { readonly model: infer M extends string } ? M : never;
}[ResultField];

/** The rows of a field table, typed (callers pass the table they imported, so a test can extend it). */
export const rowsOf = (table: Readonly<Record<string, FieldRow>>) =>
  Object.entries(table) as [ResultField, FieldRow][];
