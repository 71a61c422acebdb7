import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
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
import { objectsCreated, objectsRemoved } from '#engine/pipeline/s3-event.ts';
import { forgetRemovedObjects, type VectorSync } from '#engine/pipeline/vector-sync.ts';
import { ENV, type Env } from '#engine/settings.ts';
import { keptAsideSentence } from '#engine/user-messages.ts';
import { parseDetailedJobRecord, parseS3Notification } from './lambda-events.ts';
import { type Observability, serviceObservability, withPowertools } from './powertools.ts';

/**
 * Lambda handlers, built from already-wired dependencies so tests can pass their own. The
 * entry points in functions/aws/ wire once per process (config, clients, models) and export these.
 * They only translate: event (checked by Powertools' parser) → use case → log, metrics and
 * response; Powertools' middleware adds the Lambda context and publishes the metrics.
 */

/** The logger and metrics of one stage's function, named the same wherever it runs. */
export function stageObservability(stage: 'fast' | 'detailed', env: Env = process.env): Observability {
  return serviceObservability({ stage }, env[ENV.LOG_LEVEL]);
}

/** Once per cold start, after the stage's model is loaded: a log line and the ModelLoadMs metric. */
export function reportModelLoad(
  tools: Observability,
  details: { readonly mode: 'fast' | 'normal'; readonly modelLoadMs: number; readonly ocrStage: string },
): void {
  tools.logger.info('model loaded', { ...details });
  const single = tools.metrics.singleMetric();
  single.addDimension('Stage', details.mode === 'fast' ? 'fast' : 'detailed');
  single.addMetric('ModelLoadMs', MetricUnit.Milliseconds, details.modelLoadMs);
}

/** A failure the invocation reports (thrown on for a retry): an error log line and the Failures metric. */
function reportError(
  tools: Observability,
  stage: 'fast' | 'detailed' | 'vectors',
  message: string,
  error: unknown,
): void {
  tools.logger.error(message, { error: error as Error, code: errorCodeOf(error) });
  countFailure(tools.metrics, stage, errorCodeOf(error));
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
 * handled ones are then duplicates and do nothing) and finally sends it to the on-failure DLQ. An
 * event that is not an S3 notification (InvalidEventError) fails the same way, so it is kept.
 * Removed objects (an image or its sidecar deleted) take the image's vector out of the remote
 * vector index, when the stack has one.
 */
export function fastHandler(deps: FastStageDependencies, tools: Observability) {
  const { logger } = tools;
  const body = async (event: unknown): Promise<void> => {
    let notification: ReturnType<typeof parseS3Notification>;
    try {
      notification = parseS3Notification(event);
    } catch (error) {
      reportError(tools, 'fast', 'event is not an S3 notification', error);
      throw error;
    }
    if (!notification) {
      logger.info('test event ignored');
      return;
    }
    let firstError: unknown;
    for (const created of objectsCreated(notification)) {
      logger.appendKeys({ key: created.key });
      try {
        logFast(tools, await describeUploadedObject(deps, created));
      } catch (error) {
        reportError(tools, 'fast', 'fast stage error, will retry', error);
        firstError ??= error;
      } finally {
        logger.removeKeys(['key']);
      }
    }
    const removed = objectsRemoved(notification);
    if (removed.length > 0) {
      try {
        const images = await forgetRemovedObjects(deps, removed);
        if (images.length > 0) logger.info('vectors removed', { keys: images });
      } catch (error) {
        reportError(tools, 'vectors', 'vector removal error, will retry', error);
        firstError ??= error;
      }
    }
    if (firstError !== undefined) throw firstError;
  };
  return withPowertools(body, tools);
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

/** The object key of a job message, for the log lines about it (also when the job is invalid). */
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
  const { logger } = tools;
  const processor = new BatchProcessor(EventType.SQS);
  const recordHandler = async (record: SQSRecord): Promise<void> => {
    logger.appendKeys({ key: keyOf(record.body), messageId: record.messageId });
    try {
      logDetailed(tools, await completeDetailedDescription(deps, parseDetailedJobRecord(record)));
    } catch (error) {
      reportError(tools, 'detailed', 'detailed stage error, will retry', error);
      throw error;
    } finally {
      logger.removeKeys(['key', 'messageId']);
    }
  };
  const body = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
    processPartialResponse(event, recordHandler, processor, {
      context,
      processInParallel: false,
      // Report every failed id rather than throwing, so the response is the same for 1 or all.
      throwOnFullBatchFailure: false,
    });
  return withPowertools(body, tools);
}
