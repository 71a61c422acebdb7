import { parseArgs } from 'node:util';
import { type DescribeEngine, ENV, type Env } from '#engine/index.ts';
import { modeSchema } from '#engine/models/index.ts';
import type { CommandOutput } from './describe-command.ts';
import {
  cliEngineSettings,
  commandErrorExit,
  missingModelsMessage,
  readThreadsOption,
  withoutModelsLine,
} from './engine-setup.ts';

export const USAGE = `Usage: image-describer describe <file-or-folder>... [options]

Describes images: caption, main colours, text found, and (--mode normal) a detailed description.
A single file prints its description; files in folders get a <file>.description.json sidecar.

Options:
  --mode fast|normal   fast: caption, colours, text (default); normal: adds the detailed description
  --json               print the raw description record (JSON; one line per file in batches)
  --out <dir>          write sidecars into <dir> instead of beside the images
  --models <dir>       model set to use (manifest.json + model folders); default $${ENV.MODELS_DIR} or ./models
  --threads <n>        onnxruntime intra-op threads (default: one per core)
  --questions <file>   questions and categories (default $${ENV.QUESTIONS_CONFIG} or config/questions.json)
  --recursive          also describe images in subfolders
  --force              describe again images whose sidecar is already up to date (skipped otherwise)
  --require-models     stop (exit 2) when a model the mode needs is not installed, instead of
                       describing what needs no model (colours, image facts, text)
  -h, --help           show this help

Text in the image is read in both modes (OCR_STAGE=off turns it off).
Exit status: 0 when every file was described (or was already), 1 when any failed, 2 on a usage or
set-up error.

Also: image-describer eval <folder>  scores a model set on labelled images (eval --help).
      image-describer search <words>  finds described images in a folder of sidecars (search --help).`;

/** A command line we cannot run: the message says what was wrong and what to type instead. */
export class UsageError extends Error {}

/** node:util parseArgs speaks to developers ("Unknown option '--x'. To specify a positional…"). */
export function usageSentence(parseArgsMessage: string): string {
  const option = /'(-{1,2}[^']+)'/.exec(parseArgsMessage)?.[1];
  if (/^Unknown option/.test(parseArgsMessage) && option) {
    return `There is no option ${option}: see the options below.`;
  }
  if (/argument missing/.test(parseArgsMessage) && option) {
    return `The option ${option} needs a value, e.g. ${option.split(' ')[0]} <value>: see the options below.`;
  }
  return `${parseArgsMessage.replace(/\.$/, '')}: see the options below.`;
}

const OPTIONS = {
  mode: { type: 'string', default: 'fast' },
  json: { type: 'boolean', default: false },
  out: { type: 'string' },
  models: { type: 'string' },
  threads: { type: 'string' },
  questions: { type: 'string' },
  recursive: { type: 'boolean', default: false },
  force: { type: 'boolean', default: false },
  'require-models': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function parseRaw(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], allowPositionals: true, options: OPTIONS });
  } catch (error) {
    throw new UsageError(usageSentence((error as Error).message));
  }
}

function parseCommandLine(argv: readonly string[]) {
  const parsed = parseRaw(argv);
  const { values, positionals } = parsed;
  const [command, ...paths] = positionals;
  if (values.help || command === 'help') return { help: true as const };
  if (command === undefined) throw new UsageError('Name a command, e.g. image-describer describe photo.jpg.');
  if (command !== 'describe')
    throw new UsageError(
      `There is no command "${command}": use describe, eval or search, e.g. image-describer describe photo.jpg.`,
    );
  if (paths.length === 0)
    throw new UsageError(
      'Name at least one image or folder to describe, e.g. image-describer describe photo.jpg.',
    );
  const mode = modeSchema.safeParse(values.mode);
  if (!mode.success) {
    throw new UsageError(
      `--mode must be fast or normal (not "${values.mode}"), e.g. --mode normal for the detailed description too.`,
    );
  }
  const threads = readThreadsOption(values.threads, UsageError);
  return {
    help: false as const,
    paths,
    mode: mode.data,
    json: values.json,
    outDir: values.out,
    modelsDir: values.models,
    threads,
    questionsFile: values.questions,
    recursive: values.recursive,
    force: values.force,
    requireModels: values['require-models'],
  };
}

/** The CLI as a function of its arguments, environment and streams; returns the exit status. */
export async function runCli(argv: readonly string[], env: Env, output: CommandOutput): Promise<number> {
  // Each command loads what it uses when it runs: `--help` and `search` never load the models.
  if (argv[0] === 'eval') return (await import('./eval-command.ts')).runEvalCli(argv.slice(1), env, output);
  if (argv[0] === 'search')
    return (await import('./search-command.ts')).runSearchCli(argv.slice(1), output, env);
  let engine: DescribeEngine | undefined;
  try {
    const args = parseCommandLine(argv);
    if (args.help) {
      output.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const [{ createEngine }, { runDescribeCommand }] = await Promise.all([
      import('#engine/wiring.ts'),
      import('./describe-command.ts'),
    ]);
    engine = await createEngine(
      cliEngineSettings(env, {
        ...(args.modelsDir ? { modelsDir: args.modelsDir } : {}),
        ...(args.threads !== undefined ? { threads: args.threads } : {}),
        ...(args.questionsFile ? { questionsFile: args.questionsFile } : {}),
      }),
      // One command, often one photo: a warm-up read would cost as much as the photo's own.
      { warmUpOcr: false },
    );
    const missing = missingModelsMessage(engine, args.mode);
    if (missing && args.requireModels) {
      output.stderr.write(missing);
      return 2;
    }
    // Colours, image facts and text need no downloaded model: describe them and say what waits.
    if (missing) output.stderr.write(`${withoutModelsLine(engine, args.mode)}\n`);
    const summary = await runDescribeCommand(engine, args, output);
    return summary.failed.length > 0 ? 1 : 0;
  } catch (error) {
    return commandErrorExit(error, output, { usageError: UsageError, usage: USAGE });
  } finally {
    await engine?.models.dispose();
  }
}
