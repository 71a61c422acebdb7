import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { type AwsClientOptions, awsClientConfig } from '#adapters/aws-config.ts';

export type SqsHandler = (event: SQSEvent) => Promise<SQSBatchResponse | undefined>;

export interface PollerOptions extends AwsClientOptions {
  /** Share one client per process; created from the options when absent. */
  readonly sqs?: SQSClient;
  readonly queueUrl: string;
  readonly queueArn?: string;
  /** Lambda's event source mapping BatchSize. */
  readonly batchSize: number;
  readonly handler: SqsHandler;
  /** Long-poll wait; short in tests so that stop() is quick. */
  readonly waitTimeSeconds?: number;
  readonly onError?: (error: unknown) => void;
  /** Told when a batch is handed over and when it is settled (the child worker reports these). */
  readonly onBatch?: (state: { busy: number; batches: number; redelivered: number }) => void;
}

/** What the stack (and the soak bench) sees of a detailed worker, in this process or a child. */
export interface DetailedWorker {
  /** Messages received and not yet settled. */
  readonly busy: number;
  readonly batches: number;
  readonly redelivered: number;
  /**
   * Graceful: finish the batch in flight, then stop. With `graceMs`, a batch still running after
   * that long is handed back to the queue (visibility 0) so that it is redelivered at once.
   */
  stop(graceMs?: number): Promise<void>;
  /** Crash: nothing in flight is deleted; its messages come back after the visibility timeout. */
  kill(): void;
}

export function toSqsRecord(message: Message, queueArn: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: 'us-east-1',
  };
}

/**
 * The laptop twin of Lambda's SQS event source mapping: receive up to `batchSize` messages, hand
 * them to the handler as one SQSEvent, delete the ones not reported in `batchItemFailures`. Failed
 * messages stay invisible until the queue's visibility timeout ends and then come back; after
 * maxReceiveCount receives the queue's redrive policy moves them to the DLQ (fauxqs does this).
 * A handler that throws fails the whole batch, as in Lambda.
 *
 * `kill()` is a crash: it stops at once and abandons the batch in flight (nothing is deleted, the
 * handler's result is ignored), so its messages are redelivered after the visibility timeout.
 */
export class SqsPoller implements DetailedWorker {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private inFlight = 0;
  private batch: Message[] = [];
  private killed = false;
  batches = 0;
  /** Messages received more than once (visibility timeout ran out, or a crash abandoned them). */
  redelivered = 0;

  private readonly sqs: SQSClient;

  constructor(private readonly options: PollerOptions) {
    this.sqs = options.sqs ?? new SQSClient(awsClientConfig(options));
  }

  start(): this {
    if (this.running) return this;
    this.running = true;
    this.loop = this.run();
    return this;
  }

  /** Messages received and not yet settled. */
  get busy(): number {
    return this.inFlight;
  }

  /** Graceful: finish the batch in flight, then stop; after `graceMs` give it back to the queue. */
  async stop(graceMs?: number): Promise<void> {
    this.running = false;
    this.abort.abort();
    if (graceMs === undefined) return this.loop;
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      this.loop?.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (finished !== false) return;
    // The handler cannot be cancelled: its result is ignored, as after kill(), and the messages
    // become visible now instead of after the visibility timeout.
    this.killed = true;
    await this.release(this.batch.splice(0));
  }

  private async release(messages: Message[]): Promise<void> {
    if (messages.length === 0) return;
    try {
      await this.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.options.queueUrl,
          Entries: messages.map((m, i) => ({
            Id: String(i),
            ReceiptHandle: m.ReceiptHandle,
            VisibilityTimeout: 0,
          })),
        }),
      );
    } catch (error) {
      // Not released = redelivered after the visibility timeout instead.
      this.options.onError?.(error);
    }
  }

  /** Crash: drop the batch in flight without deleting anything. */
  kill(): void {
    this.running = false;
    this.killed = true;
    this.abort.abort();
  }

  private async run(): Promise<void> {
    const { queueUrl, batchSize, handler } = this.options;
    const { sqs } = this;
    const queueArn =
      this.options.queueArn ?? `arn:aws:sqs:us-east-1:000000000000:${queueUrl.split('/').pop()}`;
    while (this.running) {
      let messages: Message[];
      try {
        const received = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: batchSize,
            WaitTimeSeconds: this.options.waitTimeSeconds ?? 5,
            MessageSystemAttributeNames: ['All'],
          }),
          { abortSignal: this.abort.signal },
        );
        messages = received.Messages ?? [];
      } catch (error) {
        if (!this.running) return;
        this.options.onError?.(error);
        await new Promise((resolve) => setTimeout(resolve, 1000));
        continue;
      }
      if (messages.length === 0) continue;
      // A receive that raced with kill(): those messages are abandoned like the rest.
      if (this.killed) return;
      this.inFlight = messages.length;
      this.batch = messages;
      this.batches += 1;
      this.redelivered += messages.filter(
        (m) => Number(m.Attributes?.ApproximateReceiveCount ?? 1) > 1,
      ).length;
      this.report();
      let failedIds = new Set<string>();
      try {
        const response = await handler({ Records: messages.map((m) => toSqsRecord(m, queueArn)) });
        failedIds = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
      } catch (error) {
        this.options.onError?.(error);
        failedIds = new Set(messages.map((m) => m.MessageId ?? ''));
      }
      if (this.killed) return;
      const done = messages.filter((m) => !failedIds.has(m.MessageId ?? ''));
      if (done.length > 0) {
        try {
          await sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
            }),
          );
        } catch (error) {
          // Not deleted = redelivered later; the use case is idempotent.
          this.options.onError?.(error);
        }
      }
      this.inFlight = 0;
      this.batch = [];
      this.report();
    }
  }

  private report(): void {
    this.options.onBatch?.({ busy: this.inFlight, batches: this.batches, redelivered: this.redelivered });
  }
}
