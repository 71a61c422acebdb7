import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { stackPropsFromContext } from '../../infra/config.ts';
import { DescriberAlarms } from '../../infra/constructs/describer-alarms.ts';
import { DescriptionBucket } from '../../infra/constructs/description-bucket.ts';
import { DetailedDescribeWorker } from '../../infra/constructs/detailed-describe-worker.ts';
import { FastDescribeFunction } from '../../infra/constructs/fast-describe-function.ts';
import { UploadApi } from '../../infra/constructs/upload-api.ts';
import { DOCKERFILE, REPO_ROOT } from '../../infra/describer-image.ts';
import { ImageDescriberStack } from '../../infra/image-describer-stack.ts';
import { threadsForMemory } from '../../infra/sizing.ts';
import { TEST_MODELS } from './synth.ts';

// Construct-level checks: no synthesis, so every bad prop is caught before anything is built.
function scope() {
  const stack = new Stack(new App(), 'Props');
  const bucket = new DescriptionBucket(stack, 'Bucket');
  // Never bound: the constructs validate their props before touching the code.
  const code = lambda.DockerImageCode.fromImageAsset(REPO_ROOT, { file: DOCKERFILE });
  const queue = new sqs.Queue(stack, 'Queue');
  return { stack, bucket, code, queue };
}

describe('threadsForMemory', () => {
  it('gives one onnxruntime thread per whole vCPU the memory buys', () => {
    const table = [128, 1024, 1769, 3008, 3538, 5307, 7076, 8845, 10240].map((mb) => [
      mb,
      threadsForMemory(mb),
    ]);
    expect(table).toEqual([
      [128, 1],
      [1024, 1],
      [1769, 1],
      [3008, 1],
      [3538, 2],
      [5307, 3],
      [7076, 4],
      [8845, 5],
      [10240, 6],
    ]);
  });

  it('refuses a memory size Lambda does not offer', () => {
    expect(() => threadsForMemory(64)).toThrow(
      'Expected an integer from 128 to 10240 (MB) for memoryMB but received number 64',
    );
  });
});

describe('DescriptionBucket props', () => {
  it.each([
    [
      { inputPrefix: 'images' },
      'Expected a key prefix like "images/" (ending in "/") for inputPrefix but received "images"',
    ],
    [{ inputPrefix: '/images/' }, 'for inputPrefix but received "/images/"'],
    [{ sidecarPrefix: 'desc*/' }, 'for sidecarPrefix but received "desc*/"'],
    [
      { inputPrefix: 'data/', sidecarPrefix: 'data/descriptions/' },
      'Expected a prefix that does not overlap inputPrefix "data/" for sidecarPrefix but received "data/descriptions/"',
    ],
    [{ sidecarPrefix: 'images/' }, 'does not overlap inputPrefix "images/"'],
    [
      { corsOrigins: ['*'] },
      'Expected an origin like https://app.example.com (no path, no *) for corsOrigins[0] but received "*"',
    ],
    [
      { corsOrigins: ['https://app.example.com/upload'] },
      'for corsOrigins[0] but received "https://app.example.com/upload"',
    ],
  ])('throws for %j', (props, message) => {
    const stack = new Stack(new App(), 'Props');
    expect(() => new DescriptionBucket(stack, 'Bucket', props)).toThrow(message);
  });
});

describe('FastDescribeFunction props', () => {
  it.each([
    [{ memoryMB: 100 }, 'for memoryMB but received number 100'],
    [
      { timeoutSeconds: 901 },
      'Expected an integer from 1 to 900 (seconds) for timeoutSeconds but received number 901',
    ],
    [{ reservedConcurrency: 0 }, 'for reservedConcurrency but received number 0'],
    [{ retryAttempts: 3 }, 'Expected an integer from 0 to 2 for retryAttempts but received number 3'],
    [
      { maxEventAge: Duration.hours(7) },
      'Expected from 1 minute to 6 hours for maxEventAge but received "25200 seconds"',
    ],
  ])('throws for %j', (props, message) => {
    const { stack, bucket, code, queue } = scope();
    expect(
      () => new FastDescribeFunction(stack, 'Fast', { bucket, code, jobsQueue: queue, ...props }),
    ).toThrow(message);
  });
});

describe('DetailedDescribeWorker props', () => {
  it.each([
    [{ maxConcurrency: 1 }, 'Expected an integer from 2 to 1000 for maxConcurrency but received number 1'],
    [{ batchSize: 11 }, 'Expected an integer from 1 to 10 for batchSize but received number 11'],
    [{ timeoutSeconds: 0 }, 'for timeoutSeconds but received number 0'],
    [{ maxReceiveCount: 0 }, 'for maxReceiveCount but received number 0'],
    [{ memoryMB: 20_000 }, 'for memoryMB but received number 20000'],
  ])('throws for %j', (props, message) => {
    const { stack, bucket, code } = scope();
    expect(() => new DetailedDescribeWorker(stack, 'Worker', { bucket, code, ...props })).toThrow(message);
  });
});

describe('UploadApi props', () => {
  it.each([
    [
      { auth: { kind: 'jwt', issuer: 'http://issuer.example.com', audience: ['a'] } },
      'Expected an https issuer URL for auth.issuer',
    ],
    [
      { auth: { kind: 'jwt', issuer: 'https://issuer.example.com', audience: [] } },
      'Expected one or more non-empty audiences for auth.audience',
    ],
    [{ auth: { kind: 'apiKey' } }, 'Expected "iam" or "jwt" for auth.kind but received "apiKey"'],
    [{ rateLimit: 0 }, 'for rateLimit but received number 0'],
    [{ corsOrigins: ['app.example.com'] }, 'for corsOrigins[0] but received "app.example.com"'],
  ] as const)('throws for %j', (props, message) => {
    const { stack, bucket } = scope();
    // biome-ignore lint/suspicious/noExplicitAny: deliberately invalid props
    expect(() => new UploadApi(stack, 'Api', { bucket, ...(props as any) })).toThrow(message);
  });
});

describe('DescriberAlarms props', () => {
  it('throws for an error rate outside (0, 100]', () => {
    const stack = new Stack(new App(), 'Props');
    expect(
      () =>
        new DescriberAlarms(stack, 'Alarms', { functions: {}, deadLetterQueues: {}, errorRatePercent: 0 }),
    ).toThrow('Expected a percentage above 0 and at most 100 for errorRatePercent but received number 0');
  });
});

describe('ImageDescriberStack props', () => {
  it('refuses an upload limit above what the describe functions accept', () => {
    expect(
      () =>
        new ImageDescriberStack(new App(), 'Stack', {
          models: TEST_MODELS,
          maxInputBytes: 10 * 1024 * 1024,
          api: { uploadMaxBytes: 20 * 1024 * 1024 },
        }),
    ).toThrow('so accepted uploads get described for api.uploadMaxBytes but received number 20971520');
  });
});

describe('stackPropsFromContext', () => {
  const context = (values: Record<string, unknown>) => ({ tryGetContext: (key: string) => values[key] });

  it('reads the documented switches from `-c key=value` strings', () => {
    const props = stackPropsFromContext(
      context({
        inputPrefix: 'inbox/',
        fastReservedConcurrency: 'none',
        detailedMaxConcurrency: '8',
        jwtIssuer: 'https://issuer.example.com/',
        jwtAudience: 'web, mobile',
        corsOrigins: 'https://a.example.com,https://b.example.com',
        bucketRemovalPolicy: 'destroy',
      }),
    );
    expect(props.inputPrefix).toBe('inbox/');
    expect(props.fast?.reservedConcurrency).toBe(false);
    expect(props.detailed?.maxConcurrency).toBe(8);
    expect(props.api?.auth).toEqual({
      kind: 'jwt',
      issuer: 'https://issuer.example.com/',
      audience: ['web', 'mobile'],
    });
    expect(props.api?.corsOrigins).toEqual(['https://a.example.com', 'https://b.example.com']);
    expect(props.bucketRemovalPolicy).toBe('destroy');
  });

  it('defaults to IAM auth, no CORS and a retained bucket', () => {
    const props = stackPropsFromContext(context({}));
    expect(props.api?.auth).toEqual({ kind: 'iam' });
    expect(props.api?.corsOrigins).toBeUndefined();
    expect(props.bucketRemovalPolicy).toBe('retain');
    expect(props.fast?.reservedConcurrency).toBeUndefined();
    expect(props.requireModels).toBe(false);
  });

  it('reads requireModels=true, which `npm run deploy` passes', () => {
    expect(stackPropsFromContext(context({ requireModels: 'true' })).requireModels).toBe(true);
    const deploy = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).scripts.deploy;
    expect(deploy).toMatch(/^cdk deploy\b.*-c requireModels=true/);
  });

  it.each([
    [{ jwtIssuer: 'https://issuer.example.com/' }, 'Expected both jwtIssuer and jwtAudience (or neither)'],
    [
      { ocrStage: 'sometimes' },
      'Expected fast, detailed or off for context ocrStage but received "sometimes"',
    ],
    [{ fastMemoryMB: 'lots' }, 'Expected an integer for context fastMemoryMB but received "lots"'],
    [{ bucketRemovalPolicy: 'snapshot' }, 'Expected retain or destroy for context bucketRemovalPolicy'],
    [{ requireModels: 'yes' }, 'Expected true or false for context requireModels but received "yes"'],
  ])('throws for %j', (values, message) => {
    expect(() => stackPropsFromContext(context(values))).toThrow(message);
  });
});

describe('IAM scopes match the keys the handlers use', () => {
  it('an API upload key and its sidecar fall inside the upload function grants', async () => {
    const { keyLayout, sidecarKeyFor } = await import('#engine/pipeline/key-layout.ts');
    const { newUploadId, uploadKeyFor } = await import('#engine/uploads/upload-id.ts');
    const { UPLOADS_SUB_PREFIX } = await import('../../infra/constructs/upload-api.ts');
    const layout = keyLayout({ inputPrefix: 'inbox/', sidecarPrefix: 'sidecars/' });
    const key = uploadKeyFor(layout, newUploadId());
    expect(key.startsWith(`inbox/${UPLOADS_SUB_PREFIX}`)).toBe(true);
    expect(sidecarKeyFor(layout, key).startsWith(`sidecars/${UPLOADS_SUB_PREFIX}`)).toBe(true);
  });

  it('every prefix the stack accepts is one the handlers accept', async () => {
    const { keyLayout } = await import('#engine/pipeline/key-layout.ts');
    for (const [inputPrefix, sidecarPrefix] of [
      ['images/', 'descriptions/'],
      ['in/2026/', 'out/'],
      ['a.b-c_d/', "e'f(g)/"],
    ] as const) {
      const stack = new Stack(new App(), 'Props');
      const bucket = new DescriptionBucket(stack, 'Bucket', { inputPrefix, sidecarPrefix });
      expect(keyLayout({ inputPrefix: bucket.inputPrefix, sidecarPrefix: bucket.sidecarPrefix })).toEqual({
        inputPrefix,
        sidecarPrefix,
      });
    }
  });
});
