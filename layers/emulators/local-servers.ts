import { S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';

/**
 * Administration of the local stack's loopback servers (s3rver, fauxqs): the clients that talk to
 * them and the queues infra/ would deploy. Kept here so functions/local/ never calls the SDK.
 */

/** Credentials the embedded servers accept (they check none); never real ones. */
// s3rver accepts only its own access key id (it does not verify signatures).
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
export const LOCAL_REGION = 'us-east-1';

export interface LocalClients {
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  destroy(): void;
}

/** An S3 client for the embedded s3rver at `endpoint` (path-style, its own credentials). */
export function localS3Client(endpoint: string): S3Client {
  return new S3Client({
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    endpoint,
    forcePathStyle: true,
  });
}

/** One S3 and one SQS client for the loopback servers, shared by everything in the stack. */
export function localClients(endpoints: { s3: string; sqs: string }): LocalClients {
  const s3 = localS3Client(endpoints.s3);
  const sqs = new SQSClient({
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    endpoint: endpoints.sqs,
  });
  return {
    s3,
    sqs,
    destroy: () => {
      s3.destroy();
      sqs.destroy();
    },
  };
}

export interface DetailedQueues {
  readonly queueUrl: string;
  readonly queueArn?: string;
  readonly dlqUrl: string;
}

async function queueArnOf(sqs: SQSClient, queueUrl: string): Promise<string | undefined> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  return out.Attributes?.QueueArn;
}

/** The detailed queue and its DLQ, with the redrive policy infra/ deploys. Idempotent. */
export async function createDetailedQueues(
  sqs: SQSClient,
  options: { queueName: string; visibilityTimeoutSeconds: number; maxReceiveCount: number },
): Promise<DetailedQueues> {
  const dlq = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${options.queueName}-dlq`,
      Attributes: { MessageRetentionPeriod: '1209600' },
    }),
  );
  const dlqUrl = dlq.QueueUrl as string;
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: options.queueName,
      Attributes: {
        VisibilityTimeout: String(options.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: await queueArnOf(sqs, dlqUrl),
          maxReceiveCount: options.maxReceiveCount,
        }),
      },
    }),
  );
  const queueUrl = queue.QueueUrl as string;
  return { queueUrl, queueArn: await queueArnOf(sqs, queueUrl), dlqUrl };
}
