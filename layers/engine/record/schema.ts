import { z } from 'zod';
import { type ModelKey, RESULT_FIELDS, type ResultField, rowsOf } from './fields.ts';
import {
  type answerSchema,
  type answerValueSchema,
  type categoryMatchSchema,
  type checkVerdictSchema,
  type colourFamilySchema,
  colourSchema,
  consistencyCheckSchema,
  detailedTimingsSchema,
  type detectedObjectSchema,
  type embeddingSchema,
  fastTimingsSchema,
  imageFactsSchema,
  isoTimestamp,
  modelProvenanceSchema,
  sourceSchema,
  stageErrorSchema,
  type stageStateSchema,
  stageStatusSchema,
  staleFieldSchema,
  type textLineSchema,
  type textSchema,
} from './value-schemas.ts';

export * from './value-schemas.ts';

/**
 * The description record ("sidecar"), schema version 2. One record per image: written by the
 * fast stage, completed by the detailed stage. `npm run schema` regenerates
 * description-record.schema.json from this file; a test fails when the two drift apart. The result
 * fields (caption, objects, text…) and the `models` keys come from the table in record/fields.ts.
 *
 * v2 adds objects/labels, answers, categories, checks and `stale`; v1 records are a subset and
 * are read through `migrateRecord` (record.ts), which only bumps the version.
 */
export const SCHEMA_VERSION = 2 as const;
/** Versions `migrateRecord` reads. */
export const READABLE_SCHEMA_VERSIONS = [1, 2] as const;

const rows = () => rowsOf(RESULT_FIELDS);
type Table = typeof RESULT_FIELDS;

/** The result fields of the table, all optional (a stage may not have produced them yet). */
function resultShape(): { [K in ResultField]: z.ZodOptional<Table[K]['schema']> } {
  return Object.fromEntries(rows().map(([field, row]) => [field, row.schema.optional()])) as never;
}

/** One optional provenance per `models` key of the table. */
function modelsShape(): { [M in ModelKey]: z.ZodOptional<typeof modelProvenanceSchema> } {
  const keys = new Set(rows().flatMap(([, row]) => (row.model ? [row.model] : [])));
  return Object.fromEntries([...keys].map((key) => [key, modelProvenanceSchema.optional()])) as never;
}

export const descriptionRecordSchema = z
  .object({
    schemaVersion: z.literal(SCHEMA_VERSION),
    source: sourceSchema,
    createdAt: isoTimestamp
      .optional()
      .describe(
        'When these bytes were first described (seconds after the upload); kept when a stage runs again. Absent in records written before it existed',
      ),
    image: imageFactsSchema.optional(),
    status: z.object({ fast: stageStatusSchema, detailed: stageStatusSchema }),
    ...resultShape(),
    colours: z.array(colourSchema).optional(),
    checks: z
      .array(consistencyCheckSchema)
      .optional()
      .describe('Claims in the generated text compared with the measured palette, text and objects'),
    stale: z
      .record(z.string(), staleFieldSchema)
      .optional()
      .describe('Fields kept from an earlier run until their refresh succeeds, by field name'),
    models: z
      .object(modelsShape())
      .describe('Models that produced the fields above (answers carry their own)'),
    timings: z.object({ fast: fastTimingsSchema.optional(), detailed: detailedTimingsSchema.optional() }),
    errors: z.object({ fast: stageErrorSchema.optional(), detailed: stageErrorSchema.optional() }),
  })
  .describe('Image description record (sidecar), schema version 2');

export type StageState = z.infer<typeof stageStateSchema>;
export type StageName = 'fast' | 'detailed';
export type Source = z.infer<typeof sourceSchema>;
export type Colour = z.infer<typeof colourSchema>;
export type ColourFamily = z.infer<typeof colourFamilySchema>;
export type TextResult = z.infer<typeof textSchema>;
export type TextLine = z.infer<typeof textLineSchema>;
export type ModelProvenance = z.infer<typeof modelProvenanceSchema>;
export type StageError = z.infer<typeof stageErrorSchema>;
export type DetectedObject = z.infer<typeof detectedObjectSchema>;
export type Answer = z.infer<typeof answerSchema>;
export type AnswerValue = z.infer<typeof answerValueSchema>;
export type Embedding = z.infer<typeof embeddingSchema>;
export type CategoryMatch = z.infer<typeof categoryMatchSchema>;
export type ConsistencyCheck = z.infer<typeof consistencyCheckSchema>;
export type CheckVerdict = z.infer<typeof checkVerdictSchema>;
export type StaleField = z.infer<typeof staleFieldSchema>;
export type DescriptionRecord = z.infer<typeof descriptionRecordSchema>;
