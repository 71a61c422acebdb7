import { z } from 'zod';

/**
 * The description record ("sidecar"), schema version 1. One record per image: written by the
 * fast stage, completed by the detailed stage. `npm run schema` regenerates
 * description-record.schema.json from this file; a test fails when the two drift apart.
 */
export const SCHEMA_VERSION = 1 as const;

const isoTimestamp = z.iso.datetime().describe('ISO 8601 UTC timestamp');

export const stageStateSchema = z
  .enum(['pending', 'waiting-for-models', 'done', 'failed'])
  .describe(
    'pending: queued or running; waiting-for-models: the model files are not installed yet; done; failed: see errors',
  );

export const stageStatusSchema = z.object({
  state: stageStateSchema,
  updatedAt: isoTimestamp,
});

export const sourceSchema = z
  .object({
    kind: z.enum(['file', 's3']),
    /** For kind=file: the path as given. */
    path: z.string().optional(),
    bucket: z.string().optional(),
    key: z.string().optional(),
    /** S3 ETag of the object described (quotes stripped). */
    etag: z.string().optional(),
    /** SHA-256 of the bytes described, hex. */
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
    size: z.number().int().nonnegative(),
    contentType: z.string().optional(),
  })
  .describe('Where the image came from and which bytes were described');

export const imageFactsSchema = z.object({
  format: z.string(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  orientation: z.number().int().min(1).max(8),
  hasAlpha: z.boolean(),
  pages: z.number().int().positive(),
  animated: z.boolean(),
  space: z.string(),
  bitsPerSample: z.number().int().positive(),
});

export const colourFamilySchema = z.enum([
  'red',
  'orange',
  'yellow',
  'green',
  'blue',
  'purple',
  'pink',
  'brown',
  'black',
  'white',
  'gray',
]);

export const colourSchema = z.object({
  hex: z.string().regex(/^#[0-9a-f]{6}$/),
  name: z.string().describe('Nearest name in the color-name-list package'),
  family: colourFamilySchema,
  fraction: z.number().min(0).max(1).describe('Share of the image pixels closest to this colour'),
});

export const normalisedBoxSchema = z
  .object({
    x: z.number().min(0).max(1),
    y: z.number().min(0).max(1),
    width: z.number().min(0).max(1),
    height: z.number().min(0).max(1),
  })
  .describe('Axis-aligned box in fractions of the oriented image width and height');

export const textLineSchema = z.object({
  text: z.string(),
  confidence: z.number().min(0).max(1),
  box: normalisedBoxSchema,
});

export const textSchema = z
  .object({
    full: z.string().describe('All lines in reading order, joined by newlines'),
    lines: z.array(textLineSchema),
  })
  .describe('Text found in the image by OCR; empty when there is none');

export const modelProvenanceSchema = z.object({
  id: z.string(),
  revision: z.string(),
  architecture: z.string(),
  dtype: z.union([z.string(), z.record(z.string(), z.string())]),
  /** SHA-256 (first 16 hex) of the task or prompt and generation options: a change re-describes. */
  promptHash: z.string(),
});

export const stageErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
});

const msField = z.number().nonnegative();

export const fastTimingsSchema = z.object({
  readMs: msField.optional(),
  decodeMs: msField.optional(),
  paletteMs: msField.optional(),
  captionMs: msField.optional(),
  ocrMs: msField.optional(),
  totalMs: msField.optional(),
});

export const detailedTimingsSchema = z.object({
  readMs: msField.optional(),
  decodeMs: msField.optional(),
  modelMs: msField.optional(),
  ocrMs: msField.optional(),
  totalMs: msField.optional(),
});

export const descriptionRecordSchema = z
  .object({
    schemaVersion: z.literal(SCHEMA_VERSION),
    source: sourceSchema,
    image: imageFactsSchema.optional(),
    status: z.object({ fast: stageStatusSchema, detailed: stageStatusSchema }),
    caption: z.string().optional(),
    detailedDescription: z.string().optional(),
    colours: z.array(colourSchema).optional(),
    text: textSchema.optional(),
    models: z
      .object({
        caption: modelProvenanceSchema.optional(),
        detailed: modelProvenanceSchema.optional(),
        ocr: modelProvenanceSchema.optional(),
      })
      .describe('Models that produced the fields above'),
    timings: z.object({ fast: fastTimingsSchema.optional(), detailed: detailedTimingsSchema.optional() }),
    errors: z.object({ fast: stageErrorSchema.optional(), detailed: stageErrorSchema.optional() }),
  })
  .describe('Image description record (sidecar), schema version 1');

export type StageState = z.infer<typeof stageStateSchema>;
export type StageName = 'fast' | 'detailed';
export type Source = z.infer<typeof sourceSchema>;
export type Colour = z.infer<typeof colourSchema>;
export type ColourFamily = z.infer<typeof colourFamilySchema>;
export type TextResult = z.infer<typeof textSchema>;
export type TextLine = z.infer<typeof textLineSchema>;
export type ModelProvenance = z.infer<typeof modelProvenanceSchema>;
export type StageError = z.infer<typeof stageErrorSchema>;
export type DescriptionRecord = z.infer<typeof descriptionRecordSchema>;
