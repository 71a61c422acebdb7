import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { createDetailedRuntime, readAwsConfig } from '#adapters/aws-runtime.ts';
import { detailedHandler } from '#adapters/lambda-handlers.ts';
import { ENV } from '#engine/settings.ts';

/**
 * Detailed worker: SQS batch of detailed jobs → detailed description merged into each sidecar by
 * compare-and-swap, partial batch response. The normal-mode model is loaded during init.
 */
const logger = new Logger({
  serviceName: 'image-describer',
  logLevel: (process.env[ENV.LOG_LEVEL] || undefined) as LogLevel | undefined,
  persistentKeys: { stage: 'detailed' },
});
const metrics = new Metrics({ namespace: 'ImageDescriber', serviceName: 'describe-detailed' });

const config = readAwsConfig(process.env, 'detailed');
const runtime = await createDetailedRuntime(config);
logger.info('model loaded', {
  mode: 'normal',
  modelLoadMs: runtime.modelLoadMs,
  ocrStage: config.engine.ocrStage,
});
metrics.singleMetric().addMetric('ModelLoadMs', MetricUnit.Milliseconds, runtime.modelLoadMs);

export const handler = detailedHandler(runtime.deps, { logger, metrics });
