import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDetailedQueues, LOCAL_CREDENTIALS, LOCAL_REGION } from '#emulators/local-servers.ts';
import { SqsPoller } from '#emulators/sqs-poller.ts';
import { type EmbeddedSqs, startEmbeddedSqs } from '../../functions/local/servers.ts';

/**
 * A stopping stack gives its worker a grace period (npm start: 3 s). A job still running after it
 * goes back to the queue at once (visibility 0) rather than after the 15-minute visibility timeout,
 * so whoever polls next — a restarted worker, the next start — takes it straight away.
 */
let server: EmbeddedSqs;
let sqs: SQSClient;

beforeAll(async () => {
  server = await startEmbeddedSqs({ host: '127.0.0.1', port: 0 });
  sqs = new SQSClient({ endpoint: server.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
});

afterAll(async () => {
  sqs.destroy();
  await server.close();
});

describe('stopping the detailed worker with a job in hand', () => {
  it('hands a job still running after the grace back to the queue, visible at once', async () => {
    // Prepare: a long visibility timeout, and a handler that never finishes
    const { queueUrl } = await createDetailedQueues(sqs, {
      queueName: 'stop-in-hand',
      visibilityTimeoutSeconds: 900,
      maxReceiveCount: 3,
    });
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'the image in hand' }));
    let started: () => void = () => undefined;
    const inHand = new Promise<void>((resolve) => {
      started = resolve;
    });
    const poller = new SqsPoller({
      sqs,
      queueUrl,
      batchSize: 1,
      waitTimeSeconds: 1,
      handler: () => {
        started();
        return new Promise(() => undefined);
      },
    }).start();
    await inHand;

    // Act
    await poller.stop(100);

    // Assess: received again now, the second receive of the same message
    const again = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    expect(again.Messages?.map((m) => m.Body)).toEqual(['the image in hand']);
    expect(again.Messages?.[0]?.Attributes?.ApproximateReceiveCount).toBe('2');
  });

  it('without a grace, stop still waits for the batch to finish and deletes it', async () => {
    const { queueUrl } = await createDetailedQueues(sqs, {
      queueName: 'stop-finish',
      visibilityTimeoutSeconds: 900,
      maxReceiveCount: 3,
    });
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'quick' }));
    let handled = 0;
    let started: () => void = () => undefined;
    const inHand = new Promise<void>((resolve) => {
      started = resolve;
    });
    const poller = new SqsPoller({
      sqs,
      queueUrl,
      batchSize: 1,
      waitTimeSeconds: 1,
      handler: async () => {
        started();
        await new Promise((resolve) => setTimeout(resolve, 200));
        handled += 1;
        return { batchItemFailures: [] };
      },
    }).start();
    await inHand;

    await poller.stop();

    expect(handled).toBe(1);
    const again = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0 }));
    expect(again.Messages ?? []).toEqual([]);
  });
});
