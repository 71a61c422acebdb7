import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { createFastRuntime, readAwsConfig } from '#adapters/aws-runtime.ts';
import { fastHandler } from '#adapters/lambda-handlers.ts';
import { ENV } from '#engine/settings.ts';

/**
 * Fast function: S3 ObjectCreated (async invoke) → caption, colours and text in the sidecar, then
 * the detailed job. Config is read and the fast model loaded during init (top-level await), so a
 * bad deploy fails at cold start and the first image does not pay for the model load.
 */
const logger = new Logger({
  serviceName: 'image-describer',
  logLevel: (process.env[ENV.LOG_LEVEL] || undefined) as LogLevel | undefined,
  persistentKeys: { stage: 'fast' },
});
const metrics = new Metrics({ namespace: 'ImageDescriber', serviceName: 'describe-fast' });

const config = readAwsConfig(process.env, 'fast');
const runtime = await createFastRuntime(config);
logger.info('model loaded', {
  mode: 'fast',
  modelLoadMs: runtime.modelLoadMs,
  ocrStage: config.engine.ocrStage,
});
metrics.singleMetric().addMetric('ModelLoadMs', MetricUnit.Milliseconds, runtime.modelLoadMs);

export const handler = fastHandler(runtime.deps, { logger, metrics });
