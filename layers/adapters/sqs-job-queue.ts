import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type JobQueue, StorageUnavailableError } from '#engine/ports.ts';
import { type AwsClientOptions, awsClientConfig } from './aws-config.ts';

export interface SqsJobQueueOptions extends AwsClientOptions {
  readonly queueUrl: string;
  /** Share one client per process; created from the options when absent. */
  readonly client?: SQSClient;
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
        new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(job) }),
      );
    } catch (error) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new StorageUnavailableError(`SQS send to ${this.queueUrl} failed: ${message}`, { cause: error });
    }
  }
}
