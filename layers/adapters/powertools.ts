import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { MetricsOptions } from '@aws-lambda-powertools/metrics/types';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { METRICS_NAMESPACE, SERVICE_NAME } from '#engine/service.ts';

/**
 * The Powertools glue every Lambda function shares, kept apart from the describe handlers so the
 * zip-bundled upload API can use it without reaching the models.
 */
export interface Observability {
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** A function's logger: the one service name, and `keys` on every line (which function or stage wrote it). */
export function serviceLogger(keys: Record<string, string>, logLevel?: string): Logger {
  return new Logger({
    serviceName: SERVICE_NAME,
    logLevel: (logLevel || undefined) as LogLevel | undefined,
    persistentKeys: keys,
  });
}

/**
 * The metrics' own warnings (a bad dimension, too many metrics) go to the function's logger, as
 * JSON, except one: Powertools warns after every invocation that stored no metric, which here is
 * normal (S3's test event; a failure, whose metric is published on its own with its dimensions).
 */
function metricsLogger(logger: Logger): NonNullable<MetricsOptions['logger']> {
  return {
    debug: (...content) => logger.debug(...(content as [string])),
    info: (...content) => logger.info(...(content as [string])),
    warn: (...content) => {
      if (!String(content[0]).startsWith('No application metrics to publish'))
        logger.warn(...(content as [string]));
    },
    error: (...content) => logger.error(...(content as [string])),
  };
}

/** A function's logger and metrics, under the one service name and namespace. */
export function serviceObservability(keys: Record<string, string>, logLevel?: string): Observability {
  const logger = serviceLogger(keys, logLevel);
  return {
    logger,
    metrics: new Metrics({
      namespace: METRICS_NAMESPACE,
      serviceName: SERVICE_NAME,
      logger: metricsLogger(logger),
    }),
  };
}

/**
 * A handler body behind Powertools' middleware: the Lambda context on every log line (keys
 * appended during an invocation are dropped after it), the stored metrics published after each
 * invocation, also when it throws, and a `ColdStart` metric on the first. The result stays a plain
 * function the local stack and tests call; without a context Middy passes `{}`. Without
 * `metrics` (the upload API has none of its own) only the context is injected: Powertools would
 * log a "no metrics" warning after every request. Middy's early timeout is off: Lambda enforces the function's timeout itself, and the local stack has none.
 */
export function withPowertools<E, R>(
  body: (event: E, context: Context) => Promise<R>,
  tools: Pick<Observability, 'logger'> & Partial<Observability>,
): (event: E, context?: Context) => Promise<R> {
  const handler = middy(body, { timeoutEarlyInMillis: 0 }).use(
    injectLambdaContext(tools.logger, { resetKeys: true }),
  );
  if (tools.metrics) handler.use(logMetrics(tools.metrics, { captureColdStartMetric: true }));
  return (event, context) => handler(event, context as Context);
}
