import { CreateBucketCommand, PutBucketNotificationConfigurationCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { awsClientConfig } from '#adapters/aws-config.ts';

export interface LocalStack {
  readonly endpoint: string;
  readonly bucket: string;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  /** Where the bucket sends ObjectCreated notifications for the input prefix (stands in for the async invoke). */
  readonly notifications: { url: string; arn: string };
  readonly detailed: { url: string; arn: string };
  readonly dlq: { url: string; arn: string };
  /** The environment the deployed functions get from infra, pointed at the local server. */
  readonly env: Record<string, string>;
}

async function createQueue(sqs: SQSClient, name: string, attributes: Record<string, string> = {}) {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  const url = QueueUrl ?? '';
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  return { url, arn: Attributes?.QueueArn ?? '' };
}

/**
 * The deployed shape in miniature: a bucket whose `images/` notifications go to a queue, the
 * detailed queue (visibility 1 s so redelivery is quick) with a DLQ after 2 receives.
 */
export async function createLocalStack(endpoint: string, bucket: string): Promise<LocalStack> {
  const s3 = new S3Client(awsClientConfig({ endpoint }));
  const sqs = new SQSClient(awsClientConfig({ endpoint }));
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const dlq = await createQueue(sqs, `${bucket}-detailed-dlq`);
  const detailed = await createQueue(sqs, `${bucket}-detailed`, {
    VisibilityTimeout: '1',
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: '2' }),
  });
  const notifications = await createQueue(sqs, `${bucket}-notifications`);
  await s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: bucket,
      NotificationConfiguration: {
        QueueConfigurations: [
          {
            QueueArn: notifications.arn,
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'images/' }] } },
          },
        ],
      },
    }),
  );
  return {
    endpoint,
    bucket,
    s3,
    sqs,
    notifications,
    detailed,
    dlq,
    env: {
      BUCKET_NAME: bucket,
      DETAILED_QUEUE_URL: detailed.url,
      INPUT_PREFIX: 'images/',
      SIDECAR_PREFIX: 'descriptions/',
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      // The OCR stage has its own tests; here it would only add the PP-OCR model load.
      OCR_STAGE: 'off',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
    },
  };
}
