import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '#engine/index.ts';
import type { BedrockSpec, RemoteModelSpec } from '#engine/models/index.ts';
import { DETAILED_WORKER_DEFAULTS } from '#engine/pipeline/index.ts';
import {
  assertIntegerInRange,
  assertMemory,
  assertTimeoutSeconds,
  deriveRemoteDetailedSizing,
  deriveSizing,
  VISIBILITY_TO_TIMEOUT_RATIO,
} from '../sizing.ts';
import { describeFunction } from './describe-function.ts';
import type { DescriptionBucket } from './description-bucket.ts';
import { deadLetterQueue, type FunctionIdentity } from './lambda-basics.ts';

export interface DetailedDescribeWorkerProps {
  /** Where images are read from and sidecars are merged into. */
  readonly bucket: DescriptionBucket;
  /** The container image with the normal-mode model baked in (CMD = the detailed handler). */
  readonly code: lambda.DockerImageCode;
  /**
   * 3538 MB buys 2 vCPUs. The worker runs Florence-2 <MORE_DETAILED_CAPTION> and OCR, no longer
   * SmolVLM (~4.2 GiB): resident need ≈ 2.6 GB (same terms as the fast function). With
   * `questionsPerImage` > 0 SmolVLM is loaded too: 8845 MB (deriveSizing in infra/sizing.ts).
   * @default 3538 (8845 with questions)
   */
  readonly memoryMB?: number;
  /**
   * One detailed description per invocation (batch size 1) with a cold start, its generation at the
   * token cap and a page of OCR, x 1.5 (infra/sizing.ts; durations assumed). The local stack's queue
   * uses the same value (DETAILED_WORKER_DEFAULTS).
   * @default 60 (seconds; more with questions, e.g. 120 for one)
   */
  readonly timeoutSeconds?: number;
  /**
   * SmolVLM answers per image (the questions config's question count). The memory and timeout
   * defaults follow it (deriveSizing in infra/sizing.ts): SmolVLM adds ~4.2 GiB and its seconds.
   * @default 0
   */
  readonly questionsPerImage?: number;
  /**
   * Messages per invocation. 1: every image gets the whole timeout, and a slow image never delays others.
   * @default 1
   */
  readonly batchSize?: number;
  /**
   * Most concurrent workers the queue drives. Detailed text is not latency-critical: the queue absorbs
   * bursts while this caps spend and keeps the account's concurrency free for the fast function.
   * @default 5
   */
  readonly maxConcurrency?: number;
  /**
   * Deliveries before a job goes to the dead-letter queue. 3: a transient error (throttling, a CAS
   * conflict storm) gets two more chances; permanent ones never reach it (they end as a failed sidecar).
   * @default 3
   */
  readonly maxReceiveCount?: number;
  /**
   * The remote model of the detailed task (manifest architecture openai-compatible or bedrock). The
   * worker then needs no model memory (deriveRemoteDetailedSizing), its timeout covers the requests
   * with their retries, `maxConcurrency` defaults to the spec's `concurrency` (at least 2, the event
   * source's minimum) so the deployment keeps to it, and it gets exactly the access the model needs:
   * bedrock:InvokeModel on that model, or read access to the secret holding the endpoint's key.
   * @default - a local model baked into the image
   */
  readonly remote?: {
    readonly spec: RemoteModelSpec;
    /** Requests per image: 1 + the questions this model answers. */
    readonly requestsPerImage: number;
    /** An existing secret with the endpoint's API key. @default - a new, empty secret (put the key in it) */
    readonly apiKeySecret?: secretsmanager.ISecret;
  };
  /** Extra environment (for example OCR_STAGE). @default - none */
  readonly environment?: Readonly<Record<string, string>>;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * SQS → container Lambda: the queue of detailed-description jobs (with its DLQ) and the worker that
 * merges each detailed description into the image's sidecar, reporting partial batch failures.
 */
export class DetailedDescribeWorker extends Construct {
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly fn: lambda.DockerImageFunction;
  public readonly identity: FunctionIdentity;
  public readonly maxReceiveCount: number;
  /** The secret holding the remote endpoint's API key, when the model needs one. */
  public readonly apiKeySecret?: secretsmanager.ISecret;

  constructor(scope: Construct, id: string, props: DetailedDescribeWorkerProps) {
    super(scope, id);
    const remote = props.remote;
    const questions = props.questionsPerImage ?? 0;
    // A local questions model beside a remote detailed one keeps the local sizing (SmolVLM's memory).
    const remoteSizing = remote && (questions === 0 || remote.requestsPerImage > 1);
    const sizing = remoteSizing
      ? deriveRemoteDetailedSizing({ ...remote.spec, requestsPerImage: remote.requestsPerImage })
      : deriveSizing({ questions }).detailed;
    const memoryMB = props.memoryMB ?? sizing.memoryMB;
    const timeoutSeconds = props.timeoutSeconds ?? sizing.timeoutSeconds;
    const batchSize = props.batchSize ?? DETAILED_WORKER_DEFAULTS.batchSize;
    // One image per invocation: concurrent workers = requests in flight to the remote model.
    const maxConcurrency = props.maxConcurrency ?? (remote ? Math.max(2, remote.spec.concurrency) : 5);
    this.maxReceiveCount = props.maxReceiveCount ?? DETAILED_WORKER_DEFAULTS.maxReceiveCount;
    assertMemory(memoryMB, 'memoryMB');
    assertTimeoutSeconds(timeoutSeconds, 'timeoutSeconds');
    assertIntegerInRange(batchSize, 1, 10, 'batchSize');
    // The event source mapping's own limits.
    assertIntegerInRange(maxConcurrency, 2, 1000, 'maxConcurrency');
    assertIntegerInRange(this.maxReceiveCount, 1, 1000, 'maxReceiveCount');
    // 900 s (the Lambda maximum) x 6 is still within SQS's 12-hour visibility limit.
    const visibilitySeconds = timeoutSeconds * VISIBILITY_TO_TIMEOUT_RATIO;

    this.deadLetterQueue = deadLetterQueue(this, 'DeadLetterQueue');
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is the dead-letter queue of the detailed-job queue.',
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // A message stays invisible while a worker may still be on it, including Lambda's own retries.
      visibilityTimeout: Duration.seconds(visibilitySeconds),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: this.maxReceiveCount },
    });

    // Reads the image and the sidecar, writes the sidecar back by compare-and-swap; nothing else.
    ({ fn: this.fn, identity: this.identity } = describeFunction(this, {
      description: 'image-describer: merges the detailed description into the sidecar (SQS worker)',
      code: props.code,
      bucket: props.bucket,
      memoryMB,
      timeoutSeconds,
      logRetention: props.logRetention,
      environment: { ...props.environment },
    }));

    if (remote?.spec.architecture === 'bedrock') this.grantInvokeModel(remote.spec);
    if (remote?.spec.architecture === 'openai-compatible' && remote.spec.apiKeyEnv) {
      this.apiKeySecret =
        remote.apiKeySecret ??
        new secretsmanager.Secret(this, 'RemoteApiKey', {
          description: `image-describer: API key for ${remote.spec.model} at ${remote.spec.endpoint} (put the key here)`,
        });
      if (!remote.apiKeySecret) {
        Validations.of(this.apiKeySecret).acknowledge({
          id: 'AwsSolutions-SMG4',
          reason:
            'The key is issued by the model server operator; it is rotated there and then put into this secret, which has no rotation Lambda to run.',
        });
      }
      this.apiKeySecret.grantRead(this.fn);
      this.fn.addEnvironment(ENV.REMOTE_API_KEY_SECRET_ARN, this.apiKeySecret.secretArn);
    }

    this.fn.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize,
        maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
  }

  /**
   * bedrock:InvokeModel (what Converse needs) on the configured model only. A cross-region inference
   * profile (us., eu., apac., global. …) also needs the model itself in the regions it routes to.
   */
  private grantInvokeModel(spec: BedrockSpec): void {
    const stack = Stack.of(this);
    const region = spec.region ?? stack.region;
    const profile = /^(us|eu|apac|global|us-gov|jp|au|ca)\.(.+)$/.exec(spec.modelId);
    const resources = profile
      ? [
          `arn:${stack.partition}:bedrock:${region}:${stack.account}:inference-profile/${spec.modelId}`,
          `arn:${stack.partition}:bedrock:*::foundation-model/${profile[2]}`,
        ]
      : [`arn:${stack.partition}:bedrock:${region}::foundation-model/${spec.modelId}`];
    this.identity.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['bedrock:InvokeModel'], resources }),
    );
    const policy = this.identity.role.node.tryFindChild('DefaultPolicy');
    if (profile && policy) {
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/${profile[2]}]`,
        reason: `The inference profile ${spec.modelId} routes to ${profile[2]} in several regions; the grant names that one model.`,
      });
    }
  }
}
