import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Observability } from '#adapters/index.ts';

/**
 * Metrics that are counted and then dropped: EMF lines on a laptop are noise. Powertools only
 * switches metrics off through the environment, and the local stack writes none, so the flush is
 * replaced instead (a single metric flushes through the same call).
 */
class DroppedMetrics extends Metrics {
  override publishStoredMetrics(): this {
    this.clearMetrics();
    return this;
  }

  override singleMetric(): Metrics {
    return new DroppedMetrics({ namespace: LOCAL_NAMESPACE, singleMetric: true });
  }
}

const LOCAL_NAMESPACE = 'ImageDescriberLocal';

/** The local stack's logger and metrics for a function: warnings and errors print, metrics do not. */
export function localObservability(functionName: string, logLevel: string): Observability {
  return {
    logger: new Logger({
      serviceName: 'image-describer-local',
      logLevel: logLevel as LogLevel,
      persistentKeys: { function: functionName },
    }),
    metrics: new DroppedMetrics({ namespace: LOCAL_NAMESPACE, serviceName: functionName }),
  };
}
