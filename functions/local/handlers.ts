import type { S3Event } from 'aws-lambda';
import { type AwsConfig, currentModels } from '#adapters/aws-runtime.ts';
import { S3ObjectStore } from '#adapters/index.ts';
import type { LocalClients, SqsHandler } from '#emulators/index.ts';
import type { ObjectStore } from '#engine/index.ts';
import { ModelRegistry } from '#engine/models/registry.ts';
import type { CurrentModels } from '#engine/pipeline/index.ts';
import { asksQuestions } from '#engine/questions/index.ts';
import { createDetailedHandler, createFastHandler } from '../aws/handlers.ts';
import { createUploadApi, type UploadApiConfig } from '../aws/upload-api-handler.ts';
import { toNodeHandler } from './http-api-adapter.ts';
import type { NodeHandler } from './http-server.ts';
import { lambdaContext } from './lambda-context.ts';
import { localObservability } from './observability.ts';

export interface LocalHandlers {
  readonly describeFast: (event: S3Event) => Promise<void>;
  /** Absent when the detailed worker runs in its own process. */
  readonly describeDetailed?: SqsHandler;
  readonly uploadApi: NodeHandler;
  /** Object store port for the start-up scan. */
  readonly store: ObjectStore;
  /** The models a sidecar must come from to be current (from the manifest). */
  readonly currentModels: () => Promise<CurrentModels>;
  /**
   * True once the model files are present for something that waits: `stages` = the caption,
   * objects and detailed models; `answers` = the questions model (when questions are configured).
   */
  readonly modelsReady: (waiting: ModelWaiters) => Promise<boolean>;
}

/** What the sidecars seen so far wait for (see waitingFor in requeue.ts). */
export interface ModelWaiters {
  readonly stages: boolean;
  readonly answers: boolean;
}

/** The functions' config as infra/ would set it, pointed at the embedded servers. */
export interface LocalFunctionsConfig {
  readonly fast: AwsConfig;
  readonly detailed: AwsConfig;
  readonly uploadApi: UploadApiConfig;
  /** The handlers' log level (warnings by default on a terminal). */
  readonly logLevel: string;
}

/**
 * The Lambda functions of the stack, built by the factories the deployed modules call, with the
 * stack's config and clients. Unlike a cold start, a missing model does not fail the start
 * (`preload: 'if-installed'`): colours, facts and text are described now and the caption stages
 * are marked waiting-for-models until the files appear. `detailed: false` when the worker runs
 * in its own process.
 */
export async function localHandlers(
  config: LocalFunctionsConfig,
  clients: Pick<LocalClients, 's3' | 'sqs'>,
  options: { readonly detailed: boolean } = { detailed: true },
): Promise<LocalHandlers> {
  const stageDeps = (stage: 'fast' | 'detailed') => ({
    preload: 'if-installed' as const,
    clients,
    observability: localObservability(`describe-${stage}`, config.logLevel),
  });
  const [fast, detailed] = await Promise.all([
    createFastHandler(config.fast, stageDeps('fast')),
    options.detailed ? createDetailedHandler(config.detailed, stageDeps('detailed')) : undefined,
  ]);
  const api = createUploadApi(config.uploadApi, {
    s3: clients.s3,
    logger: localObservability('upload-api', config.logLevel).logger,
  });
  const settings = config.fast.engine;
  const openRegistry = () => ModelRegistry.open({ modelsDir: settings.modelsDir, threads: settings.threads });
  return {
    describeFast: (event) => fast(event, lambdaContext('describe-fast')),
    describeDetailed: detailed && ((event) => detailed(event, lambdaContext('describe-detailed'))),
    uploadApi: toNodeHandler(api, {
      routes: ['POST /uploads', 'GET /uploads/{id}'],
      functionName: 'upload-api',
    }),
    store: new S3ObjectStore({ bucket: config.fast.targets.bucket, client: clients.s3 }),
    currentModels: async () => currentModels({ models: await openRegistry(), settings }),
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
