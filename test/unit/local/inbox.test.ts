import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '#adapters/s3-object-store.ts';
import { localS3Client } from '#emulators/local-servers.ts';
import { InboxWatcher } from '../../../functions/local/inbox.ts';
import { type EmbeddedS3, startEmbeddedS3 } from '../../../functions/local/servers.ts';

const BUCKET = 'inbox-test';
let dir: string;
let server: EmbeddedS3;
let s3: S3Client;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'inbox-test-'));
  server = await startEmbeddedS3({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'data'), bucket: BUCKET });
  s3 = localS3Client(server.endpoint);
});

afterAll(async () => {
  s3.destroy();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

const until = async (check: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
};

function watcher(inbox: string, uploaded: string[]) {
  return new InboxWatcher({
    dir: inbox,
    store: new S3ObjectStore({ bucket: BUCKET, client: s3 }),
    inputPrefix: 'images/',
    sidecarPrefix: 'descriptions/',
    maxBytes: 1024 * 1024,
    onUpload: (_path, key) => uploaded.push(key),
  });
}

describe('inbox folder → bucket', () => {
  it('uploads a dropped file under the input prefix with its relative path, once', async () => {
    // Prepare
    const inbox = join(dir, 'inbox');
    await mkdir(join(inbox, 'trip'), { recursive: true });
    const uploaded: string[] = [];
    const first = watcher(inbox, uploaded);
    await first.start();

    // Act
    await writeFile(join(inbox, 'trip', 'beach day.png'), 'not really a png');
    await until(() => uploaded.length === 1);
    await first.close();
    const again: string[] = [];
    const second = watcher(inbox, again);
    await second.start();
    await new Promise((resolve) => setTimeout(resolve, 800));
    await second.close();

    // Assess
    expect(uploaded).toEqual(['images/trip/beach day.png']);
    const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'images/trip/beach day.png' }));
    expect(object.ContentType).toBe('image/png');
    expect(await object.Body?.transformToString()).toBe('not really a png');
    expect(again).toEqual([]);
  });

  it('mirrors a sidecar next to its file without uploading the mirror', async () => {
    // Prepare
    const inbox = join(dir, 'mirror');
    await mkdir(inbox, { recursive: true });
    const uploaded: string[] = [];
    const inboxWatcher = watcher(inbox, uploaded);
    await inboxWatcher.start();

    // Act
    const path = await inboxWatcher.mirror('images/cat.jpg', '{"caption":"a cat"}');
    const uploadsIgnored = inboxWatcher.mirrorPathFor('images/uploads/0b1c5a49-5d5e-4c39-9f43-8a7f3f0e9a10');
    await new Promise((resolve) => setTimeout(resolve, 800));
    await inboxWatcher.close();

    // Assess
    expect(path).toBe(join(inbox, 'cat.jpg.description.json'));
    expect(await readFile(join(inbox, 'cat.jpg.description.json'), 'utf8')).toBe('{"caption":"a cat"}');
    expect(uploadsIgnored).toBeUndefined();
    expect(uploaded).toEqual([]);
  });
});
