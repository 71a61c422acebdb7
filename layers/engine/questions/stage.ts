import { performance } from 'node:perf_hooks';
import { categoriesProvenance, categorise, promptEvidenceOf } from '../categories/categorise.ts';
import type { PromptVectors } from '../categories/prompt-vectors.ts';
import { ConfigError, expected, ModelNotFoundError } from '../errors.ts';
import { checkConsistency, type GuardStage } from '../guard/check.ts';
import type { RgbImage } from '../image/types.ts';
import { DEFAULT_MIN_SIMILARITY } from '../models/manifest.ts';
import { sameProvenance } from '../models/provenance.ts';
import type { ImageEncodings, ModelRegistry } from '../models/registry.ts';
import { markFresh } from '../record/merge.ts';
import type { DescriptionRecord, ModelProvenance } from '../record/schema.ts';
import { elapsedMs } from '../timing.ts';
import { answerQuestions, currentAnswerKeys, type QuestionAsker } from './answer.ts';
import { asksQuestions, hasCategoryPrompts, type QuestionsConfig } from './config.ts';

/**
 * The engine's steps for questions, categories and the guard, kept out of engine.ts so that the
 * engine only calls them: answer (detailed stage), then categorise and check (end of each stage).
 */

type Registry = Pick<ModelRegistry, 'taskSpec' | 'provenance' | 'modelRunner' | 'answer'>;

/** The questions task's provenance, or undefined when the manifest has none. */
export function questionsModel(
  registry: Pick<Registry, 'taskSpec' | 'provenance'>,
): ModelProvenance | undefined {
  return registry.taskSpec('questions') ? registry.provenance('questions') : undefined;
}

/**
 * Start-up check: configured questions need a questions task in the manifest (its files may still be
 * missing: the answers then wait for `npm run models:fetch -- --all`).
 */
export function checkQuestionsModel(
  registry: Pick<Registry, 'taskSpec' | 'provenance'> & { readonly modelsDir: string },
  config: QuestionsConfig | undefined,
): void {
  if (!asksQuestions(config) || questionsModel(registry)) return;
  throw new ConfigError(
    expected(
      `a tasks.questions entry in ${registry.modelsDir}/manifest.json (a prompt-capable model) for questions[0] '${config.questions[0]?.id}'`,
      'the model set',
      'none',
    ),
  );
}

/**
 * Start-up check: category prompts are scored with the embedding task's text tower, so they need
 * one in the manifest (its files may still be missing: the categories then wait for them).
 */
export function checkCategoryPromptsModel(
  registry: Pick<Registry, 'taskSpec'> & { readonly modelsDir: string },
  config: QuestionsConfig | undefined,
): void {
  if (!hasCategoryPrompts(config) || registry.taskSpec('embedding')) return;
  const category = config?.categories.find((c) => c.prompts?.length);
  throw new ConfigError(
    expected(
      `a tasks.embedding entry in ${registry.modelsDir}/manifest.json (a model with a text tower) for the prompts of categories '${category?.id}'`,
      'the model set',
      'none',
    ),
  );
}

/** The key of scoring this category list with this model set (its embedding model, for prompts). */
export function categoriesKey(
  registry: Pick<Registry, 'taskSpec' | 'provenance'>,
  categories: QuestionsConfig['categories'],
): ModelProvenance {
  const task = registry.taskSpec('embedding');
  return categoriesProvenance(
    categories,
    task
      ? {
          model: registry.provenance('embedding'),
          minSimilarity: task.minSimilarity ?? DEFAULT_MIN_SIMILARITY,
        }
      : undefined,
  );
}

/** What staleness compares: one key per configured question, and the category list's key. */
export function currentQuestionKeys(
  registry: Pick<Registry, 'taskSpec' | 'provenance'>,
  config: QuestionsConfig | undefined,
): { questions?: Record<string, ModelProvenance>; categories?: ModelProvenance } {
  const model = questionsModel(registry);
  return {
    ...(model && asksQuestions(config) ? { questions: currentAnswerKeys(model, config.questions) } : {}),
    ...(config && config.categories.length > 0
      ? { categories: categoriesKey(registry, config.categories) }
      : {}),
  };
}

/** The registry's questions task as an asker: one model load, the image's vision pass shared. */
export function registryAsker(
  registry: Registry,
  encodings: ImageEncodings = new Map(),
): () => Promise<QuestionAsker> {
  return async () => {
    const task = registry.taskSpec('questions');
    if (!task)
      throw new ModelNotFoundError('The model set has no questions task (tasks.questions in manifest.json)');
    await registry.modelRunner(task.model);
    return {
      provenance: registry.provenance('questions'),
      async ask(image: RgbImage, prompt: string, options = {}) {
        const generation = options.maxTokens ? { max_new_tokens: options.maxTokens } : undefined;
        const { answer } = await registry.answer('questions', image, { prompt, encodings, generation });
        if (answer.kind !== 'text')
          throw new ConfigError(expected('a text answer', 'the questions task', answer.kind));
        return answer.text;
      },
      dispose: async () => {},
    };
  };
}

/** Detailed stage: answers the questions that have no current answer; earlier answers stay. */
export async function answerStage(
  record: DescriptionRecord,
  image: RgbImage,
  registry: Registry,
  config: QuestionsConfig | undefined,
  now: Date,
  encodings?: ImageEncodings,
): Promise<{ record: DescriptionRecord; answersMs?: number }> {
  const model = questionsModel(registry);
  if (!asksQuestions(config) || !model) {
    // No questions configured (any more): old answers go, they answer nothing that is asked.
    const { answers: _dropped, ...rest } = record;
    return { record: record.answers ? rest : record };
  }
  const started = performance.now();
  const result = await answerQuestions({
    questions: config.questions,
    model,
    loadAsker: registryAsker(registry, encodings),
    image,
    previous: record.answers,
    previousStale: record.stale,
    now,
  });
  const stale = { ...record.stale };
  // Answered afresh: the marks of a failed or waiting earlier run go (the kept ones come back below).
  for (const key of Object.keys(stale))
    if (key === 'answers' || key.startsWith('answers.')) delete stale[key];
  Object.assign(stale, result.stale);
  const { stale: _old, ...rest } = record;
  return {
    record: { ...rest, answers: result.answers, ...(Object.keys(stale).length > 0 ? { stale } : {}) },
    answersMs: elapsedMs(started),
  };
}

/** How the categories are scored in this run: the key they get, and the prompts' vectors. */
export interface CategoryScoring {
  /** categoriesKey of the configured list. */
  readonly key: ModelProvenance;
  readonly prompts?: PromptVectors;
  /**
   * Why the prompts could not be scored (the embedding model is missing): the categories are
   * scored on the other evidence and marked stale, so a later run with the model scores them again.
   */
  readonly waiting?: { readonly now: Date };
}

/**
 * End of a stage: categories from the configured list (none configured: the field is left out),
 * then the guard's checks over what the stage produced. Neither runs an image model; prompts come
 * as vectors (`scoring`), embedded once per process.
 */
export function categoriseAndCheck(
  record: DescriptionRecord,
  stage: GuardStage,
  config: QuestionsConfig | undefined,
  scoring?: CategoryScoring,
): { record: DescriptionRecord; categoriesMs?: number; checksMs: number } {
  let categoriesMs: number | undefined;
  let next = record;
  if (config && config.categories.length > 0) {
    const started = performance.now();
    const key = scoring?.key ?? categoriesProvenance(config.categories);
    const since = next.stale?.categories?.since;
    // Without the text tower, prompt matches already scored for this list and embedding model
    // are carried over (the image vector is the same); only a record never scored with them waits.
    const scoredWithPrompts =
      scoring?.waiting !== undefined &&
      next.stale?.categories === undefined &&
      sameProvenance(next.models.categories, key);
    const carried = scoredWithPrompts ? promptEvidenceOf(next.categories) : undefined;
    next = markFresh(
      {
        ...next,
        categories: categorise(next, config.categories, scoring?.prompts, carried),
        models: { ...next.models, categories: key },
      },
      ['categories'],
    );
    if (scoring?.waiting && !scoredWithPrompts) {
      const mark = {
        reason: 'waiting-for-models',
        replacement: key,
        since: since ?? scoring.waiting.now.toISOString(),
      };
      next = { ...next, stale: { ...next.stale, categories: mark } };
    }
    categoriesMs = elapsedMs(started);
  } else if (next.categories !== undefined) {
    // No categories configured any more: the old matches name a list nobody uses.
    const { categories: _dropped, ...rest } = markFresh(next, ['categories']);
    const { categories: _model, ...models } = rest.models;
    next = { ...rest, models };
  }
  const started = performance.now();
  next = { ...next, checks: checkConsistency(next, stage) };
  return { record: next, categoriesMs, checksMs: elapsedMs(started) };
}
