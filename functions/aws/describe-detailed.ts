import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { createDetailedRuntime, readAwsConfig } from '#adapters/aws-runtime.ts';
import { detailedHandler, stageObservability } from '#adapters/lambda-handlers.ts';

/**
 * Detailed worker: SQS batch of detailed jobs → detailed description merged into each sidecar by
 * compare-and-swap, partial batch response. The normal-mode model is loaded during init.
 */
const { logger, metrics } = stageObservability('detailed');

const config = readAwsConfig(process.env, 'detailed');
const runtime = await createDetailedRuntime(config);
logger.info('model loaded', {
  mode: 'normal',
  modelLoadMs: runtime.modelLoadMs,
  ocrStage: config.engine.ocrStage,
});
metrics.singleMetric().addMetric('ModelLoadMs', MetricUnit.Milliseconds, runtime.modelLoadMs);

export const handler = detailedHandler(runtime.deps, { logger, metrics });
