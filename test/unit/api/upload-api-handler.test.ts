import { GetObjectCommand, HeadObjectCommand, NoSuchKey, NotFound, S3Client } from '@aws-sdk/client-s3';
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { newRecord, withStageState } from '#engine/record/record.ts';
import { INTERNAL_ERROR_MESSAGE } from '#engine/uploads/http-api.ts';
import { bodyOf, decodePolicy, getUploadEvent, postUploadsEvent } from './support.ts';

/**
 * The deployed module: configuration from the environment at import, the S3 adapters on one
 * client, the SDK calls checked with aws-sdk-client-mock.
 */
const ID = '0f8fad5b-d9cb-469f-a165-70867728950e';
const ENV = {
  BUCKET_NAME: 'my-describer-bucket',
  INPUT_PREFIX: 'in/',
  SIDECAR_PREFIX: 'out/',
  UPLOAD_MAX_BYTES: '2048',
  AWS_REGION: 'us-west-2',
  AWS_ACCESS_KEY_ID: 'AKIDLAMBDA',
  AWS_SECRET_ACCESS_KEY: 'lambda-secret',
  AWS_SESSION_TOKEN: 'lambda-token',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
};

const s3 = mockClient(S3Client);
let handler: typeof import('../../../functions/aws/upload-api.ts')['handler'];
const saved: Record<string, string | undefined> = {};

const context = { awsRequestId: 'lambda-req', functionName: 'upload-api' } as Context;

function sidecarBody(value: unknown) {
  const bytes = Buffer.from(JSON.stringify(value));
  // The adapter reads the body with transformToByteArray, as the SDK's stream mixin provides.
  return { transformToByteArray: async () => new Uint8Array(bytes) } as never;
}

beforeAll(async () => {
  for (const [name, value] of Object.entries(ENV)) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
  vi.resetModules();
  ({ handler } = await import('../../../functions/aws/upload-api.ts'));
});

afterAll(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  s3.restore();
});

beforeEach(() => s3.reset());

describe('upload-api Lambda handler', () => {
  it('presigns for the configured bucket, input prefix and maximum, with the role session token', async () => {
    // Act
    const result = (await handler(
      postUploadsEvent({ filename: 'dog.webp', contentType: 'image/webp', size: 2048 }),
      context,
    )) as APIGatewayProxyStructuredResultV2;

    // Assess
    expect(result.statusCode).toBe(201);
    const body = bodyOf(result) as { id: string; url: string; fields: Record<string, string> };
    expect(body.url).toBe('https://my-describer-bucket.s3.us-west-2.amazonaws.com/');
    expect(body.fields.key).toBe(`in/uploads/${body.id}`);
    const { conditions } = decodePolicy(body.fields);
    expect(conditions).toEqual(
      expect.arrayContaining([
        { key: `in/uploads/${body.id}` },
        { bucket: 'my-describer-bucket' },
        ['content-length-range', 1, 2048],
        { 'Content-Type': 'image/webp' },
        { 'X-Amz-Security-Token': 'lambda-token' },
      ]),
    );
    // Presigning is local: no S3 call at all.
    expect(s3.calls()).toHaveLength(0);
  });

  it('is uploading when HeadObject answers 404', async () => {
    // Prepare
    s3.on(HeadObjectCommand).rejects(
      new NotFound({ message: 'Not Found', $metadata: { httpStatusCode: 404 } }),
    );

    // Act
    const result = (await handler(getUploadEvent(ID), context)) as APIGatewayProxyStructuredResultV2;

    // Assess
    expect(bodyOf(result)).toEqual({ id: ID, status: 'uploading' });
    expect(s3.commandCalls(HeadObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: 'my-describer-bucket',
      Key: `in/uploads/${ID}`,
    });
  });

  it('reads the sidecar under the sidecar prefix and reports fast-done with the caption', async () => {
    // Prepare
    const at = new Date('2026-11-25T20:00:00Z');
    const record = {
      ...withStageState(
        newRecord(
          {
            kind: 's3' as const,
            bucket: 'my-describer-bucket',
            key: `in/uploads/${ID}`,
            etag: 'abc',
            size: 9,
          },
          at,
        ),
        'fast',
        'done',
        at,
      ),
      caption: 'a red square',
    };
    s3.on(HeadObjectCommand).resolves({ ETag: '"abc"', ContentLength: 9 });
    s3.on(GetObjectCommand).resolves({ ETag: '"side"', Body: sidecarBody(record) });

    // Act
    const result = (await handler(getUploadEvent(ID), context)) as APIGatewayProxyStructuredResultV2;

    // Assess
    expect(bodyOf(result)).toEqual({ id: ID, status: 'fast-done', record });
    expect(s3.commandCalls(GetObjectCommand)[0]?.args[0].input).toMatchObject({
      Bucket: 'my-describer-bucket',
      Key: `out/uploads/${ID}.json`,
    });
  });

  it('is describing when the object exists and GetObject says NoSuchKey for the sidecar', async () => {
    s3.on(HeadObjectCommand).resolves({ ETag: '"abc"', ContentLength: 9 });
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'gone', $metadata: { httpStatusCode: 404 } }));

    const result = (await handler(getUploadEvent(ID), context)) as APIGatewayProxyStructuredResultV2;

    expect(bodyOf(result)).toEqual({ id: ID, status: 'describing' });
  });

  it('answers 500 with the request id and none of the SDK error when S3 refuses', async () => {
    // Prepare
    const denied = Object.assign(
      new Error('User: arn:aws:sts::123456789012:assumed-role/upload-api-role is not authorized'),
      { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } },
    );
    s3.on(HeadObjectCommand).rejects(denied);
    const event = getUploadEvent(ID);
    const withId = { ...event, requestContext: { ...event.requestContext, requestId: 'Xy1-req' } };

    // Act
    const result = (await handler(withId, context)) as APIGatewayProxyStructuredResultV2;

    // Assess
    expect(result.statusCode).toBe(500);
    expect(result.headers?.['content-type']).toBe('application/json; charset=utf-8');
    expect(bodyOf(result)).toEqual({
      error: { code: 'INTERNAL', message: INTERNAL_ERROR_MESSAGE, requestId: 'Xy1-req' },
    });
    expect(result.body).not.toMatch(/arn:|role|AccessDenied|S3/);
  });

  it('fails at import (cold start) when BUCKET_NAME is missing', async () => {
    // Prepare
    const bucket = process.env.BUCKET_NAME;
    delete process.env.BUCKET_NAME;
    vi.resetModules();

    // Act
    const loading = import('../../../functions/aws/upload-api.ts');

    // Assess
    await expect(loading).rejects.toThrow(
      'Expected a non-empty value for environment variable BUCKET_NAME but received nothing',
    );
    process.env.BUCKET_NAME = bucket;
  });
});
