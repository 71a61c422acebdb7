import {
  type DescribeEngine,
  DescribeError,
  type EngineSettings,
  type Env,
  readEngineSettings,
} from '#engine/index.ts';
import type { ModelMode } from '#engine/models/index.ts';
import { asksQuestions, loadQuestionsFile } from '#engine/questions/index.ts';
import type { CommandOutput } from './describe-command.ts';

/**
 * Engine settings for a CLI command. OCR_STAGE splits the work between two deployed functions;
 * the CLI runs the stages itself, so it reads text in every mode unless OCR is turned off.
 */
export function cliEngineSettings(
  env: Env,
  overrides: { modelsDir?: string; threads?: number; questionsFile?: string },
): EngineSettings {
  const configured = readEngineSettings(env, {
    ...(overrides.modelsDir ? { modelsDir: overrides.modelsDir } : {}),
    ...(overrides.threads !== undefined ? { threads: overrides.threads } : {}),
    ...(overrides.questionsFile ? { questions: loadQuestionsFile(overrides.questionsFile) } : {}),
  });
  return Object.freeze({
    ...configured,
    ocrStage: configured.ocrStage === 'off' ? ('off' as const) : ('fast' as const),
  });
}

/** `--threads` as the describe and eval commands take it: a whole number, or undefined when not given. */
export function readThreadsOption(
  value: string | undefined,
  usageError: new (message: string) => Error,
): number | undefined {
  if (value === undefined) return undefined;
  const threads = Number(value);
  if (!Number.isInteger(threads) || threads < 0)
    throw new usageError(`--threads must be a whole number (not "${value}"), e.g. --threads 2.`);
  return threads;
}

/**
 * The models a mode needs that are not installed (none: an empty list).
 * `questions`: the questions model counts too, when questions are configured (eval scores the
 * answers; describe lets them wait for the optional model instead).
 */
function missingFor(engine: DescribeEngine, mode: ModelMode, options: { questions?: boolean }) {
  // fast mode runs the fast stage's tasks only; normal mode both stages'.
  return engine.models.missingModels({
    ...(mode === 'fast' ? { stage: 'fast' as const } : {}),
    // createEngine refuses configured questions without a questions task, so the task is there.
    ...(options.questions && mode !== 'fast' && asksQuestions(engine.settings.questions)
      ? { tasks: ['caption', 'objects', 'detailed', 'questions'] as const }
      : {}),
  });
}

/** What to tell the user when models a mode needs are not installed; undefined when all are there. */
export function missingModelsMessage(
  engine: DescribeEngine,
  mode: ModelMode,
  options: { questions?: boolean } = {},
): string | undefined {
  const missing = missingFor(engine, mode, options);
  if (missing.length === 0) return undefined;
  const list = missing.map((m) => `  - ${m.tasks.join(', ')}: ${m.id} (expected in ${m.dir})`).join('\n');
  return (
    `Models are not installed in ${engine.settings.modelsDir}:\n${list}\n` +
    'Run `npm run models:fetch` to download them (`-- --all` for the questions model), or point --models (or MODELS_DIR) at another model set,\n' +
    'e.g. the test models: `npm run fixtures -- --out /tmp/fixture-models` then `--models /tmp/fixture-models`.\n'
  );
}

/**
 * The one line `describe` prints when it goes on without some models: what is missing, what is
 * described anyway, how to get the rest. Only called when something is missing.
 */
export function withoutModelsLine(engine: DescribeEngine, mode: ModelMode): string {
  const missing = missingFor(engine, mode, {});
  const tasks = [...new Set(missing.flatMap((m) => m.tasks))].map((t) =>
    t === 'detailed' ? 'detailed description' : t,
  );
  const what = tasks.length > 1 ? `${tasks.slice(0, -1).join(', ')} and ${tasks.at(-1)}` : tasks[0];
  const ids = missing.map((m) => m.id).join(', ');
  return (
    `No ${what} yet: ${ids} not installed in ${engine.settings.modelsDir}; colours, image facts and text need no model and are described. ` +
    'Get the models with `npm run models:fetch` (or try the tiny test models: `npm run fixtures -- --out /tmp/m`, then --models /tmp/m); --require-models stops instead.'
  );
}

/**
 * How a command ends on an error it did not handle: a usage error prints its message and the
 * usage, a set-up error (bad config, unreadable folder) its code and message, both exit 2;
 * anything else is a bug and is thrown.
 */
export function commandErrorExit(
  error: unknown,
  output: CommandOutput,
  command: { usageError: new (message: string) => Error; usage: string },
): 2 {
  if (error instanceof command.usageError) {
    output.stderr.write(`${error.message}\n\n${command.usage}\n`);
    return 2;
  }
  if (error instanceof DescribeError) {
    output.stderr.write(`${error.code}: ${error.message}\n`);
    return 2;
  }
  throw error;
}
