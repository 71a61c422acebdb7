import { decodeEventKey } from './key-layout.ts';

/** One object an S3 notification is about, key decoded and ETag without quotes. */
export interface ObjectCreated {
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  readonly size?: number;
  readonly eventName: string;
}

interface S3EventRecordLike {
  readonly eventName?: string;
  readonly s3?: {
    readonly bucket?: { readonly name?: string };
    readonly object?: { readonly key?: string; readonly eTag?: string; readonly size?: number };
  };
}

/** `s3:TestEvent`: sent once when a notification is configured; carries no object. */
export function isS3TestEvent(event: unknown): boolean {
  return (
    typeof event === 'object' && event !== null && (event as { Event?: unknown }).Event === 's3:TestEvent'
  );
}

/** The records of an S3 notification whose event name starts with `prefix`, with bucket and key. */
function recordsOf(
  event: unknown,
  prefix: 'ObjectCreated:' | 'ObjectRemoved:',
): Array<{ record: S3EventRecordLike; eventName: string; bucket: string; key: string }> {
  if (isS3TestEvent(event) || typeof event !== 'object' || event === null) return [];
  const records = (event as { Records?: unknown }).Records;
  if (!Array.isArray(records)) return [];
  return (records as S3EventRecordLike[]).flatMap((record) => {
    const eventName = record.eventName ?? '';
    const bucket = record.s3?.bucket?.name;
    const key = record.s3?.object?.key;
    if (!eventName.startsWith(prefix) || !bucket || key === undefined) return [];
    return [{ record, eventName, bucket, key }];
  });
}

/**
 * The ObjectCreated records of an S3 notification (direct invoke, or the body of an SQS message
 * the bucket sent). Test events and other event types (removals, restores) yield nothing. Keys
 * are URL-encoded form data in events: `+` is a space, then percent-decoding.
 */
export function objectsCreated(event: unknown): ObjectCreated[] {
  const created: ObjectCreated[] = [];
  for (const { record, eventName, bucket, key } of recordsOf(event, 'ObjectCreated:')) {
    created.push({
      bucket,
      key: decodeEventKey(key),
      etag: (record.s3?.object?.eTag ?? '').replace(/^"|"$/g, ''),
      size: record.s3?.object?.size,
      eventName,
    });
  }
  return created;
}

/** One object an ObjectRemoved notification is about (a delete, or a delete marker), key decoded. */
export interface ObjectRemoved {
  readonly bucket: string;
  readonly key: string;
}

/** The ObjectRemoved records of an S3 notification (`ObjectRemoved:Delete`, `:DeleteMarkerCreated`). */
export function objectsRemoved(event: unknown): ObjectRemoved[] {
  return recordsOf(event, 'ObjectRemoved:').map(({ bucket, key }) => ({ bucket, key: decodeEventKey(key) }));
}

/** A key as S3 writes it into event records: form-encoded, `/` kept (`my photo(1).jpg` → `my+photo%281%29.jpg`). */
export function encodeEventKey(key: string): string {
  return encodeURIComponent(key)
    .replace(/%2F/g, '/')
    .replace(/%20/g, '+')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The ObjectCreated notification S3 sends for stored objects (backfill, local stack). */
export function s3EventFor(
  objects: ReadonlyArray<{ bucket: string; key: string; etag: string; size: number }>,
  now: Date = new Date(),
) {
  return {
    Records: objects.map((object) => ({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: process.env.AWS_REGION ?? 'us-east-1',
      eventTime: now.toISOString(),
      eventName: 'ObjectCreated:Put',
      userIdentity: { principalId: 'image-describer-backfill' },
      requestParameters: { sourceIPAddress: '127.0.0.1' },
      responseElements: { 'x-amz-request-id': 'backfill', 'x-amz-id-2': 'backfill' },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'image-describer-backfill',
        bucket: {
          name: object.bucket,
          ownerIdentity: { principalId: 'backfill' },
          arn: `arn:aws:s3:::${object.bucket}`,
        },
        object: { key: encodeEventKey(object.key), size: object.size, eTag: object.etag, sequencer: '0' },
      },
    })),
  };
}
