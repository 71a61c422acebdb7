import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { parseS3Notification } from '#adapters/lambda-events.ts';
import { LambdaFastTrigger } from '#adapters/lambda-fast-trigger.ts';
import { objectsCreated } from '#engine/pipeline/s3-event.ts';

describe('LambdaFastTrigger', () => {
  it('invokes the fast function asynchronously with the S3 event S3 would send for the object', async () => {
    // Prepare
    const lambda = mockClient(LambdaClient);
    lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
    const trigger = new LambdaFastTrigger({ functionName: 'describe-fast', client: new LambdaClient({}) });
    const object = { bucket: 'photos', key: 'images/2026/my photo (1)+final!.jpg', etag: 'abc123', size: 42 };

    // Act
    await trigger.trigger(object);

    // Assess: async invoke, an event the handler's S3 schema accepts, and its decoding gives back exactly this object
    const input = lambda.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(input).toMatchObject({ FunctionName: 'describe-fast', InvocationType: 'Event' });
    const event: unknown = JSON.parse(Buffer.from(input?.Payload as Uint8Array).toString('utf8'));
    expect(JSON.stringify(event)).toContain('"key":"images/2026/my+photo+%281%29%2Bfinal%21.jpg"');
    const notification = parseS3Notification(event);
    expect(notification && objectsCreated(notification)).toEqual([
      { ...object, eventName: 'ObjectCreated:Put' },
    ]);
  });

  it('turns a failed invoke into a transient storage error', async () => {
    const lambda = mockClient(LambdaClient);
    lambda.on(InvokeCommand).rejects(new Error('Rate exceeded'));
    const trigger = new LambdaFastTrigger({ functionName: 'describe-fast', client: new LambdaClient({}) });

    await expect(
      trigger.trigger({ bucket: 'b', key: 'images/a.jpg', etag: 'e', size: 1 }),
    ).rejects.toMatchObject({
      code: 'STORAGE_UNAVAILABLE',
      permanent: false,
    });
  });
});
