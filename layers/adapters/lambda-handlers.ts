import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { errorCodeOf } from '#engine/errors.ts';
import {
  completeDetailedDescription,
  type DetailedOutcome,
  type DetailedStageDependencies,
} from '#engine/pipeline/complete-detailed-description.ts';
import {
  describeUploadedObject,
  type FastOutcome,
  type FastStageDependencies,
} from '#engine/pipeline/describe-uploaded-object.ts';
import { isS3TestEvent, objectsCreated, objectsRemoved } from '#engine/pipeline/s3-event.ts';
import { forgetRemovedObjects, type VectorSync } from '#engine/pipeline/vector-sync.ts';
import { ENV, type Env } from '#engine/settings.ts';
import { keptAsideSentence } from '#engine/user-messages.ts';

/**
 * Lambda handler bodies, built from already-wired dependencies so tests can pass their own. The
 * entry points in functions/aws/ wire once per process (config, clients, models) and export these.
 * They only translate: event → use case → log, metrics and response.
 */
export interface Observability {
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** The logger and metrics of one stage's function, named the same wherever it runs. */
export function stageObservability(stage: 'fast' | 'detailed', env: Env = process.env): Observability {
  return {
    logger: new Logger({
      serviceName: 'image-describer',
      logLevel: (env[ENV.LOG_LEVEL] || undefined) as LogLevel | undefined,
      persistentKeys: { stage },
    }),
    metrics: new Metrics({ namespace: 'ImageDescriber', serviceName: `describe-${stage}` }),
  };
}

/** Once per cold start, after the stage's model is loaded: a log line and the ModelLoadMs metric. */
export function reportModelLoad(
  tools: Observability,
  details: { readonly mode: 'fast' | 'normal'; readonly modelLoadMs: number; readonly ocrStage: string },
): void {
  tools.logger.info('model loaded', { ...details });
  tools.metrics.singleMetric().addMetric('ModelLoadMs', MetricUnit.Milliseconds, details.modelLoadMs);
}

function countFailure(metrics: Metrics, stage: 'fast' | 'detailed' | 'vectors', code: string): void {
  const single = metrics.singleMetric();
  single.addDimension('Stage', stage);
  single.addDimension('ErrorCode', code);
  single.addMetric('Failures', MetricUnit.Count, 1);
}

/** A vector the index refused for good: the image stays findable by keywords, so a warning. */
function logVector(tools: Observability, vector: VectorSync | undefined): void {
  if (vector?.kind !== 'rejected') return;
  tools.logger.warn('vector not indexed', { code: vector.code, reason: vector.reason });
  countFailure(tools.metrics, 'vectors', vector.code);
}

function logFast(tools: Observability, outcome: FastOutcome): void {
  const { logger, metrics } = tools;
  logVector(tools, outcome.vector);
  if (outcome.kind === 'skipped') {
    logger.info('object skipped', { reason: outcome.reason, jobResent: outcome.jobResent });
    metrics.addMetric('Skipped', MetricUnit.Count, 1);
    return;
  }
  if (outcome.keptAside) {
    const { key, reason } = outcome.keptAside;
    logger.warn('unreadable description kept aside', {
      sidecarKey: outcome.sidecarKey,
      keptAs: key,
      reason,
      message: keptAsideSentence(outcome.sidecarKey, key, reason),
    });
  }
  const timings = outcome.record.timings.fast;
  if (outcome.kind === 'failed') {
    logger.warn('fast stage failed', { sidecarKey: outcome.sidecarKey, error: outcome.record.errors.fast });
    countFailure(metrics, 'fast', outcome.record.errors.fast?.code ?? 'INTERNAL');
    return;
  }
  logger.info('caption written', {
    sidecarKey: outcome.sidecarKey,
    caption: outcome.record.caption,
    state: outcome.record.status.fast.state,
    timings,
  });
  metrics.addMetric('ImagesDescribed', MetricUnit.Count, 1);
  if (timings?.readMs !== undefined) metrics.addMetric('ReadMs', MetricUnit.Milliseconds, timings.readMs);
  if (timings?.captionMs !== undefined)
    metrics.addMetric('CaptionMs', MetricUnit.Milliseconds, timings.captionMs);
  if (timings?.ocrMs !== undefined) metrics.addMetric('FastOcrMs', MetricUnit.Milliseconds, timings.ocrMs);
  if (timings?.totalMs !== undefined)
    metrics.addMetric('FastStageMs', MetricUnit.Milliseconds, timings.totalMs);
}

/**
 * The fast function: an S3 notification (async invoke). Every created object is handled; if any
 * throws a transient error the invoke fails after the others are done, so Lambda retries it (the
 * handled ones are then duplicates and do nothing) and finally sends it to the on-failure DLQ.
 * Removed objects (an image or its sidecar deleted) take the image's vector out of the remote
 * vector index, when the stack has one.
 */
export function fastHandler(deps: FastStageDependencies, tools: Observability) {
  const { logger, metrics } = tools;
  return async (event: unknown, context?: Context): Promise<void> => {
    if (context) logger.addContext(context);
    if (isS3TestEvent(event)) {
      logger.info('test event ignored');
      return;
    }
    let firstError: unknown;
    try {
      for (const created of objectsCreated(event)) {
        logger.appendKeys({ key: created.key });
        try {
          logFast(tools, await describeUploadedObject(deps, created));
        } catch (error) {
          logger.error('fast stage error, will retry', { error: error as Error, code: errorCodeOf(error) });
          countFailure(metrics, 'fast', errorCodeOf(error));
          firstError ??= error;
        } finally {
          logger.removeKeys(['key']);
        }
      }
      const removed = objectsRemoved(event);
      if (removed.length > 0) {
        try {
          const images = await forgetRemovedObjects(deps, removed);
          if (images.length > 0) logger.info('vectors removed', { keys: images });
        } catch (error) {
          logger.error('vector removal error, will retry', {
            error: error as Error,
            code: errorCodeOf(error),
          });
          countFailure(metrics, 'vectors', errorCodeOf(error));
          firstError ??= error;
        }
      }
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
    if (firstError !== undefined) throw firstError;
  };
}

function logDetailed(tools: Observability, outcome: DetailedOutcome): void {
  const { logger, metrics } = tools;
  logVector(tools, outcome.vector);
  if (outcome.kind === 'dropped') {
    logger.info('job dropped', { reason: outcome.reason });
    metrics.addMetric('JobsDropped', MetricUnit.Count, 1);
    return;
  }
  if (outcome.kind === 'failed') {
    logger.warn('detailed stage failed', { error: outcome.record.errors.detailed });
    countFailure(metrics, 'detailed', outcome.record.errors.detailed?.code ?? 'INTERNAL');
    return;
  }
  const timings = outcome.record.timings.detailed;
  logger.info('detailed description written', {
    state: outcome.record.status.detailed.state,
    attempts: outcome.attempts,
    timings,
  });
  metrics.addMetric('DetailedDescribed', MetricUnit.Count, 1);
  if (outcome.attempts > 1) metrics.addMetric('SidecarConflicts', MetricUnit.Count, outcome.attempts - 1);
  if (timings?.modelMs !== undefined)
    metrics.addMetric('DetailedModelMs', MetricUnit.Milliseconds, timings.modelMs);
  if (timings?.totalMs !== undefined)
    metrics.addMetric('DetailedStageMs', MetricUnit.Milliseconds, timings.totalMs);
}

function keyOf(body: string): string | undefined {
  try {
    const key = (JSON.parse(body) as { key?: unknown }).key;
    return typeof key === 'string' ? key : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The detailed worker: an SQS batch with partial batch responses. A record that throws (a
 * transient error, or a message that is not a job) is reported in batchItemFailures and comes
 * back after the visibility timeout; after maxReceiveCount it lands in the DLQ. Permanent image
 * errors are not thrown: they end as detailed = failed in the sidecar and the message is deleted.
 * Records run one after the other: inference already uses every core.
 */
export function detailedHandler(deps: DetailedStageDependencies, tools: Observability) {
  const { logger, metrics } = tools;
  const processor = new BatchProcessor(EventType.SQS);
  const recordHandler = async (record: SQSRecord): Promise<void> => {
    logger.appendKeys({ key: keyOf(record.body), messageId: record.messageId });
    try {
      logDetailed(tools, await completeDetailedDescription(deps, record.body));
    } catch (error) {
      logger.error('detailed stage error, will retry', { error: error as Error, code: errorCodeOf(error) });
      countFailure(metrics, 'detailed', errorCodeOf(error));
      throw error;
    } finally {
      logger.removeKeys(['key', 'messageId']);
    }
  };
  return async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
    if (context) logger.addContext(context);
    try {
      return await processPartialResponse(event, recordHandler, processor, {
        context,
        processInParallel: false,
        // Report every failed id rather than throwing, so the response is the same for 1 or all.
        throwOnFullBatchFailure: false,
      });
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}
