import { performance } from 'node:perf_hooks';
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3VectorsClient } from '@aws-sdk/client-s3vectors';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DescribeEngine } from '#engine/engine.ts';
import type { DetailedStageDependencies } from '#engine/pipeline/complete-detailed-description.ts';
import type { FastStageDependencies } from '#engine/pipeline/describe-uploaded-object.ts';
import { type KeyLayout, readKeyLayout } from '#engine/pipeline/key-layout.ts';
import { type CurrentModels, currentModelsOf } from '#engine/pipeline/staleness.ts';
import { currentQuestionKeys } from '#engine/questions/stage.ts';
import { ENV, type EngineSettings, type Env, readEngineSettings } from '#engine/settings.ts';
import { elapsedMs } from '#engine/timing.ts';
import { createEngine } from '#engine/wiring.ts';
import { type AwsTargets, readAwsTargets } from './aws-config.ts';
import { S3ObjectStore } from './s3-object-store.ts';
import { S3VectorsIndex } from './s3-vectors-index.ts';
import { readSecretString } from './secrets.ts';
import { SqsJobQueue } from './sqs-job-queue.ts';

export interface AwsConfig {
  readonly engine: EngineSettings;
  readonly layout: KeyLayout;
  readonly targets: AwsTargets;
  /** The secret holding a remote model's API key, when the stack made one. */
  readonly remoteApiKeySecret?: string;
}

/** Every setting a stage needs, read and validated once (a bad deploy fails at cold start). */
export function readAwsConfig(env: Env, stage: 'fast' | 'detailed'): AwsConfig {
  return Object.freeze({
    engine: readEngineSettings(env),
    layout: readKeyLayout(env),
    targets: readAwsTargets(env, { needsQueue: stage === 'fast' }),
    ...(env[ENV.REMOTE_API_KEY_SECRET_ARN] ? { remoteApiKeySecret: env[ENV.REMOTE_API_KEY_SECRET_ARN] } : {}),
  });
}

/** The models this deployment describes with, from the manifest (no model is loaded for this). */
export function currentModels(
  engine: Pick<DescribeEngine, 'models'> & { readonly settings?: EngineSettings },
): CurrentModels {
  return {
    ...currentModelsOf(engine.models.manifest),
    ...currentQuestionKeys(engine.models, engine.settings?.questions),
  };
}

export interface FastRuntime {
  readonly deps: FastStageDependencies;
  readonly modelLoadMs: number;
}

export interface DetailedRuntime {
  readonly deps: DetailedStageDependencies;
  readonly modelLoadMs: number;
}

/**
 * Each function runs one stage: the OCR reader is only opened where text is read (OCR_STAGE), so
 * the other function neither loads the OCR sessions nor holds their memory. The engine behaves
 * the same: a stage reads text only when ocrStage names it.
 */
export function settingsForStage(settings: EngineSettings, stage: 'fast' | 'detailed'): EngineSettings {
  return settings.ocrStage === stage ? settings : Object.freeze({ ...settings, ocrStage: 'off' as const });
}

export interface RuntimeOptions {
  /**
   * Load the stage's model during init, so a cold start without it fails and the first image does
   * not pay for the load. `false` (the local stack's offline start): the model loads on first use,
   * and a missing one marks the stage waiting-for-models instead of failing the start.
   * `'if-installed'` (the local stack): load it now when its files are there, else on first use.
   * @default true
   */
  readonly preload?: boolean | 'if-installed';
  /** Clients the caller already has (the local stack shares one of each); default: new ones. */
  readonly clients?: {
    readonly s3?: S3Client;
    readonly sqs?: SQSClient;
    readonly s3vectors?: S3VectorsClient;
  };
}

/** The stage's S3 Vectors index, when the stack deploys one. */
function vectorIndexOf(config: AwsConfig, options: RuntimeOptions): { vectors?: S3VectorsIndex } {
  const target = config.targets.vectors;
  if (!target) return {};
  return { vectors: new S3VectorsIndex({ ...target, client: options.clients?.s3vectors }) };
}

async function engineWithModel(config: AwsConfig, stage: 'fast' | 'detailed', options: RuntimeOptions) {
  const start = performance.now();
  const preload = options.preload ?? true;
  // The key is read once here; the process environment never holds it.
  const key = config.remoteApiKeySecret ? await readSecretString(config.remoteApiKeySecret) : undefined;
  const engine = await createEngine(settingsForStage(config.engine, stage), {
    preload: preload === true ? [stage] : [],
    ...(key ? { secret: () => key } : {}),
  });
  if (preload === 'if-installed' && engine.models.missingModels({ stage }).length === 0) {
    await engine.models.preload(stage);
  }
  return { engine, modelLoadMs: elapsedMs(start) };
}

/** Clients, engine and the fast stage's model, once per process (Lambda init, local stack start). */
export async function createFastRuntime(
  config: AwsConfig,
  options: RuntimeOptions = {},
): Promise<FastRuntime> {
  const { engine, modelLoadMs } = await engineWithModel(config, 'fast', options);
  const { bucket, detailedQueueUrl, s3Endpoint, sqsEndpoint } = config.targets;
  return {
    modelLoadMs,
    deps: {
      engine,
      store: new S3ObjectStore({ bucket, endpoint: s3Endpoint, client: options.clients?.s3 }),
      queue: new SqsJobQueue({
        queueUrl: detailedQueueUrl ?? '',
        endpoint: sqsEndpoint,
        client: options.clients?.sqs,
      }),
      layout: config.layout,
      models: currentModels(engine),
      bucket,
      ...vectorIndexOf(config, options),
    },
  };
}

/** Clients, engine and the detailed stage's model, once per process. */
export async function createDetailedRuntime(
  config: AwsConfig,
  options: RuntimeOptions = {},
): Promise<DetailedRuntime> {
  const { engine, modelLoadMs } = await engineWithModel(config, 'detailed', options);
  const { bucket, s3Endpoint } = config.targets;
  return {
    modelLoadMs,
    deps: {
      engine,
      store: new S3ObjectStore({ bucket, endpoint: s3Endpoint, client: options.clients?.s3 }),
      models: currentModels(engine),
      bucket,
      ...vectorIndexOf(config, options),
    },
  };
}
