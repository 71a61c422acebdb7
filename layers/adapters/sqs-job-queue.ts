import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type JobQueue, StorageUnavailableError } from '#engine/ports.ts';
import { type AwsClientOptions, awsClientConfig } from './aws-config.ts';

export interface SqsJobQueueOptions extends AwsClientOptions {
  readonly queueUrl: string;
  /** Share one client per process; created from the options when absent. */
  readonly client?: SQSClient;
}

/**
 * JSON with every character outside printable ASCII written as a `\u` escape: the same value for
 * any JSON reader, and a body every SQS accepts. SQS refuses some characters an S3 key may hold
 * (control characters), and SQS emulators refuse more (fauxqs: anything beyond U+FFFD, so every
 * emoji).
 */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The JobQueue port on one SQS queue: jobs go out as JSON message bodies. */
export class SqsJobQueue<T> implements JobQueue<T> {
  readonly queueUrl: string;
  readonly client: SQSClient;

  constructor(options: SqsJobQueueOptions) {
    this.queueUrl = options.queueUrl;
    this.client = options.client ?? new SQSClient(awsClientConfig(options));
  }

  async send(job: T): Promise<void> {
    try {
      await this.client.send(
        new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: asciiJson(job) }),
      );
    } catch (error) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new StorageUnavailableError(`SQS send to ${this.queueUrl} failed: ${message}`, { cause: error });
    }
  }
}
