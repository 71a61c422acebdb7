import type { S3EventRecord, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { InvalidEventError, parseDetailedJobRecord, parseS3Notification } from '#adapters/lambda-events.ts';
import { InvalidJobError } from '#engine/pipeline/complete-detailed-description.ts';
import { objectsCreated } from '#engine/pipeline/s3-event.ts';
import { eventSample } from '#test/fixtures/events.ts';

const JOB = { bucket: 'mybucket', key: 'images/a.jpg', etag: 'e1', sidecarKey: 'descriptions/a.jpg.json' };

/** The S3 sample with its one record changed. */
function s3Sample(change: (record: S3EventRecord) => void) {
  const event = eventSample('s3-object-created');
  for (const record of event.Records) change(record);
  return event;
}

function sqsRecordWith(body: string): SQSRecord {
  const [record] = eventSample('sqs-event').Records;
  return { ...(record as SQSRecord), body };
}

describe('S3 notifications (Powertools S3 schema)', () => {
  it('reads the object S3 notified about, key decoded and ETag as sent', () => {
    const event = s3Sample((record) => {
      record.s3.object.key = 'images/my+photo%281%29.jpg';
    });

    const notification = parseS3Notification(event);

    expect(notification && objectsCreated(notification)).toEqual([
      {
        bucket: 'mybucket',
        key: 'images/my photo(1).jpg',
        etag: 'd41d8cd98f00b204e9800998ecf8427e',
        size: 1024,
        eventName: 'ObjectCreated:Put',
      },
    ]);
  });

  it("takes S3's test event as nothing to do", () => {
    expect(parseS3Notification(eventSample('s3-test-event'))).toBeUndefined();
  });

  it('accepts what S3-compatible servers fill differently in fields it does not read', () => {
    const event = s3Sample((record) => {
      record.requestParameters.sourceIPAddress = '::ffff:127.0.0.1';
      record.eventTime = '2026-12-05T11:04:29.900935';
      delete (record.s3.bucket as { ownerIdentity?: unknown }).ownerIdentity;
    });

    expect(parseS3Notification(event)?.Records).toHaveLength(1);
  });

  it.each([
    [
      'a record without its bucket name',
      () =>
        s3Sample((record) => {
          delete (record.s3.bucket as { name?: string }).name;
        }),
      'Expected an S3 event notification for Records.0.s3.bucket.name but received nothing (Invalid input: expected string, received undefined)',
    ],
    [
      'an SQS event sent to the fast function',
      () => eventSample('sqs-event'),
      'Expected an S3 event notification for Records.0.eventSource but received "aws:sqs"',
    ],
    [
      'no records',
      () => ({ Records: [] }),
      'Expected an S3 event notification for Records but received an array of 0',
    ],
    [
      'not an object',
      () => 'ObjectCreated',
      'Expected an S3 event notification for event but received "ObjectCreated"',
    ],
  ])('refuses %s with InvalidEventError naming the field', (_, event, message) => {
    let caught: unknown;
    try {
      parseS3Notification(event());
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidEventError);
    expect(caught).toMatchObject({ code: 'INVALID_EVENT', permanent: false });
    expect((caught as Error).message).toContain(message);
  });
});

describe('SQS records carrying a detailed job (Powertools SQS record schema)', () => {
  it('reads the job from the body', () => {
    expect(parseDetailedJobRecord(sqsRecordWith(JSON.stringify(JOB)))).toEqual(JOB);
  });

  it.each([
    ['a body that is not JSON', 'Test message.', 'Invalid JSON'],
    [
      'a job without its sidecar key',
      JSON.stringify({ ...JOB, sidecarKey: undefined }),
      'sidecarKey: Invalid input: expected string, received undefined',
    ],
    [
      'a job with a field it does not know',
      JSON.stringify({ ...JOB, extra: 1 }),
      'Unrecognized key: "extra"',
    ],
  ])('refuses %s with InvalidJobError quoting the body', (_, body, reason) => {
    const read = () => parseDetailedJobRecord(sqsRecordWith(body));

    expect(read).toThrow(InvalidJobError);
    expect(read).toThrow(
      `Expected a detailed job { bucket, key, etag, sidecarKey } for message body but received "${body.slice(0, 57)}`,
    );
    expect(read).toThrow(reason);
  });

  it('refuses a record that is not from SQS, naming the field', () => {
    const record = { ...sqsRecordWith(JSON.stringify(JOB)), eventSource: 'aws:kinesis' };

    expect(() => parseDetailedJobRecord(record)).toThrow(
      'Expected an SQS record for eventSource but received "aws:kinesis"',
    );
  });
});
