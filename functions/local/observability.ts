import { Metrics } from '@aws-lambda-powertools/metrics';
import { type Observability, serviceLogger } from '#adapters/index.ts';
import { METRICS_NAMESPACE, SERVICE_NAME } from '#engine/index.ts';

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
    return new DroppedMetrics({
      namespace: METRICS_NAMESPACE,
      serviceName: SERVICE_NAME,
      singleMetric: true,
    });
  }
}

/** The local stack's logger and metrics for a function: warnings and errors print, metrics do not. */
export function localObservability(functionName: string, logLevel: string): Observability {
  return {
    logger: serviceLogger({ function: functionName }, logLevel),
    metrics: new DroppedMetrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME }),
  };
}
