import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { awsClientConfig } from '#adapters/aws-config.ts';
import { S3ObjectStore } from '#adapters/s3-object-store.ts';
import { SqsJobQueue } from '#adapters/sqs-job-queue.ts';

const error = (name: string, status: number) =>
  new S3ServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    message: name,
  });

describe('S3ObjectStore', () => {
  const s3 = mockClient(S3Client);
  const store = new S3ObjectStore({ bucket: 'b', client: new S3Client({ region: 'us-east-1' }) });
  beforeEach(() => s3.reset());

  it('turns 404 into ObjectNotFoundError, and a missing JSON object into undefined', async () => {
    s3.on(HeadObjectCommand).rejects(error('NotFound', 404));
    s3.on(GetObjectCommand).rejects(error('NoSuchKey', 404));

    await expect(store.head('images/a.jpg')).rejects.toMatchObject({
      name: 'ObjectNotFoundError',
      key: 'images/a.jpg',
    });
    await expect(store.getJson('descriptions/a.jpg.json')).resolves.toBeUndefined();
  });

  it('turns 412 and 409 ConditionalRequestConflict on a conditional write into PreconditionFailedError', async () => {
    s3.on(PutObjectCommand)
      .rejectsOnce(error('PreconditionFailed', 412))
      .rejectsOnce(error('ConditionalRequestConflict', 409));

    await expect(store.putJson('d/a.json', {}, { ifNoneMatch: '*' })).rejects.toMatchObject({
      name: 'PreconditionFailedError',
      message: 'Expected no existing object for d/a.json but the stored object did not match',
    });
    await expect(store.putJson('d/a.json', {}, { ifMatch: 'e1' })).rejects.toMatchObject({
      name: 'PreconditionFailedError',
      message: 'Expected ETag e1 for d/a.json but the stored object did not match',
    });
    expect(s3.commandCalls(PutObjectCommand)[1]?.args[0].input).toMatchObject({
      IfMatch: '"e1"',
      ContentType: 'application/json',
    });
  });

  it('treats a server that ignores If-Match on GET as a mismatch when the returned ETag differs', async () => {
    s3.on(GetObjectCommand).resolves({
      ETag: '"newer"',
      Body: { transformToByteArray: async () => new Uint8Array([1]) } as never,
    });

    await expect(store.get('images/a.jpg', { ifMatch: 'older' })).rejects.toMatchObject({
      name: 'PreconditionFailedError',
    });
  });

  it('turns throttling and 5xx into a transient StorageUnavailableError', async () => {
    s3.on(HeadObjectCommand).rejects(error('SlowDown', 503));

    await expect(store.head('images/a.jpg')).rejects.toMatchObject({
      name: 'StorageUnavailableError',
      code: 'STORAGE_UNAVAILABLE',
      permanent: false,
    });
  });

  it('writes raw bytes with their content type and metadata, and returns the bare ETag', async () => {
    // Prepare
    s3.on(PutObjectCommand).resolves({ ETag: '"abc"' });
    const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);

    // Act
    const written = await store.putBytes('images/cat.png', bytes, {
      contentType: 'image/png',
      metadata: { 'original-filename': 'cat.png' },
    });

    // Assess
    expect(written).toEqual({ etag: 'abc' });
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: 'b',
      Key: 'images/cat.png',
      Body: bytes,
      ContentType: 'image/png',
      Metadata: { 'original-filename': 'cat.png' },
    });
  });

  it('turns a failed byte write into a transient StorageUnavailableError', async () => {
    s3.on(PutObjectCommand).rejects(error('InternalError', 500));

    await expect(store.putBytes('images/cat.png', new Uint8Array([1]))).rejects.toMatchObject({
      name: 'StorageUnavailableError',
    });
  });

  it('lists the last-modified time when S3 reports it', async () => {
    s3.on(ListObjectsV2Command).resolves({
      Contents: [
        { Key: 'images/a.jpg', ETag: '"e1"', Size: 1, LastModified: new Date('2026-01-02T03:04:05Z') },
      ],
    });

    const listed = [];
    for await (const item of store.list('images/')) listed.push(item);

    expect(listed).toEqual([
      { key: 'images/a.jpg', etag: 'e1', size: 1, lastModified: '2026-01-02T03:04:05.000Z' },
    ]);
  });

  it('lists every page, ETags without quotes', async () => {
    s3.on(ListObjectsV2Command, { ContinuationToken: undefined }).resolves({
      Contents: [{ Key: 'images/a.jpg', ETag: '"e1"', Size: 1 }],
      IsTruncated: true,
      NextContinuationToken: 't2',
    });
    s3.on(ListObjectsV2Command, { ContinuationToken: 't2' }).resolves({
      Contents: [{ Key: 'images/b.jpg', ETag: '"e2-3"', Size: 2 }],
      IsTruncated: false,
    });

    const listed = [];
    for await (const item of store.list('images/')) listed.push(item);

    expect(listed).toEqual([
      { key: 'images/a.jpg', etag: 'e1', size: 1 },
      { key: 'images/b.jpg', etag: 'e2-3', size: 2 },
    ]);
  });
});

describe('SqsJobQueue', () => {
  it('sends the job as a JSON body, and a failed send is transient', async () => {
    const sqs = mockClient(SQSClient);
    sqs.on(SendMessageCommand).resolvesOnce({ MessageId: 'm1' }).rejectsOnce(new Error('throttled'));
    const queue = new SqsJobQueue<{ key: string }>({
      queueUrl: 'https://q',
      client: new SQSClient({ region: 'us-east-1' }),
    });

    await queue.send({ key: 'images/a.jpg' });
    await expect(queue.send({ key: 'images/b.jpg' })).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });

    expect(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input).toEqual({
      QueueUrl: 'https://q',
      MessageBody: '{"key":"images/a.jpg"}',
    });
  });
});

describe('awsClientConfig', () => {
  it('uses the Lambda defaults without an endpoint, and path-style addressing with one', () => {
    expect(awsClientConfig({ region: 'eu-west-1' })).toEqual({ region: 'eu-west-1' });
    expect(awsClientConfig({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:5000' })).toMatchObject({
      endpoint: 'http://127.0.0.1:5000',
      forcePathStyle: true,
    });
  });
});
