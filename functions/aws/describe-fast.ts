import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { createFastRuntime, readAwsConfig } from '#adapters/aws-runtime.ts';
import { fastHandler, stageObservability } from '#adapters/lambda-handlers.ts';

/**
 * Fast function: S3 ObjectCreated (async invoke) → caption, colours and text in the sidecar, then
 * the detailed job. Config is read and the fast model loaded during init (top-level await), so a
 * bad deploy fails at cold start and the first image does not pay for the model load.
 */
const { logger, metrics } = stageObservability('fast');

const config = readAwsConfig(process.env, 'fast');
const runtime = await createFastRuntime(config);
logger.info('model loaded', {
  mode: 'fast',
  modelLoadMs: runtime.modelLoadMs,
  ocrStage: config.engine.ocrStage,
});
metrics.singleMetric().addMetric('ModelLoadMs', MetricUnit.Milliseconds, runtime.modelLoadMs);

export const handler = fastHandler(runtime.deps, { logger, metrics });
