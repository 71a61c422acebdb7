import { z } from 'zod';

/**
 * The parts the description record is built of (record/schema.ts assembles them, record/fields.ts
 * names the result fields). Kept apart so that the field table can use them without a cycle.
 */

export const isoTimestamp = z.iso.datetime().describe('ISO 8601 UTC timestamp');

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
  name: z
    .string()
    .describe(
      'The family with a light/dark modifier, e.g. "dark red", "gray", "light blue" (records written before 2026-12 hold a name from the color-name-list package)',
    ),
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
    truncated: z
      .object({
        boxesRead: z.number().int().min(0),
        boxesFound: z.number().int().min(0),
        budgetMs: z.number().int().min(1),
      })
      .optional()
      .describe(
        'Present when the time budget ran out before every text box was read: the smallest text was left out',
      ),
  })
  .describe('Text found in the image by OCR; empty when there is none');

export const modelProvenanceSchema = z.object({
  id: z.string(),
  revision: z.string(),
  architecture: z.string(),
  dtype: z.union([z.string(), z.record(z.string(), z.string())]),
  /** Where a remote model ran: its endpoint base URL, or `bedrock` (with the region when pinned). */
  provider: z.string().optional(),
  /** SHA-256 (first 16 hex) of the task or prompt and generation options: a change re-describes. */
  promptHash: z.string(),
});

/**
 * An object found by a detector (Florence-2 `<OD>`). Florence-2 returns no confidence, so `score`
 * is absent for its objects rather than invented; a detector that scores may fill it.
 */
export const detectedObjectSchema = z.object({
  label: z.string().min(1),
  box: normalisedBoxSchema,
  score: z.number().min(0).max(1).optional().describe('Detector confidence; absent for Florence-2'),
});

export const answerValueSchema = z.union([z.string(), z.number(), z.boolean()]);

/** One answer to a configured question; a wrong-typed answer is an error on that answer only. */
export const answerSchema = z.object({
  /** The parsed answer of the question's type; absent when the model's text did not parse. */
  value: answerValueSchema.optional(),
  /** The model's text, cleaned. */
  raw: z.string(),
  /** Provenance key of the model and this question (id, revision, dtype, prompt hash). */
  model: modelProvenanceSchema,
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});

export const categoryMatchSchema = z.object({
  id: z.string().min(1),
  score: z.number().min(0).max(1),
  /** Where the match came from, e.g. `caption: "a red square"`, `labels: car`. */
  evidence: z.array(z.string()),
});

/**
 * An image embedding kept compactly: the unit vector's components × 127, rounded to int8, as base64
 * (512 dims = 684 characters). Cosine similarity after decoding is within about 0.01 of the float one.
 */
export const embeddingSchema = z
  .object({
    dims: z.number().int().positive(),
    encoding: z.literal('int8'),
    vector: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64'),
  })
  .describe('Image embedding for search by meaning (models.embedding says which model)');

export const checkVerdictSchema = z.enum(['consistent', 'contradicted', 'unverifiable']);

/** A claim in generated text compared with what was measured (palette, OCR, objects). */
export const consistencyCheckSchema = z.object({
  kind: z.enum(['colour', 'text', 'object', 'count']),
  /** Which field made the claim: caption, detailedDescription or answers.<id>. */
  field: z.string(),
  claim: z.string(),
  evidence: z.string(),
  verdict: checkVerdictSchema,
});

/**
 * A field kept from an earlier run because its refresh has not succeeded yet (models missing, a
 * failed re-run): the last good value stays until a new one is written.
 */
export const staleFieldSchema = z.object({
  reason: z.string().describe('Why the refresh did not replace it, e.g. waiting-for-models'),
  /** The provenance that would replace the value once it runs. */
  replacement: modelProvenanceSchema.optional(),
  since: isoTimestamp,
});

export const stageErrorSchema = z.object({
  code: z.string(),
  /** For the person: what was wrong and what to do. */
  message: z.string(),
  detail: z.string().optional().describe('The precise reason, for programs and logs'),
});

const msField = z.number().nonnegative();

export const fastTimingsSchema = z.object({
  readMs: msField.optional(),
  decodeMs: msField.optional(),
  paletteMs: msField.optional(),
  captionMs: msField.optional(),
  /** Vision encoder time of the shared pass, when the runner reports it separately. */
  encodeMs: msField.optional(),
  ocrMs: msField.optional(),
  categoriesMs: msField.optional(),
  checksMs: msField.optional(),
  totalMs: msField.optional(),
});

export const detailedTimingsSchema = z.object({
  readMs: msField.optional(),
  decodeMs: msField.optional(),
  modelMs: msField.optional(),
  ocrMs: msField.optional(),
  answersMs: msField.optional(),
  categoriesMs: msField.optional(),
  checksMs: msField.optional(),
  totalMs: msField.optional(),
});
