import '../node-support.ts';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createFastRuntime, readAwsConfig } from '#adapters/aws-runtime.ts';
import { LambdaFastTrigger, S3ObjectStore, SqsJobQueue } from '#adapters/index.ts';
import {
  ENV,
  type Env,
  expected,
  type FastStageTrigger,
  type JobQueue,
  keptAsideSentence,
  readModelsDir,
  toBeKeptAsideSentence,
} from '#engine/index.ts';
import { ModelRegistry } from '#engine/models/registry.ts';
import {
  type BackfillSummary,
  backfill,
  currentModelsOf,
  type DetailedJob,
  describeUploadedObject,
  keptAsideKeyFor,
  objectsCreated,
  readKeyLayout,
  s3EventFor,
} from '#engine/pipeline/index.ts';
import { currentQuestionKeys, readQuestionsConfig } from '#engine/questions/index.ts';

export const BACKFILL_USAGE = `Usage: npm run backfill -- [options]

Finds every object under the input prefix whose sidecar is missing or stale (another ETag, or
made by other models than the manifest names) and enqueues it:
  caption or vector missing or stale → the fast stage (it rewrites the sidecar and queues the
                              detailed job; a missing vector alone keeps the caption)
  only detailed stale       → a job on the detailed queue (a changed category list or
                              question: re-scored or asked without describing again)
Failed sidecars stay as they are (the failure is final for those bytes). A sidecar that cannot be
read (not JSON, or not a description) counts as missing: it is named on stderr, and the fast stage
keeps its bytes as <sidecar>.corrupt before describing the image again.

Options:
  --dry-run               list and count, send nothing
  --fast-function <name>  fast Lambda to invoke asynchronously (default $FAST_FUNCTION_NAME)
  --in-process            run the fast stage here instead, with the local models (small sets, local servers)
  --models <dir>          model set whose manifest is "current" (default $${ENV.MODELS_DIR} or ./models)
  --questions <file>      the deployment's questions and categories (default $${ENV.QUESTIONS_CONFIG}
                          or config/questions.json, as cdk deploy)
  --bucket <name>         default $${ENV.BUCKET_NAME}
  --queue-url <url>       detailed queue (default $${ENV.DETAILED_QUEUE_URL})
  --json                  print the summary as JSON
  -h, --help              show this help

Prefixes come from $${ENV.INPUT_PREFIX} / $${ENV.SIDECAR_PREFIX}; a local server from $AWS_ENDPOINT_URL.
Exit status: 0 done, 1 a request failed, 2 a usage or set-up error.`;

const OPTIONS = {
  'dry-run': { type: 'boolean', default: false },
  'fast-function': { type: 'string' },
  'in-process': { type: 'boolean', default: false },
  models: { type: 'string' },
  questions: { type: 'string' },
  bucket: { type: 'string' },
  'queue-url': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export interface BackfillOutput {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown; isTTY?: boolean };
}

class UsageError extends Error {}

const parseOptions = (args: readonly string[]) =>
  parseArgs({ args: [...args], options: OPTIONS, allowPositionals: false });

const total = (tally: Partial<Record<string, number>>) =>
  Object.values(tally).reduce((sum: number, count) => sum + (count ?? 0), 0);

function formatTally(tally: Partial<Record<string, number>>): string {
  const parts = Object.entries(tally).map(([reason, count]) => `${reason} ${count}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

export function formatSummary(summary: BackfillSummary, where: string): string {
  const verb = summary.dryRun ? 'would queue' : 'queued';
  return [
    `Scanned ${summary.scanned} objects under ${where}: ${summary.upToDate} up to date, ${verb} ${summary.queued}${summary.dryRun ? ' (dry run: nothing sent)' : ''}`,
    `  fast stage: ${total(summary.fast)}${formatTally(summary.fast)}`,
    `  detailed queue: ${total(summary.detailed)}${formatTally(summary.detailed)}`,
    '',
  ].join('\n');
}

/** `npm run backfill`: returns the exit status. */
export async function runBackfillCommand(
  argv: readonly string[],
  env: Env,
  output: BackfillOutput,
): Promise<number> {
  let values: ReturnType<typeof parseOptions>['values'];
  try {
    ({ values } = parseOptions(argv));
  } catch (error) {
    output.stderr.write(`${(error as Error).message}\n\n${BACKFILL_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    output.stdout.write(`${BACKFILL_USAGE}\n`);
    return 0;
  }
  try {
    const bucket = values.bucket ?? env[ENV.BUCKET_NAME];
    if (!bucket) throw new UsageError(expected('a bucket name', `--bucket or $${ENV.BUCKET_NAME}`, bucket));
    const dryRun = values['dry-run'];
    const queueUrl = values['queue-url'] ?? env[ENV.DETAILED_QUEUE_URL];
    const functionName = values['fast-function'] ?? env.FAST_FUNCTION_NAME;
    if (!dryRun && !queueUrl) {
      throw new UsageError(
        expected('the detailed queue URL', `--queue-url or $${ENV.DETAILED_QUEUE_URL}`, queueUrl),
      );
    }
    if (!dryRun && !functionName && !values['in-process']) {
      throw new UsageError(
        expected('a way to run the fast stage', '--fast-function or --in-process', undefined),
      );
    }
    const modelsDir = resolve(readModelsDir(env, values.models));
    // Opening the registry reads the manifest and loads no model.
    const registry = await ModelRegistry.open({ modelsDir, threads: 0 });
    const questions = readQuestionsConfig(values.questions ?? env[ENV.QUESTIONS_CONFIG]);
    const models = {
      ...currentModelsOf(registry.manifest),
      ...currentQuestionKeys(registry, questions),
    };
    const layout = readKeyLayout(env);
    const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
    const store = new S3ObjectStore({ bucket, endpoint });
    const queue: JobQueue<DetailedJob> = new SqsJobQueue<DetailedJob>({
      queueUrl: queueUrl ?? '',
      endpoint: env.AWS_ENDPOINT_URL_SQS || env.AWS_ENDPOINT_URL || undefined,
    });
    const say = (line: string) => output.stderr.write(`${line}\n`);
    const inProcess = !dryRun && values['in-process'];
    const fast = dryRun
      ? { trigger: async () => {} }
      : inProcess
        ? inProcessTrigger(
            {
              ...env,
              [ENV.BUCKET_NAME]: bucket,
              [ENV.DETAILED_QUEUE_URL]: queueUrl,
              [ENV.MODELS_DIR]: modelsDir,
              ...(values.questions ? { [ENV.QUESTIONS_CONFIG]: values.questions } : {}),
            },
            say,
          )
        : new LambdaFastTrigger({ functionName: functionName ?? '' });

    const progress = progressLine(output);
    const summary = await backfill(
      { store, layout, models, bucket, queue, fast },
      {
        dryRun,
        onProgress: progress.update,
        // In this process the fast stage says it itself, once it has kept the bytes aside.
        ...(inProcess
          ? {}
          : {
              onUnreadable: ({ sidecarKey, reason }) =>
                say(toBeKeptAsideSentence(sidecarKey, keptAsideKeyFor(sidecarKey), reason, { dryRun })),
            }),
      },
    );
    progress.done();
    const where = `s3://${bucket}/${layout.inputPrefix}`;
    output.stdout.write(values.json ? `${JSON.stringify(summary)}\n` : formatSummary(summary, where));
    return 0;
  } catch (error) {
    output.stderr.write(`backfill: ${(error as Error).message}\n`);
    return error instanceof UsageError || (error as { code?: string }).code === 'INVALID_CONFIG' ? 2 : 1;
  }
}

/**
 * The fast stage in this process, with the local models: the use case the fast Lambda runs. The
 * models load on the first image that needs it, so a run with nothing stale loads nothing. What
 * the fast Lambda would log about an unreadable sidecar it kept aside goes to `say`.
 */
function inProcessTrigger(env: Env, say: (line: string) => void): FastStageTrigger {
  let runtime: ReturnType<typeof createFastRuntime> | undefined;
  return {
    trigger: async (object) => {
      runtime ??= createFastRuntime(readAwsConfig(env, 'fast'));
      const { deps } = await runtime;
      for (const created of objectsCreated(s3EventFor([object]))) {
        const outcome = await describeUploadedObject(deps, created);
        if (outcome.kind !== 'skipped' && outcome.keptAside) {
          say(keptAsideSentence(outcome.sidecarKey, outcome.keptAside.key, outcome.keptAside.reason));
        }
      }
    },
  };
}

/** Progress on stderr: rewritten in place on a terminal, a line every 100 objects otherwise. */
function progressLine(output: BackfillOutput) {
  let last = { scanned: 0, queued: 0 };
  const tty = Boolean(output.stderr.isTTY);
  return {
    update: (progress: { scanned: number; queued: number }) => {
      last = progress;
      if (tty) output.stderr.write(`\rscanned ${progress.scanned}, queued ${progress.queued}`);
      else if (progress.scanned % 100 === 0 && progress.scanned > 0)
        output.stderr.write(`scanned ${progress.scanned}, queued ${progress.queued}\n`);
    },
    done: () => {
      if (tty) output.stderr.write(`\rscanned ${last.scanned}, queued ${last.queued}\n`);
    },
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await runBackfillCommand(process.argv.slice(2), process.env, {
    stdout: process.stdout,
    stderr: process.stderr,
  });
}
