import { createHash } from 'node:crypto';
import { errorCodeOf, ModelNotFoundError } from '../errors.ts';
import type { RgbImage } from '../image/types.ts';
import { sameProvenance } from '../models/provenance.ts';
import type { Answer, ModelProvenance, StaleField } from '../record/schema.ts';
import type { Question } from './config.ts';
import { parseAnswer, promptFor, UNPARSEABLE_ANSWER } from './parse.ts';

/** A loaded prompt-capable VLM: one image, any prompt. */
export interface QuestionAsker {
  readonly provenance: ModelProvenance;
  ask(image: RgbImage, prompt: string, options?: { readonly maxTokens?: number }): Promise<string>;
  dispose(): Promise<void>;
}

/**
 * Provenance of one answer: the model's, with a prompt hash over the model's own prompt hash and
 * this question's prompt, type, options and token limit. Editing one question changes only its key,
 * so only that question is asked again.
 */
export function questionProvenance(model: ModelProvenance, question: Question): ModelProvenance {
  const material = JSON.stringify({
    model: model.promptHash,
    prompt: question.prompt,
    type: question.type,
    options: question.options ?? null,
    maxTokens: question.maxTokens ?? null,
  });
  return { ...model, promptHash: createHash('sha256').update(material).digest('hex').slice(0, 16) };
}

/** The answer keys the current config and model would produce, by question id. */
export function currentAnswerKeys(
  model: ModelProvenance,
  questions: readonly Question[],
): Record<string, ModelProvenance> {
  return Object.fromEntries(questions.map((q) => [q.id, questionProvenance(model, q)]));
}

/** The stale mark of an earlier good answer kept because this key's reply did not parse. */
const KEPT_AFTER_UNPARSEABLE = `failed: ${UNPARSEABLE_ANSWER}`;

/**
 * Whether a stored answer is final for this key: same question and model, and either answered or
 * answered with a reply of the wrong type (asking the same model again gives the same reply). Any
 * other error (model missing, a crash) is asked again. `mark` is the answer's stale mark: an
 * earlier good answer kept after this key's reply did not parse is final too.
 */
export function isAnswerCurrent(
  answer: Answer | undefined,
  key: ModelProvenance,
  mark?: StaleField,
): boolean {
  if (mark?.reason === KEPT_AFTER_UNPARSEABLE && mark.replacement && sameProvenance(mark.replacement, key))
    return answer !== undefined;
  if (!answer || !sameProvenance(answer.model, key)) return false;
  return !answer.error || answer.error.code === UNPARSEABLE_ANSWER;
}

export interface AnswerInput {
  readonly questions: readonly Question[];
  /** Provenance of the questions model from the manifest (known without loading it). */
  readonly model: ModelProvenance;
  /** Loads the model on first need; a ModelNotFoundError makes every asked answer wait. */
  readonly loadAsker: () => Promise<QuestionAsker>;
  readonly image: RgbImage;
  readonly previous?: Readonly<Record<string, Answer>>;
  /** The record's stale marks (`answers.<id>`), so a kept answer keeps its mark. */
  readonly previousStale?: Readonly<Record<string, StaleField>>;
  readonly now: Date;
}

export interface AnswerResult {
  readonly answers: Record<string, Answer>;
  /** `answers.<id>` for each earlier good answer kept because its refresh could not run. */
  readonly stale: Record<string, StaleField>;
  /** How many questions were sent to the model. */
  readonly asked: number;
}

/**
 * Answers the configured questions that have no current answer and keeps the others. Never throws
 * for one question: a wrong-typed reply is an UNPARSEABLE_ANSWER error on that answer (value
 * absent), a missing model is MODEL_NOT_FOUND on each answer asked (retried on a later run), and an
 * earlier good answer is kept, marked stale, rather than replaced by an error. Questions no longer
 * configured are dropped.
 */
export async function answerQuestions(input: AnswerInput): Promise<AnswerResult> {
  const answers: Record<string, Answer> = {};
  const stale: Record<string, StaleField> = {};
  let asker: QuestionAsker | undefined;
  let loadError: unknown;
  let asked = 0;

  for (const question of input.questions) {
    const key = questionProvenance(input.model, question);
    const previous = input.previous?.[question.id];
    const mark = input.previousStale?.[`answers.${question.id}`];
    if (previous && isAnswerCurrent(previous, key, mark)) {
      answers[question.id] = previous;
      if (mark) stale[`answers.${question.id}`] = mark;
      continue;
    }
    if (!asker && loadError === undefined) {
      try {
        asker = await input.loadAsker();
      } catch (error) {
        loadError = error;
      }
    }
    let answer: Answer;
    if (!asker) {
      answer = failedAnswer(key, loadError);
    } else {
      asked += 1;
      try {
        const raw = await asker.ask(input.image, promptFor(question), { maxTokens: question.maxTokens });
        const parsed = parseAnswer(question, raw);
        answer =
          'value' in parsed
            ? { value: parsed.value, raw, model: key }
            : { raw, model: key, error: parsed.error };
      } catch (error) {
        answer = failedAnswer(key, error);
      }
    }
    // Not a success: an earlier good answer stays (a new model's unparseable reply included).
    if (previous?.value !== undefined && answer.error) {
      answers[question.id] = previous;
      stale[`answers.${question.id}`] = {
        reason:
          answer.error.code === 'MODEL_NOT_FOUND' ? 'waiting-for-models' : `failed: ${answer.error.code}`,
        replacement: key,
        since: mark?.since ?? input.now.toISOString(),
      };
    } else {
      answers[question.id] = answer;
    }
  }
  return { answers, stale, asked };
}

function failedAnswer(key: ModelProvenance, error: unknown): Answer {
  const code = error instanceof ModelNotFoundError ? 'MODEL_NOT_FOUND' : errorCodeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  return { raw: '', model: key, error: { code, message } };
}
