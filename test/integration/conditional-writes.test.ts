import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '#adapters/s3-object-store.ts';
import { ObjectNotFoundError, PreconditionFailedError } from '#engine/ports.ts';
import { BACKENDS, type IntegrationStack } from './support/backends.ts';

/**
 * The sidecar writes rely on S3's conditional PUTs: the first writer of a sidecar wins
 * (If-None-Match: *), and a read-modify-write lands only on the version it read (If-Match). Every
 * backend the integration suites run on must enforce them — s3rver does not by itself, so the
 * embedded server enforces them in front of it (functions/local/servers.ts), for npm start too.
 */
describe.each(BACKENDS)('conditional writes on $name', (backend) => {
  let stack: IntegrationStack;
  let store: S3ObjectStore;

  beforeAll(async () => {
    if (backend.unavailable) return;
    stack = await backend.start('describer-conditions');
    store = new S3ObjectStore({ bucket: stack.bucket, client: stack.s3 });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  describe.skipIf(backend.unavailable)('PutObject', () => {
    it('If-None-Match: * refuses to replace an existing object', async () => {
      await store.putJson('descriptions/first.json', { writer: 'first' }, { ifNoneMatch: '*' });

      const second = store.putJson('descriptions/first.json', { writer: 'second' }, { ifNoneMatch: '*' });

      await expect(second).rejects.toBeInstanceOf(PreconditionFailedError);
      expect((await store.getJson('descriptions/first.json'))?.value).toEqual({ writer: 'first' });
    });

    it('of two writers racing for a new key exactly one wins', async () => {
      const results = await Promise.allSettled(
        ['a', 'b', 'c'].map((writer) =>
          store.putJson('descriptions/race.json', { writer }, { ifNoneMatch: '*' }),
        ),
      );

      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(lost.map((r) => r.reason)).toEqual([
        expect.any(PreconditionFailedError),
        expect.any(PreconditionFailedError),
      ]);
    });

    it('If-Match writes over the version read, and refuses once someone else wrote', async () => {
      const { etag } = await store.putJson('descriptions/rmw.json', { version: 1 });
      const { etag: next } = await store.putJson('descriptions/rmw.json', { version: 2 }, { ifMatch: etag });

      const stale = store.putJson('descriptions/rmw.json', { version: 'stale' }, { ifMatch: etag });

      await expect(stale).rejects.toBeInstanceOf(PreconditionFailedError);
      expect(next).not.toBe(etag);
      expect((await store.getJson('descriptions/rmw.json'))?.value).toEqual({ version: 2 });
    });

    it('If-Match on a missing object fails as not found (S3 answers 404)', async () => {
      const missing = store.putJson(
        'descriptions/none.json',
        {},
        { ifMatch: '0123456789abcdef0123456789abcdef' },
      );

      await expect(missing).rejects.toSatisfy(
        (error) => error instanceof ObjectNotFoundError || error instanceof PreconditionFailedError,
      );
    });
  });
});
