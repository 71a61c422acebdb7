import { decodeEventKey } from './key-layout.ts';

/** One object an S3 notification is about, key decoded and ETag without quotes. */
export interface ObjectCreated {
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  readonly size?: number;
  readonly eventName: string;
}

/**
 * The fields of an S3 notification the fast stage reads. The Lambda handler checks an event
 * against Powertools' S3 schema first (layers/adapters/lambda-events.ts), so these are present.
 */
export interface S3NotificationRecords {
  readonly Records: ReadonlyArray<{
    readonly eventName: string;
    readonly s3: {
      readonly bucket: { readonly name: string };
      readonly object: { readonly key: string; readonly eTag?: string; readonly size?: number };
    };
  }>;
}

/**
 * The ObjectCreated records of an S3 notification; other event types (removals, restores) yield
 * nothing. Keys are URL-encoded form data in events: `+` is a space, then percent-decoding.
 */
export function objectsCreated(event: S3NotificationRecords): ObjectCreated[] {
  return event.Records.filter((record) => record.eventName.startsWith('ObjectCreated:')).map(
    ({ eventName, s3 }) => ({
      bucket: s3.bucket.name,
      key: decodeEventKey(s3.object.key),
      etag: (s3.object.eTag ?? '').replace(/^"|"$/g, ''),
      size: s3.object.size,
      eventName,
    }),
  );
}

/** One object an ObjectRemoved notification is about (a delete, or a delete marker), key decoded. */
export interface ObjectRemoved {
  readonly bucket: string;
  readonly key: string;
}

/** The ObjectRemoved records of an S3 notification (`ObjectRemoved:Delete`, `:DeleteMarkerCreated`). */
export function objectsRemoved(event: S3NotificationRecords): ObjectRemoved[] {
  return event.Records.filter((record) => record.eventName.startsWith('ObjectRemoved:')).map(({ s3 }) => ({
    bucket: s3.bucket.name,
    key: decodeEventKey(s3.object.key),
  }));
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
