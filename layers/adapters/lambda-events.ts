import { parse } from '@aws-lambda-powertools/parser';
import { JSONStringified } from '@aws-lambda-powertools/parser/helpers';
import { S3Schema } from '@aws-lambda-powertools/parser/schemas/s3';
import { SqsRecordSchema } from '@aws-lambda-powertools/parser/schemas/sqs';
import { z } from 'zod';
import { DescribeError, expected, valueAtPath } from '#engine/errors.ts';
import { InvalidJobError } from '#engine/pipeline/complete-detailed-description.ts';
import { type DetailedJob, detailedJobSchema } from '#engine/pipeline/detailed-job.ts';

/**
 * The events the Lambda functions receive, checked with Powertools' parser schemas: an S3
 * notification for the fast function, an SQS record carrying a detailed job for the worker.
 */

/**
 * An event the fast function cannot read as an S3 notification. Not permanent: there is no
 * sidecar to record it in, so Lambda retries the invoke and then keeps it in the on-failure DLQ.
 */
export class InvalidEventError extends DescribeError {
  readonly code = 'INVALID_EVENT' as const;
  readonly permanent = false;
}

/** `s3:TestEvent`: sent once when a notification is configured; carries no object. */
const S3TestEventSchema = z.object({ Event: z.literal('s3:TestEvent') });

const S3RecordSchema = S3Schema.shape.Records.element;
const S3MessageSchema = S3RecordSchema.shape.s3;

/**
 * Powertools' S3 schemas, narrowed to what the fast stage reads: event source and name, bucket
 * name, object key, ETag and size. The other fields are not checked because S3-compatible servers
 * fill them differently (moto: no bucket owner, `eventTime` without a zone; s3rver and dual-stack
 * clients: an IPv6 `sourceIPAddress`), and a record must not be refused over a field nobody reads.
 */
export const S3NotificationSchema = z.object({
  Records: z
    .array(
      S3RecordSchema.pick({ eventSource: true, eventName: true }).extend({
        s3: S3MessageSchema.pick({ object: true }).extend({
          bucket: S3MessageSchema.shape.bucket.pick({ name: true }),
        }),
      }),
    )
    .min(1),
});

export type S3Notification = z.infer<typeof S3NotificationSchema>;

/** The first issue of a failed parse as "Expected … for path but received …: reason". */
function firstIssue(what: string, value: unknown, issues: readonly z.core.$ZodIssue[]): string {
  const issue = issues[0];
  if (!issue) return expected(what, 'event', value);
  return `${expected(what, issue.path.join('.') || 'event', valueAtPath(value, issue.path))} (${issue.message})`;
}

/**
 * The S3 notification an event carries, or `undefined` for S3's test event.
 * @throws InvalidEventError when it is neither (what was expected at the first bad field, and what came)
 */
export function parseS3Notification(event: unknown): S3Notification | undefined {
  if (S3TestEventSchema.safeParse(event).success) return undefined;
  const result = parse(event, undefined, S3NotificationSchema, true);
  if (result.success) return result.data;
  throw new InvalidEventError(
    firstIssue('an S3 event notification', event, result.error.cause as z.core.$ZodIssue[]),
  );
}

/** An SQS record whose body is a detailed job (JSON). */
const DetailedJobRecordSchema = SqsRecordSchema.extend({ body: JSONStringified(detailedJobSchema) });

/**
 * The detailed job an SQS record carries.
 * @throws InvalidJobError when the record or its body is not one (the record alone then fails)
 */
export function parseDetailedJobRecord(record: unknown): DetailedJob {
  const result = parse(record, undefined, DetailedJobRecordSchema, true);
  if (result.success) return result.data.body;
  const issues = result.error.cause as z.core.$ZodIssue[];
  if (issues[0]?.path[0] !== 'body') {
    throw new InvalidJobError(firstIssue('an SQS record', record, issues));
  }
  const body = (record as { body: unknown }).body;
  const inBody = issues[0].path.slice(1).join('.');
  throw new InvalidJobError(
    `${expected('a detailed job { bucket, key, etag, sidecarKey }', 'message body', body)} (${inBody ? `${inBody}: ` : ''}${issues[0].message})`,
  );
}
