import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { CreateBucketCommand, PutBucketNotificationConfigurationCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { awsClientConfig } from '#adapters/aws-config.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#emulators/local-servers.ts';
import { notificationFor } from '../../../functions/local/s3-notifications.ts';
import { startEmbeddedS3, startEmbeddedSqs } from '../../../functions/local/servers.ts';
import { startMotoServer } from './moto-server.ts';

/**
 * The servers the integration suites run on. Every suite runs on each backend that is present:
 * - embedded: s3rver (on disk, with conditional PUTs enforced by servers.ts as S3 does) and fauxqs
 *   (visibility timeouts, DLQ redrive) — npm packages, always present; S3→SQS notifications are
 *   bridged from s3rver's events the way S3 sends them (an s3:TestEvent when configured, then
 *   ObjectCreated records with URL-encoded keys, filtered by the prefix).
 * - moto: moto_server, one Python server for both, with its own notifications; skipped with a
 *   printed reason when `moto_server` is not on PATH.
 */
export interface IntegrationStack {
  readonly backend: string;
  readonly bucket: string;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  /** Where the bucket sends ObjectCreated notifications for images/ (stands in for the async invoke). */
  readonly notifications: { url: string; arn: string };
  readonly detailed: { url: string; arn: string };
  readonly dlq: { url: string; arn: string };
  /** The environment the deployed functions get from infra, pointed at the local servers. */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

export interface Backend {
  readonly name: string;
  /** Why this backend cannot run here (it is skipped), or undefined. */
  readonly unavailable: string | undefined;
  start(bucket: string): Promise<IntegrationStack>;
}

const INPUT_PREFIX = 'images/';

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
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
 * The deployed shape in miniature: the notifications queue, the detailed queue (visibility 1 s so
 * redelivery is quick) with a DLQ after 2 receives, and the functions' environment.
 */
async function queuesAndEnv(
  endpoints: { s3: string; sqs: string },
  bucket: string,
): Promise<Omit<IntegrationStack, 'backend' | 'stop'>> {
  const config = { ...awsClientConfig({ endpoint: endpoints.s3 }), credentials: LOCAL_CREDENTIALS };
  const s3 = new S3Client(config);
  const sqs = new SQSClient({
    ...awsClientConfig({ endpoint: endpoints.sqs }),
    credentials: LOCAL_CREDENTIALS,
  });
  const dlq = await createQueue(sqs, `${bucket}-detailed-dlq`);
  const detailed = await createQueue(sqs, `${bucket}-detailed`, {
    VisibilityTimeout: '1',
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: '2' }),
  });
  const notifications = await createQueue(sqs, `${bucket}-notifications`);
  return {
    bucket,
    s3,
    sqs,
    notifications,
    detailed,
    dlq,
    env: {
      BUCKET_NAME: bucket,
      DETAILED_QUEUE_URL: detailed.url,
      INPUT_PREFIX,
      SIDECAR_PREFIX: 'descriptions/',
      AWS_ENDPOINT_URL_S3: endpoints.s3,
      AWS_ENDPOINT_URL_SQS: endpoints.sqs,
      AWS_REGION: LOCAL_REGION,
      // s3rver accepts only its own key id; moto and fauxqs accept any.
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      // The OCR stage has its own tests; here it would only add the PP-OCR model load.
      OCR_STAGE: 'off',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
    },
  };
}

const embedded: Backend = {
  name: 'embedded s3rver + fauxqs',
  unavailable: undefined,
  async start(bucket) {
    const dataDir = await mkdtemp(join(tmpdir(), 'integration-s3-'));
    const s3Server = await startEmbeddedS3({ host: '127.0.0.1', port: 0, dataDir, bucket });
    const sqsServer = await startEmbeddedSqs({ host: '127.0.0.1', port: 0 });
    const stack = await queuesAndEnv({ s3: s3Server.endpoint, sqs: sqsServer.endpoint }, bucket);
    // S3's notification configuration, as the bridge: a test event first, then each matching event.
    const send = (body: unknown) =>
      stack.sqs.send(
        new SendMessageCommand({ QueueUrl: stack.notifications.url, MessageBody: JSON.stringify(body) }),
      );
    await send({
      Service: 'Amazon S3',
      Event: 's3:TestEvent',
      Time: new Date().toISOString(),
      Bucket: bucket,
    });
    let sending = Promise.resolve();
    s3Server.onEvent((event) => {
      const notification = notificationFor(event, INPUT_PREFIX);
      // In order, as one S3 notification stream.
      if (notification) sending = sending.then(() => send(notification).then(() => undefined));
    });
    return {
      ...stack,
      backend: this.name,
      stop: async () => {
        await sending.catch(() => undefined);
        stack.s3.destroy();
        stack.sqs.destroy();
        await sqsServer.close();
        await s3Server.close();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  },
};

const moto: Backend = {
  name: 'moto_server',
  unavailable: onPath('moto_server')
    ? undefined
    : "moto_server is not on PATH (optional: pip install 'moto[server]' runs these suites on it too)",
  async start(bucket) {
    const server = await startMotoServer();
    const stack = await queuesAndEnv({ s3: server.endpoint, sqs: server.endpoint }, bucket);
    await stack.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await stack.s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: bucket,
        NotificationConfiguration: {
          QueueConfigurations: [
            {
              QueueArn: stack.notifications.arn,
              Events: ['s3:ObjectCreated:*'],
              Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: INPUT_PREFIX }] } },
            },
          ],
        },
      }),
    );
    return {
      ...stack,
      backend: this.name,
      stop: async () => {
        stack.s3.destroy();
        stack.sqs.destroy();
        await server.stop();
      },
    };
  },
};

export const BACKENDS: readonly Backend[] = [embedded, moto];

for (const backend of BACKENDS) {
  if (backend.unavailable)
    console.warn(`integration backend ${backend.name} skipped: ${backend.unavailable}`);
}
