import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';

/** SQS messages as the Lambda event source mapping hands them to a function. */
export function toSqsEvent(messages: readonly Message[], queueArn: string): SQSEvent {
  return {
    Records: messages.map((message) => ({
      messageId: message.MessageId ?? '',
      receiptHandle: message.ReceiptHandle ?? '',
      body: message.Body ?? '',
      attributes: {
        ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount ?? '1',
        SentTimestamp: message.Attributes?.SentTimestamp ?? '0',
        SenderId: message.Attributes?.SenderId ?? '',
        ApproximateFirstReceiveTimestamp: message.Attributes?.ApproximateFirstReceiveTimestamp ?? '0',
      },
      messageAttributes: {},
      md5OfBody: message.MD5OfBody ?? '',
      eventSource: 'aws:sqs',
      eventSourceARN: queueArn,
      awsRegion: 'us-east-1',
    })),
  };
}

export async function receive(sqs: SQSClient, queueUrl: string, waitSeconds = 1): Promise<Message[]> {
  const out = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: waitSeconds,
      MessageSystemAttributeNames: ['All'],
    }),
  );
  return out.Messages ?? [];
}

/**
 * One poll of the event source mapping: receive, invoke the handler with the batch, delete every
 * message not reported in batchItemFailures (those come back after the visibility timeout).
 */
export async function pollOnce(
  sqs: SQSClient,
  queueUrl: string,
  queueArn: string,
  handler: (event: SQSEvent) => Promise<SQSBatchResponse>,
): Promise<{ messages: Message[]; response?: SQSBatchResponse }> {
  const messages = await receive(sqs, queueUrl);
  if (messages.length === 0) return { messages };
  const response = await handler(toSqsEvent(messages, queueArn));
  const failed = new Set(response.batchItemFailures.map((item) => item.itemIdentifier));
  const done = messages.filter((message) => !failed.has(message.MessageId ?? ''));
  if (done.length > 0) {
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: done.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle })),
      }),
    );
  }
  return { messages, response };
}
