import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localS3Client } from '#emulators/local-servers.ts';
import { type EmbeddedS3, startEmbeddedS3 } from '../../../functions/local/servers.ts';

/**
 * `aws s3 rm --recursive` deletes with DeleteObjects; the local search index drops a record on an
 * ObjectRemoved event, so the embedded S3 must send one per deleted key, as S3 does.
 */
const BUCKET = 'multi-delete-test';
let dir: string;
let server: EmbeddedS3;
let s3: S3Client;
const events: S3Event[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'multi-delete-'));
  server = await startEmbeddedS3({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'data'), bucket: BUCKET });
  server.onEvent((event) => events.push(event));
  s3 = localS3Client(server.endpoint);
});

afterAll(async () => {
  s3.destroy();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('embedded S3 multi-object delete', () => {
  it('emits ObjectRemoved:Delete for every key it deletes, as a single DeleteObject does', async () => {
    const keys = ['descriptions/a.png.json', 'descriptions/b & <c>.png.json', 'descriptions/ü ñ.json'];
    for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: '{}' }));
    events.length = 0;

    await s3.send(
      new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: keys.map((Key) => ({ Key })) } }),
    );

    const until = Date.now() + 5000;
    while (events.length < keys.length && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    const removed = events
      .flatMap((e) => e.Records)
      .map((r) => [r.eventName, r.s3.bucket.name, r.s3.object.key]);
    expect(removed.sort()).toEqual(keys.map((key) => ['ObjectRemoved:Delete', BUCKET, key]).sort());
  });
});
