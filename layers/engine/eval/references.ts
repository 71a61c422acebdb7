import { isAbsolute, normalize, sep } from 'node:path';
import { z } from 'zod';
import { answerValueSchema } from '../record/schema.ts';

/**
 * One line of `references.jsonl`: what a person says is in one image of the evaluation folder.
 * Every field but `file` is optional; a metric is only computed over the lines that give its field.
 * Unknown keys are refused, so a typo (`caption` for `captions`) is reported instead of ignored.
 */
export const referenceLineSchema = z
  .strictObject({
    /** Image path relative to the folder. */
    file: z
      .string()
      .min(1)
      .refine(
        (file) => !isAbsolute(file) && normalize(file) !== '..' && !normalize(file).startsWith(`..${sep}`),
        {
          message: 'must be a path inside the folder (relative, no ..)',
        },
      ),
    /** Reference captions, scored with CIDEr-D and BLEU-4. */
    captions: z.array(z.string().trim().min(1)).min(1).optional(),
    /** The text an OCR reader should find (lines may be separated by spaces or newlines). */
    text: z.string().optional(),
    /** Category ids the image belongs to; [] = none of the configured categories. */
    categories: z.array(z.string().min(1)).optional(),
    /** Expected answers by question id. */
    answers: z.record(z.string().min(1), answerValueSchema).optional(),
  })
  .describe('One line of references.jsonl');

export type ReferenceLine = z.infer<typeof referenceLineSchema>;

export interface ReferenceProblem {
  /** 1-based line number in the file. */
  readonly line: number;
  readonly message: string;
  /** The image the bad line names, when it names one: that image is not evaluated, but it is listed. */
  readonly file?: string;
}

export interface ParsedReferences {
  readonly lines: ReadonlyArray<ReferenceLine & { readonly line: number }>;
  readonly problems: readonly ReferenceProblem[];
}

const REFERENCE_FIELDS = Object.keys(referenceLineSchema.shape);

/** A field name as the user typed it, or "the line" for the line itself. */
function fieldName(path: readonly PropertyKey[]): string {
  return path.length > 0 ? `"${path.map(String).join('.')}"` : 'the line';
}

/** A known field that a typo was probably meant as ("caption" → "captions"). */
function meantField(key: string): string | undefined {
  const folded = key.toLowerCase();
  return REFERENCE_FIELDS.find(
    (field) => field === `${folded}s` || `${field}s` === folded || field === folded,
  );
}

/** One schema issue in words: which field, what was expected, what to write. */
function issueSentence(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys
      .map((key) => {
        const meant = meantField(key);
        return meant
          ? `there is no field "${key}"; did you mean "${meant}"?`
          : `there is no field "${key}" (the fields are ${REFERENCE_FIELDS.join(', ')})`;
      })
      .join('; ');
  }
  if (issue.code === 'invalid_type' && issue.input === undefined)
    return `${fieldName(issue.path)} is missing`;
  if (issue.code === 'invalid_type') {
    const expected = issue.expected === 'array' ? 'a list' : `a ${issue.expected}`;
    return `${fieldName(issue.path)} must be ${expected}`;
  }
  return `${fieldName(issue.path)} ${issue.message.replace(/^Invalid input: /, '')}`;
}

function issueText(error: z.ZodError): string {
  const sentences = error.issues.map(issueSentence);
  return `${sentences.join('; ')} (a line looks like {"file":"red.png","captions":["a red square"]})`;
}

/** The file a line names, when it is an object with a string `file`. */
function namedFile(json: unknown): string | undefined {
  const file = (json as { file?: unknown } | null)?.file;
  return typeof file === 'string' && file !== '' ? file : undefined;
}

/**
 * Parses the file line by line: a bad line (not JSON, wrong fields, a file listed twice) becomes
 * a problem with its line number and the other lines are kept. Blank lines are skipped.
 */
export function parseReferences(content: string): ParsedReferences {
  const lines: Array<ReferenceLine & { line: number }> = [];
  const problems: ReferenceProblem[] = [];
  const firstLineOf = new Map<string, number>();
  content.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (error) {
      problems.push({ line, message: `not JSON: ${(error as Error).message}` });
      return;
    }
    const parsed = referenceLineSchema.safeParse(json);
    if (!parsed.success) {
      const file = namedFile(json);
      problems.push({ line, message: issueText(parsed.error), ...(file ? { file } : {}) });
      return;
    }
    const key = normalize(parsed.data.file);
    const first = firstLineOf.get(key);
    if (first !== undefined) {
      problems.push({ line, message: `file ${parsed.data.file} is already listed on line ${first}` });
      return;
    }
    firstLineOf.set(key, line);
    lines.push({ ...parsed.data, line });
  });
  return { lines, problems };
}
