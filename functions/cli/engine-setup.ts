import type { DescribeEngine } from '#engine/engine.ts';
import { DescribeError } from '#engine/errors.ts';
import type { ModelMode } from '#engine/models/manifest.ts';
import { asksQuestions, loadQuestionsFile } from '#engine/questions/config.ts';
import { type EngineSettings, readEngineSettings } from '#engine/settings.ts';
import type { CommandOutput } from './describe-command.ts';

/**
 * Engine settings for a CLI command. OCR_STAGE splits the work between two deployed functions;
 * the CLI runs the stages itself, so it reads text in every mode unless OCR is turned off.
 */
export function cliEngineSettings(
  env: Readonly<Record<string, string | undefined>>,
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

/**
 * What to tell the user when models a mode needs are not installed; undefined when all are there.
 * `questions`: the questions model counts too, when questions are configured (eval scores the
 * answers; describe lets them wait for the optional model instead).
 */
export function missingModelsMessage(
  engine: DescribeEngine,
  mode: ModelMode,
  options: { questions?: boolean } = {},
): string | undefined {
  // fast mode runs the fast stage's tasks only; normal mode both stages'.
  const missing = engine.models.missingModels({
    ...(mode === 'fast' ? { stage: 'fast' as const } : {}),
    // createEngine refuses configured questions without a questions task, so the task is there.
    ...(options.questions && mode !== 'fast' && asksQuestions(engine.settings.questions)
      ? { tasks: ['caption', 'objects', 'detailed', 'questions'] as const }
      : {}),
  });
  if (missing.length === 0) return undefined;
  const list = missing.map((m) => `  - ${m.tasks.join(', ')}: ${m.id} (expected in ${m.dir})`).join('\n');
  return (
    `Models are not installed in ${engine.settings.modelsDir}:\n${list}\n` +
    'Run `npm run models:fetch` to download them (`-- --all` for the questions model), or point --models (or MODELS_DIR) at another model set,\n' +
    'e.g. the test models: `npm run fixtures -- --out /tmp/fixture-models` then `--models /tmp/fixture-models`.\n'
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
