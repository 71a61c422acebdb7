import { describe, expect, it } from 'vitest';
import { keyLayout } from '#engine/pipeline/key-layout.ts';
import { newRecord, withStageState } from '#engine/record/record.ts';
import type { DescriptionRecord, StageState } from '#engine/record/schema.ts';
import { createUploadApiHandler, UPLOAD_NOT_FOUND_MESSAGE } from '#engine/uploads/http-api.ts';
import { uploadSettings } from '#engine/uploads/settings.ts';
import { apiEvent, bodyOf, getUploadEvent, MemoryObjectStore, silentLogger } from './support.ts';

const ID = '1b4e28ba-2fa1-4d2e-9f3a-0c9d6e7f8a9b';
const KEY = `images/uploads/${ID}`;
const SIDECAR = `descriptions/uploads/${ID}.json`;
const NOW = new Date('2026-11-25T20:00:00.000Z');

function setup() {
  const store = new MemoryObjectStore();
  const logger = silentLogger();
  const handler = createUploadApiHandler({
    settings: uploadSettings({ bucket: 'b', layout: keyLayout(), maxBytes: 1000 }),
    store,
    signer: { presignPost: async () => ({ url: 'unused', fields: {} }) },
    logger,
  });
  return { store, handler, logger };
}

function recordWith(fast: StageState, detailed: StageState, etag = 'etag-img'): DescriptionRecord {
  let record = newRecord({ kind: 's3', bucket: 'b', key: KEY, etag, size: 3 }, NOW);
  record = withStageState(record, 'fast', fast, NOW);
  record = withStageState(record, 'detailed', detailed, NOW);
  if (fast === 'done') record = { ...record, caption: 'a red square' };
  if (fast === 'failed')
    record = { ...record, errors: { fast: { code: 'CORRUPT_IMAGE', message: 'bad bytes' } } };
  return record;
}

describe('GET /uploads/{id}', () => {
  it('is uploading while no object exists at the upload key', async () => {
    // Prepare
    const { handler, store } = setup();

    // Act
    const result = await handler(getUploadEvent(ID));

    // Assess
    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({ id: ID, status: 'uploading' });
    expect(store.reads).toEqual([`HEAD ${KEY}`]);
  });

  it('is describing once the object exists but no sidecar does', async () => {
    const { handler, store } = setup();
    store.put(KEY, 'img', 'etag-img');

    const result = await handler(getUploadEvent(ID));

    expect(bodyOf(result)).toEqual({ id: ID, status: 'describing' });
    expect(store.reads).toEqual([`HEAD ${KEY}`, `GET ${SIDECAR}`]);
  });

  it.each<[StageState, StageState, string]>([
    ['pending', 'pending', 'describing'],
    ['waiting-for-models', 'pending', 'describing'],
    ['done', 'pending', 'fast-done'],
    ['done', 'waiting-for-models', 'fast-done'],
    ['done', 'done', 'done'],
    ['done', 'failed', 'failed'],
    ['failed', 'failed', 'failed'],
  ])('fast %s + detailed %s → %s, with the record', async (fast, detailed, status) => {
    // Prepare
    const { handler, store } = setup();
    store.put(KEY, 'img', 'etag-img');
    const record = recordWith(fast, detailed);
    store.putRecord(SIDECAR, record);

    // Act
    const result = await handler(getUploadEvent(ID));

    // Assess
    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({ id: ID, status, record });
  });

  it('shows the caption once the fast stage is done', async () => {
    const { handler, store } = setup();
    store.put(KEY, 'img', 'etag-img');
    store.putRecord(SIDECAR, recordWith('done', 'pending'));

    const body = bodyOf(await handler(getUploadEvent(ID))) as { record: DescriptionRecord };

    expect(body.record.caption).toBe('a red square');
  });

  it('is describing when the sidecar describes other bytes (the form was posted again)', async () => {
    const { handler, store } = setup();
    store.put(KEY, 'newer', 'etag-newer');
    store.putRecord(SIDECAR, recordWith('done', 'done', 'etag-older'));

    const result = await handler(getUploadEvent(ID));

    expect(bodyOf(result)).toEqual({ id: ID, status: 'describing' });
  });

  it.each([
    ['not a UUID', 'abc'],
    ['an uppercase UUID', ID.toUpperCase()],
    ['a UUID with a suffix', `${ID}.json`],
    ['path traversal', `..%2F..%2Fdescriptions%2F${ID}`],
    ['decoded path traversal', `../../descriptions/uploads/${ID}`],
    ['an empty id', ''],
  ])('answers 404 for %s without reading the bucket', async (_name, id) => {
    // Prepare
    const { handler, store } = setup();

    // Act
    const result = await handler(getUploadEvent(id));

    // Assess
    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toEqual({
      error: { code: 'UPLOAD_NOT_FOUND', message: UPLOAD_NOT_FOUND_MESSAGE },
    });
    expect(store.reads).toEqual([]);
  });

  it('answers 404 for a traversal attempt on the $default route too (path decoded, then checked)', async () => {
    const { handler, store } = setup();
    const event = apiEvent({
      routeKey: '$default',
      method: 'GET',
      rawPath: `/uploads/..%2Fdescriptions%2F${ID}.json`,
    });

    const result = await handler(event);

    expect(result.statusCode).toBe(404);
    expect(store.reads).toEqual([]);
  });

  it('answers 404 for routes it does not serve', async () => {
    const { handler } = setup();

    const results = await Promise.all([
      handler(apiEvent({ routeKey: '$default', method: 'DELETE', rawPath: `/uploads/${ID}` })),
      handler(apiEvent({ routeKey: '$default', method: 'GET', rawPath: '/descriptions' })),
      handler(apiEvent({ routeKey: '$default', method: 'GET', rawPath: '/uploads' })),
    ]);

    expect(results.map((result) => result.statusCode)).toEqual([404, 404, 404]);
    expect(bodyOf(results[0] ?? {})).toEqual({
      error: {
        code: 'NOT_FOUND',
        message: `There is no DELETE /uploads/${ID} here: the API has POST /uploads and GET /uploads/{id}.`,
      },
    });
  });

  it('serves the $default route by method and path, behind a stage prefix too', async () => {
    const { handler, store } = setup();
    store.put(KEY, 'img', 'etag-img');

    const result = await handler(
      apiEvent({ routeKey: '$default', method: 'GET', rawPath: `/prod/uploads/${ID}` }),
    );

    expect(bodyOf(result)).toEqual({ id: ID, status: 'describing' });
  });

  it.each([
    ['not a description record', JSON.stringify({ schemaVersion: 99, secret: 'internal detail' })],
    ['not JSON at all', '{broken'],
    ['empty', ''],
  ])(
    'reads "describing", not an error, when the sidecar is %s (the fast stage describes it again)',
    async (_, body) => {
      // Prepare
      const { handler, store, logger } = setup();
      store.put(KEY, 'img', 'etag-img');
      store.put(SIDECAR, body);

      // Act
      const result = await handler(getUploadEvent(ID));

      // Assess
      expect(result.statusCode).toBe(200);
      expect(bodyOf(result)).toEqual({ id: ID, status: 'describing' });
      expect(JSON.stringify(bodyOf(result))).not.toContain('internal detail');
      expect(logger.entries).toEqual([]);
    },
  );
});
