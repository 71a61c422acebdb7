import type { S3Event } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { decodeEventKey } from '#engine/pipeline/key-layout.ts';
import { encodeEventKey } from '#engine/pipeline/s3-event.ts';
import { AsyncInvoker, notificationFor } from '../../../functions/local/s3-notifications.ts';

/** A record as s3rver emits it (key not encoded). */
function s3rverEvent(key: string, eventName = 'ObjectCreated:Post'): S3Event {
  return {
    Records: [
      {
        eventVersion: '2.0',
        eventSource: 'aws:s3',
        awsRegion: 'us-east-1',
        eventTime: '2026-11-25T20:00:00.000Z',
        eventName,
        userIdentity: { principalId: 'x' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: { 'x-amz-request-id': 'x', 'x-amz-id-2': 'x' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'testConfigId',
          bucket: { name: 'b', ownerIdentity: { principalId: 'x' }, arn: 'arn:aws:s3: : :b' },
          object: { key, size: 3, eTag: 'abc', sequencer: '1' },
        },
      },
    ],
  };
}

describe('S3 notifications on the laptop', () => {
  it('encodes keys as real S3 does, and the pipeline decodes them back', () => {
    // Prepare
    const key = 'images/2026/my photo (1)+ü.jpg';

    // Act
    const encoded = encodeEventKey(key);

    // Assess
    expect(encoded).toBe('images/2026/my+photo+%281%29%2B%C3%BC.jpg');
    expect(decodeEventKey(encoded)).toBe(key);
  });

  it('passes only ObjectCreated under the input prefix, like the deployed notification filter', () => {
    // Act
    const upload = notificationFor(s3rverEvent('images/uploads/a b'), 'images/');
    const sidecar = notificationFor(
      s3rverEvent('descriptions/uploads/a.json', 'ObjectCreated:Put'),
      'images/',
    );
    const deleted = notificationFor(s3rverEvent('images/x.png', 'ObjectRemoved:Delete'), 'images/');

    // Assess
    expect(upload?.Records.map((r) => r.s3.object.key)).toEqual(['images/uploads/a+b']);
    expect(sidecar).toBeUndefined();
    expect(deleted).toBeUndefined();
  });

  it('retries a failed invocation twice, then drops it, and runs one at a time', async () => {
    // Prepare
    const calls: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const invoker = new AsyncInvoker({
      retryDelayMs: 1,
      handler: async (event) => {
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        const key = event.Records[0]?.s3.object.key ?? '';
        calls.push(key);
        await new Promise((resolve) => setTimeout(resolve, 2));
        running -= 1;
        if (key.includes('bad')) throw new Error('boom');
      },
    });

    // Act
    invoker.invoke(s3rverEvent('images/bad'));
    invoker.invoke(s3rverEvent('images/good'));
    await invoker.idle();

    // Assess
    expect(calls.filter((k) => k === 'images/bad')).toHaveLength(3);
    expect(calls.filter((k) => k === 'images/good')).toHaveLength(1);
    expect(maxRunning).toBe(1);
    expect(invoker.invocations).toBe(4);
  });
});
