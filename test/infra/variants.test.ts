import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RemovalPolicy } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowedActions, logicalId, renderArn, type Synthesized, synthesize, TEST_MODELS } from './synth.ts';

const ISSUER = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_example';
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:image-describer-alerts';

/** The Docker build arguments of the synthesized image for one Dockerfile target. */
function imageBuildArgs(synthesized: Synthesized, target: string): object | undefined {
  const assets = JSON.parse(
    readFileSync(join(synthesized.outdir, `${synthesized.stack.artifactId}.assets.json`), 'utf8'),
  ).dockerImages as Record<string, { source: { dockerBuildTarget: string; dockerBuildArgs: object } }>;
  return Object.values(assets).find((a) => a.source.dockerBuildTarget === target)?.source.dockerBuildArgs;
}

// The switches a deployer sets by context, all at once, in one synthesis (no bundling needed here).
let synth: Synthesized;
beforeAll(() => {
  synth = synthesize(
    {
      inputPrefix: 'inbox/',
      sidecarPrefix: 'sidecars/',
      fast: { memoryMB: 1769, reservedConcurrency: 10 },
      api: {
        auth: { kind: 'jwt', issuer: ISSUER, audience: ['web-client'] },
        corsOrigins: ['https://app.example.com'],
        rateLimit: 50,
        burstLimit: 100,
      },
      alarmTopicArn: TOPIC,
      questionsConfig: JSON.stringify({
        questions: [{ id: 'people-count', prompt: 'How many people are in the image?', type: 'number' }],
      }),
      bucketRemovalPolicy: RemovalPolicy.DESTROY,
      versioned: false,
    },
    { bundle: false },
  );
});
afterAll(() => synth?.cleanup());

describe('configured stack', () => {
  it('stays cdk-nag clean', () => {
    expect(synth.nagViolations).toEqual([]);
  });

  it('uses a JWT authorizer with the configured issuer and audience on every route', () => {
    synth.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: ISSUER, Audience: ['web-client'] },
    });
    const routes = Object.values(synth.template.findResources('AWS::ApiGatewayV2::Route'));
    expect(routes.map((r) => r.Properties.AuthorizationType)).toEqual(['JWT', 'JWT', 'JWT']);
    expect(routes.every((r) => r.Properties.AuthorizerId !== undefined)).toBe(true);
    synth.template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
    expect(synth.template.toJSON().Outputs).not.toHaveProperty('ApiInvokePolicyArn');
  });

  it('allows CORS for the configured origin only, on the API and for the browser POST to the bucket', () => {
    synth.template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: Match.objectLike({
        AllowOrigins: ['https://app.example.com'],
        AllowMethods: ['GET', 'POST'],
      }),
    });
    synth.template.hasResourceProperties('AWS::S3::Bucket', {
      CorsConfiguration: {
        CorsRules: [
          Match.objectLike({ AllowedMethods: ['POST'], AllowedOrigins: ['https://app.example.com'] }),
        ],
      },
    });
  });

  it('throttles at the configured rate and burst', () => {
    synth.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
    });
  });

  it('filters the notification and scopes every grant to the configured prefixes', () => {
    const notification = Object.values(synth.template.findResources('Custom::S3BucketNotifications'))[0];
    const triggers = notification?.Properties.NotificationConfiguration.LambdaFunctionConfigurations.map(
      (c: { Events: string[]; Filter: { Key: { FilterRules: Array<{ Value: string }> } } }) =>
        `${c.Events[0]} ${c.Filter.Key.FilterRules[0]?.Value}`,
    );
    expect(triggers).toEqual([
      's3:ObjectCreated:* inbox/',
      's3:ObjectRemoved:* inbox/',
      's3:ObjectRemoved:* sidecars/',
    ]);
    const bucket = `<${logicalId(synth.stack, synth.stack.descriptionBucket.bucket)}.Arn>`;
    const fast = allowedActions(
      synth.template,
      logicalId(synth.stack, synth.stack.fastDescribe.identity.role),
    );
    expect(fast.get('s3:GetObject')).toEqual([`${bucket}/inbox/*`, `${bucket}/sidecars/*`]);
    expect(fast.get('s3:PutObject')).toEqual([`${bucket}/sidecars/*`]);
    const api = allowedActions(synth.template, logicalId(synth.stack, synth.stack.uploadApi.identity.role));
    expect(api.get('s3:PutObject')).toEqual([`${bucket}/inbox/uploads/*`]);
    expect(api.get('s3:GetObject')).toEqual([`${bucket}/inbox/uploads/*`, `${bucket}/sidecars/uploads/*`]);
    const searchRole = synth.stack.searchFunction?.identity.role ?? synth.stack.uploadApi.identity.role;
    const search = allowedActions(synth.template, logicalId(synth.stack, searchRole));
    const results = `<${logicalId(synth.stack, synth.stack.search?.resultsBucket ?? synth.stack)}.Arn>`;
    expect(search.get('s3:GetObject')).toEqual([`${bucket}/sidecars/*`, `${results}/results/*`]);
    const table = Object.values(synth.template.findResources('AWS::Glue::Table'))[0];
    expect(renderArn(table?.Properties.TableInput.StorageDescriptor.Location)).toBe(
      `s3://<${logicalId(synth.stack, synth.stack.descriptionBucket.bucket)}>/sidecars/`,
    );
    const env =
      synth.template.toJSON().Resources[logicalId(synth.stack, synth.stack.detailedWorker.fn)].Properties
        .Environment.Variables;
    expect(env).toMatchObject({ INPUT_PREFIX: 'inbox/', SIDECAR_PREFIX: 'sidecars/' });
  });

  it('sizes the worker for SmolVLM when questions are configured, and keeps the queue at 6x its timeout', () => {
    const resources = synth.template.toJSON().Resources;
    const worker = resources[logicalId(synth.stack, synth.stack.detailedWorker.fn)].Properties;
    const queue = resources[logicalId(synth.stack, synth.stack.detailedWorker.queue)].Properties;
    expect([worker.MemorySize, worker.Timeout, worker.Environment.Variables.ORT_THREADS]).toEqual([
      8845,
      120,
      '5',
    ]);
    expect(queue.VisibilityTimeout).toBe(720);
  });

  it('bakes the questions model into the worker image (and only there) when questions are configured', () => {
    const argsOf = (target: string) => imageBuildArgs(synth, target);

    expect(argsOf('detailed')).toEqual({
      MODEL_ID: TEST_MODELS.normal.id,
      EXTRA_MODEL_ID: TEST_MODELS.questions.id,
    });
    // The fast image carries the embedding model beside the captioner (the fast stage embeds every image).
    expect(argsOf('fast')).toEqual({
      MODEL_ID: TEST_MODELS.fast.id,
      EXTRA_MODEL_ID: TEST_MODELS.embedding.id,
    });
  });

  it('reserves the concurrency asked for and runs one thread at 1769 MB', () => {
    const fast =
      synth.template.toJSON().Resources[logicalId(synth.stack, synth.stack.fastDescribe.fn)].Properties;
    expect(fast.ReservedConcurrentExecutions).toBe(10);
    expect(fast.MemorySize).toBe(1769);
    expect(fast.Environment.Variables.ORT_THREADS).toBe('1');
  });

  it('sends every alarm and its recovery to the configured topic', () => {
    const alarms = Object.values(synth.template.findResources('AWS::CloudWatch::Alarm'));
    // Two dead-letter, four error-rate (fast, detailed, upload API, search) and the search bytes-scanned alarm.
    expect(alarms).toHaveLength(7);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([TOPIC]);
      expect(alarm.Properties.OKActions).toEqual([TOPIC]);
    }
  });

  it('deletes the (empty) bucket with the stack and keeps no old versions when asked', () => {
    const bucket =
      synth.template.toJSON().Resources[logicalId(synth.stack, synth.stack.descriptionBucket.bucket)];
    expect(bucket.DeletionPolicy).toBe('Delete');
    expect(bucket.Properties.VersioningConfiguration).toBeUndefined();
    // The vectors go with the bucket they describe.
    for (const type of ['AWS::S3Vectors::VectorBucket', 'AWS::S3Vectors::Index']) {
      expect(Object.values(synth.template.findResources(type)).map((r) => r.DeletionPolicy)).toEqual([
        'Delete',
      ]);
    }
    expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual([
      {
        Id: 'abort-incomplete-multipart-uploads',
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
        Status: 'Enabled',
      },
    ]);
  });
});

describe('stack whose categories carry prompts and which asks no questions', () => {
  let prompts: Synthesized;
  beforeAll(() => {
    prompts = synthesize(
      {
        questionsConfig: JSON.stringify({
          categories: [{ id: 'beach', label: 'Beach', prompts: ['a photo of a beach'] }],
        }),
      },
      { bundle: false },
    );
  });
  afterAll(() => prompts?.cleanup());

  it("bakes the embedding model into the worker image too, for the prompts' text tower", () => {
    const argsOf = (target: string) => imageBuildArgs(prompts, target);

    expect(argsOf('detailed')).toEqual({
      MODEL_ID: TEST_MODELS.normal.id,
      EXTRA_MODEL_ID: TEST_MODELS.embedding.id,
    });
  });
});
