import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type EvalReport,
  type LatencySummary,
  type MetricValue,
  type ParsedReferences,
  parseReferences,
  runEval,
} from '#engine/eval/index.ts';
import { contentTypeForFileName } from '#engine/image/index.ts';
import { type DescribeInput, ENV, type Env, expected, SourceUnreadableError } from '#engine/index.ts';
import { type ModelMode, modeSchema } from '#engine/models/index.ts';
import { asksQuestions } from '#engine/questions/index.ts';
import { createEngine } from '#engine/wiring.ts';
import { type CommandOutput, progressReporter } from './describe-command.ts';
import {
  cliEngineSettings,
  commandErrorExit,
  missingModelsMessage,
  readThreadsOption,
} from './engine-setup.ts';
import { collectTargets } from './targets.ts';

/** Stated in docs/eval.md; a test checks the page says the same. */
export const EVAL_DEFAULTS = { mode: 'normal', referencesFile: 'references.jsonl' } as const;
const REFERENCES_FILE = EVAL_DEFAULTS.referencesFile;

export const EVAL_USAGE = `Usage: image-describer eval <folder> [options]

Describes every image listed in <folder>/${REFERENCES_FILE} and scores the results against it:
CIDEr-D and BLEU-4 (captions), OCR CER (text), category and answer accuracy, check counts,
latency p50/p95 per stage and peak RSS. See docs/eval.md for the references format.

Options:
  --references <file>  references file (default <folder>/${REFERENCES_FILE})
  --mode fast|normal   fast: caption, colours, text; normal: both stages (default)
  --json               print the report as JSON instead of a table
  --models <dir>       model set to evaluate (manifest.json + model folders); default $${ENV.MODELS_DIR} or ./models
  --threads <n>        onnxruntime intra-op threads (default: one per core)
  --questions <file>   questions and categories (default $${ENV.QUESTIONS_CONFIG} or config/questions.json)
  -h, --help           show this help

Exit status: 0 when the evaluation ran (bad lines and failed images are reported, not fatal),
2 on a usage or set-up error (no folder, no references file, no usable line, models missing).`;

class EvalUsageError extends Error {}

export interface EvalArgs {
  readonly folder: string;
  readonly referencesPath: string;
  readonly mode: ModelMode;
  readonly json: boolean;
  readonly modelsDir?: string;
  readonly threads?: number;
  readonly questionsFile?: string;
}

const OPTIONS = {
  references: { type: 'string' },
  mode: { type: 'string', default: EVAL_DEFAULTS.mode },
  json: { type: 'boolean', default: false },
  models: { type: 'string' },
  threads: { type: 'string' },
  questions: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function parseEvalArgs(argv: readonly string[]): EvalArgs | { help: true } {
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; allowPositionals: true; options: typeof OPTIONS }>
  >;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, options: OPTIONS });
  } catch (error) {
    throw new EvalUsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };
  const [folder, ...rest] = positionals;
  if (folder === undefined) throw new EvalUsageError('Expected a folder to evaluate but received nothing');
  if (rest.length > 0) throw new EvalUsageError(expected('one folder', 'eval', positionals.join(' ')));
  const mode = modeSchema.safeParse(values.mode);
  if (!mode.success) throw new EvalUsageError(expected('fast or normal', '--mode', values.mode));
  const threads = readThreadsOption(values.threads, EvalUsageError);
  return {
    folder,
    referencesPath: values.references ?? join(folder, REFERENCES_FILE),
    mode: mode.data,
    json: values.json,
    ...(values.models ? { modelsDir: values.models } : {}),
    ...(threads !== undefined ? { threads } : {}),
    ...(values.questions ? { questionsFile: values.questions } : {}),
  };
}

/** The folder and its references, checked before any model loads; a problem is a set-up error. */
async function readInputs(args: EvalArgs): Promise<ParsedReferences | string> {
  const folder = await stat(args.folder).catch(() => undefined);
  if (!folder?.isDirectory()) return `Cannot evaluate ${args.folder}: no such folder`;
  let content: string;
  try {
    content = await readFile(args.referencesPath, 'utf8');
  } catch {
    return (
      `Cannot evaluate ${args.folder}: no references file at ${args.referencesPath}\n` +
      `Write one JSON line per image, e.g. {"file":"red.png","captions":["a red square"]} (see docs/eval.md).`
    );
  }
  const parsed = parseReferences(content);
  if (parsed.lines.length === 0) {
    const bad = parsed.problems.map((p) => `\n  line ${p.line}: ${p.message}`).join('');
    return `Cannot evaluate ${args.folder}: ${args.referencesPath} has no usable line (${parsed.problems.length} bad)${bad}`;
  }
  return parsed;
}

async function loadImage(folder: string, file: string): Promise<DescribeInput> {
  const path = join(folder, file);
  try {
    const bytes = await readFile(path);
    return { bytes, source: { kind: 'file', path, contentType: contentTypeForFileName(path) } };
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(error);
    throw new SourceUnreadableError(`Cannot read ${path}: ${reason}`, { cause: error });
  }
}

const percent = (value: number) => `${(value * 100).toFixed(1)} %`;
const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;

function metricRow(name: string, metric: MetricValue, show: (v: number) => string, unit = 'image'): string[] {
  if (metric.value === null) {
    const why =
      metric.notProduced > 0
        ? `not produced by this model set (${plural(metric.notProduced, 'image')})`
        : 'no references';
    return [name, 'n/a', why];
  }
  const left = metric.notProduced > 0 ? `; not produced for ${plural(metric.notProduced, 'image')}` : '';
  return [name, show(metric.value), `${plural(metric.scored, unit)}${left}`];
}

function table(rows: readonly string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const ms = (value: number) => value.toFixed(1);

/** The report as a person reads it in a terminal. */
export function formatEvalReport(folder: string, report: EvalReport): string {
  const { metrics, images } = report;
  const lines: string[] = [];
  lines.push(
    `eval ${folder} (mode ${report.mode}): ${plural(images.evaluated, 'image')}, ${images.described} described, ${images.failed} failed`,
  );
  for (const [field, ids] of Object.entries(report.models)) lines.push(`  ${field}: ${ids.join(', ')}`);
  lines.push('');
  const checks = metrics.checks;
  const checkRow =
    checks.contradictedPer100Images === null
      ? ['contradicted / 100 images', 'n/a', 'no record has checks']
      : [
          'contradicted / 100 images',
          checks.contradictedPer100Images.toFixed(1),
          `${plural(checks.images, 'image')}: ${checks.contradicted} contradicted, ${checks.consistent} consistent, ${checks.unverifiable} unverifiable`,
        ];
  lines.push(
    table([
      ['metric', 'value', 'over'],
      metricRow('CIDEr-D', metrics.ciderD, (v) => v.toFixed(3)),
      metricRow('BLEU-4', metrics.bleu4, (v) => v.toFixed(3)),
      metricRow('BLEU-1', metrics.bleu1, (v) => v.toFixed(3)),
      metricRow('OCR CER', metrics.ocrCer, percent),
      metricRow('category accuracy', metrics.categoryAccuracy, percent),
      metricRow('answer accuracy', metrics.answerAccuracy, percent, 'answer'),
      checkRow,
    ]),
  );
  lines.push('');
  const latency = Object.entries(metrics.latencyMs) as Array<[string, LatencySummary]>;
  lines.push(
    table([
      ['latency (ms)', 'p50', 'p95', 'n'],
      ...latency.map(([key, l]) => [key, ms(l.p50), ms(l.p95), String(l.n)]),
    ]),
  );
  if (report.tokens) {
    lines.push(
      '',
      table([
        ['tokens (remote)', 'answers', 'input', 'output', 'per image in/out'],
        ...Object.entries(report.tokens).map(([model, t]) => [
          model,
          String(t.answers),
          String(t.inputTokens),
          String(t.outputTokens),
          `${t.perImage.inputTokens} / ${t.perImage.outputTokens}`,
        ]),
      ]),
    );
  }
  lines.push('', `peak RSS: ${report.peakRssMb} MB (whole process, model loading included)`);
  const failed = metrics.perImage.filter((image) => image.failed);
  if (failed.length > 0) {
    lines.push('', 'failed images (scored as empty):');
    for (const image of failed) lines.push(`  ✗ ${image.file}: ${image.failed}`);
  }
  return lines.join('\n');
}

/**
 * `image-describer eval <folder>`:
 * 1. check the folder and read references.jsonl (bad lines reported with their number, the rest kept);
 * 2. start the engine for the model set and stop early when its models are missing;
 * 3. describe and score every listed image (runEval), with progress on stderr;
 * 4. print the table (or --json) on stdout.
 */
export async function runEvalCli(argv: readonly string[], env: Env, output: CommandOutput): Promise<number> {
  let engine: Awaited<ReturnType<typeof createEngine>> | undefined;
  try {
    const args = parseEvalArgs(argv);
    if ('help' in args) {
      output.stdout.write(`${EVAL_USAGE}\n`);
      return 0;
    }
    const inputs = await readInputs(args);
    if (typeof inputs === 'string') {
      output.stderr.write(`${inputs}\n`);
      return 2;
    }
    for (const problem of inputs.problems)
      output.stderr.write(`✗ ${args.referencesPath} line ${problem.line}: ${problem.message}\n`);
    // An image whose line is bad was reported above with that line; it is not "not in the references".
    const named = [...inputs.lines.map((l) => l.file), ...inputs.problems.flatMap((p) => p.file ?? [])];
    const listed = new Set(named.map((file) => resolve(args.folder, file)));
    const { targets } = await collectTargets([args.folder], true);
    const unlisted = targets.filter((t) => !listed.has(resolve(t.path))).length;
    if (unlisted > 0)
      output.stderr.write(
        `${plural(unlisted, 'image')} in ${args.folder} not in the references: not evaluated\n`,
      );

    engine = await createEngine(cliEngineSettings(env, args));
    const missing = missingModelsMessage(engine, args.mode, { questions: true });
    if (missing) {
      output.stderr.write(missing);
      return 2;
    }
    // Loaded before timing starts, so the first image's latency is not the model load.
    for (const stage of args.mode === 'fast' ? (['fast'] as const) : (['fast', 'detailed'] as const))
      await engine.models.preload(stage);
    const questionsTask = engine.models.taskSpec('questions');
    if (args.mode !== 'fast' && questionsTask && asksQuestions(engine.settings.questions))
      await engine.models.modelRunner(questionsTask.model);
    const progress = progressReporter(output, inputs.lines.length, 'evaluating');
    const { models } = engine;
    const report = await runEval(engine, inputs.lines, {
      mode: args.mode,
      load: (file) => loadImage(args.folder, file),
      onImage: (file) => progress.step(file),
      tokenUsage: () => models.tokenUsage,
    });
    progress.stop();
    output.stdout.write(
      args.json
        ? `${JSON.stringify({ folder: args.folder, referenceProblems: inputs.problems, ...report }, null, 2)}\n`
        : `${formatEvalReport(args.folder, report)}\n`,
    );
    return 0;
  } catch (error) {
    return commandErrorExit(error, output, { usageError: EvalUsageError, usage: EVAL_USAGE });
  } finally {
    await engine?.models.dispose();
  }
}
