import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, describeReceived, valueAtPath } from '../errors.ts';
import { packagePath } from '../package-root.ts';

/**
 * A deployment's questions and categories (`config/questions.json` by default): read once at
 * start-up, validated, frozen. Every failure names the source and the field, e.g.
 * "questions[1].id in config/questions.json: duplicate id 'colour'".
 */
export const ANSWER_TYPES = ['text', 'yes-no', 'one-of', 'number'] as const;

const idSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'an id of lower-case letters, digits, - and _ (at most 64)');

const nonEmpty = z.string().trim().min(1, 'must not be empty');

export const questionSchema = z
  .object({
    id: idSchema,
    /** What the VLM is asked, as written. */
    prompt: nonEmpty,
    /** text: free text; yes-no: true/false; one-of: one of `options`; number: a number. */
    type: z.enum(ANSWER_TYPES),
    /** The allowed answers of a one-of question (matched case-insensitively). */
    options: z.array(nonEmpty).min(2, 'a one-of question needs at least 2 options').optional(),
    /** Longest answer in tokens; short answers are cheaper and easier to parse. */
    maxTokens: z.number().int().min(1).max(512).optional(),
  })
  .strict()
  .superRefine((question, ctx) => {
    if (question.type === 'one-of' && !question.options) {
      ctx.addIssue({ code: 'custom', path: ['options'], message: 'a one-of question needs options' });
    }
    if (question.type !== 'one-of' && question.options) {
      ctx.addIssue({ code: 'custom', path: ['options'], message: `only one-of questions take options` });
    }
  });

export const categorySchema = z
  .object({
    id: idSchema,
    label: nonEmpty,
    description: z.string().optional(),
    /** Words or phrases that count as evidence; the label's words always count. */
    keywords: z.array(nonEmpty).optional(),
    /**
     * Texts scored against the image's embedding with the embedding model's text tower
     * ("a photo of a beach"): zero-shot evidence that needs no word of the record.
     */
    prompts: z.array(nonEmpty).max(16, 'at most 16 prompts per category').optional(),
    /** Cosine a prompt needs to count; the embedding task's minSimilarity otherwise. */
    minSimilarity: z.number().min(-1).max(1).optional(),
  })
  .strict()
  .superRefine((category, ctx) => {
    if (category.minSimilarity !== undefined && !category.prompts) {
      ctx.addIssue({ code: 'custom', path: ['minSimilarity'], message: 'minSimilarity needs prompts' });
    }
  });

export const questionsConfigSchema = z
  .object({
    questions: z.array(questionSchema).default([]),
    categories: z.array(categorySchema).default([]),
  })
  .strict()
  .superRefine((config, ctx) => {
    for (const list of ['questions', 'categories'] as const) {
      const seen = new Set<string>();
      config[list].forEach((item, index) => {
        if (seen.has(item.id)) {
          ctx.addIssue({ code: 'custom', path: [list, index, 'id'], message: `duplicate id '${item.id}'` });
        }
        seen.add(item.id);
      });
    }
  });

export type AnswerType = (typeof ANSWER_TYPES)[number];
export type Question = z.infer<typeof questionSchema>;
export type Category = z.infer<typeof categorySchema>;
export type QuestionsConfig = z.infer<typeof questionsConfigSchema>;

/** Whether any category carries prompts (scoring them needs the embedding model's text tower). */
export function hasCategoryPrompts(config: QuestionsConfig | undefined): boolean {
  return config?.categories.some((category) => (category.prompts?.length ?? 0) > 0) ?? false;
}

/** Whether a deployment asks any question (a config may list only categories, or be absent). */
export function asksQuestions(config: QuestionsConfig | undefined): config is QuestionsConfig {
  return (config?.questions.length ?? 0) > 0;
}

export const EMPTY_QUESTIONS_CONFIG: QuestionsConfig = Object.freeze({ questions: [], categories: [] });

/** The repository's default, shipped with an empty question list (questions need the VLM download). */
export const DEFAULT_QUESTIONS_FILE = packagePath('config', 'questions.json');

/** `questions[1].id` for zod's path ['questions', 1, 'id']. */
export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`))
    .join('');
}

function issueMessage(issue: z.core.$ZodIssue, raw: unknown): string {
  const got = describeReceived(valueAtPath(raw, issue.path));
  switch (issue.code) {
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')} but received ${got}`;
    case 'unrecognized_keys':
      return `unknown field(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
    case 'invalid_type':
      return `expected ${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected} but received ${got}`;
    case 'custom':
      return issue.message;
    default:
      return `${issue.message} (received ${got})`;
  }
}

/**
 * Validates parsed JSON. `source` names where it came from (a file path, an env var). Throws a
 * ConfigError naming the first bad field; an unknown key is one too, so a typo cannot pass unnoticed.
 */
export function parseQuestionsConfig(raw: unknown, source: string): QuestionsConfig {
  const parsed = questionsConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const [first] = parsed.error.issues;
    const field = first && first.path.length > 0 ? fieldPath(first.path) : 'the questions config';
    const message = first ? issueMessage(first, raw) : 'invalid';
    throw new ConfigError(`${field} in ${source}: ${message}`, { cause: parsed.error });
  }
  return deepFreeze(parsed.data);
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`Expected JSON in ${source} but it does not parse: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** Reads and validates a questions file; a missing or unreadable file is a ConfigError naming it. */
export function loadQuestionsFile(path: string): QuestionsConfig {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError(`Expected a questions file at ${file} but it cannot be read (${code})`, {
      cause: error,
    });
  }
  return parseQuestionsConfig(parseJson(text, file), file);
}

/**
 * The value of QUESTIONS_CONFIG: inline JSON (what infra/ sets, since a Lambda has no repo files)
 * when it starts with `{`, otherwise a path. Unset: the repo's default file, or none when the
 * default file is not shipped (a Lambda bundle without QUESTIONS_CONFIG asks nothing).
 */
export function readQuestionsConfig(value: string | undefined, name = 'QUESTIONS_CONFIG'): QuestionsConfig {
  const raw = value?.trim();
  if (!raw) {
    return existsSync(DEFAULT_QUESTIONS_FILE)
      ? loadQuestionsFile(DEFAULT_QUESTIONS_FILE)
      : EMPTY_QUESTIONS_CONFIG;
  }
  if (raw.startsWith('{')) return parseQuestionsConfig(parseJson(raw, name), name);
  return loadQuestionsFile(raw);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
