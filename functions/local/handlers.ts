import type { Context, S3Event, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import {
  createDetailedRuntime,
  createFastRuntime,
  currentModels,
  readAwsConfig,
} from '#adapters/aws-runtime.ts';
import { detailedHandler, fastHandler, stageObservability } from '#adapters/lambda-handlers.ts';
import { S3ObjectStore } from '#adapters/s3-object-store.ts';
import { ModelNotFoundError } from '#engine/errors.ts';
import { ModelRegistry } from '#engine/models/registry.ts';
import { asksQuestions } from '#engine/questions/config.ts';
import { readEngineSettings } from '#engine/settings.ts';
import { toNodeHandler } from './http-api-adapter.ts';
import { lambdaContext } from './lambda-context.ts';
import type { LocalHandlers } from './stack.ts';

type FastLambda = (event: S3Event, context?: Context) => Promise<void>;
type DetailedLambda = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

function isModelMissing(error: unknown): boolean {
  return (
    error instanceof ModelNotFoundError ||
    (error as { code?: string } | undefined)?.code === 'MODEL_NOT_FOUND'
  );
}

/**
 * Offline start only: the deployed entry points preload their model during init and (rightly) fail
 * a cold start without it. Here the same runtime wiring and handler bodies run with `preload: false`,
 * so colours, facts and text are described now and the caption stages are marked waiting-for-models
 * until the files appear.
 */
async function lazyFast(): Promise<FastLambda> {
  const runtime = await createFastRuntime(readAwsConfig(process.env, 'fast'), { preload: false });
  return fastHandler(runtime.deps, stageObservability('fast'));
}

async function lazyDetailed(): Promise<DetailedLambda> {
  const runtime = await createDetailedRuntime(readAwsConfig(process.env, 'detailed'), { preload: false });
  return detailedHandler(runtime.deps, stageObservability('detailed'));
}

/** The detailed worker's handler alone (for the worker child process). */
export async function loadDetailedHandler(): Promise<DetailedLambda> {
  try {
    return (await import('../aws/describe-detailed.ts')).handler as DetailedLambda;
  } catch (error) {
    if (!isModelMissing(error)) throw error;
    return lazyDetailed();
  }
}

/**
 * The Lambda handlers themselves, imported after the stack has set the environment they read at
 * module load (bucket, prefixes, queue URL, endpoints): each is the exact module infra/ deploys.
 */
export async function loadHandlers(
  options: { detailed: boolean } = { detailed: true },
): Promise<LocalHandlers> {
  let fast: FastLambda;
  let detailed: DetailedLambda | undefined;
  try {
    const [fastModule, detailedModule] = await Promise.all([
      import('../aws/describe-fast.ts'),
      options.detailed ? import('../aws/describe-detailed.ts') : undefined,
    ]);
    fast = fastModule.handler as FastLambda;
    detailed = detailedModule?.handler as DetailedLambda | undefined;
  } catch (error) {
    if (!isModelMissing(error)) throw error;
    fast = await lazyFast();
    detailed = options.detailed ? await lazyDetailed() : undefined;
  }
  const api = await import('../aws/upload-api.ts');
  const settings = readEngineSettings();
  const store = new S3ObjectStore({
    bucket: process.env.BUCKET_NAME ?? '',
    endpoint: process.env.AWS_ENDPOINT_URL_S3,
  });
  const openRegistry = () => ModelRegistry.open({ modelsDir: settings.modelsDir, threads: settings.threads });
  return {
    describeFast: (event) => fast(event, lambdaContext('describe-fast')),
    describeDetailed: detailed
      ? (event) => (detailed as DetailedLambda)(event, lambdaContext('describe-detailed'))
      : undefined,
    uploadApi: toNodeHandler(api.handler, {
      routes: ['POST /uploads', 'GET /uploads/{id}'],
      functionName: 'upload-api',
    }),
    store,
    currentModels: async () => {
      return currentModels({ models: await openRegistry(), settings });
    },
    modelsReady: async (waiting) => {
      try {
        const registry = await openRegistry();
        // The caption/objects/detailed models, and the questions model when questions are asked:
        // each unblocks only its own waiters (`models:fetch` skips the optional questions model by
        // default, so captions must not wait for it).
        if (waiting.stages && registry.missingModels().length === 0) return true;
        return (
          waiting.answers &&
          asksQuestions(settings.questions) &&
          registry.missingModels({ tasks: ['questions'] }).length === 0
        );
      } catch {
        return false;
      }
    },
  };
}
