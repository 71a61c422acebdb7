import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allowedActions,
  logicalId,
  renderArn,
  type Synthesized,
  synthesize,
  TEST_MODELS,
  vectorIndexArnOf,
} from './synth.ts';

// One synthesis (with the real esbuild bundling of the upload handler) shared by every assertion.
let synth: Synthesized;
beforeAll(() => {
  synth = synthesize();
});
afterAll(() => synth?.cleanup());

const envOf = (fnLogicalId: string) =>
  synth.template.toJSON().Resources[fnLogicalId].Properties.Environment.Variables as Record<string, unknown>;

describe('cdk-nag', () => {
  it('reports no unacknowledged AwsSolutions findings', () => {
    expect(synth.nagViolations).toEqual([]);
  });
});

describe('description bucket', () => {
  it('blocks public access, encrypts, versions, logs access, and expires abandoned multipart uploads', () => {
    const bucketId = logicalId(synth.stack, synth.stack.descriptionBucket.bucket);
    const logBucketId = logicalId(synth.stack, synth.stack.descriptionBucket.accessLogBucket);
    const bucket = synth.template.toJSON().Resources[bucketId];
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
      { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
    ]);
    expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(bucket.Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: logBucketId },
      LogFilePrefix: 'description-bucket/',
    });
    expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          Status: 'Enabled',
        }),
        expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 30 }, Status: 'Enabled' }),
      ]),
    );
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.Properties.CorsConfiguration).toBeUndefined();
  });

  it('denies every request that is not over TLS, on both buckets', () => {
    for (const b of [synth.stack.descriptionBucket.bucket, synth.stack.descriptionBucket.accessLogBucket]) {
      synth.template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: logicalId(synth.stack, b) },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 's3:*',
              Principal: { AWS: '*' },
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
  });

  it('triggers the fast function for objects created under the input prefix, and for removals of images and sidecars', () => {
    const fastId = logicalId(synth.stack, synth.stack.fastDescribe.fn);
    const notifications = synth.template.findResources('Custom::S3BucketNotifications');
    const configs = Object.values(notifications).flatMap(
      (n) => n.Properties.NotificationConfiguration.LambdaFunctionConfigurations ?? [],
    );
    const to = (event: string, prefix: string) => ({
      Events: [event],
      Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: prefix }] } },
      LambdaFunctionArn: { 'Fn::GetAtt': [fastId, 'Arn'] },
    });
    // Only removals under the sidecar prefix: a sidecar written can never trigger a description.
    expect(configs).toEqual([
      to('s3:ObjectCreated:*', 'images/'),
      to('s3:ObjectRemoved:*', 'images/'),
      to('s3:ObjectRemoved:*', 'descriptions/'),
    ]);
    expect(
      Object.values(notifications)[0]?.Properties.NotificationConfiguration.QueueConfigurations,
    ).toBeUndefined();
  });
});

describe('fast describe function', () => {
  it('may be invoked by S3 only for this bucket in this account', () => {
    synth.template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [logicalId(synth.stack, synth.stack.fastDescribe.fn), 'Arn'] },
      Principal: 's3.amazonaws.com',
      SourceAccount: { Ref: 'AWS::AccountId' },
      SourceArn: { 'Fn::GetAtt': [logicalId(synth.stack, synth.stack.descriptionBucket.bucket), 'Arn'] },
    });
  });

  // Reserved concurrency is opt-in: an account whose concurrency limit is 10 cannot reserve any.
  it('is an arm64 container image with 2 vCPUs of memory, a 90 s timeout and no reserved concurrency', () => {
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      PackageType: 'Image',
      Architectures: ['arm64'],
      MemorySize: 3538,
      Timeout: 90,
      ReservedConcurrentExecutions: Match.absent(),
      Description: Match.stringLikeRegexp('caption, colours and text'),
    });
  });

  it('gets the key layout, the queue URL, threads for its vCPUs and the Powertools settings', () => {
    const env = envOf(logicalId(synth.stack, synth.stack.fastDescribe.fn));
    expect(env).toEqual({
      BUCKET_NAME: { Ref: logicalId(synth.stack, synth.stack.descriptionBucket.bucket) },
      INPUT_PREFIX: 'images/',
      SIDECAR_PREFIX: 'descriptions/',
      DETAILED_QUEUE_URL: { Ref: logicalId(synth.stack, synth.stack.detailedWorker.queue) },
      ORT_THREADS: '2',
      MAX_INPUT_BYTES: String(50 * 1024 * 1024),
      POWERTOOLS_SERVICE_NAME: 'image-describer',
      POWERTOOLS_METRICS_NAMESPACE: 'ImageDescriber',
      LOG_LEVEL: 'INFO',
      VECTOR_INDEX_ARN: vectorIndexArnOf(synth.stack),
    });
  });

  it('gives up on an S3 event after 6 hours or 2 retries, into its own dead-letter queue', () => {
    synth.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalId(synth.stack, synth.stack.fastDescribe.fn) },
      MaximumEventAgeInSeconds: 6 * 60 * 60,
      MaximumRetryAttempts: 2,
      DestinationConfig: {
        OnFailure: {
          Destination: {
            'Fn::GetAtt': [logicalId(synth.stack, synth.stack.fastDescribe.deadLetterQueue), 'Arn'],
          },
        },
      },
    });
  });

  it('may read only uploads, read and write only sidecars, and send only to its queues', () => {
    const bucket = `<${logicalId(synth.stack, synth.stack.descriptionBucket.bucket)}.Arn>`;
    const allowed = allowedActions(
      synth.template,
      logicalId(synth.stack, synth.stack.fastDescribe.identity.role),
    );
    expect(allowed.get('s3:GetObject')).toEqual([`${bucket}/descriptions/*`, `${bucket}/images/*`]);
    expect(allowed.get('s3:PutObject')).toEqual([`${bucket}/descriptions/*`]);
    expect(allowed.get('s3:ListBucket')).toEqual([bucket]);
    expect([...allowed.keys()].filter((a) => a.startsWith('s3:')).sort()).toEqual([
      's3:GetObject',
      's3:ListBucket',
      's3:PutObject',
    ]);
    expect(allowed.get('sqs:SendMessage')).toEqual(
      [
        `<${logicalId(synth.stack, synth.stack.detailedWorker.queue)}.Arn>`,
        `<${logicalId(synth.stack, synth.stack.fastDescribe.deadLetterQueue)}.Arn>`,
      ].sort(),
    );
    expect([...allowed.keys()].filter((a) => a.includes('*'))).toEqual([]);
    expect([...allowed.values()].flat().filter((r) => r === '*')).toEqual([]);
  });
});

describe('detailed queue and worker', () => {
  it('keeps a job invisible for at least 6x the worker timeout', () => {
    const resources = synth.template.toJSON().Resources;
    const queue = resources[logicalId(synth.stack, synth.stack.detailedWorker.queue)];
    const fn = resources[logicalId(synth.stack, synth.stack.detailedWorker.fn)];
    expect(fn.Properties.Timeout).toBe(90);
    expect(queue.Properties.VisibilityTimeout).toBe(540);
    expect(queue.Properties.VisibilityTimeout / fn.Properties.Timeout).toBeGreaterThanOrEqual(6);
  });

  it('moves a job to the dead-letter queue after 3 receives', () => {
    synth.template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: {
        deadLetterTargetArn: {
          'Fn::GetAtt': [logicalId(synth.stack, synth.stack.detailedWorker.deadLetterQueue), 'Arn'],
        },
        maxReceiveCount: 3,
      },
    });
  });

  it('encrypts all three queues, keeps dead letters 14 days and refuses non-TLS requests', () => {
    const queues = synth.template.findResources('AWS::SQS::Queue');
    expect(Object.keys(queues)).toHaveLength(3);
    for (const queue of Object.values(queues)) expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    for (const dlq of [
      synth.stack.detailedWorker.deadLetterQueue,
      synth.stack.fastDescribe.deadLetterQueue,
    ]) {
      synth.template.hasResourceProperties('AWS::SQS::Queue', {
        MessageRetentionPeriod: 14 * 24 * 60 * 60,
        QueueName: Match.absent(),
      });
      synth.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: logicalId(synth.stack, dlq) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
    synth.template.resourcePropertiesCountIs(
      'AWS::SQS::QueuePolicy',
      {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      },
      3,
    );
  });

  it('is an arm64 container image with 2 vCPUs (Florence-2 + OCR, no SmolVLM) and ORT_THREADS to match', () => {
    const fnId = logicalId(synth.stack, synth.stack.detailedWorker.fn);
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      PackageType: 'Image',
      Architectures: ['arm64'],
      MemorySize: 3538,
      Timeout: 90,
    });
    expect(envOf(fnId)).toMatchObject({
      ORT_THREADS: '2',
      INPUT_PREFIX: 'images/',
      SIDECAR_PREFIX: 'descriptions/',
    });
    expect(envOf(fnId)).not.toHaveProperty('DETAILED_QUEUE_URL');
  });

  it('takes one job per invocation, at most 5 at a time, and reports partial batch failures', () => {
    synth.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId(synth.stack, synth.stack.detailedWorker.fn) },
      EventSourceArn: { 'Fn::GetAtt': [logicalId(synth.stack, synth.stack.detailedWorker.queue), 'Arn'] },
      BatchSize: 1,
      ScalingConfig: { MaximumConcurrency: 5 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('may read uploads and read/write sidecars, and send to no queue', () => {
    const bucket = `<${logicalId(synth.stack, synth.stack.descriptionBucket.bucket)}.Arn>`;
    const allowed = allowedActions(
      synth.template,
      logicalId(synth.stack, synth.stack.detailedWorker.identity.role),
    );
    expect(allowed.get('s3:GetObject')).toEqual([`${bucket}/descriptions/*`, `${bucket}/images/*`]);
    expect(allowed.get('s3:PutObject')).toEqual([`${bucket}/descriptions/*`]);
    expect(allowed.get('s3:ListBucket')).toEqual([bucket]);
    expect(allowed.has('sqs:SendMessage')).toBe(false);
    expect(allowed.get('sqs:DeleteMessage')).toEqual([
      `<${logicalId(synth.stack, synth.stack.detailedWorker.queue)}.Arn>`,
    ]);
    expect([...allowed.keys()].filter((a) => a.includes('*'))).toEqual([]);
  });
});

describe('upload API', () => {
  it('routes POST /uploads, GET /uploads/{id} and GET /search to the upload function, IAM-authorized', () => {
    const routes = Object.values(synth.template.findResources('AWS::ApiGatewayV2::Route')).map((r) => ({
      key: r.Properties.RouteKey,
      auth: r.Properties.AuthorizationType,
    }));
    expect(routes.sort((a, b) => a.key.localeCompare(b.key))).toEqual([
      { key: 'GET /search', auth: 'AWS_IAM' },
      { key: 'GET /uploads/{id}', auth: 'AWS_IAM' },
      { key: 'POST /uploads', auth: 'AWS_IAM' },
    ]);
    synth.template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 0);
  });

  it('throttles the stage and writes access logs; no CORS unless origins are configured', () => {
    synth.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 },
      AccessLogSettings: {
        DestinationArn: {
          'Fn::GetAtt': [logicalId(synth.stack, synth.stack.uploadApi.accessLogGroup), 'Arn'],
        },
      },
    });
    synth.template.hasResourceProperties('AWS::ApiGatewayV2::Api', { CorsConfiguration: Match.absent() });
  });

  it('is a zip-packaged nodejs22.x arm64 function bundled locally with esbuild', () => {
    const fnId = logicalId(synth.stack, synth.stack.uploadApi.fn);
    const fn = synth.template.toJSON().Resources[fnId];
    expect(fn.Properties).toMatchObject({
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
    });
    expect(fn.Properties.PackageType).toBeUndefined();
    expect(envOf(fnId)).toMatchObject({
      UPLOAD_MAX_BYTES: String(20 * 1024 * 1024),
      INPUT_PREFIX: 'images/',
      SIDECAR_PREFIX: 'descriptions/',
    });
    const assetHash = String(fn.Properties.Code.S3Key).replace(/\.zip$/, '');
    const files = JSON.parse(
      readFileSync(join(synth.outdir, `${synth.stack.artifactId}.assets.json`), 'utf8'),
    ).files;
    const assetDir = join(synth.outdir, files[assetHash].source.path);
    const bundle = readFileSync(join(assetDir, 'index.mjs'), 'utf8');
    expect(bundle).toContain('createRequire');
    expect(existsSync(join(assetDir, 'index.mjs.map'))).toBe(true);
    // Powertools' middleware is in it; the model runtime is not, neither inlined nor imported.
    expect(bundle).toContain('// node_modules/@middy/core/');
    expect(bundle).not.toMatch(
      /node_modules\/(sharp|onnxruntime-node|onnxruntime-web|@huggingface\/transformers)\//,
    );
    expect(bundle).not.toMatch(
      /from ["'](sharp|onnxruntime-node|onnxruntime-web|@huggingface\/transformers)["']/,
    );
  });

  it('may sign uploads only for images/uploads/* and read only those uploads and their sidecars', () => {
    const bucket = `<${logicalId(synth.stack, synth.stack.descriptionBucket.bucket)}.Arn>`;
    const allowed = allowedActions(
      synth.template,
      logicalId(synth.stack, synth.stack.uploadApi.identity.role),
    );
    // Search runs in the search function (test/infra/search.test.ts): nothing of it here.
    expect(allowed.get('s3:PutObject')).toEqual([`${bucket}/images/uploads/*`]);
    expect(allowed.get('s3:GetObject')).toEqual([
      `${bucket}/descriptions/uploads/*`,
      `${bucket}/images/uploads/*`,
    ]);
    expect(allowed.get('s3:ListBucket')).toEqual([bucket]);
    expect([...allowed.keys()].filter((a) => /^(athena|glue|s3vectors):/.test(a))).toEqual([]);
    expect([...allowed.keys()].filter((a) => a.startsWith('sqs:'))).toEqual([]);
  });

  it('offers a managed policy that allows calling exactly the three routes', () => {
    const apiId = logicalId(synth.stack, synth.stack.uploadApi.api);
    const [policy, ...others] = Object.values(synth.template.findResources('AWS::IAM::ManagedPolicy'));
    expect(others).toHaveLength(0);
    const [statement] = policy?.Properties.PolicyDocument.Statement ?? [];
    expect(statement.Action).toBe('execute-api:Invoke');
    expect(statement.Resource.map(renderArn).sort()).toEqual([
      `arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<${apiId}>/$default/GET/search`,
      `arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<${apiId}>/$default/GET/uploads/*`,
      `arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<${apiId}>/$default/POST/uploads`,
    ]);
  });
});

describe('observability', () => {
  it('alarms on any message in either dead-letter queue', () => {
    for (const dlq of [
      synth.stack.fastDescribe.deadLetterQueue,
      synth.stack.detailedWorker.deadLetterQueue,
    ]) {
      synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Namespace: 'AWS/SQS',
        Dimensions: [
          { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(synth.stack, dlq), 'QueueName'] } },
        ],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    }
  });

  it('alarms when a function fails more than 5% of its invocations', () => {
    const alarms = synth.template.findResources('AWS::CloudWatch::Alarm', {
      Properties: { Metrics: Match.anyValue() },
    });
    // The search's bytes-scanned alarm is a metric expression too (test/infra/search.test.ts).
    const described = Object.values(alarms)
      .map((a) => a.Properties.AlarmDescription)
      .filter((d: string) => !d.includes('search queries scanned'))
      .sort();
    expect(described).toEqual([
      'DetailedDescribe: more than 5% of invocations failed',
      'FastDescribe: more than 5% of invocations failed',
      'Search: more than 5% of invocations failed',
      'UploadApi: more than 5% of invocations failed',
    ]);
    const errorRates = Object.values(alarms).filter(
      (a) => !String(a.Properties.AlarmDescription).includes('search queries scanned'),
    );
    for (const alarm of errorRates) {
      expect(alarm.Properties).toMatchObject({ Threshold: 5, EvaluationPeriods: 3, DatapointsToAlarm: 2 });
      expect(alarm.Properties.Metrics[0].Expression).toBe(
        'IF(invocations > 0, 100 * errors / invocations, 0)',
      );
    }
  });

  it('outputs the bucket, the queue URLs, the fast function (for backfill) and the API URL', () => {
    const outputs = synth.template.toJSON().Outputs;
    expect(Object.keys(outputs).sort()).toEqual([
      'ApiInvokePolicyArn',
      'ApiUrl',
      'BucketName',
      'DetailedDeadLetterQueueUrl',
      'DetailedQueueUrl',
      'FastDeadLetterQueueUrl',
      'FastFunctionName',
      'InputPrefix',
      'SearchFunctionName',
      'SearchTable',
      'SearchWorkGroup',
      'SidecarPrefix',
      'VectorIndexArn',
    ]);
    expect(outputs.FastFunctionName.Value).toEqual({
      Ref: logicalId(synth.stack, synth.stack.fastDescribe.fn),
    });
    expect(outputs.BucketName.Value).toEqual({
      Ref: logicalId(synth.stack, synth.stack.descriptionBucket.bucket),
    });
    expect(outputs.DetailedQueueUrl.Value).toEqual({
      Ref: logicalId(synth.stack, synth.stack.detailedWorker.queue),
    });
    expect(renderArn(outputs.ApiUrl.Value)).toMatch(
      /^https:\/\/<\w+>\.execute-api\.<AWS::Region>\.<AWS::URLSuffix>\/$/,
    );
  });
});

describe('container image assets', () => {
  const assets = () =>
    JSON.parse(readFileSync(join(synth.outdir, `${synth.stack.artifactId}.assets.json`), 'utf8'))
      .dockerImages as Record<string, { source: Record<string, unknown> & { directory: string } }>;

  it('builds the fast and detailed targets for arm64, each with its own model as a named build context', () => {
    const sources = Object.values(assets())
      .map((a) => a.source)
      .sort((a, b) => String(a.dockerBuildTarget).localeCompare(String(b.dockerBuildTarget)));
    expect(sources).toEqual([
      expect.objectContaining({
        dockerFile: 'layers/docker/describe.Dockerfile',
        dockerBuildTarget: 'detailed',
        platform: 'linux/arm64',
        dockerBuildArgs: { MODEL_ID: TEST_MODELS.normal.id },
        dockerBuildContexts: {
          model: expect.stringMatching(/\/models\/test-org\/normal-model$/),
          extra_model: expect.stringMatching(/\/layers\/docker\/no-extra-model$/),
        },
      }),
      expect.objectContaining({
        dockerFile: 'layers/docker/describe.Dockerfile',
        dockerBuildTarget: 'fast',
        platform: 'linux/arm64',
        dockerBuildArgs: { MODEL_ID: TEST_MODELS.fast.id, EXTRA_MODEL_ID: TEST_MODELS.embedding.id },
        dockerBuildContexts: {
          model: expect.stringMatching(/\/models\/test-org\/fast-model$/),
          extra_model: expect.stringMatching(/\/models\/test-org\/embedding-model$/),
        },
      }),
    ]);
  });

  it('stages a small build context: sources and lockfile, no node_modules, no model weights, no tests', () => {
    for (const { source } of Object.values(assets())) {
      const dir = join(synth.outdir, source.directory);
      const entries = readdirSync(dir);
      expect(entries).toEqual(
        expect.arrayContaining(['package.json', 'package-lock.json', '.npmrc', 'functions', 'layers']),
      );
      for (const absent of ['node_modules', 'test', 'test-output', 'cdk.out', '.git', 'infra', 'dist']) {
        expect(entries).not.toContain(absent);
      }
      expect(readdirSync(join(dir, 'models'))).toEqual(['manifest.json']);
      expect(existsSync(join(dir, 'layers/docker/describe.Dockerfile'))).toBe(true);
      expect(directoryBytes(dir)).toBeLessThan(5 * 1024 * 1024);
    }
  });
});

function directoryBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? directoryBytes(path) : statSync(path).size;
  }
  return total;
}
