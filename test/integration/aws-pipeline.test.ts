import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseS3Notification } from '#adapters/lambda-events.ts';
import { objectsCreated } from '#engine/pipeline/s3-event.ts';
import type { DescriptionRecord } from '#engine/record/schema.ts';
import { s3NotificationFor } from '#test/fixtures/events.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { BACKENDS, type IntegrationStack } from './support/backends.ts';
import { pollOnce, receive } from './support/lambda-sqs.ts';

/**
 * The deployed flow on loopback: the real fast and detailed entry points (functions/aws/*.ts, config
 * read from the environment, tiny known-answer models from MODELS_DIR), S3 notifications to a queue
 * (the bucket stands in for the async invoke), conditional sidecar writes, SQS redelivery and DLQ
 * redrive — on each backend in support/backends.ts (the embedded s3rver + fauxqs always, moto_server
 * where it is installed).
 */
/** The objects a delivered notification is about, read as the fast function reads it. */
function createdIn(event: unknown) {
  const notification = parseS3Notification(event);
  return notification ? objectsCreated(notification) : [];
}

describe.each(BACKENDS)('fast → queue → detailed on $name', (backend) => {
  let stack: IntegrationStack;
  let fast: (event: unknown) => Promise<void>;
  let detailed: (event: SQSEvent) => Promise<SQSBatchResponse>;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    if (backend.unavailable) return;
    stack = await backend.start('describer-integration');
    for (const [name, value] of Object.entries(stack.env)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
    // The entry points read their config and load their model at import, as in a Lambda init: fresh
    // modules for each backend.
    vi.resetModules();
    fast = (await import('../../functions/aws/describe-fast.ts')).handler;
    detailed = (await import('../../functions/aws/describe-detailed.ts')).handler;
  });

  afterAll(async () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await stack?.stop();
  });

  async function upload(key: string, bytes: Buffer): Promise<string> {
    const out = await stack.s3.send(
      new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: bytes, ContentType: 'image/png' }),
    );
    return (out.ETag ?? '').replaceAll('"', '');
  }

  async function sidecar(key: string): Promise<DescriptionRecord | undefined> {
    try {
      const out = await stack.s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }));
      return JSON.parse((await out.Body?.transformToString()) ?? '') as DescriptionRecord;
    } catch {
      return undefined;
    }
  }

  /**
   * Deliver the notifications the bucket sent to the fast function, as S3's async invoke would,
   * until the one for `key` has been handled.
   */
  async function deliverNotifications(key: string): Promise<unknown[]> {
    const events: unknown[] = [];
    for (let polls = 0; polls < 10; polls++) {
      for (const message of await receive(stack.sqs, stack.notifications.url)) {
        const event: unknown = JSON.parse(message.Body ?? '{}');
        events.push(event);
        await fast(event);
        await stack.sqs.send(
          new DeleteMessageCommand({
            QueueUrl: stack.notifications.url,
            ReceiptHandle: message.ReceiptHandle,
          }),
        );
      }
      const keys = events.flatMap((event) => createdIn(event).map((created) => created.key));
      if (keys.includes(key)) return events;
    }
    throw new Error(`Expected a notification for ${key} but received ${JSON.stringify(events)}`);
  }

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  describe.skipIf(backend.unavailable)('end to end', () => {
    it('describes an upload end to end: caption first, then the detailed description', async () => {
      // Prepare
      const key = 'images/2026/red square (1).png';
      const etag = await upload(key, await imageFixture('solidRed'));

      // Act: the notifications the bucket produced (a test event first, then the upload) into the fast function
      const events = await deliverNotifications(key);

      // Assess: the fast sidecar
      expect(events).toContainEqual(expect.objectContaining({ Event: 's3:TestEvent' }));
      const sidecarKey = 'descriptions/2026/red square (1).png.json';
      const afterFast = await sidecar(sidecarKey);
      expect(afterFast?.caption).toBe('a red square');
      expect(afterFast?.colours?.[0]?.family).toBe('red');
      expect(afterFast?.status.fast.state).toBe('done');
      expect(afterFast?.status.detailed.state).toBe('pending');
      expect(afterFast?.source).toMatchObject({ kind: 's3', bucket: stack.bucket, key, etag });

      // Act: the worker takes the job from the detailed queue
      const { messages, response } = await pollOnce(
        stack.sqs,
        stack.detailed.url,
        stack.detailed.arn,
        detailed,
      );

      // Assess: the job the fast stage sent, and the completed sidecar
      expect(messages.map((message) => JSON.parse(message.Body ?? ''))).toEqual([
        { bucket: stack.bucket, key, etag, sidecarKey },
      ]);
      expect(response).toEqual({ batchItemFailures: [] });
      const done = await sidecar(sidecarKey);
      expect(done?.caption).toBe('a red square');
      expect(done?.detailedDescription).toBe('the image shows a red square');
      expect(done?.status.detailed.state).toBe('done');
      expect((await receive(stack.sqs, stack.detailed.url, 0)).length).toBe(0);
    });

    it('a repeated notification for the same upload changes nothing and sends no second job', async () => {
      const key = 'images/blue.png';
      const etag = await upload(key, await imageFixture('solidBlue'));
      await deliverNotifications(key);
      await pollOnce(stack.sqs, stack.detailed.url, stack.detailed.arn, detailed);
      const before = await sidecar('descriptions/blue.png.json');

      await fast(s3NotificationFor({ bucket: stack.bucket, key, etag }));

      expect(await sidecar('descriptions/blue.png.json')).toEqual(before);
      expect(before?.status.detailed.state).toBe('done');
      expect((await receive(stack.sqs, stack.detailed.url, 0)).length).toBe(0);
    });

    it('an overwritten object is described once, as its newest version, whatever order the events come in', async () => {
      // Prepare: two uploads to one key; both notifications are collected before any runs
      const key = 'images/overwritten.png';
      const first = await upload(key, await imageFixture('solidRed'));
      const second = await upload(key, await imageFixture('solidBlue'));
      const events: unknown[] = [];
      for (let polls = 0; polls < 10 && events.length < 2; polls++) {
        for (const message of await receive(stack.sqs, stack.notifications.url)) {
          const event: unknown = JSON.parse(message.Body ?? '{}');
          if (createdIn(event).some((created) => created.key === key)) events.push(event);
          await stack.sqs.send(
            new DeleteMessageCommand({
              QueueUrl: stack.notifications.url,
              ReceiptHandle: message.ReceiptHandle,
            }),
          );
        }
      }
      expect(events.flatMap((event) => createdIn(event).map((created) => created.etag))).toEqual([
        first,
        second,
      ]);

      // Act: the newer event first, then the late older one
      await fast(events[1]);
      await fast(events[0]);

      // Assess: the sidecar describes the newest bytes; one job, for them
      const described = await sidecar('descriptions/overwritten.png.json');
      expect(described?.caption).toBe('a blue square');
      expect(described?.source.etag).toBe(second);
      const { messages } = await pollOnce(stack.sqs, stack.detailed.url, stack.detailed.arn, detailed);
      expect(messages.map((job) => JSON.parse(job.Body ?? '').etag)).toEqual([second]);
      expect((await sidecar('descriptions/overwritten.png.json'))?.detailedDescription).toBe(
        'the image shows a blue square',
      );
    });

    it('redelivers a job after the visibility timeout when the worker died before finishing', async () => {
      // Prepare: the fast stage ran; the first receive of the job is "lost" (no delete, no handler)
      await upload('images/green.png', await imageFixture('solidGreen'));
      await deliverNotifications('images/green.png');
      const first = await receive(stack.sqs, stack.detailed.url);
      expect(first).toHaveLength(1);

      // Act: after the 1 s visibility timeout the same message comes back to the worker
      await sleep(1_200);
      const { messages, response } = await pollOnce(
        stack.sqs,
        stack.detailed.url,
        stack.detailed.arn,
        detailed,
      );

      // Assess
      expect(messages.map((message) => message.MessageId)).toEqual([first[0]?.MessageId]);
      expect(messages[0]?.Attributes?.ApproximateReceiveCount).toBe('2');
      expect(response).toEqual({ batchItemFailures: [] });
      const done = await sidecar('descriptions/green.png.json');
      expect(done?.detailedDescription).toBe('the image shows a green square');
      expect(done?.status.detailed.state).toBe('done');
    });

    it('moves a poison message to the DLQ after maxReceiveCount failed receives', async () => {
      // Prepare
      const poison = '{"bucket":"describer-integration","key":"images/x.png"}';
      await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.detailed.url, MessageBody: poison }));

      // Act: the worker fails it on every receive; each time it returns after the visibility timeout
      const failures: string[] = [];
      for (let attempt = 0; attempt < 2; attempt++) {
        const { response } = await pollOnce(stack.sqs, stack.detailed.url, stack.detailed.arn, detailed);
        failures.push(...(response?.batchItemFailures.map((item) => item.itemIdentifier) ?? []));
        await sleep(1_200);
      }

      // Assess: reported twice, gone from the queue, kept in the DLQ
      expect(failures).toHaveLength(2);
      expect(await receive(stack.sqs, stack.detailed.url)).toHaveLength(0);
      const dead = await receive(stack.sqs, stack.dlq.url);
      expect(dead.map((message) => message.Body)).toEqual([poison]);
    });

    it('writes a failed sidecar for an upload that is not an image, and queues nothing', async () => {
      await upload('images/notes.png', await imageFixture('textFile'));

      await deliverNotifications('images/notes.png');

      const failed = await sidecar('descriptions/notes.png.json');
      expect(failed?.status).toMatchObject({ fast: { state: 'failed' }, detailed: { state: 'failed' } });
      expect(failed?.errors.fast?.code).toBe('UNSUPPORTED_FORMAT');
      expect((await receive(stack.sqs, stack.detailed.url, 0)).length).toBe(0);
    });
  });
});
