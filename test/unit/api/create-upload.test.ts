import { S3Client } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { S3UploadSigner } from '#adapters/s3-upload-signer.ts';
import { keyLayout } from '#engine/pipeline/key-layout.ts';
import { createUploadApiHandler, INTERNAL_ERROR_MESSAGE } from '#engine/uploads/http-api.ts';
import { uploadSettings } from '#engine/uploads/settings.ts';
import {
  bodyOf,
  decodePolicy,
  expectedPostSignature,
  MemoryObjectStore,
  postUploadsEvent,
  silentLogger,
} from './support.ts';

const NOW = new Date('2026-11-25T20:00:00.000Z');
const BUCKET = 'describer-bucket';
const REGION = 'eu-west-1';
const SECRET = 'test-secret-key';
const MAX = 1000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function api(options: { sessionToken?: string; expiresInSeconds?: number } = {}) {
  const client = new S3Client({
    region: REGION,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: SECRET, sessionToken: options.sessionToken },
  });
  const settings = uploadSettings({
    bucket: BUCKET,
    layout: keyLayout({ inputPrefix: 'images/', sidecarPrefix: 'descriptions/' }),
    maxBytes: MAX,
    expiresInSeconds: options.expiresInSeconds,
  });
  const logger = silentLogger();
  const handler = createUploadApiHandler({
    settings,
    store: new MemoryObjectStore(),
    signer: new S3UploadSigner({ bucket: BUCKET, client }),
    logger,
  });
  return { handler, logger };
}

describe('POST /uploads', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);
  });
  afterEach(() => vi.useRealTimers());

  it('answers 201 with a presigned POST whose policy pins every condition, signed with the function credentials', async () => {
    // Prepare
    const { handler } = api();

    // Act
    const result = await handler(
      postUploadsEvent({ filename: 'cat.png', contentType: 'image/png', size: 512 }),
    );

    // Assess
    expect(result.statusCode).toBe(201);
    const body = bodyOf(result) as {
      id: string;
      url: string;
      fields: Record<string, string>;
      expiresAt: string;
    };
    expect(body.id).toMatch(UUID);
    expect(body.url).toBe(`https://${BUCKET}.s3.${REGION}.amazonaws.com/`);
    expect(body.expiresAt).toBe('2026-11-25T20:05:00.000Z');
    const key = `images/uploads/${body.id}`;
    const credential = `AKIDTEST/20261125/${REGION}/s3/aws4_request`;
    expect(body.fields).toEqual({
      key,
      bucket: BUCKET,
      'Content-Type': 'image/png',
      'x-amz-meta-original-filename': 'cat.png',
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': credential,
      'X-Amz-Date': '20261125T200000Z',
      Policy: expect.any(String),
      'X-Amz-Signature': expect.stringMatching(/^[0-9a-f]{64}$/),
    });

    const policy = decodePolicy(body.fields);
    expect(policy.expiration).toBe('2026-11-25T20:05:00Z');
    expect(Date.parse(policy.expiration) - NOW.getTime()).toBeLessThanOrEqual(5 * 60 * 1000);
    // Every condition, and nothing looser: the exact key (no starts-with anywhere), the size range,
    // the type, the filename metadata, the bucket and the signing fields.
    expect(policy.conditions).toHaveLength(8);
    expect(policy.conditions).toEqual(
      expect.arrayContaining([
        { key },
        ['content-length-range', 1, MAX],
        { 'Content-Type': 'image/png' },
        { 'x-amz-meta-original-filename': 'cat.png' },
        { bucket: BUCKET },
        { 'X-Amz-Algorithm': 'AWS4-HMAC-SHA256' },
        { 'X-Amz-Credential': credential },
        { 'X-Amz-Date': '20261125T200000Z' },
      ]),
    );
    expect(JSON.stringify(policy.conditions)).not.toContain('starts-with');
    expect(body.fields['X-Amz-Signature']).toBe(
      expectedPostSignature(SECRET, '20261125', REGION, body.fields.Policy ?? ''),
    );
  });

  it('pins the session token of temporary (Lambda role) credentials too', async () => {
    // Prepare
    const { handler } = api({ sessionToken: 'session-token' });

    // Act
    const result = await handler(postUploadsEvent({ filename: 'a.jpg', contentType: 'image/jpeg', size: 1 }));

    // Assess
    const { fields } = bodyOf(result) as { fields: Record<string, string> };
    expect(fields['X-Amz-Security-Token']).toBe('session-token');
    expect(decodePolicy(fields).conditions).toContainEqual({ 'X-Amz-Security-Token': 'session-token' });
  });

  it('gives each upload its own id and key, whatever the filename', async () => {
    // Prepare
    const { handler } = api();
    const request = { filename: 'same.png', contentType: 'image/png', size: 10 };

    // Act
    const first = bodyOf(await handler(postUploadsEvent(request))) as {
      id: string;
      fields: Record<string, string>;
    };
    const second = bodyOf(await handler(postUploadsEvent(request))) as {
      id: string;
      fields: Record<string, string>;
    };

    // Assess
    expect(first.id).not.toBe(second.id);
    expect(first.fields.key).toBe(`images/uploads/${first.id}`);
    expect(second.fields.key).toBe(`images/uploads/${second.id}`);
  });

  it('accepts the limits (size = max), canonicalises the type and percent-encodes a non-ASCII filename', async () => {
    // Prepare
    const { handler } = api();

    // Act
    const result = await handler(
      postUploadsEvent({ filename: 'café 100%.png', contentType: ' IMAGE/PNG ', size: MAX }),
    );

    // Assess
    expect(result.statusCode).toBe(201);
    const { fields } = bodyOf(result) as { fields: Record<string, string> };
    expect(fields['Content-Type']).toBe('image/png');
    expect(fields['x-amz-meta-original-filename']).toBe('caf%C3%A9 100%25.png');
    expect(decodeURIComponent(fields['x-amz-meta-original-filename'] ?? '')).toBe('café 100%.png');
    expect(decodePolicy(fields).conditions).toContainEqual({
      'x-amz-meta-original-filename': 'caf%C3%A9 100%25.png',
    });
  });

  it.each(['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/tiff', 'image/avif'])(
    'accepts %s',
    async (contentType) => {
      const { handler } = api();
      const result = await handler(postUploadsEvent({ filename: 'x', contentType, size: 5 }));
      expect(result.statusCode).toBe(201);
      expect(
        decodePolicy((bodyOf(result) as { fields: Record<string, string> }).fields).conditions,
      ).toContainEqual({
        'Content-Type': contentType,
      });
    },
  );

  it('keeps a shorter configured expiry', async () => {
    const { handler } = api({ expiresInSeconds: 60 });
    const result = await handler(postUploadsEvent({ filename: 'x.gif', contentType: 'image/gif', size: 5 }));
    const body = bodyOf(result) as { fields: Record<string, string>; expiresAt: string };
    expect(body.expiresAt).toBe('2026-11-25T20:01:00.000Z');
    expect(decodePolicy(body.fields).expiration).toBe('2026-11-25T20:01:00Z');
  });
});

describe('POST /uploads when signing fails', () => {
  it('answers 500 with the request id and nothing about the credentials', async () => {
    // Prepare: a role whose credentials cannot be resolved (expired session, no IMDS…)
    const client = new S3Client({
      region: REGION,
      credentials: async () => {
        throw new Error('Could not load credentials from profile secret-admin-profile');
      },
    });
    const logger = silentLogger();
    const handler = createUploadApiHandler({
      settings: uploadSettings({ bucket: BUCKET, maxBytes: MAX }),
      store: new MemoryObjectStore(),
      signer: new S3UploadSigner({ bucket: BUCKET, client }),
      logger,
    });

    // Act
    const result = await handler(postUploadsEvent({ filename: 'a.png', contentType: 'image/png', size: 5 }));

    // Assess
    expect(result.statusCode).toBe(500);
    expect(bodyOf(result)).toEqual({
      error: { code: 'INTERNAL', message: INTERNAL_ERROR_MESSAGE, requestId: 'req-1' },
    });
    expect(result.body).not.toContain('secret-admin-profile');
    expect(logger.entries).toEqual([
      expect.objectContaining({
        level: 'error',
        data: expect.objectContaining({ requestId: 'req-1', code: 'STORAGE_UNAVAILABLE' }),
      }),
    ]);
  });
});

describe('POST /uploads rejects', () => {
  const types = 'image/jpeg, image/png, image/webp, image/gif, image/tiff, image/avif';
  const sizes = `an integer number of bytes from 1 to ${MAX}`;
  const ok = { filename: 'cat.png', contentType: 'image/png', size: 10 };
  const cases: [string, unknown, string][] = [
    ['a body that is not JSON', 'not json', 'Expected valid JSON for request body but received "not json"'],
    [
      'an empty body',
      '',
      'Expected a JSON object with filename, contentType and size for request body but received nothing',
    ],
    [
      'a JSON array',
      [],
      'Expected a JSON object with filename, contentType and size for request body but received an array of 0',
    ],
    [
      'a missing filename',
      { ...ok, filename: undefined },
      'Expected a string for filename but received nothing',
    ],
    [
      'a filename that is not a string',
      { ...ok, filename: 42 },
      'Expected a string for filename but received number 42',
    ],
    [
      'an empty filename',
      { ...ok, filename: '  ' },
      'Expected a non-empty file name for filename but received "  "',
    ],
    [
      'a filename with a slash',
      { ...ok, filename: '../descriptions/x.png' },
      'Expected a file name without path separators for filename but received "../descriptions/x.png"',
    ],
    [
      'a filename with a backslash',
      { ...ok, filename: 'dir\\x.png' },
      'Expected a file name without path separators for filename but received "dir\\x.png"',
    ],
    [
      'a filename of ..',
      { ...ok, filename: '..' },
      'Expected a file name without path separators for filename but received ".."',
    ],
    [
      'a filename with a NUL',
      { ...ok, filename: 'cat\u0000.png' },
      'Expected a file name without control characters for filename but received "cat?.png"',
    ],
    [
      'a filename with a newline',
      { ...ok, filename: 'cat\r\nX-Evil: 1.png' },
      'Expected a file name without control characters for filename but received "cat??X-Evil: 1.png"',
    ],
    [
      'a filename with a right-to-left override',
      { ...ok, filename: 'cat\u202egnp.exe' },
      'Expected a file name without control characters for filename but received "cat?gnp.exe"',
    ],
    [
      'a filename over 255 bytes',
      { ...ok, filename: `${'a'.repeat(252)}.png` },
      `Expected a file name of at most 255 UTF-8 bytes for filename but received "${'a'.repeat(57)}..."`,
    ],
    [
      'a missing contentType',
      { ...ok, contentType: undefined },
      'Expected a string for contentType but received nothing',
    ],
    [
      'SVG (scriptable)',
      { ...ok, contentType: 'image/svg+xml' },
      `Expected one of ${types} for contentType but received "image/svg+xml"`,
    ],
    [
      'HTML',
      { ...ok, contentType: 'text/html' },
      `Expected one of ${types} for contentType but received "text/html"`,
    ],
    [
      'a type with parameters',
      { ...ok, contentType: 'image/png; charset=x' },
      `Expected one of ${types} for contentType but received "image/png; charset=x"`,
    ],
    ['a missing size', { ...ok, size: undefined }, `Expected ${sizes} for size but received nothing`],
    ['size 0', { ...ok, size: 0 }, `Expected ${sizes} for size but received number 0`],
    ['a negative size', { ...ok, size: -1 }, `Expected ${sizes} for size but received number -1`],
    [
      'a size over the maximum',
      { ...ok, size: MAX + 1 },
      `Expected ${sizes} for size but received number ${MAX + 1}`,
    ],
    ['a fractional size', { ...ok, size: 1.5 }, `Expected ${sizes} for size but received number 1.5`],
    ['a size as a string', { ...ok, size: '10' }, `Expected ${sizes} for size but received "10"`],
    [
      'a body over 16 KB',
      JSON.stringify({ ...ok, padding: 'x'.repeat(16 * 1024) }),
      'Expected a JSON body of at most 16384 bytes for request body but received 16455 bytes',
    ],
  ];

  it.each(cases)(
    '%s with 400, a sentence for the person and the exact rule as detail',
    async (_name, body, detail) => {
      // Prepare
      const { handler, logger } = api();

      // Act
      const result = await handler(postUploadsEvent(body));

      // Assess
      expect(result.statusCode).toBe(400);
      expect(bodyOf(result)).toEqual({
        error: { code: 'INVALID_REQUEST', message: expect.any(String), detail },
      });
      const { message } = (bodyOf(result) as { error: { message: string } }).error;
      expect(message).not.toMatch(/^Expected|received/);
      expect(message).toMatch(/[.:]/);
      expect(logger.entries.map((entry) => entry.level)).toEqual(['info']);
    },
  );
});
