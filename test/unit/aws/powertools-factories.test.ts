import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { readAwsConfig } from '#adapters/aws-runtime.ts';
import { InvalidEventError } from '#adapters/lambda-events.ts';
import { eventSample, s3NotificationFor } from '#test/fixtures/events.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import {
  createDetailedHandler,
  createFastHandler,
  type DetailedLambda,
  type FastLambda,
} from '../../../functions/aws/handlers.ts';
import { lambdaContext } from '../../../functions/local/lambda-context.ts';
import { BUCKET, captureJsonLines, fakeS3, fakeSqs, QUEUE_URL } from './fakes.ts';

/**
 * The deployed handler factories with their default Powertools logger and metrics, the fixture
 * models, and S3/SQS behind aws-sdk-client-mock: what CloudWatch would receive on stdout (EMF
 * metrics under one namespace and service, the cold start once) for the event samples S3 and SQS send.
 */
const env = {
  MODELS_DIR: '',
  OCR_STAGE: 'off',
  BUCKET_NAME: BUCKET,
  DETAILED_QUEUE_URL: QUEUE_URL,
  LOG_LEVEL: 'INFO',
};
const clients = { s3: new S3Client({ region: 'us-east-1' }), sqs: new SQSClient({ region: 'us-east-1' }) };

/** The S3 sample, about one object of the fake bucket. */
const s3Notification = (key: string, etag: string) => s3NotificationFor({ bucket: BUCKET, key, etag });

/** The SQS sample with one record per body. */
function sqsBatch(...bodies: string[]): SQSEvent {
  const [record] = eventSample('sqs-event').Records;
  if (!record) throw new Error('Expected a record in the SQS sample');
  return { Records: bodies.map((body, i) => ({ ...record, messageId: `m${i + 1}`, body })) };
}

type Line = Record<string, unknown>;
const emf = (lines: Line[]) => lines.filter((line) => '_aws' in line);
const namespaces = (line: Line) =>
  (line._aws as { CloudWatchMetrics: Array<{ Namespace: string }> }).CloudWatchMetrics.map(
    (m) => m.Namespace,
  );

describe('handler factories: Powertools context, metrics and event parsing', () => {
  let output: ReturnType<typeof captureJsonLines>;
  let s3: ReturnType<typeof fakeS3>;
  let sqs: ReturnType<typeof fakeSqs>;
  let fast: FastLambda;
  let detailed: DetailedLambda;
  let initLines: Line[];

  beforeAll(async () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    vi.stubEnv('POWERTOOLS_DEV', 'false');
    // What Lambda sets for an on-demand environment: without it Powertools reports no cold start.
    vi.stubEnv('AWS_LAMBDA_INITIALIZATION_TYPE', 'on-demand');
    s3 = fakeS3();
    sqs = fakeSqs();
    output = captureJsonLines();
    const config = { ...env, MODELS_DIR: fixtureModelsDir() };
    fast = await createFastHandler(readAwsConfig(config, 'fast'), { clients });
    detailed = await createDetailedHandler(readAwsConfig(config, 'detailed'), { clients });
    initLines = [...output.lines];
    output.restore();
  });
  afterAll(() => vi.unstubAllEnvs());
  beforeEach(() => {
    output = captureJsonLines();
  });
  afterEach(() => output.restore());

  it('reports each model load under the one namespace, by stage', () => {
    expect(emf(initLines)).toEqual([
      expect.objectContaining({ service: 'image-describer', Stage: 'fast', ModelLoadMs: expect.any(Number) }),
      expect.objectContaining({
        service: 'image-describer',
        Stage: 'detailed',
        ModelLoadMs: expect.any(Number),
      }),
    ]);
    expect(emf(initLines).flatMap(namespaces)).toEqual(['ImageDescriber', 'ImageDescriber']);
  });

  it('describes the object of an S3 notification; ColdStart once, per-image metrics, the context on every log line', async () => {
    // Prepare
    const key = 'images/red photo.png';
    const etag = s3.put(key, await imageFixture('solidRed'), 'image/png');
    const event = s3Notification(key, etag);
    const context = lambdaContext('describe-fast');

    // Act: two invocations of one warm function
    await fast(event, context);
    const firstLines = [...output.lines];
    await fast(event, lambdaContext('describe-fast'));

    // Assess
    expect(s3.json('descriptions/red photo.png.json')?.caption).toBe('a red square');
    const metrics = emf(output.lines);
    expect(metrics.flatMap(namespaces).every((namespace) => namespace === 'ImageDescriber')).toBe(true);
    expect(metrics.filter((line) => 'ColdStart' in line)).toEqual([
      expect.objectContaining({ ColdStart: 1, service: 'image-describer', function_name: 'describe-fast' }),
    ]);
    expect(emf(firstLines)).toContainEqual(
      expect.objectContaining({
        service: 'image-describer',
        ImagesDescribed: 1,
        FastStageMs: expect.any(Number),
      }),
    );
    expect(metrics).toContainEqual(expect.objectContaining({ service: 'image-describer', Skipped: 1 }));
    const logs = firstLines.filter((line) => 'message' in line);
    expect(logs.map((line) => line.message)).toContain('caption written');
    for (const line of logs) {
      expect(line).toMatchObject({
        service: 'image-describer',
        stage: 'fast',
        function_name: 'describe-fast',
        function_request_id: context.awsRequestId,
        cold_start: true,
      });
    }
  });

  it('ignores S3 test events', async () => {
    await fast(eventSample('s3-test-event'), lambdaContext('describe-fast'));

    expect(output.lines.filter((line) => 'message' in line).map((line) => line.message)).toEqual([
      'test event ignored',
    ]);
    expect(emf(output.lines)).toEqual([]);
  });

  it('fails an event that is not an S3 notification with INVALID_EVENT, logged and counted', async () => {
    // Prepare: a real S3 record that lost its object key
    const event = s3Notification('images/x.png', 'e1');
    for (const record of event.Records) delete (record.s3.object as { key?: string }).key;

    // Act
    const invoke = fast(event, lambdaContext('describe-fast'));

    // Assess: thrown, so Lambda retries and then keeps the event in the on-failure DLQ
    await expect(invoke).rejects.toThrow(InvalidEventError);
    await expect(invoke).rejects.toThrow(
      'Expected an S3 event notification for Records.0.s3.object.key but received nothing',
    );
    expect(output.lines).toContainEqual(
      expect.objectContaining({
        level: 'ERROR',
        message: 'event is not an S3 notification',
        code: 'INVALID_EVENT',
        function_name: 'describe-fast',
      }),
    );
    expect(emf(output.lines)).toContainEqual(
      expect.objectContaining({
        service: 'image-describer',
        Stage: 'fast',
        ErrorCode: 'INVALID_EVENT',
        Failures: 1,
      }),
    );
  });

  it('completes a job from an SQS batch and fails only the record that is not a job', async () => {
    // Prepare: the fast stage's sidecar and its queued job
    const key = 'images/blue.png';
    const etag = s3.put(key, await imageFixture('solidBlue'), 'image/png');
    await fast(s3Notification(key, etag), lambdaContext('describe-fast'));
    const job = sqs.sent.find((sent) => sent.key === key);
    output.lines.length = 0;

    // Act
    const response = await detailed(
      sqsBatch(JSON.stringify(job), 'Test message.'),
      lambdaContext('describe-detailed'),
    );

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }] });
    expect(s3.json('descriptions/blue.png.json')?.status.detailed.state).toBe('done');
    expect(output.lines).toContainEqual(
      expect.objectContaining({
        message: 'detailed stage error, will retry',
        code: 'INVALID_JOB',
        messageId: 'm2',
        stage: 'detailed',
        function_name: 'describe-detailed',
      }),
    );
    const metrics = emf(output.lines);
    expect(metrics).toContainEqual(
      expect.objectContaining({
        ColdStart: 1,
        service: 'image-describer',
        function_name: 'describe-detailed',
      }),
    );
    expect(metrics).toContainEqual(
      expect.objectContaining({ service: 'image-describer', DetailedDescribed: 1 }),
    );
    expect(metrics).toContainEqual(
      expect.objectContaining({ Stage: 'detailed', ErrorCode: 'INVALID_JOB', Failures: 1 }),
    );
    expect(metrics.flatMap(namespaces).every((namespace) => namespace === 'ImageDescriber')).toBe(true);
  });
});
