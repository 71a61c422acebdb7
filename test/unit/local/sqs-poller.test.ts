import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDetailedQueues } from '#emulators/local-servers.ts';
import { SqsPoller } from '#emulators/sqs-poller.ts';
import { type EmbeddedSqs, startEmbeddedSqs } from '../../../functions/local/servers.ts';

let server: EmbeddedSqs;
let sqs: SQSClient;

beforeAll(async () => {
  server = await startEmbeddedSqs({ host: '127.0.0.1', port: 0 });
  sqs = new SQSClient({
    endpoint: server.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
});

afterAll(async () => {
  sqs.destroy();
  await server.close();
});

const until = async (check: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
};

async function drain(queueUrl: string): Promise<string[]> {
  const received = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
  );
  return (received.Messages ?? []).map((m) => m.Body ?? '');
}

describe('SqsPoller (Lambda event source mapping on fauxqs)', () => {
  it('hands batches of at most batchSize to the handler and deletes the ones that succeeded', async () => {
    // Prepare
    const { queueUrl } = await createDetailedQueues(sqs, {
      queueName: 'batches',
      visibilityTimeoutSeconds: 30,
      maxReceiveCount: 3,
    });
    for (let i = 0; i < 5; i += 1)
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: `m${i}` }));
    const sizes: number[] = [];
    const seen: string[] = [];
    const poller = new SqsPoller({
      sqs,
      queueUrl,
      batchSize: 2,
      waitTimeSeconds: 1,
      handler: async (event: SQSEvent) => {
        sizes.push(event.Records.length);
        seen.push(...event.Records.map((r) => r.body));
        return { batchItemFailures: [] };
      },
    }).start();

    // Act
    await until(() => seen.length === 5);
    await poller.stop();

    // Assess
    expect(seen.sort()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(2);
    expect(await drain(queueUrl)).toEqual([]);
  });

  it('redelivers a reported failure after the visibility timeout and moves it to the DLQ after maxReceiveCount', async () => {
    // Prepare
    const { queueUrl, dlqUrl } = await createDetailedQueues(sqs, {
      queueName: 'poison',
      visibilityTimeoutSeconds: 1,
      maxReceiveCount: 2,
    });
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'poison' }));
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'fine' }));
    const attempts: Record<string, number> = {};
    const poller = new SqsPoller({
      sqs,
      queueUrl,
      batchSize: 10,
      waitTimeSeconds: 1,
      handler: async (event) => {
        for (const r of event.Records) attempts[r.body] = (attempts[r.body] ?? 0) + 1;
        return {
          batchItemFailures: event.Records.filter((r) => r.body === 'poison').map((r) => ({
            itemIdentifier: r.messageId,
          })),
        };
      },
    }).start();

    // Act
    await until(() => (attempts.poison ?? 0) >= 2);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await poller.stop();

    // Assess
    expect(attempts).toEqual({ poison: 2, fine: 1 });
    expect(await drain(dlqUrl)).toEqual(['poison']);
    expect(await drain(queueUrl)).toEqual([]);
  });

  it('kill() abandons the batch in flight: nothing is deleted and the messages come back', async () => {
    // Prepare
    const { queueUrl } = await createDetailedQueues(sqs, {
      queueName: 'crash',
      visibilityTimeoutSeconds: 1,
      maxReceiveCount: 5,
    });
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'job' }));
    let release: () => void = () => undefined;
    let started = false;
    const crashed = new SqsPoller({
      sqs,
      queueUrl,
      batchSize: 1,
      waitTimeSeconds: 1,
      handler: async () => {
        started = true;
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        return { batchItemFailures: [] };
      },
    }).start();
    await until(() => started);

    // Act
    crashed.kill();
    release();
    const received: Array<{ body: string; count: string | undefined }> = [];
    const next = new SqsPoller({
      sqs,
      queueUrl,
      batchSize: 1,
      waitTimeSeconds: 1,
      handler: async (event) => {
        for (const r of event.Records)
          received.push({ body: r.body, count: r.attributes.ApproximateReceiveCount });
        return { batchItemFailures: [] };
      },
    }).start();
    await until(() => received.length === 1);
    await next.stop();

    // Assess
    expect(received).toEqual([{ body: 'job', count: '2' }]);
    expect(await drain(queueUrl)).toEqual([]);
  });
});
