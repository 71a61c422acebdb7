import { CfnOutput, type RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { ConfigError, DEFAULT_ENGINE_SETTINGS, ENV, expected, type OcrStage } from '#engine/index.ts';
import { hasCategoryPrompts, readQuestionsConfig } from '#engine/questions/index.ts';
import { DEFAULT_UPLOAD_MAX_BYTES } from '#engine/uploads/index.ts';
import { DescriberAlarms } from './constructs/describer-alarms.ts';
import { DescriptionBucket } from './constructs/description-bucket.ts';
import { DescriptionSearch, type DescriptionSearchProps } from './constructs/description-search.ts';
import { DescriptionVectors, type DescriptionVectorsProps } from './constructs/description-vectors.ts';
import {
  DetailedDescribeWorker,
  type DetailedDescribeWorkerProps,
} from './constructs/detailed-describe-worker.ts';
import { FastDescribeFunction, type FastDescribeFunctionProps } from './constructs/fast-describe-function.ts';
import {
  SEARCH_HANDLER_CMD,
  SearchFunction,
  type SearchFunctionProps,
} from './constructs/search-function.ts';
import { UploadApi, type UploadApiProps } from './constructs/upload-api.ts';
import { describerImageCode, type ModelRefs, readModelRefs } from './describer-image.ts';

export interface ImageDescriberStackProps extends StackProps {
  /** @default 'images/' */
  readonly inputPrefix?: string;
  /** @default 'descriptions/' */
  readonly sidecarPrefix?: string;
  /**
   * Models baked into the fast and detailed images.
   * @default - read from models/manifest.json
   */
  readonly models?: ModelRefs;
  /**
   * Fail the synth when a model folder is missing (the deploy would otherwise fail deep inside the
   * image build); without it the synth warns, so templates can be reviewed without models.
   * @default false
   */
  readonly requireModels?: boolean;
  /** Fast function sizing and event handling. @default - the construct's defaults */
  readonly fast?: Pick<
    FastDescribeFunctionProps,
    'memoryMB' | 'timeoutSeconds' | 'reservedConcurrency' | 'maxEventAge' | 'retryAttempts'
  >;
  /** Detailed worker sizing and queue settings. @default - the construct's defaults */
  readonly detailed?: Pick<
    DetailedDescribeWorkerProps,
    'memoryMB' | 'timeoutSeconds' | 'batchSize' | 'maxConcurrency' | 'maxReceiveCount'
  >;
  /** Upload API auth, CORS, throttling and size limit. @default - IAM auth, no CORS, 10 rps / 20 burst, 20 MiB */
  readonly api?: Pick<
    UploadApiProps,
    'auth' | 'corsOrigins' | 'rateLimit' | 'burstLimit' | 'uploadMaxBytes' | 'entry'
  >;
  /** Largest object the describe functions accept. @default 50 MiB */
  readonly maxInputBytes?: number;
  /** Which stage reads text. @default - the engine's default */
  readonly ocrStage?: OcrStage;
  /** The questions config as JSON, passed to both functions as QUESTIONS_CONFIG. @default - none asked, no categories */
  readonly questionsConfig?: string;
  /**
   * A Secrets Manager secret (complete ARN) holding the API key of a remote detailed model whose
   * manifest entry names `apiKeyEnv`. @default - the worker gets a new, empty secret to put the key in
   */
  readonly remoteApiKeySecretArn?: string;
  /** SNS topic for alarm notifications. @default - none */
  readonly alarmTopicArn?: string;
  /** @default RemovalPolicy.RETAIN */
  readonly bucketRemovalPolicy?: RemovalPolicy;
  /** @default true (see the README for the decision) */
  readonly versioned?: boolean;
  /**
   * Athena search (`GET /search` on the upload API), or false for none. See docs/search.md.
   * @default - on, with the construct's defaults (10 GiB scanned per query, results kept 1 day)
   */
  readonly search?:
    | Pick<
        DescriptionSearchProps,
        'databaseName' | 'tableName' | 'workGroupName' | 'bytesScannedCutoffPerQuery' | 'resultRetention'
      >
    | false;
  /**
   * Search by meaning in AWS: an S3 Vectors index of the image embeddings (written by the fast
   * function, refreshed by the detailed worker, emptied by deletes) and a search function that
   * answers `GET /search` from it and Athena. False, or `search: false`, or a manifest without an
   * embedding task: none, and `GET /search` answers by keywords in the upload API. See docs/search.md.
   * @default - on, when search is on and the manifest has an embedding task
   */
  readonly vectorSearch?:
    | (Pick<DescriptionVectorsProps, 'indexName'> & Pick<SearchFunctionProps, 'memoryMB'>)
    | false;
}

/**
 * The whole deployment: the description bucket, the fast function on its input prefix, the queue
 * and detailed worker, the upload API, alarms and outputs.
 */
export class ImageDescriberStack extends Stack {
  public readonly descriptionBucket: DescriptionBucket;
  public readonly fastDescribe: FastDescribeFunction;
  public readonly detailedWorker: DetailedDescribeWorker;
  public readonly uploadApi: UploadApi;
  public readonly search?: DescriptionSearch;
  public readonly vectors?: DescriptionVectors;
  public readonly searchFunction?: SearchFunction;
  public readonly alarms: DescriberAlarms;

  constructor(scope: Construct, id: string, props: ImageDescriberStackProps = {}) {
    super(scope, id, props);
    const models = props.models ?? readModelRefs();
    const maxInputBytes = props.maxInputBytes ?? DEFAULT_ENGINE_SETTINGS.maxInputBytes;
    const uploadMaxBytes = props.api?.uploadMaxBytes ?? DEFAULT_UPLOAD_MAX_BYTES;
    if (uploadMaxBytes > maxInputBytes) {
      throw new ConfigError(
        expected(
          `at most maxInputBytes (${maxInputBytes}) so accepted uploads get described`,
          'api.uploadMaxBytes',
          uploadMaxBytes,
        ),
      );
    }
    const engineEnvironment: Record<string, string> = props.ocrStage
      ? { [ENV.OCR_STAGE]: props.ocrStage }
      : {};
    if (props.questionsConfig) engineEnvironment[ENV.QUESTIONS_CONFIG] = props.questionsConfig;
    const corsOrigins = props.api?.corsOrigins ?? [];
    const vectorSearch =
      props.search !== false && props.vectorSearch !== false && models.embedding !== undefined;
    if (vectorSearch && models.embeddingDimensions === undefined) {
      throw new ConfigError(
        expected(
          "the embedding vectors' length for the S3 Vectors index (or vectorSearch: false)",
          'models/manifest.json tasks.embedding.dimensions',
          undefined,
        ),
      );
    }

    this.descriptionBucket = new DescriptionBucket(this, 'Descriptions', {
      inputPrefix: props.inputPrefix,
      sidecarPrefix: props.sidecarPrefix,
      corsOrigins,
      removalPolicy: props.bucketRemovalPolicy,
      versioned: props.versioned,
    });

    if (vectorSearch && models.embeddingDimensions !== undefined) {
      this.vectors = new DescriptionVectors(this, 'Vectors', {
        ...(props.vectorSearch ? { indexName: props.vectorSearch.indexName } : {}),
        dimension: models.embeddingDimensions,
        removalPolicy: props.bucketRemovalPolicy,
      });
    }
    const vectorEnvironment = this.vectors?.environment() ?? {};

    const questions = props.questionsConfig
      ? readQuestionsConfig(props.questionsConfig, 'questionsConfig')
      : undefined;
    const questionsPerImage = questions?.questions.length ?? 0;
    const remoteSpec = models.normal.remote;
    // A remote detailed model answers the questions too when the manifest names it for them.
    const remoteAnswersQuestions =
      remoteSpec !== undefined && (!models.questions || models.questions.remote !== undefined);
    const remote = remoteSpec && {
      spec: remoteSpec,
      requestsPerImage: 1 + (remoteAnswersQuestions ? questionsPerImage : 0),
      ...(props.remoteApiKeySecretArn
        ? {
            apiKeySecret: secretsmanager.Secret.fromSecretCompleteArn(
              this,
              'RemoteApiKey',
              props.remoteApiKeySecretArn,
            ),
          }
        : {}),
    };
    this.detailedWorker = new DetailedDescribeWorker(this, 'DetailedDescribe', {
      // Questions load SmolVLM in the worker: its memory and timeout defaults grow with them.
      questionsPerImage,
      ...(remote ? { remote } : {}),
      ...props.detailed,
      bucket: this.descriptionBucket,
      // The worker answers the questions, so its image carries the questions model too; without
      // questions, the embedding model whose text tower scores category prompts.
      code: describerImageCode(this, {
        target: 'detailed',
        model: models.normal,
        extraModel:
          questionsPerImage > 0
            ? models.questions
            : hasCategoryPrompts(questions)
              ? models.embedding
              : undefined,
        requireModels: props.requireModels,
      }),
      environment: {
        ...engineEnvironment,
        ...vectorEnvironment,
        [ENV.MAX_INPUT_BYTES]: String(maxInputBytes),
      },
    });

    const fastImage = {
      target: 'fast' as const,
      model: models.fast,
      // The fast stage embeds every image too, so its image carries the embedding model.
      extraModel: models.embedding,
      requireModels: props.requireModels,
    };
    this.fastDescribe = new FastDescribeFunction(this, 'FastDescribe', {
      ...props.fast,
      bucket: this.descriptionBucket,
      jobsQueue: this.detailedWorker.queue,
      code: describerImageCode(this, fastImage),
      maxInputBytes,
      environment: { ...engineEnvironment, ...vectorEnvironment },
    });
    if (this.vectors) {
      this.vectors.grant(this.fastDescribe.fn, 'write');
      this.vectors.grant(this.detailedWorker.fn, 'write');
      // A deleted image, or its deleted sidecar, takes its vector out of the index.
      const bucket = this.descriptionBucket;
      for (const prefix of [bucket.inputPrefix, bucket.sidecarPrefix]) {
        bucket.bucket.addEventNotification(
          s3.EventType.OBJECT_REMOVED,
          new LambdaDestination(this.fastDescribe.fn),
          {
            prefix,
          },
        );
      }
    }

    if (props.search !== false) {
      this.search = new DescriptionSearch(this, 'Search', {
        ...props.search,
        bucket: this.descriptionBucket,
        removalPolicy: props.bucketRemovalPolicy,
      });
      if (this.vectors) {
        this.searchFunction = new SearchFunction(this, 'SearchFunction', {
          ...(props.vectorSearch ? { memoryMB: props.vectorSearch.memoryMB } : {}),
          bucket: this.descriptionBucket,
          search: this.search,
          vectors: this.vectors,
          // The fast image already carries the embedding model: the same image, another handler.
          code: describerImageCode(this, { ...fastImage, cmd: SEARCH_HANDLER_CMD }),
        });
      }
    }

    this.uploadApi = new UploadApi(this, 'UploadApi', {
      ...props.api,
      corsOrigins,
      uploadMaxBytes,
      bucket: this.descriptionBucket,
      search: this.search,
      ...(this.searchFunction ? { searchFunction: this.searchFunction.fn } : {}),
    });

    this.alarms = new DescriberAlarms(this, 'Alarms', {
      functions: {
        FastDescribe: this.fastDescribe.fn,
        DetailedDescribe: this.detailedWorker.fn,
        UploadApi: this.uploadApi.fn,
        ...(this.searchFunction ? { Search: this.searchFunction.fn } : {}),
      },
      deadLetterQueues: {
        FastDescribe: this.fastDescribe.deadLetterQueue,
        DetailedDescribe: this.detailedWorker.deadLetterQueue,
      },
      otherAlarms: this.search ? [this.search.bytesScannedAlarm] : [],
      alarmTopic: props.alarmTopicArn
        ? sns.Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn)
        : undefined,
    });

    this.acknowledgeBucketNotificationsHandler();

    const output = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    output('BucketName', this.descriptionBucket.bucket.bucketName, 'Upload images here (under InputPrefix)');
    output('InputPrefix', this.descriptionBucket.inputPrefix, 'Key prefix that triggers a description');
    output('SidecarPrefix', this.descriptionBucket.sidecarPrefix, 'Key prefix of the description sidecars');
    output(
      'DetailedQueueUrl',
      this.detailedWorker.queue.queueUrl,
      'Detailed-description jobs (backfill sends here)',
    );
    output(
      'DetailedDeadLetterQueueUrl',
      this.detailedWorker.deadLetterQueue.queueUrl,
      'Detailed jobs given up on',
    );
    output(
      'FastDeadLetterQueueUrl',
      this.fastDescribe.deadLetterQueue.queueUrl,
      'S3 events the fast function gave up on',
    );
    output(
      'FastFunctionName',
      this.fastDescribe.fn.functionName,
      'Fast-stage function (backfill --fast-function invokes it to re-describe stale captions)',
    );
    output(
      'ApiUrl',
      this.uploadApi.url,
      'Upload API base URL (POST /uploads, GET /uploads/{id}, GET /search)',
    );
    if (this.search) {
      output('SearchWorkGroup', this.search.workGroupName, 'Athena workgroup of GET /search');
      output(
        'SearchTable',
        `${this.search.databaseName}.${this.search.tableName}`,
        'Glue table over the sidecars',
      );
    }
    if (this.vectors && this.searchFunction) {
      output('VectorIndexArn', this.vectors.indexArn, 'S3 Vectors index of the image embeddings');
      output(
        'SearchFunctionName',
        this.searchFunction.fn.functionName,
        'GET /search by words and by meaning (the fast image, search-api handler)',
      );
    }
    if (this.uploadApi.invokePolicy) {
      output(
        'ApiInvokePolicyArn',
        this.uploadApi.invokePolicy.managedPolicyArn,
        'Attach to callers of the upload API',
      );
    }
  }

  /** The S3 notification custom resource CDK adds (a singleton Lambda that configures the bucket). */
  private acknowledgeBucketNotificationsHandler(): void {
    const handler = this.node.children.find((child) =>
      child.node.id.startsWith('BucketNotificationsHandler'),
    );
    if (!handler) return;
    Validations.of(handler).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        'CDK-managed custom resource that sets the bucket notification at deploy time; the managed policy only lets it write its logs.',
    });
  }
}
