import { createHash } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { vi } from 'vitest';
import { S3ObjectStore } from '#adapters/s3-object-store.ts';
import { SqsJobQueue } from '#adapters/sqs-job-queue.ts';
import type { DescribeInput } from '#engine/engine.ts';
import { ImageRejectedError, ModelLoadError } from '#engine/errors.ts';
import type { DetailedJob } from '#engine/pipeline/detailed-job.ts';
import { DEFAULT_KEY_LAYOUT } from '#engine/pipeline/key-layout.ts';
import type { CurrentModels } from '#engine/pipeline/staleness.ts';
import { carryDetailedResults } from '#engine/record/merge.ts';
import { failedRecord, newRecord, sha256Hex, validateRecord, withStageState } from '#engine/record/record.ts';
import type { DescriptionRecord, ModelProvenance, Source } from '#engine/record/schema.ts';

export const BUCKET = 'photos-bucket';
export const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/detailed';
export const NOW = new Date('2026-11-25T12:00:00.000Z');

const provenance = (id: string): ModelProvenance => ({
  id,
  revision: 'r1',
  architecture: 'vision-encoder-decoder',
  dtype: 'fp32',
  promptHash: '0123456789abcdef',
});
export const MODELS: CurrentModels = {
  caption: provenance('fixtures/fast'),
  detailed: provenance('fixtures/normal'),
};

/**
 * The engine stand-in: image "bytes" are words. `red` → caption "a red square" and detailed "a red
 * square on a plain background"; `corrupt` → CORRUPT_IMAGE (permanent); `flaky` → MODEL_LOAD_FAILED
 * (transient). Records are built with the real record helpers, so they pass the real schema.
 */
export function fakeEngine(options: { maxInputBytes?: number } = {}) {
  const calls = { fast: 0, detailed: 0 };
  const start = (input: DescribeInput) =>
    newRecord({ ...input.source, size: input.bytes.length, sha256: sha256Hex(input.bytes) }, NOW);
  const word = (input: DescribeInput) => Buffer.from(input.bytes).toString('utf8');
  const check = (input: DescribeInput) => {
    if (word(input) === 'corrupt')
      throw new ImageRejectedError('CORRUPT_IMAGE', 'Expected an image but received corrupt bytes');
    if (word(input) === 'flaky') throw new ModelLoadError('model session crashed');
  };
  return {
    calls,
    settings: { maxInputBytes: options.maxInputBytes ?? 1000, ocrStage: 'detailed' as const },
    async describeFast(input: DescribeInput): Promise<DescriptionRecord> {
      calls.fast++;
      check(input);
      const record = {
        ...start(input),
        caption: `a ${word(input)} square`,
        models: { caption: MODELS.caption },
      };
      return validateRecord(withStageState(record, 'fast', 'done', NOW));
    },
    async describeDetailed(input: DescribeInput, previous: DescriptionRecord): Promise<DescriptionRecord> {
      calls.detailed++;
      check(input);
      const record = {
        ...previous,
        detailedDescription: `a ${word(input)} square on a plain background`,
        models: { ...previous.models, detailed: MODELS.detailed },
        timings: { ...previous.timings, detailed: { modelMs: 5, totalMs: 6 } },
      };
      return validateRecord(withStageState(record, 'detailed', 'done', NOW));
    },
    failedRecordFor(
      input: DescribeInput,
      stage: 'fast' | 'detailed',
      error: unknown,
      previous?: DescriptionRecord,
    ) {
      return failedRecord(previous ?? start(input), stage, error, NOW);
    },
    failedUnreadRecordFor(source: Source, error: unknown, sameVersion?: DescriptionRecord) {
      return failedRecord(sameVersion ?? newRecord(source, NOW), 'fast', error, NOW);
    },
    judgedAgain: async (record: DescriptionRecord) => record,
    async withNewerDetailedResults(record: DescriptionRecord, newer: DescriptionRecord | undefined) {
      return newer?.source.sha256 === record.source.sha256 ? carryDetailedResults(record, newer) : record;
    },
  };
}

type S3Input = { Key?: string; IfMatch?: string; IfNoneMatch?: string };

interface StoredItem {
  body: Buffer;
  etag: string;
  contentType?: string;
}

function s3Error(name: string, status: number): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: status },
    message: name,
  });
}

/**
 * A bucket in memory behind aws-sdk-client-mock, honouring what the use cases rely on: HEAD and GET
 * 404, GET If-Match (412), PUT If-None-Match: * and If-Match (412). `beforeCommand` lets a test
 * change the bucket between two calls (an upload replacing the object, a concurrent sidecar write).
 */
export function fakeS3() {
  const objects = new Map<string, StoredItem>();
  const hooks: Array<{ command: string; action: () => void }> = [];
  const mock = mockClient(S3Client);
  const quoted = (etag: string) => `"${etag}"`;
  const run = (command: string, _input: { Key?: string }) => {
    const index = hooks.findIndex((hook) => hook.command === command);
    if (index >= 0) hooks.splice(index, 1)[0]?.action();
  };
  const put = (key: string, body: string | Buffer, contentType?: string) => {
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
    const etag = createHash('md5').update(bytes).digest('hex');
    objects.set(key, { body: bytes, etag, contentType });
    return etag;
  };

  mock.on(HeadObjectCommand).callsFake((input: { Key: string }) => {
    run('HeadObject', input);
    const item = objects.get(input.Key);
    if (!item) throw s3Error('NotFound', 404);
    return { ETag: quoted(item.etag), ContentLength: item.body.length, ContentType: item.contentType };
  });
  mock.on(GetObjectCommand).callsFake((input: { Key: string; IfMatch?: string }) => {
    run('GetObject', input);
    const item = objects.get(input.Key);
    if (!item) throw s3Error('NoSuchKey', 404);
    if (input.IfMatch && input.IfMatch !== quoted(item.etag)) throw s3Error('PreconditionFailed', 412);
    const body = item.body;
    return {
      ETag: quoted(item.etag),
      ContentLength: body.length,
      ContentType: item.contentType,
      Body: { transformToByteArray: async () => new Uint8Array(body) },
    };
  });
  mock
    .on(PutObjectCommand)
    .callsFake((input: { Key: string; Body: string; IfMatch?: string; IfNoneMatch?: string }) => {
      run('PutObject', input);
      const item = objects.get(input.Key);
      if (input.IfNoneMatch === '*' && item) throw s3Error('PreconditionFailed', 412);
      if (input.IfMatch && (!item || input.IfMatch !== quoted(item.etag)))
        throw s3Error('PreconditionFailed', 412);
      return { ETag: quoted(put(input.Key, input.Body, 'application/json')) };
    });
  mock.on(ListObjectsV2Command).callsFake((input: { Prefix?: string }) => ({
    Contents: [...objects.entries()]
      .filter(([key]) => key.startsWith(input.Prefix ?? ''))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, item]) => ({ Key: key, ETag: quoted(item.etag), Size: item.body.length })),
    IsTruncated: false,
  }));

  return {
    mock,
    objects,
    store: new S3ObjectStore({ bucket: BUCKET, client: new S3Client({ region: 'us-east-1' }) }),
    /** Upload an object; returns its ETag. */
    put,
    putJson: (key: string, value: unknown) =>
      put(key, `${JSON.stringify(value, null, 2)}\n`, 'application/json'),
    json: (key: string) => {
      const item = objects.get(key);
      return item ? (JSON.parse(item.body.toString('utf8')) as DescriptionRecord) : undefined;
    },
    /** Run once, just before the next S3 command of this name. */
    before: (command: 'HeadObject' | 'GetObject' | 'PutObject', action: () => void) => {
      hooks.push({ command, action });
    },
    /** The inputs of every command of this name sent so far. */
    commands: (name: 'HeadObject' | 'GetObject' | 'PutObject') =>
      mock
        .calls()
        .filter((call) => call.args[0].constructor.name === `${name}Command`)
        .map((call) => call.args[0].input as S3Input),
  };
}

/** SQS behind aws-sdk-client-mock: every SendMessage body, parsed. */
export function fakeSqs() {
  const mock = mockClient(SQSClient);
  const sent: DetailedJob[] = [];
  mock.on(SendMessageCommand).callsFake((input: { MessageBody: string }) => {
    sent.push(JSON.parse(input.MessageBody) as DetailedJob);
    return { MessageId: `m-${sent.length}` };
  });
  return {
    mock,
    sent,
    queue: new SqsJobQueue<DetailedJob>({
      queueUrl: QUEUE_URL,
      client: new SQSClient({ region: 'us-east-1' }),
    }),
  };
}

/** Every JSON line the handler printed, in order (Powertools: info and EMF to stdout, warn to stderr). */
export function captureJsonLines() {
  const lines: Array<Record<string, unknown>> = [];
  const capture = (chunk: string | Uint8Array) => {
    for (const line of String(chunk).split('\n'))
      if (line.trim().startsWith('{')) lines.push(JSON.parse(line));
    return true;
  };
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation(capture),
    vi.spyOn(process.stderr, 'write').mockImplementation(capture),
  ];
  return {
    lines,
    restore: () => {
      for (const spy of spies) spy.mockRestore();
    },
  };
}

/** Quiet Powertools instances for handler tests (observability.test.ts checks the output). */
export function quietObservability() {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
  return { logger, metrics: new Metrics({ namespace: 'Test', serviceName: 'test', logger }) };
}

export const layout = DEFAULT_KEY_LAYOUT;

/** An S3 ObjectCreated notification as Lambda receives it (key URL-encoded by S3), every field S3 sends. */
export function s3Event(
  records: Array<{ key: string; etag: string; size?: number; bucket?: string; eventName?: string }>,
) {
  return {
    Records: records.map((record) => ({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'us-east-1',
      eventTime: NOW.toISOString(),
      eventName: record.eventName ?? 'ObjectCreated:Put',
      userIdentity: { principalId: 'AWS:AIDAINPONIXQXHT3IKHL2' },
      requestParameters: { sourceIPAddress: '203.0.113.7' },
      responseElements: {
        'x-amz-request-id': 'D82B88E5F771F645',
        'x-amz-id-2': 'vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0emYBDXOo6QBU0Wo=',
      },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'describe-fast',
        bucket: {
          name: record.bucket ?? BUCKET,
          ownerIdentity: { principalId: 'A3I5XTEXAMAI3E' },
          arn: `arn:aws:s3:::${record.bucket ?? BUCKET}`,
        },
        object: {
          key: record.key,
          size: record.size ?? 3,
          eTag: record.etag,
          sequencer: '0055AED6DCD90281E5',
        },
      },
    })),
  };
}

export { encodeEventKey } from '#engine/pipeline/s3-event.ts';

export function sqsRecord(messageId: string, body: unknown): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: String(NOW.getTime()),
      SenderId: 'AIDA',
      ApproximateFirstReceiveTimestamp: String(NOW.getTime()),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:detailed',
    awsRegion: 'us-east-1',
  };
}

export const sqsEvent = (...records: SQSRecord[]): SQSEvent => ({ Records: records });
