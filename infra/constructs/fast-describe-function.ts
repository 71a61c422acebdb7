import { Duration, Validations } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ConfigError, DEFAULT_ENGINE_SETTINGS, ENV, expected } from '#engine/index.ts';
import { assertIntegerInRange, assertMemory, assertTimeoutSeconds, DEFAULT_SIZING } from '../sizing.ts';
import { describeFunction } from './describe-function.ts';
import type { DescriptionBucket } from './description-bucket.ts';
import { deadLetterQueue, type FunctionIdentity } from './lambda-basics.ts';

export interface FastDescribeFunctionProps {
  /** The bucket whose input prefix triggers the function and whose sidecar prefix it writes. */
  readonly bucket: DescriptionBucket;
  /** Where each described image's detailed job is sent. */
  readonly jobsQueue: sqs.IQueue;
  /** The container image with the fast-mode models baked in (CMD = the fast handler). */
  readonly code: lambda.DockerImageCode;
  /**
   * 3538 MB buys 2 vCPUs for one Florence-2 vision pass (caption + objects), which parallelises over
   * both cores. Resident need ≈ 2.6 GB: Florence-2 ~1.8 GB (public figure, LINEUP_FIGURES) + fp32 encoder
   * (assumed +0.3 GB) + OCR 0.43 GB (measured here) — OCR runs in the detailed stage by default, but
   * the memory still covers ocrStage=fast. Derived in infra/sizing.ts (deriveSizing).
   * @default 3538
   */
  readonly memoryMB?: number;
  /**
   * A cold start (model load past Lambda's 10 s init phase, assumed 10 s) plus one image with every
   * generation at its token cap and a page of OCR, x 1.5 (infra/sizing.ts; durations assumed).
   * @default 60 (seconds)
   */
  readonly timeoutSeconds?: number;
  /**
   * Reserved concurrency: the most concurrent executions (a spend and blast-radius cap); events beyond
   * it wait in Lambda's async queue for up to `maxEventAge`. Opt-in, because Lambda keeps 100 of the
   * account's concurrency unreserved: an account whose limit is 10 (common for new accounts) cannot
   * create a function that reserves any. `false` or unset: no reservation.
   * @default false
   */
  readonly reservedConcurrency?: number | false;
  /**
   * How long an S3 event may wait (throttled or retrying) before it goes to the dead-letter queue.
   * The maximum: a burst larger than the concurrency cap is described late rather than dropped.
   * @default Duration.hours(6)
   */
  readonly maxEventAge?: Duration;
  /**
   * Lambda's retries of a failed asynchronous invoke before the event goes to the dead-letter queue.
   * @default 2
   */
  readonly retryAttempts?: number;
  /** Largest object described; larger ones get a failed sidecar after a HEAD, never a download. @default 50 MiB */
  readonly maxInputBytes?: number;
  /** Extra environment (for example OCR_STAGE). @default - none */
  readonly environment?: Readonly<Record<string, string>>;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * S3 → container Lambda: every object created under the input prefix (asynchronous invoke) gets a
 * caption and colours (text too with ocrStage=fast) in its sidecar and a detailed job on the queue. Failed events land in a DLQ.
 */
export class FastDescribeFunction extends Construct {
  public readonly fn: lambda.DockerImageFunction;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly identity: FunctionIdentity;

  constructor(scope: Construct, id: string, props: FastDescribeFunctionProps) {
    super(scope, id);
    const memoryMB = props.memoryMB ?? DEFAULT_SIZING.fast.memoryMB;
    const timeoutSeconds = props.timeoutSeconds ?? DEFAULT_SIZING.fast.timeoutSeconds;
    const reservedConcurrency = props.reservedConcurrency ?? false;
    const maxEventAge = props.maxEventAge ?? Duration.hours(6);
    const retryAttempts = props.retryAttempts ?? 2;
    const maxInputBytes = props.maxInputBytes ?? DEFAULT_ENGINE_SETTINGS.maxInputBytes;
    assertMemory(memoryMB, 'memoryMB');
    assertTimeoutSeconds(timeoutSeconds, 'timeoutSeconds');
    if (reservedConcurrency !== false)
      assertIntegerInRange(reservedConcurrency, 1, 10_000, 'reservedConcurrency');
    assertIntegerInRange(retryAttempts, 0, 2, 'retryAttempts');
    assertIntegerInRange(maxInputBytes, 1, Number.MAX_SAFE_INTEGER, 'maxInputBytes');
    const ageSeconds = maxEventAge.toSeconds();
    if (ageSeconds < 60 || ageSeconds > 6 * 60 * 60) {
      throw new ConfigError(expected('from 1 minute to 6 hours', 'maxEventAge', `${ageSeconds} seconds`));
    }

    this.deadLetterQueue = deadLetterQueue(this, 'DeadLetterQueue');
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is the on-failure destination (dead-letter queue) of the fast function's S3 events.",
    });

    ({ fn: this.fn, identity: this.identity } = describeFunction(this, {
      description: 'image-describer: caption, colours and text for each new image (S3 event)',
      code: props.code,
      bucket: props.bucket,
      memoryMB,
      timeoutSeconds,
      logRetention: props.logRetention,
      invoke: {
        reservedConcurrentExecutions: reservedConcurrency === false ? undefined : reservedConcurrency,
        maxEventAge,
        retryAttempts,
        onFailure: new SqsDestination(this.deadLetterQueue),
      },
      environment: {
        [ENV.DETAILED_QUEUE_URL]: props.jobsQueue.queueUrl,
        [ENV.MAX_INPUT_BYTES]: String(maxInputBytes),
        ...props.environment,
      },
    }));
    // Reads only uploads, writes only sidecars (describeFunction), sends only detailed jobs.
    props.jobsQueue.grantSendMessages(this.fn);

    // Only the input prefix triggers: sidecars (another prefix) can never re-trigger the function.
    props.bucket.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new LambdaDestination(this.fn), {
      prefix: props.bucket.inputPrefix,
    });
  }
}
